"""The plan of an image set: where each of its images is read from, in output order.

Input
    A set's :class:`~amc_keywords.entry_checks.Entries` (keys and ids, in output order) and,
    for a zip archive, a function giving the archive members of a block of keys.
Output
    :func:`make_plan` builds the set's :class:`Plan`, a structured array with fields ``key``,
    ``id`` and (for a zip archive) ``member``, written to a ``.npy`` file a block at a time;
    :class:`Plan` reads it back a chunk at a time, so that the main process holds no
    per-image array however many images there are.
"""
import numpy as np

from .npy_files import npy_header
from .writing import open_temporary
from .zip_reader import MEMBER


class Plan:
    """Where each image of a set is read from, in output order: a structured array with fields
    ``key`` (``S``), ``id`` (int64) and, for a zip archive, ``member`` (offset, sizes, CRC and
    method of the image's member), in memory or in the ``.npy`` file of :func:`make_plan`
    (then read a chunk at a time, :meth:`read`)."""

    def __init__(self, array=None, path=None):
        self.array, self.path = array, path
        if path is not None:
            (self.length,), self.dtype, self.offset = npy_header(path)
        else:
            self.dtype, self.length = array.dtype, len(array)

    def __len__(self):
        return self.length

    def read(self, start, stop):
        """Entries ``start`` to ``stop`` (a fresh array)."""
        if self.array is not None:
            return self.array[start:stop].copy()
        stop = min(stop, self.length)
        with open(self.path, "rb") as f:
            return np.fromfile(f, self.dtype, max(stop - start, 0),
                               offset=self.offset + start * self.dtype.itemsize)

    def chunks(self, size):
        """Consecutive chunks of ``size`` entries."""
        for start in range(0, self.length, size):
            yield self.read(start, start + size)



PLAN_BLOCK = 1 << 16  # entries planned at a time: bounds the temporary arrays


def make_plan(entries, members_of=None, path=None):
    """The :class:`Plan` of ``entries``, built a block at a time and, with ``path``, written
    there rather than kept in memory.

    ``members_of(keys)`` gives the zip member rows of a block of keys and the indices of the
    keys that have none (None for a folder, whose files are checked as they are read).
    Returns ``(plan, missing, first_missing)``: how many entries have no member, and the
    first of them.
    """
    fields = [("key", entries.keys.dtype), ("id", "<i8")]
    if members_of is not None:
        fields.append(("member", MEMBER))
    dtype = np.dtype(fields)
    blocks, missing, first_missing = [], 0, None
    out = open_temporary(path) if path else None
    try:
        if out:
            np.lib.format.write_array_header_1_0(out, {
                "descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False,
                "shape": (len(entries),)})
        for start in range(0, len(entries), PLAN_BLOCK):
            keys = entries.keys[start:start + PLAN_BLOCK]
            block = np.empty(len(keys), dtype)
            block["key"], block["id"] = keys, entries.ids[start:start + PLAN_BLOCK]
            if members_of is not None:
                block["member"], absent = members_of(keys)
                if len(absent) and first_missing is None:
                    first_missing = keys[absent[0]]
                missing += len(absent)
            if out:
                out.write(block.tobytes())
            else:
                blocks.append(block)
    finally:
        if out:
            out.close()
    plan = Plan(path=path) if path else Plan(np.concatenate(blocks) if blocks else
                                             np.empty(0, dtype))
    return plan, missing, first_missing
