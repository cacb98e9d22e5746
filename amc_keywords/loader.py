"""Loading an output set in training code: ``kw = load_keywords(rows_file)``.

Input
    A rows file (``img_keyword_ind_..._sk_<k>[_sparse].npy``; the formats are in
    docs/formats.md#outputs) and the files beside it: range table, names table,
    vocabulary and (where present) the run's manifest.
Output
    :class:`~amc_keywords.keywords.Keywords`, a read-only sequence of the word ids of the
    images ``0 .. len(kw) - 1`` (the range table's rows), in the manner of a PyTorch
    map-style dataset, without importing torch (its operations: docs/api.md). The arrays
    are memory-mapped: opening is instant, and a ``Keywords`` pickles by path (under 1 KB),
    so that each DataLoader worker reopens the maps and shares the file's pages instead of
    receiving a copy. Reading is safe from several threads.

    Opening checks the files against each other (what it checks: docs/api.md); every
    problem is a :class:`LoadError` naming the file.
"""
import copyreg
import os
import warnings
from typing import (
    Any,
    Dict,
    Optional,
    Tuple,
    Union,
)

import numpy as np

from .errors import InputError, LoadError
from .filenames import manifest_name, names_beside, original_names, parse_rows_name
from .hashing import file_sha256
from .keywords import (  # noqa: F401  (re-exported: the loader's public names)
    ImageIdError,
    Keywords,
    VocabularyArgument,
    replaced,
)
from .manifest import load as load_manifest
from .manifest import recorded_differs
from .npy_files import load_npy
from .tables import ragged_positions, ranges_from_rows
from .vocabulary import Vocabulary

__all__ = ["ImageIdError", "Keywords", "LoadError", "load_keywords"]

RANGE_SAMPLE = 1000  # images whose ranges are checked against the rows at opening


