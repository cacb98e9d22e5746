"""The steps both datasets take (:mod:`amc_keywords.datasets` strings them together).

Input
    An :class:`~amc_keywords.writing.OutputSet` (the output folder), functions that open
    each image set (return its source, its :class:`~amc_keywords.lists.Entries` in output
    order and notices), and the settings: min_df, stop words, jobs, quiet, refit.
Output
    :func:`opening` gives a :class:`KeywordSet` per set (opened in worker processes, which
    write its plan and names table); :func:`obtain_vocabulary` reuses or fits the vocabulary;
    :func:`encode_set` writes a set's rows and range table; :func:`finish` writes the run's
    manifest (:mod:`amc_keywords.manifest`), moves every file into place and prints the
    summary: images, vocabulary size, rows, images without rows, share of tokens dropped,
    keywords per image, and the paths written. :func:`up_to_date` skips a run whose manifest
    shows nothing changed.
"""
import contextlib
import os
import pickle
import sys
from dataclasses import dataclass

import numpy as np

from . import encoding, manifest, workers
from .filenames import original_names, output_names
from .manifest import source_input
from .sources import Plan
from .tables import names_table, original_range_table
from .vocabulary import Vocabulary, fingerprint, fit_vocabulary
from .writing import file_record, open_temporary
from .zip_reader import archive_read_ahead

KEEP_TOKENS = 1 << 18  # images of a set whose tokens are kept from fitting (dev: 79,665)


@dataclass
class KeywordSet:
    """One image set ready to read, as the main process holds it: no per-image array.

    ``plan`` (on disk) says which images, in which order, and where each one's keyword file
    is; ``size`` is the largest image id + 1 (the length of the range and names tables).
    """
    name: str
    source: object
    plan: Plan
    origin: str
    size: int
    messages: list
    inputs: dict  # the manifest's record of each input file of the set, by role
    tokens: list = None  # packed analyzer tokens kept from fitting (encoding.encode_tokens)

    def ids(self):
        """The image ids in output order, a chunk at a time."""
        for chunk in self.plan.chunks(1 << 20):
            yield chunk["id"]


@contextlib.contextmanager
def opening(outputs, dataset, openers, jobs, strict=False, names_tables=True):
    """Open the sets in worker processes, all at once; yields ``opened(subset)``, which waits
    for that set only and returns its KeywordSet (after printing its notices).

    ``openers`` are ``(subset, function, *args)`` where ``function(*args)`` returns ``(source,
    entries, messages, inputs)``; the source's fingerprint is added to its inputs (with
    ``strict``, a folder's files are read for it). ``names_tables``: the names tables are
    outputs (else working files, dropped at the end). A worker does the memory-hungry part
    (archive directory, id map, list, dataset.json) and writes the set's plan and names table
    to files; only a small KeywordSet comes back, so the main process stays the same size
    however many images there are. Waiting for one set only lets the dev vocabulary be fitted
    while the large Lite set is still being opened.
    """
    calls = {}
    for subset, function, *args in openers:
        names_file = output_names(dataset, subset, 1)["names"]
        calls[subset] = (_open_set, subset or dataset, function, args,
                         outputs.scratch(f"plan_{subset or dataset}.npy"),
                         outputs.path(names_file) if names_tables else
                         outputs.scratch(names_file), strict)
    done = {}

    def opened(subset):
        if subset not in done:
            done[subset] = fetch(subset)
            for message in done[subset].messages:
                print(message, file=sys.stderr)
        return done[subset]

    with contextlib.ExitStack() as stack:
        if jobs == 1:
            def fetch(subset):  # here, when first asked for
                function, *args = calls[subset]
                return function(*args)
        else:
            executor = stack.enter_context(workers.pool(min(jobs, len(calls)),
                                                        one_task_each=True))
            futures = {subset: workers.submit(executor, *call) for subset, call in calls.items()}

            def fetch(subset):
                return workers.result(futures[subset])
        yield opened


def _open_set(name, function, args, plan_path, names_path, strict):
    source, entries, messages, inputs = function(*args)
    source.strict = strict  # a folder's files are fingerprinted as they are read
    inputs[f"{name} keywords"] = source_input(source)
    with archive_read_ahead(source):  # the archive into the page cache while we plan
        size = int(entries.ids.max()) + 1
        # Without a map, an image's name is its list entry: a listed image always has a name.
        known = entries.names if entries.names is not None else entries.keys
        with open_temporary(names_path) as f:
            np.save(f, names_table(entries.ids, known, size), allow_pickle=False)
        entries.names = known = None  # written: free its memory before planning
        plan = source.plan(entries, plan_path)
        source.forget_directory()
    if inputs[f"{name} keywords"]["images"] is None:  # a folder: the files the set reads
        inputs[f"{name} keywords"]["images"] = len(plan)
    return KeywordSet(name, source, plan, entries.origin, size, messages, inputs)


