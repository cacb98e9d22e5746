"""The steps every recipe takes (:mod:`amc_keywords.recipes` strings them together).

Input
    A :class:`~amc_keywords.settings.RunSettings`, an
    :class:`~amc_keywords.writing.OutputSet` (the output folder) and, for each image set, a
    function that opens it (returns an :class:`OpenedSet`: its source, its
    :class:`~amc_keywords.lists.Entries` in output order, notices and input records).
Output
    :func:`opening` gives an :class:`ImageSet` per set (opened in worker processes, which
    write its plan and names table); :func:`obtain_vocabulary` reuses or fits the vocabulary;
    :func:`encode_set` writes a set's rows and range table and returns its
    :class:`SetFigures`; :func:`finish` writes the run's manifest and moves every file into
    place. Messages go to the ``amc_keywords`` logger.
"""
from __future__ import annotations

import contextlib
import os
import pickle
from dataclasses import asdict, dataclass
from typing import (
    Any,
    Callable,
    Dict,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
)

import numpy as np

from . import encoding, manifest, workers
from .datasets.description import OpenedSet
from .errors import SystemLimit
from .filenames import (
    manifest_name,
    original_names,
    output_names,
    vectorizer_name,
    vocabulary_name,
)
from .fingerprints import SetInputs, source_record
from .log import logger, timed
from .plans import Plan
from .settings import RunSettings
from .tables import keywords_per_image, names_table, original_range_table
from .vocabulary import Vocabulary, fit_vocabulary, ids_digest
from .writing import OutputSet, RowWriter, open_temporary, output_record

Opener = Callable[[], OpenedSet]


@dataclass(frozen=True)
class SetFigures:
    """The figures of one encoded image set, which a user checks before training (each
    field: docs/api.md#setfigures)."""
    name: str
    images: int
    rows: int
    images_without_rows: int
    tokens: int
    keywords_per_image: Tuple[int, float, float, int]

    @property
    def dropped_share(self) -> float:
        return 1 - self.rows / self.tokens if self.tokens else 0.0

    def to_json(self) -> Dict[str, Any]:
        """The manifest's summary record of the set."""
        return {"set": self.name, "images": self.images, "rows": self.rows,
                "empty": self.images_without_rows, "tokens": self.tokens,
                "per_image": list(self.keywords_per_image)}


@dataclass
class ImageSet:
    """One image set ready to read, as the main process holds it: no per-image array.

    ``plan`` (on disk) says which images, in which order, and where each one's keyword file
    is; ``size`` is the largest image id + 1 (the length of the range and names tables).
    """
    name: str
    source: Any
    plan: Plan
    size: int
    notices: List[str]
    inputs: SetInputs


@contextlib.contextmanager
def out_of_memory_names(what: str) -> Iterator[None]:
    """A MemoryError in the block becomes a one-line error naming what was being read."""
    try:
        yield
    except MemoryError:
        raise SystemLimit(f"{what}: out of memory while reading it; close other programs, "
                          "or run with fewer jobs=") from None


@contextlib.contextmanager
def opening(outputs: OutputSet, settings: RunSettings, openers: Mapping[str, Opener],
            encoded: Sequence[str]) -> Iterator[Callable[[str], ImageSet]]:
    """Open the sets in worker processes, all at once; yields ``opened(set_name)``, which
    waits for that set only and returns its ImageSet (after logging its notices).

    A worker does the memory-hungry part (archive directory, id map, list, dataset.json) and
    writes the set's plan and names table to files; only a small ImageSet comes back, so the
    main process stays the same size however many images there are. Waiting for one set
    only lets the dev vocabulary be fitted while the large Lite set is still being opened.
    """
    calls = {}
    for set_name, opener in openers.items():
        # A set opened only to fit on (and the original layout) has no tables as outputs.
        tables = (outputs.path if settings.layout == "default" and set_name in encoded else
                  outputs.scratch)
        files = output_names(settings.dataset.name, set_name, 1, settings.dataset.has_splits)
        calls[set_name] = (_open_set, set_name, opener,
                           outputs.scratch(f"plan_{set_name}.npy"), tables(files["names"]),
                           settings.strict_fingerprint,
                           tables(files["splits"]) if "splits" in files else None)
    done: Dict[str, ImageSet] = {}
    fetch: Callable[[str], ImageSet]

    def opened(set_name: str) -> ImageSet:
        if set_name not in done:
            with timed(f"opening {set_name}"), out_of_memory_names(
                    f"the {set_name} set's list, id map and keyword archive directory (in "
                    f"{settings.keyword_dir})"):
                done[set_name] = fetch(set_name)
            for notice in done[set_name].notices:
                logger.warning(notice)
        return done[set_name]

    with contextlib.ExitStack() as stack:
        if settings.jobs == 1:
            def fetch(set_name: str) -> ImageSet:  # here, when first asked for
                function, *args = calls[set_name]
                return function(*args)
        else:
            executor = stack.enter_context(workers.pool(min(settings.jobs, len(calls)),
                                                        one_task_each=True))
            futures = {name: workers.submit(executor, *call) for name, call in calls.items()}

            def fetch(set_name: str) -> ImageSet:
                return workers.result(futures[set_name])
        yield opened


