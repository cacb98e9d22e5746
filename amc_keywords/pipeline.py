"""The steps both dataset scripts take, in the order they take them.

Input
    Parsed command-line options (:func:`add_common_options` defines the shared ones) and, per
    image set, a function that opens it (returns its source and entries in output order);
    :func:`opening` runs those in worker processes and returns a :class:`KeywordSet` each.
Output
    The files of :mod:`amc_keywords.outputs` in ``--out-dir``, all moved into place together
    at the end, and a summary on stdout: images, vocabulary size, rows, images without rows,
    share of tokens dropped, keywords per image, and the paths written.
"""
import argparse
import contextlib
import os
import sys
import tempfile
from dataclasses import dataclass

import numpy as np

from . import encoding, workers
from .errors import InputError
from .outputs import names_table, output_names
from .sources import Plan, archive_read_ahead, extract_archive, open_source
from .vocabulary import STOP_WORDS, Vocabulary, fingerprint, fit_vocabulary

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE_DIR = os.path.join(REPO_ROOT, "keyword", "sample")
KEEP_TOKENS = 1 << 18  # images of a set whose tokens are kept from fitting (dev: 79,665)


def positive_int(text):
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def add_common_options(parser, dataset_dir):
    """The options both scripts share; paths default to the repository's own folders."""
    parser.add_argument("--keyword-dir", default=os.path.join(REPO_ROOT, "keyword"),
                        help="folder holding the downloaded keywords_*.zip archives (or their "
                             "unzipped folders, used when present) (default: %(default)s)")
    parser.add_argument("--out-dir", default=None,
                        help=f"folder for the outputs (default: {dataset_dir}; with --sample, "
                             "a folder under the system's temporary directory)")
    parser.add_argument("--min-df", type=positive_int, default=6,
                        help="keep words found in at least this many images; it is the 6 of "
                             "the output names (default: %(default)s)")
    parser.add_argument("--stop-words", choices=STOP_WORDS, default="english",
                        help="'english' drops scikit-learn's English stop words, 'none' keeps "
                             "every word (default: %(default)s)")
    parser.add_argument("--refit", action="store_true",
                        help="fit the vocabulary again even when a matching vocabulary file "
                             "exists in --out-dir")
    parser.add_argument("--extract", action="store_true",
                        help="unpack each archive next to itself first (keyword/keywords_<set>/)"
                             " and read the files from there; by default archives are read in "
                             "place")
    parser.add_argument("--sample", action="store_true",
                        help="run on the small synthetic sample shipped in keyword/sample/ and "
                             "write to a temporary folder (printed)")
    parser.add_argument("--jobs", type=positive_int, default=workers.default_jobs(),
                        help="worker processes; outputs are identical for any value "
                             "(default: all cores, %(default)s)")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bars (they are also off when stderr is not a "
                             "terminal)")
    parser.add_argument("--debug", action="store_true",
                        help="show a traceback instead of a one-line error")


def resolve_dirs(args, dataset_dir, dataset):
    """``(keyword_dir, side_dir, out_dir)``: where archives, list/map files and outputs are."""
    if args.sample:
        out_dir = args.out_dir or os.path.join(tempfile.gettempdir(), "amc-keywords-sample",
                                               dataset)
        return SAMPLE_DIR, SAMPLE_DIR, out_dir
    return args.keyword_dir, dataset_dir, args.out_dir or dataset_dir


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
    tokens: list = None  # packed analyzer tokens kept from fitting (encoding.encode_tokens)

    def ids(self):
        """The image ids in output order, a chunk at a time."""
        for chunk in self.plan.chunks(1 << 20):
            yield chunk["id"]


@contextlib.contextmanager
def opening(outputs, dataset, openers, jobs):
    """Open the sets in worker processes, all at once; yields ``opened(subset)``, which waits
    for that set only and returns its KeywordSet (after printing its notices).

    ``openers`` are ``(subset, function, *args)`` where ``function(*args)`` returns ``(source,
    entries, messages)``. A worker does the memory-hungry part (archive directory, id map,
    list, dataset.json) and writes the set's plan and names table to files; only a small
    KeywordSet comes back, so the main process stays the same size however many images
    there are. Waiting for one set only lets the dev vocabulary be fitted while the large
    Lite set is still being opened.
    """
    calls = {}
    for subset, function, *args in openers:
        names_file = output_names(dataset, subset, 1)["names"]
        calls[subset] = (_open_set, subset or dataset, function, args,
                         outputs.scratch(f"plan_{subset or dataset}.npy"),
                         outputs.path(names_file))
    done = {}

    def opened(subset):
        if subset not in done:
            done[subset] = fetch(subset)
            for message in done[subset].messages:
                print(message, file=sys.stderr)
        return done[subset]

    if jobs == 1:
        def fetch(subset):  # here, when first asked for
            function, *args = calls[subset]
            return function(*args)
        yield opened
        return
    with workers.pool(min(jobs, len(calls)), one_task_each=True) as executor:
        futures = {subset: workers.submit(executor, *call) for subset, call in calls.items()}

        def fetch(subset):
            return workers.result(futures[subset])
        yield opened