def _folder_record(keyword_set):
    """The manifest's record of a set's folder source whose fingerprint is still to be
    taken (its files not yet read), or None."""
    record = keyword_set.inputs[f"{keyword_set.name} keywords"]
    return record if record["kind"] == "folder" and record["fingerprint"] is None else None


def _fingerprint_by_stat(keyword_set):
    """Take a folder set's fingerprint before reading it (a vocabulary to check first)."""
    record = _folder_record(keyword_set)
    if record is not None:
        record["fingerprint"] = manifest.folder_fingerprint(
            keyword_set.source.path, (chunk["key"] for chunk in
                                      keyword_set.plan.chunks(encoding.CHUNK)),
            keyword_set.source.strict)


def obtain_vocabulary(outputs, dataset, sets, source_label, min_df, stop_words, refit, jobs,
                      quiet, save=True):
    """Reuse the vocabulary file when it matches these parameters and images, else fit it
    (and, with ``save``, write it).

    ``sets`` are the KeywordSets the vocabulary is fitted on; ``source_label`` names them in
    the vocabulary file (``"dev"``, ``"train,test"``).
    """
    name = output_names(dataset, None, min_df)["vocabulary"]
    path = os.path.join(outputs.folder, name)
    images = sum(len(s.plan) for s in sets)
    ids_fingerprint = fingerprint(ids for s in sets for ids in s.ids())
    # What the words depend on: the keyword files and lists of the images fitted on (not the
    # maps, which only name the images).
    inputs = {role: record for s in sets for role, record in s.inputs.items()
              if not role.endswith(" map")}
    if os.path.exists(path) and not refit:
        vocabulary = Vocabulary.load(path)
        if vocabulary.matches(min_df, stop_words, source_label, ids_fingerprint):
            for s in sets:
                _fingerprint_by_stat(s)
        fit_inputs = {role: record["fingerprint"] for role, record in inputs.items()}
        if not vocabulary.matches(min_df, stop_words, source_label, ids_fingerprint):
            print(f"vocabulary: {path} was fitted with other parameters or images; "
                  "fitting again")
        elif vocabulary.inputs != fit_inputs:
            changed = sorted(os.path.basename(inputs[role]["path"]) for role in fit_inputs
                             if vocabulary.inputs.get(role) != fit_inputs[role])
            print(f"vocabulary: {', '.join(changed)} changed since the vocabulary was fitted; "
                  "fitting again")
        else:
            print(f"vocabulary: reusing {path} ({len(vocabulary)} words; --refit to fit again)")
            vocabulary.file = path
            return vocabulary

    def token_lists():
        for s in sets:
            # A set of moderate size keeps its tokens (~250 bytes an image), so that encoding
            # it needs no second read; a larger one is read again, to keep memory flat.
            keep = [] if len(s.plan) <= KEEP_TOKENS else None
            record = _folder_record(s)
            files = manifest.FolderFingerprint(s.source.strict) if record else None
            yield from encoding.token_lists(s.source, s.plan, stop_words, jobs,
                                            f"vocabulary ({s.name})", quiet, keep, files)
            s.tokens = keep
            if record:
                record["fingerprint"] = files.hexdigest()

    where = " + ".join(str(s.source.path) for s in sets)
    vocabulary = fit_vocabulary(token_lists(), min_df, stop_words, source_label, images,
                                ids_fingerprint, where)
    vocabulary.inputs = {role: record["fingerprint"] for role, record in inputs.items()}
    if save:
        outputs.save_json(name, vocabulary.to_json())
    print(f"vocabulary: fitted on {images} images ({source_label}): {len(vocabulary)} words "
          f"with min_df={min_df}, stop words={stop_words}")
    return vocabulary


