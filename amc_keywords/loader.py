"""Loading an output set in training code: ``kw = load_keywords(rows_file)``.

Input
    A rows file (``img_keyword_ind_..._sk_<k>[_sparse].npy``; the formats are in
    :mod:`amc_keywords.writing`) and the files beside it: range table, names table,
    vocabulary and (where present) the run's manifest.
Output
    :class:`Keywords`, a read-only :class:`collections.abc.Sequence` of the word ids of the
    images ``0 .. len(kw) - 1`` (the range table's rows), in the manner of a PyTorch
    map-style dataset, without importing torch (numpy in, numpy out):

    ``len(kw)``, ``kw[i]``, ``iter(kw)``, ``reversed(kw)``, ``kw[a:b]``
        the sequence: image ``i``'s word ids (an int64 array, empty for an image without
        rows), in id order; negative indices and slices as for a list.
    ``kw.word_ids(img_id)``
        the same for an image id (a negative one is refused, as an image id is never
        negative); ``kw.keywords(img_id)`` is its former name, deprecated.
    ``kw.ids``, ``kw.n_images``, ``kw.n_rows``
        the listed image ids, how many there are, and the number of rows.
    ``kw.padded(ids)``, ``kw.bag(ids)``, ``kw.collate(ids)``
        batches for ``nn.Embedding(V + 1, d, padding_idx=V)`` and ``nn.EmbeddingBag``, and a
        ``collate_fn`` for ``DataLoader(kw.ids, ...)``; gathered with numpy, no loop over rows.
    ``kw.vocabulary``, ``kw.words(img_id)``, ``kw.image_name(img_id)``, ``kw.matrix``
        the :class:`~amc_keywords.vocabulary.Vocabulary`, an image's words, its original name,
        and a scipy CSR matrix of counts.

    The arrays are memory-mapped: opening is instant, and a ``Keywords`` pickles by path
    (under 1 KB), so that each DataLoader worker reopens the maps and shares the file's pages
    instead of receiving a copy. Reading is safe from several threads.

    Opening checks the files against each other: the rows' shape and word ids, the range and
    names tables' shape, dtype and length, and, for the range table, the ranges of a sample
    of images (up to 1,000 random images with rows, and those of the first and last row):
    their rows must hold their id. Where the run's manifest still describes the rows, a table
    it records otherwise (SHA-256) is named as belonging to another run. Every problem is a
    :class:`LoadError` naming the file.
"""
import json
import operator
import os
import threading
import warnings
from collections.abc import Sequence
from typing import (
    Any,
    Dict,
    Iterable,
    Iterator,
    List,
    Optional,
    SupportsIndex,
    Tuple,
    Union,
    cast,
    overload,
)

import numpy as np
import numpy.typing as npt

from .errors import InputError
from .filenames import manifest_name, names_beside, parse_rows_name
from .hashing import file_sha256
from .tables import ranges_from_rows
from .vocabulary import Vocabulary

WordIds = npt.NDArray[np.int64]
VocabularyArgument = Union[str, "os.PathLike[str]", Vocabulary, Iterable[str], None]

RANGE_SAMPLE = 1000  # images whose ranges are checked against the rows at opening


class LoadError(InputError, ValueError):
    """An output set that cannot be loaded as it is (a file malformed, cut short, stale or of
    another run): the message names the file and what is wrong. A ValueError too, as
    :func:`load_keywords` raised before."""


class ImageIdError(IndexError, KeyError):
    """An index or image id outside the range table: an IndexError, as a sequence's is, and a
    KeyError, as :class:`Keywords` raised before."""

    __str__ = BaseException.__str__  # the message as it is (KeyError's str() quotes it)


