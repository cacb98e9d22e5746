"""Vectorised helpers for numpy arrays of byte strings (``S`` dtype): the zip directory, list
and id-map readers handle a million names each without a Python object per name.

Input:  a ``bytes`` buffer and positions/lengths in it, or ``S`` arrays.
Output: ``S`` arrays, little-endian integer fields, 64-bit hashes, sorted look-ups.
"""
import numpy as np

from .tables import ragged_positions


def field(buf, positions, width):
    """Little-endian unsigned integers of ``width`` bytes at each position."""
    # A view with an integer starting at every byte (unaligned), read with one gather.
    at_every_byte = np.ndarray((max(len(buf) - width + 1, 0),), dtype=f"<u{width}", buffer=buf,
                               strides=(1,))
    return at_every_byte[positions]


def gather_strings(data, positions, lengths, chunk=1 << 16):
    """``S`` array of the byte strings ``data[p:p + n]``, without a Python object each.

    The bytes of ``chunk`` strings at a time (a bound on the index arrays) are gathered at
    once, and fill the first ``lengths[i]`` bytes of each row of the array's bytes.
    """
    buf = np.frombuffer(data, np.uint8)
    width = max(int(lengths.max()), 1) if len(lengths) else 1
    out = np.zeros(len(positions), dtype=f"S{width}")
    view = out.view(np.uint8).reshape(len(positions), width)
    columns = np.arange(width)
    for s in range(0, len(positions), chunk):
        part = slice(s, s + chunk)
        gathered = buf[ragged_positions(positions[part], lengths[part])]
        view[part][columns < lengths[part, None]] = gathered
    return out


def strip_suffix(names, lengths, n):
    """Drop the last ``n`` bytes of each name (``lengths``: byte lengths of the names)."""
    width = names.dtype.itemsize
    view = names.view(np.uint8).reshape(len(names), width).copy()
    rows = np.repeat(np.arange(len(names)), n)
    view[rows, (lengths[:, None] - n + np.arange(n)).ravel()] = 0
    return view.view(f"S{width}").ravel()


def hash_keys(keys):
    """64-bit FNV-1a hash of each key: fast numeric sorting and search for byte strings."""
    keys = np.ascontiguousarray(keys)
    width = keys.dtype.itemsize
    view = keys.view(np.uint8).reshape(len(keys), width)
    h = np.full(len(keys), 0xCBF29CE484222325, np.uint64)
    prime = np.uint64(0x100000001B3)
    with np.errstate(over="ignore"):
        for column in range(width):  # NUL padding is skipped: any array width, same hash
            byte = view[:, column]
            h = np.where(byte != 0, (h ^ byte) * prime, h)
    return h


def strip_prefix(keys, n):
    """Drop the first ``n`` bytes of each key (every key is longer)."""
    width = keys.dtype.itemsize
    return np.ascontiguousarray(keys.view(np.uint8).reshape(len(keys), width)[:, n:]).view(
        f"S{width - n}").ravel()


def find_sorted(sorted_values, values):
    """Where each of ``values`` is in ``sorted_values``, and the indices of those not there."""
    # Searched in sorted order: each search starts where the last ended, and memory is read
    # in order (faster than in a random order, as a shuffled list's ids are).
    order = np.argsort(values, kind="stable")
    pos = np.empty(len(values), np.int64)
    pos[order] = np.searchsorted(sorted_values, values[order])
    np.minimum(pos, max(len(sorted_values) - 1, 0), out=pos)
    return pos, np.flatnonzero(sorted_values[pos] != values)