def load_keywords(path: Union[str, "os.PathLike[str]"],
                  vocabulary: VocabularyArgument = None) -> Keywords:
    """Load an output set from its rows file (``img_keyword_ind_..._sk_<k>[_sparse].npy``).

    Parameters
    ----------
    path : str or os.PathLike
        The N x 2 rows file; the range table, the names table and the vocabulary are found
        beside it by name.
    vocabulary : str, os.PathLike, Vocabulary or list of str, default=None
        A vocabulary file or word list to use instead of the one found beside ``path``.

    Returns
    -------
    Keywords

    Raises
    ------
    LoadError (an InputError and a ValueError)
        The file is not an N x 2 integer array (or is cut short), its word ids exceed the
        vocabulary, the vocabulary, range table or names table beside it is malformed, does
        not match the rows or is of another run; the message names the file. A missing
        range table is rebuilt from the rows, with a warning.
    """
    path = os.fspath(path)
    beside, min_df = names_beside(path)
    rows = _load_array(path)
    if rows.ndim != 2 or rows.shape[1] != 2 or rows.dtype.kind not in "iu":
        raise LoadError(f"{path}: expected an N x 2 integer array, found {rows.dtype} "
                        f"{rows.shape}")
    run = _run_record(path, min_df)
    given, recorded = vocabulary, False
    if vocabulary is None or isinstance(vocabulary, (str, os.PathLike)):
        vocabulary_path = os.fspath(vocabulary) if vocabulary is not None else \
            beside["vocabulary"]
        try:
            vocabulary = Vocabulary.load(vocabulary_path)
        except (InputError, OSError) as exc:
            raise LoadError(str(exc)) from None
        if given is None:
            recorded = _check_same_run(path, vocabulary_path, vocabulary, min_df, run)
    elif not isinstance(vocabulary, Vocabulary):
        given = vocabulary = Vocabulary(vocabulary)
    # Every id within bounds: a scan of the rows, unless the run's manifest vouches for both
    # files as it wrote them (then opening stays instant at any size).
    if not recorded and len(rows) and (
            int(rows[:, 1].max()) >= len(vocabulary) or int(rows[:, 1].min()) < 0 or
            int(rows[:, 0].min()) < 0):
        raise LoadError(f"{path}: word ids run to {int(rows[:, 1].max())}, beyond the "
                        f"vocabulary of {len(vocabulary)} words (ids 0..{len(vocabulary) - 1})"
                        " (or ids are negative)")
    image_names = None
    if os.path.exists(beside["names"]):
        image_names = _load_array(beside["names"])
        if image_names.ndim != 1 or image_names.dtype.kind != "S":
            raise LoadError(f"{beside['names']}: expected the names table, a 1-D byte-string "
                            f"array (one name per image id), found {image_names.dtype} "
                            f"{image_names.shape}")
    if os.path.exists(beside["ranges"]):
        ranges = _load_array(beside["ranges"])
        if ranges.ndim != 2 or ranges.shape[1:] != (2,) or ranges.dtype.kind != "i":
            raise LoadError(f"{beside['ranges']}: expected the range table, an (image ids, 2) "
                            f"signed integer array of [first, last] rows, found "
                            f"{ranges.dtype} {ranges.shape}")
        if image_names is not None and len(image_names) != len(ranges):
            raise LoadError(f"{beside['ranges']}: {len(ranges)} image ids, but "
                            f"{os.path.basename(beside['names'])} has {len(image_names)}: the "
                            "tables are of different runs; load the files of one run")
        # What is wrong, where the sample shows it; then what the manifest says.
        _check_ranges(ranges, beside["ranges"], rows, path, image_names, beside["names"])
        _check_recorded(beside["ranges"], "range table", path, run)
    else:  # rows from elsewhere (e.g. copied without it): derive the table
        warnings.warn(f"{beside['ranges']}: missing; the range table is rebuilt from the rows",
                      stacklevel=2)
        ranges = ranges_from_rows(rows)
        if image_names is not None and len(image_names) < len(ranges):
            raise LoadError(f"{beside['names']}: {len(image_names)} image ids, but "
                            f"{os.path.basename(path)} has rows of image {len(ranges) - 1}: "
                            "the files are of different runs; load the files of one run")
        if image_names is not None and len(image_names) > len(ranges):  # listed ids beyond
            ranges = np.concatenate([ranges, np.full((len(image_names) - len(ranges), 2), -1,
                                                     np.int64)])
    if image_names is not None:
        _check_recorded(beside["names"], "names table", path, run)
    rows_sha256 = run[1][os.path.basename(path)].get("sha256") if run is not None else None
    keywords = Keywords(path, rows, vocabulary, ranges, image_names, min_df, given, rows_sha256)
    if os.path.exists(beside["splits"]):
        splits = keywords.image_splits = _load_array(beside["splits"])
        if splits.shape != (len(ranges),) or splits.dtype.kind != "S":
            raise LoadError(f"{beside['splits']}: expected the splits table, a byte-string "
                            f"array of {len(ranges)} image ids, found {splits.dtype} "
                            f"{splits.shape}")
        _check_recorded(beside["splits"], "splits table", path, run)
    return keywords


def reopen(path: str, vocabulary: VocabularyArgument, rows_sha256: str) -> Keywords:
    """A pickled :class:`Keywords` opened again (in a DataLoader worker): the same files, and
    still the same run; a LoadError when a run replaced the rows since (the copy would
    silently serve another run than the original's)."""
    keywords = load_keywords(path, vocabulary)
    if keywords.rows_sha256() != rows_sha256:
        raise LoadError(replaced(path))
    return keywords


def _pickled_by_path(keywords: Keywords) -> Tuple[Any, Tuple[str, VocabularyArgument, str]]:
    return reopen, (keywords.path, keywords._vocabulary_given, keywords.rows_sha256())


# A Keywords pickles by path (under 1 KB): a DataLoader worker reopens the files. Said here,
# as the loader opens them; the container does not import its loader.
copyreg.pickle(Keywords, _pickled_by_path)


STALE = ("the table does not match the rows (an image's rows not contiguous, or the table "
         "stale or of another run)")


