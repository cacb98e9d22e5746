"""Writing the outputs safely, and loading them in training code.

Files written in a dataset folder (``<tag>`` is ``clickture_dev``, ``clickture_lite`` or
``coco``; ``<k>`` is min_df):

``img_keyword_ind_clickture_<set>_sk_<k>_sparse.npy`` / ``img_keyword_ind_coco_sk_<k>.npy``
    rows: int64, shape ``(N, 2)``, each row ``[img_id, word_id]``; images in list order, each
    image's rows in keyword-token order. Byte-identical to ``np.save`` of the same array.
``img_keyword_range_<tag>_sk_<k>.npy``
    ranges: int64, shape ``(max listed id + 1, 2)``; row ``i`` is ``[first, last]`` (inclusive)
    row numbers of image ``i``, ``[-1, -1]`` when it has no rows or is not listed.
``img_names_<tag>.npy``
    names: ``S`` (UTF-8 bytes), shape ``(max listed id + 1,)``; the image's original name
    (Clickture map name, COCO file name; without a map, its list entry), ``b""`` for an id
    that is not listed.
``vocabulary_<dataset>_sk_<k>.json``
    the vocabulary (see :mod:`amc_keywords.vocabulary`).

Every file is written to a temporary name in the same folder and moved into place with
``os.replace`` only when the whole run has succeeded: an error or an interruption, ``kill -9``
included, leaves earlier outputs byte-identical. Temporary files of a killed run are removed by
the next run.
"""
import glob
import json
import os
import re
import threading

import numpy as np

from .errors import InputError
from .vocabulary import Vocabulary

HEADER_SIZE = 128  # np.save's header for an (N, 2) int64 array, for any N below 10**40

ROWS_NAME = re.compile(r"^img_keyword_ind_(?P<tag>(?P<dataset>[a-z0-9]+)(?:_(?P<subset>\w+?))?)"
                       r"_sk_(?P<min_df>\d+)(?:_sparse)?\.npy$")


def output_names(dataset, subset, min_df):
    """File names of one set's outputs (``subset`` is None for COCO)."""
    tag = f"{dataset}_{subset}" if subset else dataset
    sparse = "_sparse" if subset else ""  # the original names: Clickture's end in _sparse
    return {"rows": f"img_keyword_ind_{tag}_sk_{min_df}{sparse}.npy",
            "ranges": f"img_keyword_range_{tag}_sk_{min_df}.npy",
            "names": f"img_names_{tag}.npy",
            "vocabulary": f"vocabulary_{dataset}_sk_{min_df}.json"}


def parse_rows_name(rows_path):
    """``{"tag", "dataset", "subset", "min_df"}`` of a rows file's name (``subset`` None for
    COCO); ValueError when it is not an output name."""
    match = ROWS_NAME.match(os.path.basename(rows_path))
    if not match:
        raise ValueError(f"{rows_path}: not an output name (expected "
                         "img_keyword_ind_<dataset>[_<set>]_sk_<min_df>[_sparse].npy)")
    return match.groupdict()


def names_beside(rows_path):
    """Paths of the files that go with a rows file, found by its name."""
    folder = os.path.dirname(rows_path)
    match = parse_rows_name(rows_path)
    names = output_names(match["dataset"], match["subset"], int(match["min_df"]))
    return {k: os.path.join(folder, v) for k, v in names.items()}, int(match["min_df"])


def range_table(ids, counts, size):
    """Inclusive ``[first, last]`` row numbers per image id; ``[-1, -1]`` for none."""
    return fill_ranges(np.full((size, 2), -1, np.int64), ids, counts, 0)


def fill_ranges(table, ids, counts, first_row):
    """Enter the ranges of images ``ids`` with ``counts`` rows each, whose rows start at row
    ``first_row``, into a range table (a chunk at a time, as rows are written)."""
    starts = first_row + np.cumsum(counts, dtype=np.int64) - counts
    has = counts > 0
    table[ids[has], 0] = starts[has]
    table[ids[has], 1] = starts[has] + counts[has] - 1
    return table


def names_table(ids, names, size):
    """``table[img_id] == name`` for each listed image, ``b""`` elsewhere."""
    table = np.zeros(size, dtype=names.dtype if len(names) else "S1")
    table[ids] = names
    return table


class RowWriter:
    """Streams ``(n, 2)`` int64 rows to a ``.npy`` file whose header is written last."""

    def __init__(self, path):
        self.path = path
        self.rows = 0
        self.file = open(path, "wb")
        self.file.write(b"\0" * HEADER_SIZE)

    def write(self, rows):
        self.file.write(memoryview(np.ascontiguousarray(rows, dtype="<i8")).cast("B"))
        self.rows += len(rows)

    def close(self):
        self.file.seek(0)
        np.lib.format.write_array_header_1_0(
            self.file, {"descr": "<i8", "fortran_order": False, "shape": (self.rows, 2)})
        if self.file.tell() != HEADER_SIZE:
            raise AssertionError("npy header size changed")
        self.file.close()


