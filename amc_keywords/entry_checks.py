"""A set's entries (:class:`Entries`, its images in output order, whatever they were read
from) and the two rules every set's entries obey, checked before anything is sized or read.

Input
    The keys (``S`` array: each keyword file's path inside its source, without ``.json``) and
    image ids of a set's entries, and ``where(i)``, text naming entry ``i`` (file, line).
Output
    Nothing, or an :class:`~amc_keywords.errors.InputError` naming the file, the entry and
    the rule:

*Image ids*: the range and names tables get one row per id up to the largest, so a set's
largest image id may be at most ``2**31`` and at most 100 times its number of images plus
1,000,000 (:func:`check_largest_id`); a larger one is refused, naming the file, the entry and
the id.

*Keys*: an entry names a keyword file inside the set's folder (or archive): a relative path of
plain ``/``-separated components, such as ``00048500`` or ``sub/00048500``, by the one rule
of :mod:`amc_keywords.safe_paths` (the same as for the members of an archive); any other key
is refused, naming the file and the entry (:func:`check_keys`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from .errors import InputError, quoted
from .safe_paths import suspects, unsafe_reason

# The image id rule (see the module's docstring).
MAX_IMAGE_ID = 2 ** 31
IDS_PER_IMAGE = 100
ID_ALLOWANCE = 1_000_000

Where = Callable[[int], str]  # ``where(i)``: text naming entry i (file, line) for a message
MAX_ENTRY_BYTES = 1024  # a keyword file's path inside its folder, as a list line gives it


@dataclass
class Entries:
    """The images of one set, in output order.

    keys : numpy ``S`` array
        The keyword file of each image: its path inside the source, without ``.json``.
    ids : numpy int64 array
        The image id of each entry.
    origin : str
        Where the order came from, for messages (a list file, a map, an archive).
    names : numpy ``S`` array or None
        The image's original name (Clickture map, COCO filename) where known.
    splits : numpy ``S`` array or None
        The image's split (Karpathy's layout).
    """

    keys: np.ndarray
    ids: np.ndarray
    origin: str
    names: Optional[np.ndarray] = None
    splits: Optional[np.ndarray] = None

    def __len__(self) -> int:
        return len(self.ids)


def first_repeat(sorted_values: np.ndarray) -> Optional[int]:
    """Index ``i`` of the first value equal to the next one in a sorted array, or None."""
    repeats = np.flatnonzero(sorted_values[1:] == sorted_values[:-1])
    return int(repeats[0]) if len(repeats) else None


def id_limit(n_images: int) -> int:
    """The largest image id a set of ``n_images`` images may have (module docstring)."""
    return min(MAX_IMAGE_ID, IDS_PER_IMAGE * n_images + ID_ALLOWANCE)


def check_largest_id(ids: np.ndarray, where: Where) -> None:
    """Refuse a set whose largest image id (of its ``ids``) would size the range and names
    tables beyond :func:`id_limit`, before any table is made (an absurd id ended in "out of
    memory"); ``where(i)`` names entry i (file, line, entry)."""
    i = int(np.argmax(ids))
    largest, limit = int(ids[i]), id_limit(len(ids))
    if largest > limit:
        raise InputError(
            f"{where(i)}: image id {largest} is too large for a set of {len(ids)} images: the "
            "range and names tables get a row for every id up to the largest, so ids may be "
            f"at most 100 x the number of images + 1,000,000 and at most 2**31 (here {limit}); "
            "check the entry, or renumber the images")


def check_keys(keys: np.ndarray, where: Where) -> None:
    """Refuse any key that would reach outside the set's folder (the module's docstring):
    the keys of a list, of a map's images, of ``dataset.json``'s filenames alike."""
    for i in np.flatnonzero(suspects(keys)):
        reason = unsafe_reason(bytes(keys[i]))
        if reason:
            raise InputError(
                f"{where(int(i))}: entry {quoted(bytes(keys[i]))}: the path {reason}; expected a "
                "keyword file's path inside the set's folder, such as '00048500' or "
                "'sub/00048500' (nothing outside it is read)")
