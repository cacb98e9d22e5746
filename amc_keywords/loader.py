"""Loading an output set in training code: ``kw = load_keywords(rows_file)``.

Input
    A rows file (``img_keyword_ind_..._sk_<k>[_sparse].npy``; the formats are in
    :mod:`amc_keywords.writing`) and the files beside it: range table, names table,
    vocabulary and (where present) the run's manifest.
Output
    :class:`Keywords`, a read-only sequence over image ids in the manner of a PyTorch map-style
    dataset, without importing torch (numpy in, numpy out):

    ``len(kw)``, ``kw[img_id]``, ``iter(kw)``
        image ids ``0 .. len(kw) - 1`` (the range table's rows) and each image's word ids (an
        int64 array, empty for an image without rows).
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
"""
import json
import os
import threading
import warnings

import numpy as np

from .errors import InputError
from .filenames import names_beside, parse_rows_name
from .tables import ranges_from_rows
from .vocabulary import Vocabulary


class Keywords:
    """One output set, loaded: see :func:`load_keywords` and the module's docstring."""

    def __init__(self, path, rows, vocabulary, ranges, image_names, min_df,
                 vocabulary_given=None):
        self.path, self.rows, self.vocabulary = path, rows, vocabulary
        self.ranges, self.image_names, self.min_df = ranges, image_names, min_df
        self._vocabulary_given = vocabulary_given  # what load_keywords was given, to pickle
        self._lock = threading.Lock()
        self._matrix = self._ids = None

    # -- pickling by path: a DataLoader worker reopens the memory maps ----------------------

    def __reduce__(self):
        return load_keywords, (self.path, self._vocabulary_given)

    # -- a sequence over image ids ------------------------------------------------------------

    def __len__(self):
        """Image ids ``0 .. len - 1``: the range table's rows (the largest listed id + 1)."""
        return len(self.ranges)

    def __getitem__(self, img_id):
        """Word ids of image ``img_id`` in row order (int64, empty when it has none)."""
        start, stop = self._span(img_id)
        return np.array(self.rows[start:stop, 1], dtype=np.int64)

    def __iter__(self):
        for img_id in range(len(self)):
            yield self[img_id]

    def keywords(self, img_id):
        """The same as ``kw[img_id]``."""
        return self[img_id]

    @property
    def n_rows(self):
        return len(self.rows)

    @property
    def ids(self):
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
    def n_images(self):
        return len(self.ids)

    def words(self, img_id):
        """Image ``img_id``'s keywords as strings."""
        return [self.vocabulary[int(i)] for i in self[img_id]]

    def image_name(self, img_id):
        """Original name of the image (Clickture map name, COCO file name), or None."""
        if self.image_names is None or not 0 <= img_id < len(self.image_names):
            return None
        return self.image_names[img_id].decode("utf-8") or None

    # -- batches ------------------------------------------------------------------------------

    def _span(self, img_id):
        try:
            index = int(img_id)
        except (TypeError, ValueError):
            raise KeyError(f"image id {img_id!r} is not an integer") from None
        if not 0 <= index < len(self.ranges):
            raise KeyError(f"image id {index} is outside the range table of {self.path} "
                           f"(0..{len(self.ranges) - 1})")
        first, last = self.ranges[index]
        return (int(first), int(last) + 1) if first >= 0 else (0, 0)

    def _spans(self, img_ids):
        """``(ids, starts, lengths)`` of a batch of image ids, vectorised."""
        ids = np.asarray(img_ids, dtype=np.int64).reshape(-1)
        bad = (ids < 0) | (ids >= len(self.ranges))
        if bad.any():
            raise KeyError(f"image id {int(ids[bad][0])} is outside the range table of "
                           f"{self.path} (0..{len(self.ranges) - 1})")
        spans = np.asarray(self.ranges[ids], dtype=np.int64).reshape(-1, 2)
        has = spans[:, 0] >= 0
        starts = np.where(has, spans[:, 0], 0)
        lengths = np.where(has, spans[:, 1] - spans[:, 0] + 1, 0)
        return ids, starts, lengths

    def _gather(self, starts, lengths):
        """The word ids of rows ``starts[i] .. starts[i] + lengths[i]``, concatenated."""
        total = int(lengths.sum())
        if not total:
            return np.empty(0, np.int64)
        offsets = np.cumsum(lengths) - lengths
        positions = np.repeat(starts - offsets, lengths) + np.arange(total)
        return np.asarray(self.rows[positions, 1], dtype=np.int64)

    def padded(self, img_ids, max_len=None, pad=None):
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

    def bag(self, img_ids):
        """``(word_ids, offsets)`` for ``nn.EmbeddingBag``: the batch's word ids concatenated
        (int64) and where each image's start (int64, one per image)."""
        _, starts, lengths = self._spans(img_ids)
        return self._gather(starts, lengths), (np.cumsum(lengths) - lengths).astype(np.int64)

    def collate(self, img_ids):
        """``(img_ids, padded word ids, lengths)`` of a batch: a ``collate_fn`` for
        ``DataLoader(kw.ids, batch_size=..., collate_fn=kw.collate)``."""
        ids, _, lengths = self._spans(img_ids)
        return ids, self.padded(ids), lengths

    @property
    def matrix(self):
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

    def __repr__(self):
        return (f"Keywords({self.path!r}: {self.n_rows} rows, {len(self.vocabulary)} words, "
                f"{len(self.ranges)} image ids)")