def _open_set(name, function, args, plan_path, names_path):
    source, entries, messages = function(*args)
    with archive_read_ahead(source):  # the archive into the page cache while we plan
        size = int(entries.ids.max()) + 1
        # Without a map, an image's name is its list entry: a listed image always has a name.
        known = entries.names if entries.names is not None else entries.keys
        with open(names_path, "wb") as f:
            np.save(f, names_table(entries.ids, known, size), allow_pickle=False)
        entries.names = known = None  # written: free its memory before planning
        plan = source.plan(entries, plan_path)
        source.forget_directory()
    return KeywordSet(name, source, plan, entries.origin, size, messages)


def open_keyword_source(keyword_dir, name, extract):
    """The source of ``keyword_dir/name``, unpacking the archive first with ``--extract``."""
    if extract:
        archive = os.path.join(keyword_dir, name + ".zip")
        if not os.path.isdir(os.path.join(keyword_dir, name)):
            if not os.path.isfile(archive):
                raise InputError(f"{archive}: not found; download {name}.zip from the AMC "
                                 "keyword datasets link in README.md into that folder")
            print(f"extracting {archive} ...", file=sys.stderr)
        extract_archive(archive, os.path.join(keyword_dir, name))
    return open_source(keyword_dir, name)


def obtain_vocabulary(outputs, dataset, args, source_label, sets):
    """Reuse the vocabulary file when it matches these parameters and images, else fit it.

    ``sets`` are the KeywordSets the vocabulary is fitted on.
    """
    name = output_names(dataset, None, args.min_df)["vocabulary"]
    path = os.path.join(outputs.folder, name)
    images = sum(len(s.plan) for s in sets)
    ids_fingerprint = fingerprint(ids for s in sets for ids in s.ids())
    if os.path.exists(path) and not args.refit:
        vocabulary = Vocabulary.load(path)
        if vocabulary.matches(args.min_df, args.stop_words, source_label, ids_fingerprint):
            print(f"vocabulary: reusing {path} ({len(vocabulary)} words; --refit to fit again)")
            return vocabulary
        print(f"vocabulary: {path} was fitted with other parameters or images; fitting again")

    def token_lists():
        for s in sets:
            # A set of moderate size keeps its tokens (~250 bytes an image), so that encoding
            # it needs no second read; a larger one is read again, to keep memory flat.
            keep = [] if len(s.plan) <= KEEP_TOKENS else None
            yield from encoding.token_lists(s.source, s.plan, args.stop_words, args.jobs,
                                            f"vocabulary ({s.name})", args.quiet, keep)
            s.tokens = keep

    where = " + ".join(str(s.source.path) for s in sets)
    vocabulary = fit_vocabulary(token_lists, args.min_df, args.stop_words, source_label, images,
                                ids_fingerprint, where)
    outputs.save_json(name, vocabulary.to_json())
    print(f"vocabulary: fitted on {images} images ({source_label}): {len(vocabulary)} words "
          f"with min_df={args.min_df}, stop words={args.stop_words}")
    return vocabulary


def encode_set(outputs, dataset, subset, keyword_set, vocabulary, args):
    """Write one set's rows and range table; return its summary figures."""
    names = output_names(dataset, subset, args.min_df)
    ranges = np.full((keyword_set.size, 2), -1, np.int64)
    writer = outputs.rows_writer(names["rows"])
    label = f"encoding ({keyword_set.name})"
    try:
        if keyword_set.tokens is not None:  # fitted on just now: its tokens are at hand
            stats = encoding.encode_tokens(keyword_set.tokens, keyword_set.plan,
                                           vocabulary.words, writer, ranges, label, args.quiet)
        else:
            stats = encoding.encode(keyword_set.source, keyword_set.plan, vocabulary.words,
                                    args.stop_words, writer, ranges, args.jobs, label,
                                    args.quiet)
    finally:
        keyword_set.tokens = None
        writer.close()
    outputs.sync_soon(writer.path)
    outputs.save_array(names["ranges"], ranges)
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


def run(outputs, dataset, encode_plan, vocabulary, args):
    """Encode each ``(subset, KeywordSet)`` of the plan, commit the outputs, print a summary."""
    summaries = [encode_set(outputs, dataset, subset, keyword_set, vocabulary, args)
                 for subset, keyword_set in encode_plan]
    written = outputs.commit()
    print_summary(summaries, vocabulary, written)
    return summaries