def encode_set(outputs, dataset, subset, keyword_set, vocabulary, jobs, quiet,
               original_layout=False):
    """Write one set's rows and range table (``subset``: ``"dev"``, ``"lite"``, or None for
    COCO), under the original scripts' names and with their range table when
    ``original_layout``; return its summary figures."""
    min_df, stop_words = vocabulary.min_df, vocabulary.stop_words
    names = (original_names if original_layout else output_names)(dataset, subset, min_df)
    ranges = np.full((keyword_set.size, 2), -1, np.int64)
    writer = outputs.rows_writer(names["rows"])
    label = f"encoding ({keyword_set.name})"
    try:
        if keyword_set.tokens is not None:  # fitted on just now: its tokens are at hand
            stats = encoding.encode_tokens(keyword_set.tokens, keyword_set.plan,
                                           vocabulary.words, writer, ranges, label, quiet)
        else:
            record = _folder_record(keyword_set)
            files = manifest.FolderFingerprint(keyword_set.source.strict) if record else None
            stats = encoding.encode(keyword_set.source, keyword_set.plan, vocabulary.words,
                                    stop_words, writer, ranges, jobs, label, quiet, files)
            if record:
                record["fingerprint"] = files.hexdigest()
    finally:
        keyword_set.tokens = None
        writer.close()
    outputs.sync_soon(writer.path)
    outputs.save_array(names["ranges"], original_range_table(ranges, stats.rows)
                       if original_layout else ranges)
    counts = stats.counts
    return {"set": keyword_set.name, "images": len(counts), "rows": stats.rows,
            "empty": int(np.count_nonzero(counts == 0)), "tokens": stats.tokens,
            "per_image": (int(counts.min()), float(np.median(counts)), float(counts.mean()),
                          int(counts.max()))}


def print_summary(summaries, vocabulary, written):
    """The figures a user checks before training, and the files written."""
    print(f"vocabulary size: {len(vocabulary)} (min_df={vocabulary.min_df}, stop words="
          f"{vocabulary.stop_words}, fitted on {vocabulary.source})")
    for s in summaries:
        dropped = 1 - s["rows"] / s["tokens"] if s["tokens"] else 0.0
        low, median, mean, high = s["per_image"]
        print(f"{s['set']}: {s['images']} images read, {s['rows']} rows written, "
              f"{s['empty']} images with no rows, {dropped:.1%} of {s['tokens']} tokens dropped "
              f"as out of vocabulary; keywords per image min {low} / median {median:g} / "
              f"mean {mean:.2f} / max {high}")
    print("wrote:")
    for path in sorted(written):
        print(f"  {path}")


def finish(outputs, dataset, sets, options, summaries, vocabulary, original_layout=False):
    """Write the manifest, move every output into place with it, then print the summary.
    ``original_layout``: the pickled CountVectorizer too, as the original scripts wrote it."""
    if original_layout:
        name = original_names(dataset, "dev" if dataset == "clickture" else None,
                              vocabulary.min_df)["vectorizer"]
        with open_temporary(outputs.path(name)) as f:
            pickle.dump(vocabulary.fitted_vectorizer(), f, protocol=pickle.HIGHEST_PROTOCOL)
    records = outputs.records()
    vocabulary_name = output_names(dataset, None, vocabulary.min_df)["vocabulary"]
    vocabulary_path = os.path.join(outputs.folder, vocabulary_name)
    if vocabulary_name not in records and vocabulary.file == vocabulary_path:  # reused
        records[vocabulary_name] = file_record(vocabulary_path)
    inputs = {role: record for s in sets for role, record in s.inputs.items()}
    outputs.save_text(manifest.manifest_name(dataset, vocabulary.min_df), manifest.dumps(
        manifest.build(dataset, options, inputs, records, summaries)))
    written = outputs.commit()
    print_summary(summaries, vocabulary, written)


def up_to_date(out_dir, dataset, min_df, options, planned, open_set, strict):
    """True (after saying so) when the manifest in ``out_dir`` shows that a run with these
    options on these inputs (``planned``: ``{role: (path, kind)}``) has nothing to do.

    ``open_set(role)`` opens the set of a folder input here (returns what a set's opener
    returns), whose files are then fingerprinted by ``stat`` in the set's order.
    """
    def folder_now(role):
        source, entries, _, _ = open_set(role)
        if source.kind != "folder":
            return None
        keys = entries.keys
        return manifest.folder_fingerprint(
            source.path, (keys[i:i + encoding.CHUNK] for i in range(0, len(keys),
                                                                    encoding.CHUNK)), strict)

    name = manifest.manifest_name(dataset, min_df)
    recorded, notice = manifest.up_to_date(os.path.join(out_dir, name), dataset, options,
                                           planned, folder_now)
    if notice:
        print(notice, file=sys.stderr)
    if recorded is None:
        return False
    print(f"outputs are up to date ({name}); --force to run again")
    return True