def _open_set(set_name: str, opener: Opener, plan_path: str, names_path: str,
              strict: bool, splits_path: Optional[str] = None) -> ImageSet:
    source, entries, notices, inputs = opener()
    source.strict = strict  # a folder's files are fingerprinted as they are read
    inputs.add("keywords", source_record(source))
    source.read_soon()  # the archive into the page cache while we plan
    size = int(entries.ids.max()) + 1
    # Without a map, an image's name is its list entry: a listed image always has a name.
    known = entries.names if entries.names is not None else entries.keys
    with open_temporary(names_path) as f:
        np.save(f, names_table(entries.ids, known, size), allow_pickle=False)
    if splits_path is not None and entries.splits is not None:
        with open_temporary(splits_path) as f:
            np.save(f, names_table(entries.ids, entries.splits, size), allow_pickle=False)
    # Written: free their memory before planning.
    entries.names = entries.splits = None
    del known
    plan = source.plan(entries, plan_path)
    source.forget_directory()
    if inputs.keywords.images is None:  # a folder: the files the set reads
        inputs.keywords.images = len(plan)
    return ImageSet(set_name, source, plan, size, notices, inputs)


def obtain_vocabulary(outputs: OutputSet, settings: RunSettings,
                      sets: Sequence[ImageSet]) -> Vocabulary:
    """Reuse the vocabulary file when it matches the settings and these images, else fit it
    on ``sets`` (and, in the default layout, write it)."""
    name = vocabulary_name(settings.dataset.name, settings.min_df)
    path = os.path.join(outputs.folder, name)
    images = sum(len(s.plan) for s in sets)
    digest = ids_digest(chunk["id"] for s in sets for chunk in s.plan.chunks(1 << 20))
    wanted = (settings.min_df, settings.stop_words, settings.vocabulary_from, digest)
    if os.path.exists(path) and not settings.refit:
        vocabulary = Vocabulary.load(path)
        if vocabulary.matches(*wanted):
            for s in sets:  # its keys in the chunks the workers fingerprint
                keys = (chunk["key"] for chunk in s.plan.chunks(encoding.CHUNK))
                s.inputs.fingerprint_by_stat(s.source.path, keys, s.source.strict)
        fit_inputs = _fit_fingerprints(sets)
        if not vocabulary.matches(*wanted):
            logger.info("vocabulary: %s was fitted with other parameters or images; "
                        "fitting again", path)
        elif vocabulary.inputs != fit_inputs:
            records = {role: record for s in sets for role, record in s.inputs.records.items()}
            changed = sorted(os.path.basename(records[role].path) for role in fit_inputs
                             if vocabulary.inputs.get(role) != fit_inputs[role])
            logger.info("vocabulary: %s changed since the vocabulary was fitted; fitting "
                        "again", ", ".join(changed))
        else:
            logger.info("vocabulary: reusing %s (%d words; --refit to fit again)", path,
                        len(vocabulary))
            vocabulary.file = path
            return vocabulary

    def token_lists() -> Iterator[List[str]]:
        for s in sets:
            with s.inputs.reading(s.source.strict) as files:
                yield from encoding.token_lists(s.source, s.plan, settings.analyzer,
                                                settings.jobs, f"vocabulary ({s.name})",
                                                settings.progress, files)

    where = " + ".join(str(s.source.path) for s in sets)
    with timed("fitting the vocabulary"), out_of_memory_names(where):
        vocabulary = fit_vocabulary(token_lists(), settings.min_df, settings.stop_words,
                                    settings.vocabulary_from, images, digest, where)
    vocabulary.inputs = _fit_fingerprints(sets)
    if settings.layout == "default":
        outputs.save_json(name, vocabulary.to_json())
    logger.info("vocabulary: fitted on %d images (%s): %d words with min_df=%d, stop "
                "words=%s", images, settings.vocabulary_from, len(vocabulary),
                settings.min_df, settings.stop_words)
    return vocabulary