def _load_array(path: str) -> np.ndarray:
    """An output's array, memory-mapped (:func:`~amc_keywords.npy_files.load_npy`)."""
    array: np.ndarray = load_npy(path, "run the pipeline again to write it", mmap_mode="r")
    return array


def _check_ranges(ranges: np.ndarray, ranges_path: str, rows: np.ndarray, rows_path: str,
                  image_names: Optional[np.ndarray], names_path: str) -> None:
    """The range table against the rows: the images of up to :data:`RANGE_SAMPLE` random
    rows and of the first and last row, and as many random entries of the table; their ranges
    must lie within the rows and their rows hold their id (and, with a names table, each such
    image must be listed). A stale table (rows of another run, cut or grown) fails here."""
    n_rows, size = len(rows), len(ranges)
    rng = np.random.default_rng(size * 1000003 + n_rows)  # the same sample at every opening
    entries = np.unique(rng.integers(0, size, min(size, RANGE_SAMPLE))) if size else \
        np.empty(0, np.int64)
    if n_rows:
        at = np.unique(np.concatenate([[0, n_rows - 1],
                                       rng.integers(0, n_rows, min(n_rows, RANGE_SAMPLE))]))
        row_ids = np.asarray(rows[at, 0], dtype=np.int64)
        beyond = np.flatnonzero((row_ids >= size) | (row_ids < 0))
        if len(beyond):
            raise LoadError(f"{ranges_path}: {size} image ids, but row {at[beyond[0]]} of "
                            f"{os.path.basename(rows_path)} is of image {row_ids[beyond[0]]}: "
                            f"{STALE}")
        spans = np.asarray(ranges[row_ids], dtype=np.int64)
        outside = np.flatnonzero((spans[:, 0] > at) | (spans[:, 1] < at))
        if len(outside):
            i = outside[0]
            raise LoadError(f"{ranges_path}: image {row_ids[i]} has range "
                            f"{spans[i].tolist()}, but row {at[i]} of "
                            f"{os.path.basename(rows_path)} is one of its rows: {STALE}")
        entries = np.union1d(entries, row_ids)
    spans = np.asarray(ranges[entries], dtype=np.int64).reshape(-1, 2)
    has = spans[:, 0] >= 0
    bad = np.flatnonzero(np.where(has, (spans[:, 1] < spans[:, 0]) | (spans[:, 1] >= n_rows),
                                  spans[:, 1] != -1) | (spans[:, 0] < -1))
    if len(bad):
        i = bad[0]
        raise LoadError(f"{ranges_path}: image {entries[i]} has range {spans[i].tolist()}, "
                        f"which is not [-1, -1] nor [first, last] rows within the "
                        f"{n_rows} rows of {os.path.basename(rows_path)}: {STALE}")
    with_rows, spans = entries[has], spans[has]
    order = np.argsort(spans[:, 0], kind="stable")
    overlap = np.flatnonzero(spans[order[1:], 0] <= spans[order[:-1], 1])
    if len(overlap):  # (then the rows gathered below stay within the rows' number)
        a, b = with_rows[order[overlap[0]]], with_rows[order[overlap[0] + 1]]
        raise LoadError(f"{ranges_path}: image {a} has range {ranges[a].tolist()}, which "
                        f"overlaps image {b}'s {ranges[b].tolist()}: {STALE}")
    for start in range(0, len(with_rows), 64):  # their rows, a few images at a time
        images, part = with_rows[start:start + 64], spans[start:start + 64]
        lengths = part[:, 1] - part[:, 0] + 1
        positions = ragged_positions(part[:, 0], lengths)
        owners = np.repeat(images, lengths)
        wrong = np.flatnonzero(np.asarray(rows[positions, 0], dtype=np.int64) != owners)
        if len(wrong):
            image, row = owners[wrong[0]], positions[wrong[0]]
            raise LoadError(f"{ranges_path}: image {image} has range "
                            f"{ranges[image].tolist()}, but row {row} of "
                            f"{os.path.basename(rows_path)} is of image {int(rows[row, 0])}: "
                            f"{STALE}")
    if image_names is not None and len(with_rows):
        unlisted = np.flatnonzero(np.asarray(image_names[with_rows]) == b"")
        if len(unlisted):
            raise LoadError(f"{names_path}: image {with_rows[unlisted[0]]} has rows in "
                            f"{os.path.basename(rows_path)} but is not a listed image (no name "
                            "here): the tables are of different runs; load the files of one "
                            "run")