def load_keywords(path, vocabulary=None):
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
    ValueError
        The file is not an N x 2 integer array (or is cut short), its word ids exceed the
        vocabulary, or the vocabulary beside it is of another run; the message names the
        file. A missing range table is rebuilt from the rows, with a warning.
    """
    path = os.fspath(path)
    beside, min_df = names_beside(path)
    try:
        rows = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise ValueError(f"{path}: not a readable .npy array file ({exc})") from None
    if rows.ndim != 2 or rows.shape[1] != 2 or rows.dtype.kind not in "iu":
        raise ValueError(f"{path}: expected an N x 2 integer array, found {rows.dtype} "
                         f"{rows.shape}")
    given, recorded = vocabulary, False
    if vocabulary is None or isinstance(vocabulary, (str, os.PathLike)):
        vocabulary_path = os.fspath(vocabulary) if vocabulary is not None else \
            beside["vocabulary"]
        try:
            vocabulary = Vocabulary.load(vocabulary_path)
        except (InputError, OSError) as exc:
            raise ValueError(str(exc)) from None
        if given is None:
            recorded = _check_same_run(path, vocabulary_path, vocabulary, min_df)
    elif not isinstance(vocabulary, Vocabulary):
        given = vocabulary = Vocabulary(vocabulary)
    # Every id within bounds: a scan of the rows, unless the run's manifest vouches for both
    # files as it wrote them (then opening stays instant at any size).
    if not recorded and len(rows) and (
            int(rows[:, 1].max()) >= len(vocabulary) or int(rows[:, 1].min()) < 0 or
            int(rows[:, 0].min()) < 0):
        raise ValueError(f"{path}: word ids run to {int(rows[:, 1].max())}, beyond the "
                         f"vocabulary of {len(vocabulary)} words (ids 0..{len(vocabulary) - 1})"
                         " (or ids are negative)")
    if os.path.exists(beside["ranges"]):
        ranges = _load_table(beside["ranges"])
    else:  # rows from elsewhere (e.g. copied without it): derive the table
        warnings.warn(f"{beside['ranges']}: missing; the range table is rebuilt from the rows",
                      stacklevel=2)
        ranges = ranges_from_rows(rows)
    image_names = _load_table(beside["names"]) if os.path.exists(beside["names"]) else None
    if image_names is not None and len(image_names) > len(ranges):  # listed ids beyond
        ranges = np.concatenate([ranges, np.full((len(image_names) - len(ranges), 2), -1,
                                                 np.int64)])
    return Keywords(path, rows, vocabulary, ranges, image_names, min_df, given)


def _load_table(path):
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise ValueError(f"{path}: not a readable .npy array file ({exc})") from None


def _check_same_run(rows_path, vocabulary_path, vocabulary, min_df):
    """The vocabulary beside a rows file must be the one those rows were encoded with: its
    min_df is the one in the rows file's name, and where the run's manifest is beside them
    and still describes the rows (size and modification time), it describes the vocabulary
    too (SHA-256). Returns True when the manifest vouches for both files."""
    if vocabulary.min_df != min_df:
        raise ValueError(f"{vocabulary_path}: fitted with min_df={vocabulary.min_df}, but "
                         f"{os.path.basename(rows_path)} says min_df={min_df}: the files are "
                         "of different runs")
    from .manifest import manifest_name
    from .hashing import file_sha256
    dataset = parse_rows_name(rows_path)["dataset"]
    manifest_path = os.path.join(os.path.dirname(rows_path), manifest_name(dataset, min_df))
    try:
        with open(manifest_path, encoding="utf-8") as f:
            run = json.load(f)
        if run["options"].get("original_layout", True):
            return False  # the file under the rows' name is the original's range table
        recorded = run["outputs"]
        rows_record = recorded[os.path.basename(rows_path)]
        if list(rows_record["shape"])[1:] != [2]:
            return False
        vocabulary_record = recorded[os.path.basename(vocabulary_path)]
        stat = os.stat(rows_path)
        if (rows_record["size"], rows_record["mtime_ns"]) != (stat.st_size, stat.st_mtime_ns):
            return False  # the rows changed since: the manifest says nothing about them
        same = file_sha256(vocabulary_path) == vocabulary_record["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return False  # no manifest, or not one: nothing more to check against
    if not same:
        raise ValueError(f"{vocabulary_path}: not the vocabulary {os.path.basename(rows_path)} "
                         f"was encoded with ({os.path.basename(manifest_path)} records another "
                         "one): load both from one run, or pass vocabulary=")
    return True