def _fit_fingerprints(sets: Sequence[ImageSet]) -> Dict[str, Optional[str]]:
    """What the words depend on: the fingerprints of the keyword files and lists of the
    images fitted on (not of the maps, which only name the images), by role."""
    return {role: record.fingerprint for s in sets for role, record in s.inputs.records.items()
            if not role.endswith(" map")}


def encode_set(outputs: OutputSet, settings: RunSettings, image_set: ImageSet,
               vocabulary: Vocabulary) -> SetFigures:
    """Write one set's rows and range table (under the original scripts' names, with their
    range table, in the original layout); return its figures."""
    names = (original_names if settings.layout == "original" else output_names)(
        settings.dataset.name, image_set.name, settings.min_df)
    ranges = np.full((image_set.size, 2), -1, np.int64)
    writer = RowWriter(outputs.path(names["rows"]))
    label = f"encoding ({image_set.name})"
    try:
        with timed(label), out_of_memory_names(str(image_set.source.path)), \
                image_set.inputs.reading(image_set.source.strict) as files:
            encoded = encoding.encode(image_set.source, image_set.plan, vocabulary.words,
                                      settings.analyzer, writer, ranges, settings.jobs, label,
                                      settings.progress, files)
    finally:
        writer.close()
    outputs.sync_soon(writer.path)
    outputs.save_array(names["ranges"], original_range_table(ranges, encoded.rows)
                       if settings.layout == "original" else ranges)
    counts = encoded.counts
    return SetFigures(image_set.name, len(counts), encoded.rows,
                      int(np.count_nonzero(counts == 0)), encoded.tokens,
                      keywords_per_image(counts))


def finish(outputs: OutputSet, settings: RunSettings, sets: Sequence[ImageSet],
           figures: Sequence[SetFigures], vocabulary: Vocabulary) -> List[str]:
    """Write the manifest and move every output into place with it; return the paths
    written. In the original layout, the pickled CountVectorizer too, as the original
    scripts wrote it."""
    dataset = settings.dataset.name
    if settings.layout == "original":
        name = vectorizer_name(settings.dataset.vectorizer_stem(), vocabulary.min_df)
        with open_temporary(outputs.path(name)) as f:
            pickle.dump(vocabulary.fitted_vectorizer(), f, protocol=pickle.HIGHEST_PROTOCOL)
    with timed("hashing and syncing the outputs"):
        records = outputs.records()
    vocabulary_file = vocabulary_name(dataset, vocabulary.min_df)
    vocabulary_path = os.path.join(outputs.folder, vocabulary_file)
    if vocabulary_file not in records and vocabulary.file == vocabulary_path:  # reused
        records[vocabulary_file] = output_record(vocabulary_path)
    inputs = {role: asdict(record) for s in sets for role, record in s.inputs.records.items()}
    name = manifest_name(dataset, vocabulary.min_df)
    outputs.save_text(name, manifest.dumps(manifest.build(
        dataset, settings.manifest_options(), inputs, records,
        [f.to_json() for f in figures])))
    return outputs.commit(last=name)


def log_summary(figures: Sequence[SetFigures], vocabulary: Vocabulary,
                written: Sequence[str]) -> None:
    """The figures a user checks before training, and the files written (at INFO)."""
    logger.info("vocabulary size: %d (min_df=%d, stop words=%s, fitted on %s)",
                len(vocabulary), vocabulary.min_df, vocabulary.stop_words, vocabulary.source)
    for f in figures:
        low, median, mean, high = f.keywords_per_image
        logger.info(f"{f.name}: {f.images} images read, {f.rows} rows written, "
                    f"{f.images_without_rows} images with no rows, {f.dropped_share:.1%} of "
                    f"{f.tokens} tokens dropped as out of vocabulary; keywords per image min "
                    f"{low} / median {median:g} / mean {mean:.2f} / max {high}")
    logger.info("wrote:")
    for path in sorted(written):
        logger.info("  %s", path)