class OutputSet:
    """All files of one run, written under temporary names and moved into place together."""

    def __init__(self, folder):
        self.folder = folder
        self.pending = {}  # final path -> temporary path
        self.scratch_files = []  # working files of the run, removed at the end
        self.syncing = {}  # temporary path -> thread writing it to disk (see sync_soon)
        try:
            os.makedirs(folder, exist_ok=True)
            probe = self._temp(os.path.join(folder, "write-test"))
            open(probe, "wb").close()
            os.remove(probe)
        except OSError as exc:
            raise InputError(f"{folder}: the output folder cannot be written "
                             f"({exc.strerror}); choose another with --out-dir") from None
        self._remove_stale()

    def _temp(self, path):
        folder, base = os.path.split(path)
        return os.path.join(folder, f".{base}.{os.getpid()}.tmp")

    def _remove_stale(self):
        # Left by a run that was killed: its process is gone, so its files are garbage.
        for path in glob.glob(os.path.join(glob.escape(self.folder), ".*.*.tmp")):
            pid = path.rsplit(".", 2)[-2]
            if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
                try:
                    os.remove(path)
                except OSError:
                    pass

    def path(self, name):
        """A temporary path for output ``name``; it becomes ``name`` at :meth:`commit`."""
        final = os.path.join(self.folder, name)
        self.pending[final] = self._temp(final)
        return self.pending[final]

    def scratch(self, name):
        """A temporary path for a working file of the run, removed when the run ends."""
        path = self._temp(os.path.join(self.folder, name))
        self.scratch_files.append(path)
        return path

    def rows_writer(self, name):
        return RowWriter(self.path(name))

    def save_array(self, name, array):
        with open(self.path(name), "wb") as f:
            np.save(f, array, allow_pickle=False)

    def save_json(self, name, obj):
        with open(self.path(name), "w", encoding="utf-8") as f:
            json.dump(obj, f, ensure_ascii=False, indent=0)
            f.write("\n")

    def sync_soon(self, temp):
        """Start writing a finished file to disk now, in a thread, rather than at commit: a
        Lite rows file is hundreds of MB, and the disk writes it while the run goes on."""
        failed = []
        thread = threading.Thread(target=lambda: failed.extend(_fsync(temp)), daemon=True)
        thread.start()
        self.syncing[temp] = (thread, failed)

    def commit(self):
        # Every file on disk before any is moved into place: a crash leaves old or new files.
        for final, temp in self.pending.items():
            thread, failed = self.syncing.pop(temp, (None, None))
            if thread is None:
                failed = _fsync(temp)
            else:
                thread.join()
            if failed:
                raise failed[0]
        for final, temp in self.pending.items():
            os.replace(temp, final)
        written = list(self.pending)
        self.pending = {}
        self.abort()
        return written

    def abort(self):
        for temp in [*self.pending.values(), *self.scratch_files]:
            try:
                os.remove(temp)
            except OSError:
                pass
        self.pending, self.scratch_files, self.syncing = {}, [], {}

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        self.abort()  # after commit() nothing is pending; on an error, drop the temporaries


def _fsync(path):
    """fsync ``path``; returns the error, if any, in a list (so a thread can hand it over)."""
    try:
        with open(path, "rb") as f:
            os.fsync(f.fileno())
    except OSError as exc:
        return [exc]
    return []


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --------------------------------------------------------------------------------------------
# Loading


class WordList:
    """``vocabulary[word_id] == word``, ``len(vocabulary)``, and ``word_id(word)``."""

    def __init__(self, words):
        self._words = list(words)
        self._ids = {w: i for i, w in enumerate(self._words)}

    def __getitem__(self, word_id):
        return self._words[word_id]

    def __len__(self):
        return len(self._words)

    def __iter__(self):
        return iter(self._words)

    def word_id(self, word):
        """The id of ``word``; KeyError when it is not in the vocabulary."""
        try:
            return self._ids[word]
        except KeyError:
            raise KeyError(f"{word!r} is not in the vocabulary") from None


