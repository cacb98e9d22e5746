"""The loaded output set as a container: :class:`Keywords`, a sequence of word-id arrays.

Input
    The arrays of one output set, opened and checked by :func:`amc_keywords.loader.load_keywords`
    (rows, range table, names table) and its :class:`~amc_keywords.vocabulary.Vocabulary`.
Output
    :class:`Keywords` (its operations are listed in docs/api.md), and the errors it raises:
    :class:`LoadError` for a set that cannot be loaded, :class:`ImageIdError` for an index or
    image id outside the range table.
"""
import operator
import os
import threading
import warnings
from collections.abc import Sequence
from typing import (
    Any,
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

from .errors import LoadError
from .hashing import file_sha256
from .tables import ragged_positions, rows_per_image
from .vectors_matrix import load_vectors
from .vocabulary import Vocabulary

WordIds = npt.NDArray[np.int64]
VocabularyArgument = Union[str, "os.PathLike[str]", Vocabulary, Iterable[str], None]


def replaced(path: str) -> str:
    """The message for a set whose files a later run replaced after it was opened."""
    return (f"{path}: replaced since this Keywords was opened (a run wrote the files again): "
            "a copy would serve another run than the one opened; open the set again with "
            "load_keywords after a rerun, before starting the DataLoader workers")


class ImageIdError(IndexError, KeyError):
    """An index or image id outside the range table: an IndexError, as a sequence's is, and a
    KeyError, as :class:`Keywords` raised before."""

    __str__ = BaseException.__str__  # the message as it is (KeyError's str() quotes it)


class Keywords(Sequence[WordIds]):
    """One output set, loaded: a :class:`~collections.abc.Sequence` of the word ids of images
    ``0 .. len - 1``, each operation of the ABC behaving as for the list ``[kw[0], kw[1],
    ...]`` (why a Sequence, and what ``in``, ``index`` and ``count`` compare: docs/api.md).
    ``kw[i]`` is sequence indexing; :meth:`word_ids`, :meth:`words`, :meth:`image_name` and
    the batch methods take image ids, and refuse a negative one.
    """

    def __init__(self, path: str, rows: np.ndarray, vocabulary: Vocabulary,
                 ranges: np.ndarray, image_names: Optional[np.ndarray], min_df: int,
                 vocabulary_given: VocabularyArgument = None,
                 recorded_sha256: Optional[str] = None) -> None:
        self.path, self.rows, self.vocabulary = path, rows, vocabulary
        self.ranges, self.image_names, self.min_df = ranges, image_names, min_df
        self._vocabulary_given = vocabulary_given  # what load_keywords was given, to pickle
        # The identity of the run opened: the rows' SHA-256, as the run's manifest records
        # it, or computed on the first pickling from the file opened (known by its stat).
        facts = os.stat(path)
        self._opened = (facts.st_ino, facts.st_size, facts.st_mtime_ns)
        self._rows_sha256 = recorded_sha256
        self._lock = threading.Lock()
        self._matrix: Any = None
        self._ids: Optional[npt.NDArray[np.int64]] = None
        # Each image id's split (Karpathy-layout datasets), set by the loader.
        self.image_splits: Optional[np.ndarray] = None

    # -- pickled by path (the loader says how): a DataLoader worker reopens the memory maps --

    def rows_sha256(self) -> str:
        """The SHA-256 of the rows this object serves: the identity of its run, which a
        pickled copy checks when it reopens the files (:func:`amc_keywords.loader.reopen`)."""
        if self._rows_sha256 is None:
            facts = os.stat(self.path)
            if (facts.st_ino, facts.st_size, facts.st_mtime_ns) != self._opened:
                raise LoadError(replaced(self.path))
            self._rows_sha256 = file_sha256(self.path)
        return self._rows_sha256

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

    def __contains__(self, value: object) -> bool:
        """Whether some image's word ids are exactly ``value`` (a whole array); a number
        raises a TypeError, as it is never one and most likely meant an image id."""
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
        lengths = rows_per_image(ranges)
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
        return self._words_at(self._image_index(img_id))

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
        """Original name of the image (Clickture map name, COCO file name), or None; a name
        that is not UTF-8 (a file name, kept as its bytes) decodes as ``os.fsdecode`` would
        (``os.fsencode`` gives the bytes back)."""
        index = operator.index(img_id)
        if self.image_names is None or not 0 <= index < len(self.image_names):
            return None
        name: str = self.image_names[index].decode("utf-8", "surrogateescape")
        return name or None

    def split(self, img_id: SupportsIndex) -> Optional[str]:
        """The split of the image (``"train"``, ``"test"``...: Karpathy-layout datasets), or
        None (not listed, or no splits table)."""
        index = operator.index(img_id)
        if self.image_splits is None or not 0 <= index < len(self.image_splits):
            return None
        return self.image_splits[index].decode("utf-8") or None

    def split_ids(self, split: str) -> npt.NDArray[np.int64]:
        """The image ids of ``split`` (int64, ascending), to build one split's loader; a
        ValueError when the set has no splits table (Clickture, the original layout)."""
        if self.image_splits is None:
            raise ValueError(f"{self.path}: no splits table beside it (only Karpathy-layout "
                             "datasets have one, in the default layout)")
        return np.flatnonzero(np.asarray(self.image_splits) == split.encode("utf-8")
                              ).astype(np.int64)

    # -- batches ------------------------------------------------------------------------------

    def _words_at(self, index: int) -> WordIds:
        first, last = self.ranges[index]
        if first < 0:
            return np.empty(0, np.int64)
        return np.array(self.rows[int(first):int(last) + 1, 1], dtype=np.int64)

    def _image_index(self, img_id: SupportsIndex) -> int:
        try:
            index = operator.index(img_id)
        except TypeError:
            raise ImageIdError(f"image id {img_id!r} is not an integer") from None
        if not 0 <= index < len(self.ranges):
            raise ImageIdError(f"image id {index} is outside the range table of {self.path} "
                               f"(0..{len(self.ranges) - 1})")
        return index

    def _spans(self, img_ids: Iterable[int]
               ) -> Tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """``(ids, starts, lengths)`` of a batch of image ids, vectorised."""
        ids = np.asarray(img_ids, dtype=np.int64).reshape(-1)
        bad = (ids < 0) | (ids >= len(self.ranges))
        if bad.any():
            raise ImageIdError(f"image id {int(ids[bad][0])} is outside the range table of "
                               f"{self.path} (0..{len(self.ranges) - 1})")
        spans = np.asarray(self.ranges[ids], dtype=np.int64).reshape(-1, 2)
        starts = np.where(spans[:, 0] >= 0, spans[:, 0], 0)
        return ids, starts, rows_per_image(spans)

    def _gather(self, starts: npt.NDArray[np.int64],
                lengths: npt.NDArray[np.int64]) -> WordIds:
        """The word ids of rows ``starts[i] .. starts[i] + lengths[i]``, concatenated."""
        return np.asarray(self.rows[ragged_positions(starts, lengths), 1], dtype=np.int64)

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

    def vectors(self, path: Union[str, "os.PathLike[str]"]) -> npt.NDArray[np.float32]:
        """The word-vector matrix at ``path`` (written by ``amc-keywords vectors``): float32
        ``(V + 1, d)``, row ``i`` word id ``i``'s vector, row ``V`` zero; a
        :class:`LoadError` when its sidecar says it was made for another vocabulary."""
        return load_vectors(path, self.vocabulary)

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