def _run_record(rows_path: str, min_df: int) -> Optional[Tuple[str, Dict[str, Any]]]:
    """``(manifest path, its outputs)`` when the run's manifest is beside the rows, is of the
    default layout and still describes the rows (size and modification time); else None."""
    parts = parse_rows_name(rows_path)
    manifest_path = os.path.join(os.path.dirname(rows_path),
                                 manifest_name(parts["dataset"], min_df))
    if not os.path.exists(manifest_path):
        return None
    try:
        run = load_manifest(manifest_path)  # a regular file of a manifest's size
        outputs = run["outputs"]
        rows_record = outputs[os.path.basename(rows_path)]
        stat = os.stat(rows_path)
        if (rows_record["size"], rows_record["mtime_ns"]) != (stat.st_size, stat.st_mtime_ns):
            return None  # the file changed since: the manifest says nothing about it
        layout = run["options"].get("original_layout")
        if layout is not True and (layout is not False or
                                   list(rows_record["shape"])[1:] != [2]):
            return None  # not a record of rows written by the default layout
    except (InputError, OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # no manifest, or not one: nothing to check against
    if layout is True:  # the file under the rows' name is the original's range table
        rows_name = original_names(parts["dataset"], parts["set_name"], min_df)["rows"]
        raise LoadError(f"{rows_path}: the original layout's range table, not rows "
                        f"({os.path.basename(manifest_path)} records an --original-layout "
                        f"run): its rows are {rows_name}, which np.load reads; for this "
                        "loader, run again without --original-layout")
    return manifest_path, outputs  # (a dict: the manifest reader checks it)


def _check_recorded(path: str, kind: str, rows_path: str,
                    run: Optional[Tuple[str, Dict[str, Any]]]) -> None:
    """A table beside the rows must be the one their run wrote, where its manifest tells
    (:func:`~amc_keywords.manifest.recorded_differs`)."""
    if run is None:
        return
    manifest_path, outputs = run
    record = outputs.get(os.path.basename(path))
    if not isinstance(record, dict) or not isinstance(record.get("sha256"), str):
        return  # a record that says nothing: nothing to check against
    try:
        differs = recorded_differs(path, record)
    except OSError:
        return
    if differs:
        raise LoadError(f"{path}: not the {kind} {os.path.basename(rows_path)} was written "
                        f"with ({os.path.basename(manifest_path)} records another one): the "
                        "table belongs to another run; load the files of one run, or run the "
                        "pipeline again")


def _check_same_run(rows_path: str, vocabulary_path: str, vocabulary: Vocabulary, min_df: int,
                    run: Optional[Tuple[str, Dict[str, Any]]]) -> bool:
    """The vocabulary beside a rows file must be the one those rows were encoded with: its
    min_df is the one in the rows file's name, and where the run's manifest is beside them
    and still describes the rows (``run``), it describes the vocabulary too (SHA-256).
    Returns True when the manifest vouches for both files."""
    if vocabulary.min_df != min_df:
        raise LoadError(f"{vocabulary_path}: fitted with min_df={vocabulary.min_df}, but "
                        f"{os.path.basename(rows_path)} says min_df={min_df}: the files are "
                        "of different runs")
    if run is None:
        return False
    manifest_path, outputs = run
    try:
        same = file_sha256(vocabulary_path) == outputs[os.path.basename(vocabulary_path)][
            "sha256"]
    except (OSError, KeyError, TypeError):
        return False  # not recorded: nothing more to check against
    if not same:
        raise LoadError(f"{vocabulary_path}: not the vocabulary {os.path.basename(rows_path)} "
                        f"was encoded with ({os.path.basename(manifest_path)} records another "
                        "one): load both from one run, or pass vocabulary=")
    return True

