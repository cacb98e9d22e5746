"""The two rules every set's entries obey, checked before anything is sized or read.

Input
    The keys (``S`` array: each keyword file's path inside its source, without ``.json``) and
    image ids of a set's entries, and ``where(i)``, text naming entry ``i`` (file, line).
Output
    Nothing, or an :class:`~amc_keywords.errors.InputError` naming the file, the entry and
    the rule:

*Image ids*: the range and names tables get one row per id up to the largest, so a set's
largest image id may be at most ``2**31`` and at most 100 times its number of images plus
1,000,000 (:func:`check_id_range`); a larger one is refused, naming the file, the entry and
the id.

*Keys*: an entry names a keyword file inside the set's folder (or archive): a relative path of
plain ``/``-separated components, such as ``00048500`` or ``sub/00048500``. A key that is
absolute, holds a ``..``, ``.`` or empty component, a backslash, a NUL byte, or a ``:`` in its
first component (a drive) is refused, naming the file and the entry (:func:`check_keys`);
the same rule as for the members of an archive (:func:`amc_keywords.zip_reader.inside`).
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Callable, Optional

import numpy as np

from .errors import InputError

if TYPE_CHECKING:
    from .lists import Entries

# The image id rule (see the module's docstring).
MAX_IMAGE_ID = 2 ** 31
IDS_PER_IMAGE = 100
ID_ALLOWANCE = 1_000_000

Where = Callable[[int], str]  # ``where(i)``: text naming entry i (file, line) for a message


def text_of(key: bytes) -> str:
    """A key as text, for messages."""
    return key.decode("utf-8", "replace")


def id_limit(n_images: int) -> int:
    """The largest image id a set of ``n_images`` images may have (module docstring)."""
    return min(MAX_IMAGE_ID, IDS_PER_IMAGE * n_images + ID_ALLOWANCE)


def check_id_range(entries: Entries, where: Where) -> None:
    """Refuse a set whose largest image id would size the range and names tables beyond
    :func:`id_limit`, before any table is made (an absurd id ended in "out of memory");
    ``where(i)`` names entry i (file, line, entry)."""
    check_largest_id(entries.ids, where)


def check_largest_id(ids: np.ndarray, where: Where) -> None:
    """:func:`check_id_range` of the image ids ``ids`` of a set."""
    if not len(ids):
        return
    i = int(np.argmax(ids))
    largest, limit = int(ids[i]), id_limit(len(ids))
    if largest > limit:
        raise InputError(
            f"{where(i)}: image id {largest} is too large for a set of {len(ids)} images: the "
            "range and names tables get a row for every id up to the largest, so ids may be "
            f"at most 100 x the number of images + 1,000,000 and at most 2**31 (here {limit}); "
            "check the entry, or renumber the images")


def unsafe_reason(key: bytes) -> Optional[str]:
    """Why ``key`` does not name a file inside the set's folder, or None when it does."""
    if b"\0" in key:
        return "holds a NUL byte"
    if b"\\" in key:
        return "holds a backslash"
    text = text_of(key)
    if key.startswith(b"/") or os.path.isabs(text):
        return "is an absolute path"
    parts = key.split(b"/")
    if b".." in parts:
        return "holds a '..' component, which leads out of the folder"
    if b"." in parts or b"" in parts:
        return "holds an empty or '.' component"
    if b":" in parts[0]:
        return "has a ':' in its first component (a drive)"
    return None


def _holds_nul(keys: np.ndarray, chunk: int = 1 << 16) -> np.ndarray:
    """Which keys hold a NUL byte before their end (``np.char.find`` cannot look for one)."""
    out = np.zeros(len(keys), bool)
    width = keys.dtype.itemsize
    for start in range(0, len(keys), chunk):
        part = np.ascontiguousarray(keys[start:start + chunk])
        view = part.view(np.uint8).reshape(len(part), width)
        out[start:start + chunk] = np.count_nonzero(view, axis=1) != np.char.str_len(part)
    return out


def check_keys(keys: np.ndarray, where: Where) -> None:
    """Refuse any key that would reach outside the set's folder (the module's docstring):
    the keys of a list, of a map's images, of ``dataset.json``'s filenames alike."""
    if not len(keys):
        return
    # Vectorised: only the suspects (a few, usually none) are looked at one by one.
    # ("." and ".." components: a key starting with "." or holding "/.".)
    suspect = (np.char.startswith(keys, b"/") | (np.char.find(keys, b"\\") >= 0) |
               (np.char.find(keys, b"//") >= 0) | np.char.endswith(keys, b"/") |
               (np.char.find(keys, b":") >= 0) | np.char.startswith(keys, b".") |
               (np.char.find(keys, b"/.") >= 0) | _holds_nul(keys))
    for i in np.flatnonzero(suspect):
        reason = unsafe_reason(bytes(keys[i]))
        if reason:
            raise InputError(
                f"{where(int(i))}: entry '{text_of(keys[i])}': the path {reason}; expected a "
                "keyword file's path inside the set's folder, such as '00048500' or "
                "'sub/00048500' (nothing outside it is read)")
