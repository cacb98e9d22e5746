"""The per-image tables written beside the rows.

Input:  image ids and their row counts (in row order), or the rows themselves.
Output: the range table and the names table (their formats: docs/formats.md#outputs), the
        original scripts' variant of the range table, the rows per image and their figures.

Also here, for ragged arrays (the rows of each image, the word ids of each keyword, the bytes
of each name): :func:`ragged_positions` gathers slices, :func:`run_sums` totals runs.
"""
from typing import Tuple

import numpy as np


def range_table(ids: np.ndarray, counts: np.ndarray, size: int) -> np.ndarray:
    """Inclusive ``[first, last]`` row numbers per image id; ``[-1, -1]`` for none."""
    return fill_ranges(np.full((size, 2), -1, np.int64), ids, counts, 0)


def fill_ranges(table: np.ndarray, ids: np.ndarray, counts: np.ndarray,
                first_row: int) -> np.ndarray:
    """Enter the ranges of images ``ids`` with ``counts`` rows each, whose rows start at row
    ``first_row``, into a range table (a chunk at a time, as rows are written)."""
    starts = first_row + np.cumsum(counts, dtype=np.int64) - counts
    has = counts > 0
    table[ids[has], 0] = starts[has]
    table[ids[has], 1] = starts[has] + counts[has] - 1
    return table


def ranges_from_rows(rows: np.ndarray) -> np.ndarray:
    """Range table of rows whose images are contiguous (as every output is)."""
    ids = np.asarray(rows[:, 0])
    if not len(ids):
        return np.full((0, 2), -1, np.int64)
    change = np.flatnonzero(ids[1:] != ids[:-1]) + 1
    starts = np.concatenate(([0], change))
    counts = np.diff(np.concatenate((starts, [len(ids)])))
    return range_table(ids[starts], counts, int(ids.max()) + 1)


def ragged_positions(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The positions of the slices ``starts[i]:starts[i] + lengths[i]``, one after the other
    (int64): ``a[ragged_positions(starts, lengths)]`` is ``np.concatenate([a[s:s + n] for s,
    n in zip(starts, lengths)])``, gathered at once."""
    lengths = np.asarray(lengths, np.int64)
    ends = np.cumsum(lengths)
    shifts = np.asarray(starts, np.int64) - (ends - lengths)  # slice start less its place
    return np.repeat(shifts, lengths) + np.arange(ends[-1] if len(ends) else 0)


def run_sums(values: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The sum of each of the consecutive runs of ``values``, from the first, run ``i`` of
    ``lengths[i]`` values (int64; 0 for an empty run)."""
    totals = np.concatenate(([0], np.cumsum(values, dtype=np.int64)))
    return np.diff(totals[np.cumsum(lengths, dtype=np.int64)], prepend=0)


def original_range_table(ranges: np.ndarray, n_rows: int) -> np.ndarray:
    """The range table as the original scripts wrote it, from ours: it stops at the largest
    image id that has rows, and image 0 is ``[0, -1]`` when it has none (their loop starts
    at image 0, row 0). No rows at all: an empty table (the original failed there)."""
    has_rows = np.flatnonzero(np.asarray(ranges)[:, 0] >= 0)
    if not n_rows or not len(has_rows):
        return np.full((0, 2), -1, np.int64)
    table = np.array(ranges[:int(has_rows[-1]) + 1], dtype=np.int64)
    if table[0, 0] < 0:
        table[0] = [0, -1]
    return table


def rows_per_image(ranges: np.ndarray) -> np.ndarray:
    """The number of rows of each image of (some rows of) a range table."""
    ranges = np.asarray(ranges)
    return np.where(ranges[:, 0] >= 0, ranges[:, 1] - ranges[:, 0] + 1, 0)


def keywords_per_image(counts: np.ndarray) -> Tuple[int, float, float, int]:
    """``(min, median, mean, max)`` of the rows per image (zeros for no image): the figures a
    run's summary and ``stats`` give."""
    if not len(counts):
        return 0, 0.0, 0.0, 0
    return (int(counts.min()), float(np.median(counts)), float(counts.mean()),
            int(counts.max()))


def names_table(ids: np.ndarray, names: np.ndarray, size: int) -> np.ndarray:
    """``table[img_id] == name`` for each listed image, ``b""`` elsewhere."""
    table = np.zeros(size, dtype=names.dtype if len(names) else "S1")
    table[ids] = names
    return table