class Keywords(Sequence[WordIds]):
    """One output set, loaded: a sequence of the word ids of images ``0 .. len - 1``; see
    :func:`load_keywords` and the module's docstring.

    Why a :class:`~collections.abc.Sequence` (and not a ``Mapping`` from image id to word
    ids): the images are numbered densely from 0 by the range table, the way a PyTorch
    map-style dataset is indexed, iteration yields each image's word ids in id order (as it
    always has), and ``len`` is the table's length. Every operation the ABC defines behaves
    as for a list of the arrays ``[kw[0], kw[1], ...]``: negative indices count from the
    end, a slice gives a list of arrays, ``reversed`` goes from the last id down.

    The values are arrays, so comparing values (``in``, ``index``, ``count``) compares whole
    arrays: ``[3, 17] in kw`` is True when some image's word ids are exactly ``[3, 17]``,
    in that order; ``kw.index(value)`` is the first such image, ``kw.count(value)`` how many.
    A single number is never such a value, and ``5 in kw`` almost always means "is 5 an
    image id?", which these operations do not answer: a number (or any scalar) raises a
    TypeError that says so. For image ids use ``0 <= i < len(kw)`` (in the table) or
    ``kw.ids`` (the listed images).

    ``kw[i]`` is sequence indexing; :meth:`word_ids`, :meth:`words`, :meth:`image_name` and
    the batch methods take image ids, and refuse a negative one.
    """

    def __init__(self, path: str, rows: np.ndarray, vocabulary: Vocabulary,
                 ranges: np.ndarray, image_names: Optional[np.ndarray], min_df: int,
                 vocabulary_given: VocabularyArgument = None) -> None:
        self.path, self.rows, self.vocabulary = path, rows, vocabulary
        self.ranges, self.image_names, self.min_df = ranges, image_names, min_df
        self._vocabulary_given = vocabulary_given  # what load_keywords was given, to pickle
        self._lock = threading.Lock()
        self._matrix: Any = None
        self._ids: Optional[npt.NDArray[np.int64]] = None

    # -- pickling by path: a DataLoader worker reopens the memory maps ----------------------

    def __reduce__(self) -> Tuple[Any, Tuple[str, VocabularyArgument]]:
        return load_keywords, (self.path, self._vocabulary_given)

    # -- the sequence ---------------------------------------------------------------------------

    def __len__(self) -> int:
        """Image ids ``0 .. len - 1``: the range table's rows (the largest listed id + 1)."""
        return len(self.ranges)

    @overload
    def __getitem__(self, index: SupportsIndex) -> WordIds: ...

    @overload
    def __getitem__(self, index: slice) -> List[WordIds]: ...

    def __getitem__(self, index: Union[SupportsIndex, slice]) -> Union[WordIds, List[WordIds]]:
        """Word ids of image ``index`` in row order (int64, empty when it has none); a
        negative index counts from the end; a slice gives a list of arrays."""
        if isinstance(index, slice):
            ids = np.arange(*index.indices(len(self)), dtype=np.int64)
            if not len(ids):
                return []
            _, starts, lengths = self._spans(ids)
            return cast(List[WordIds], np.split(self._gather(starts, lengths),
                                                np.cumsum(lengths)[:-1]))
        try:
            position = operator.index(index)
        except TypeError:
            raise TypeError(f"Keywords indices must be integers or slices, not "
                            f"{type(index).__name__}") from None
        if position < 0:
            position += len(self)
        if not 0 <= position < len(self):
            raise ImageIdError(f"index {operator.index(index)} is outside the range table of "
                               f"{self.path} (image ids 0..{len(self) - 1})")
        return self._words_at(position)

    def __iter__(self) -> Iterator[WordIds]:
        for img_id in range(len(self)):
            yield self._words_at(img_id)

    def __reversed__(self) -> Iterator[WordIds]:
        for img_id in range(len(self) - 1, -1, -1):
            yield self._words_at(img_id)

    def __contains__(self, value: object) -> bool:
        """Whether some image's word ids are exactly ``value`` (see the class docstring); a
        number raises a TypeError, as it is never one and most likely meant an image id."""
        return len(self._matching(value, "in")) > 0

    def index(self, value: Any, start: int = 0, stop: Optional[int] = None) -> int:
        """The first image (from ``start``, before ``stop``) whose word ids are exactly
        ``value``; ValueError when there is none."""
        first, last, _ = slice(start, stop).indices(len(self))
        found = self._matching(value, "index")
        found = found[(found >= first) & (found < last)]
        if not len(found):
            raise ValueError(f"{_shown(value)} is not the word ids of any image in "
                             f"{self.path}" + ("" if (first, last) == (0, len(self)) else
                                                f" {first}..{last - 1}"))
        return int(found[0])

    def count(self, value: Any) -> int:
        """How many images' word ids are exactly ``value``."""
        return len(self._matching(value, "count"))

    def _matching(self, value: object, operation: str) -> npt.NDArray[np.int64]:
        """The images (ascending) whose word ids equal ``value`` as a whole array."""
        target = _as_value(value, operation)
        if target is None:  # nothing an image's word ids can equal
            return np.empty(0, np.int64)
        ranges = np.asarray(self.ranges)
        lengths = np.where(ranges[:, 0] >= 0, ranges[:, 1] - ranges[:, 0] + 1, 0)
        candidates = np.flatnonzero(lengths == len(target)).astype(np.int64)
        if not len(target) or not len(candidates):
            return candidates
        found = []
        block = max(1, (1 << 20) // len(target))  # bounds the gathered block
        for start in range(0, len(candidates), block):
            part = candidates[start:start + block]
            positions = ranges[part, 0][:, None] + np.arange(len(target))
            words = np.asarray(self.rows[positions.ravel(), 1]).reshape(positions.shape)
            found.append(part[(words == target).all(axis=1)])
        return np.concatenate(found)

    # -- by image id ----------------------------------------------------------------------------

    def word_ids(self, img_id: SupportsIndex) -> WordIds:
        """Word ids of image ``img_id`` in row order (int64, empty when it has none)."""
        start, stop = self._span(img_id)
        return np.array(self.rows[start:stop, 1], dtype=np.int64)

    def keywords(self, img_id: SupportsIndex) -> WordIds:
        """Deprecated: the former name of :meth:`word_ids` (kept for one release)."""
        warnings.warn("Keywords.keywords(img_id) is deprecated; use Keywords.word_ids(img_id)",
                      DeprecationWarning, stacklevel=2)
        return self.word_ids(img_id)

    @property
    def n_rows(self) -> int:
        return len(self.rows)

    @property
    def ids(self) -> npt.NDArray[np.int64]:
        """The listed image ids (int64, ascending): those with a name in the names table, or
        with rows when there is no names table."""
        if self._ids is None:
            if self.image_names is not None and len(self.image_names):
                ids = np.flatnonzero(np.asarray(self.image_names) != b"")
            else:
                ids = np.flatnonzero(np.asarray(self.ranges)[:, 0] >= 0)
            self._ids = ids.astype(np.int64)
        return self._ids

    @property
    def n_images(self) -> int:
        return len(self.ids)

    def words(self, img_id: SupportsIndex) -> List[str]:
        """Image ``img_id``'s keywords as strings."""
        return [self.vocabulary[int(i)] for i in self.word_ids(img_id)]

    def image_name(self, img_id: SupportsIndex) -> Optional[str]:
        """Original name of the image (Clickture map name, COCO file name), or None."""
        index = operator.index(img_id)
        if self.image_names is None or not 0 <= index < len(self.image_names):
            return None
        name: str = self.image_names[index].decode("utf-8")
        return name or None

    # -- batches ------------------------------------------------------------------------------

    def _words_at(self, index: int) -> WordIds:
        first, last = self.ranges[index]
        if first < 0:
            return np.empty(0, np.int64)
        return np.array(self.rows[int(first):int(last) + 1, 1], dtype=np.int64)

    def _span(self, img_id: SupportsIndex) -> Tuple[int, int]:
        try:
            index = operator.index(img_id)
        except TypeError:
            raise ImageIdError(f"image id {img_id!r} is not an integer") from None
        if not 0 <= index < len(self.ranges):
            raise ImageIdError(f"image id {index} is outside the range table of {self.path} "
                               f"(0..{len(self.ranges) - 1})")
        first, last = self.ranges[index]
        return (int(first), int(last) + 1) if first >= 0 else (0, 0)

    def _spans(self, img_ids: Iterable[int]
               ) -> Tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """``(ids, starts, lengths)`` of a batch of image ids, vectorised."""
        ids = np.asarray(img_ids, dtype=np.int64).reshape(-1)
        bad = (ids < 0) | (ids >= len(self.ranges))
        if bad.any():
            raise ImageIdError(f"image id {int(ids[bad][0])} is outside the range table of "
                               f"{self.path} (0..{len(self.ranges) - 1})")
        spans = np.asarray(self.ranges[ids], dtype=np.int64).reshape(-1, 2)
        has = spans[:, 0] >= 0
        starts = np.where(has, spans[:, 0], 0)
        lengths = np.where(has, spans[:, 1] - spans[:, 0] + 1, 0)
        return ids, starts, lengths

    def _gather(self, starts: npt.NDArray[np.int64],
                lengths: npt.NDArray[np.int64]) -> WordIds:
        """The word ids of rows ``starts[i] .. starts[i] + lengths[i]``, concatenated."""
        total = int(lengths.sum())
        if not total:
            return np.empty(0, np.int64)
        offsets = np.cumsum(lengths) - lengths
        positions = np.repeat(starts - offsets, lengths) + np.arange(total)
        return np.asarray(self.rows[positions, 1], dtype=np.int64)

    def padded(self, img_ids: Iterable[int], max_len: Optional[int] = None,
               pad: Optional[int] = None) -> npt.NDArray[np.int64]:
        """``(len(img_ids), L)`` int64 word ids in row order, padded with ``pad``.

        Parameters
        ----------
        img_ids : sequence of int
        max_len : int, default=None
            ``L``; longer images are cut. None: the longest image of the batch.
        pad : int, default=None
            None: ``len(kw.vocabulary)``, the index ``nn.Embedding(V + 1, d, padding_idx=V)``
            keeps at zero.
        """
        ids, starts, lengths = self._spans(img_ids)
        width = int(lengths.max()) if len(lengths) else 0
        if max_len is not None:
            width = int(max_len)
            lengths = np.minimum(lengths, width)
        out = np.full((len(ids), width), len(self.vocabulary) if pad is None else pad, np.int64)
        out[np.arange(width) < lengths[:, None]] = self._gather(starts, lengths)
        return out

    def bag(self, img_ids: Iterable[int]) -> Tuple[WordIds, npt.NDArray[np.int64]]:
        """``(word_ids, offsets)`` for ``nn.EmbeddingBag``: the batch's word ids concatenated
        (int64) and where each image's start (int64, one per image)."""
        _, starts, lengths = self._spans(img_ids)
        return self._gather(starts, lengths), (np.cumsum(lengths) - lengths).astype(np.int64)

    def collate(self, img_ids: Iterable[int]) -> Tuple[npt.NDArray[np.int64],
                                                       npt.NDArray[np.int64],
                                                       npt.NDArray[np.int64]]:
        """``(img_ids, padded word ids, lengths)`` of a batch: a ``collate_fn`` for
        ``DataLoader(kw.ids, batch_size=..., collate_fn=kw.collate)``."""
        ids, _, lengths = self._spans(img_ids)
        return ids, self.padded(ids), lengths

    @property
    def matrix(self) -> Any:
        """CSR matrix ``(len(kw), vocabulary size)``: counts of each word per image."""
        with self._lock:
            if self._matrix is None:
                n_images = max(len(self.ranges), int(self.rows[:, 0].max()) + 1
                               if len(self.rows) else 0)
                data = np.ones(len(self.rows), np.int64)
                # coo -> csr sums duplicate (image, word) pairs: the count of that word's rows.
                import scipy.sparse  # here: the pipeline's processes never need it
                self._matrix = scipy.sparse.coo_matrix(
                    (data, (np.asarray(self.rows[:, 0]), np.asarray(self.rows[:, 1]))),
                    shape=(n_images, len(self.vocabulary))).tocsr()
        return self._matrix

    def __repr__(self) -> str:
        return (f"Keywords({self.path!r}: {self.n_rows} rows, {len(self.vocabulary)} words, "
                f"{len(self.ranges)} image ids)")


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _as_value(value: object, operation: str) -> Optional[npt.NDArray[Any]]:
    """``value`` as a 1-D array to compare an image's word ids with, or None when no image's
    word ids can equal it; a scalar is refused (a TypeError that says what to use)."""
    try:
        target = np.asarray(value)
    except ValueError:  # ragged: no 1-D array of word ids equals it
        return None
    if target.ndim == 0:
        example = {"in": f"{_shown(value)} in kw", "index": f"kw.index({_shown(value)})",
                   "count": f"kw.count({_shown(value)})"}[operation]
        raise TypeError(
            f"{example}: a Keywords is a sequence of word-id arrays, so this compares "
            f"{_shown(value)} with each image's whole array of word ids, which a single "
            "value never equals; for an image id use 0 <= i < len(kw) (in the range table) "
            "or kw.ids (the listed images); to find an image by its word ids, give them as "
            "a list or array")
    if target.ndim != 1 or target.dtype.kind not in "biuf":
        return None
    return target


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
    return Keywords(path, rows, vocabulary, ranges, image_names, min_df, given)


STALE = ("the table does not match the rows (an image's rows not contiguous, or the table "
         "stale or of another run)")


def _load_array(path: str) -> np.ndarray:
    try:
        array: np.ndarray = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise LoadError(f"{path}: not a readable .npy array file ({exc})") from None
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
        positions = np.repeat(part[:, 0] - (np.cumsum(lengths) - lengths), lengths) + \
            np.arange(int(lengths.sum()))
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
    dataset = parse_rows_name(rows_path)["dataset"]
    manifest_path = os.path.join(os.path.dirname(rows_path), manifest_name(dataset, min_df))
    try:
        with open(manifest_path, encoding="utf-8") as f:
            run = json.load(f)
        if run["options"].get("original_layout", True):
            return None  # the file under the rows' name is the original's range table
        outputs = run["outputs"]
        rows_record = outputs[os.path.basename(rows_path)]
        if list(rows_record["shape"])[1:] != [2]:
            return None
        stat = os.stat(rows_path)
        if (rows_record["size"], rows_record["mtime_ns"]) != (stat.st_size, stat.st_mtime_ns):
            return None  # the rows changed since: the manifest says nothing about them
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # no manifest, or not one: nothing to check against
    if not isinstance(outputs, dict):
        return None
    return manifest_path, outputs


def _recorded_differs(path: str, record: Any) -> bool:
    """Whether the file at ``path`` is not the one a manifest ``record`` describes: the same
    size and modification time vouch for it; else its SHA-256 decides (a copy keeps it)."""
    try:
        stat = os.stat(path)
        if (record["size"], record["mtime_ns"]) == (stat.st_size, stat.st_mtime_ns):
            return False
        return bool(file_sha256(path) != record["sha256"])
    except (OSError, KeyError, TypeError):
        return False  # a record that says nothing: nothing to check against


def _check_recorded(path: str, kind: str, rows_path: str,
                    run: Optional[Tuple[str, Dict[str, Any]]]) -> None:
    """A table beside the rows must be the one their run wrote, where its manifest tells."""
    if run is None:
        return
    manifest_path, outputs = run
    record = outputs.get(os.path.basename(path))
    if record is not None and _recorded_differs(path, record):
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