class Keywords:
    """One output set, loaded: see :func:`load_keywords`."""

    def __init__(self, path, rows, vocabulary, ranges, image_names, min_df):
        self.path, self.rows, self.vocabulary = path, rows, vocabulary
        self.ranges, self.image_names, self.min_df = ranges, image_names, min_df
        self._matrix = None

    @property
    def matrix(self):
        """CSR matrix ``(max image id + 1, vocabulary size)``: counts of each word per image."""
        if self._matrix is None:
            n_images = max(len(self.ranges), int(self.rows[:, 0].max()) + 1 if len(self.rows)
                           else 0)
            data = np.ones(len(self.rows), np.int64)
            # coo -> csr sums duplicate (image, word) pairs: the count of that word's rows.
            import scipy.sparse  # here: the pipeline's processes never need it
            self._matrix = scipy.sparse.coo_matrix(
                (data, (np.asarray(self.rows[:, 0]), np.asarray(self.rows[:, 1]))),
                shape=(n_images, len(self.vocabulary))).tocsr()
        return self._matrix

    def _span(self, img_id):
        if not 0 <= img_id < len(self.ranges):
            raise KeyError(f"image id {img_id} is outside the range table of {self.path} "
                           f"(0..{len(self.ranges) - 1})")
        first, last = self.ranges[img_id]
        return int(first), int(last) + 1

    def keywords(self, img_id):
        """Word ids of image ``img_id`` in row order (empty when it has none)."""
        start, stop = self._span(img_id)
        return np.array(self.rows[start:stop, 1]) if start >= 0 else np.empty(0, np.int64)

    def words(self, img_id):
        """The same as strings."""
        return [self.vocabulary[int(i)] for i in self.keywords(img_id)]

    def image_name(self, img_id):
        """Original name of the image (Clickture map name, COCO file name), or None."""
        if self.image_names is None or not 0 <= img_id < len(self.image_names):
            return None
        return self.image_names[img_id].decode("utf-8") or None

    def padded(self, img_ids, max_len=None, pad=-1):
        """``(len(img_ids), L)`` int64 word ids, row order, padded with ``pad``; ``L`` is the
        longest image's length, or ``max_len`` (longer images are truncated)."""
        img_ids = np.asarray(img_ids, dtype=np.int64).reshape(-1)
        spans = np.array([self._span(int(i)) for i in img_ids], np.int64).reshape(-1, 2)
        starts = spans[:, 0]
        lengths = np.where(starts >= 0, spans[:, 1] - starts, 0)
        width = int(lengths.max()) if len(lengths) else 0
        if max_len is not None:
            width = int(max_len)
            lengths = np.minimum(lengths, width)
        out = np.full((len(img_ids), width), pad, np.int64)
        mask = np.arange(width) < lengths[:, None]
        positions = (np.maximum(starts, 0)[:, None] + np.arange(width))[mask]
        out[mask] = self.rows[positions, 1]
        return out

    def __len__(self):
        return len(self.rows)

    def __repr__(self):
        return (f"Keywords({self.path!r}: {len(self.rows)} rows, "
                f"{len(self.vocabulary)} words, {len(self.ranges)} image ids)")


def load_keywords(path, vocabulary=None):
    """Load an output set from its rows file (``img_keyword_ind_..._sk_<k>[_sparse].npy``).

    Parameters
    ----------
    path : str
        The N x 2 rows file; the range table, the names table and the vocabulary are found
        beside it by name.
    vocabulary : str or list of str, default=None
        A vocabulary file or word list to use instead of the one found beside ``path``.

    Returns
    -------
    Keywords
        ``rows`` (memory-mapped), ``vocabulary``, ``matrix``, ``keywords(img_id)``,
        ``words(img_id)``, ``padded(img_ids, max_len=None, pad=-1)``, ``image_names``.
    """
    path = os.fspath(path)
    beside, min_df = names_beside(path)
    try:
        rows = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise ValueError(f"{path}: not a .npy array file ({exc})") from None
    if rows.ndim != 2 or rows.shape[1] != 2 or rows.dtype.kind not in "iu":
        raise ValueError(f"{path}: expected an N x 2 integer array, found {rows.dtype} "
                         f"{rows.shape}")
    if vocabulary is None:
        vocabulary = beside["vocabulary"]
    if isinstance(vocabulary, (str, os.PathLike)):
        try:
            words = Vocabulary.load(vocabulary).words
        except (InputError, OSError) as exc:
            raise ValueError(str(exc)) from None
    else:
        words = list(vocabulary)
    vocabulary = WordList(words)
    if len(rows) and (int(rows[:, 1].max()) >= len(vocabulary) or int(rows[:, 1].min()) < 0 or
                      int(rows[:, 0].min()) < 0):
        raise ValueError(f"{path}: word ids run to {int(rows[:, 1].max())}, beyond the "
                         f"vocabulary of {len(vocabulary)} words (or ids are negative)")
    if os.path.exists(beside["ranges"]):
        ranges = np.load(beside["ranges"], mmap_mode="r", allow_pickle=False)
    else:  # rows from elsewhere (e.g. the original script's record files): derive the table
        ranges = ranges_from_rows(rows)
    image_names = (np.load(beside["names"], mmap_mode="r", allow_pickle=False)
                   if os.path.exists(beside["names"]) else None)
    return Keywords(path, rows, vocabulary, ranges, image_names, min_df)


def ranges_from_rows(rows):
    """Range table of rows whose images are contiguous (as every output is)."""
    ids = np.asarray(rows[:, 0])
    if not len(ids):
        return np.full((0, 2), -1, np.int64)
    change = np.flatnonzero(ids[1:] != ids[:-1]) + 1
    starts = np.concatenate(([0], change))
    counts = np.diff(np.concatenate((starts, [len(ids)])))
    return range_table(ids[starts], counts, int(ids.max()) + 1)
