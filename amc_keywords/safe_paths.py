"""The one rule for a path read from a file: which names may be opened inside a folder.

Input
    A path as bytes, read from an untrusted file: a key of a list, a map's image or
    ``dataset.json``'s filename, an archive member's name, an output name in a manifest; or
    an ``S`` array of them (vectorised checks).
Output
    :func:`unsafe_reason`: None for a path that stays inside the folder it is joined to, by
    POSIX's reckoning and by Windows' alike, else why it does not; :func:`suspects`, which
    paths of an array need that look (a few, usually none); :func:`control_bytes`, which
    byte strings hold a byte below a given value (NUL, or any control byte) before their end.

The rule: a relative path of plain ``/``-separated components. A path that is absolute, holds
a ``..``, ``.`` or empty component, a backslash (a separator on Windows), a NUL byte, or a
``:`` anywhere (a drive, or a stream of a file, on Windows) is refused. Used by
:mod:`amc_keywords.entry_checks` for keys, :mod:`amc_keywords.zip_reader` for member names
and :mod:`amc_keywords.manifest` for output names.
"""
import os
from typing import Optional

import numpy as np


def unsafe_reason(path: bytes) -> Optional[str]:
    """Why ``path`` does not name a file inside the folder it is joined to, or None."""
    if b"\0" in path:
        return "holds a NUL byte"
    if b"\\" in path:
        return "holds a backslash"
    if path.startswith(b"/") or os.path.isabs(path):
        return "is an absolute path"
    parts = path.split(b"/")
    if b".." in parts:
        return "holds a '..' component, which leads out of the folder"
    if b"." in parts or b"" in parts:
        return "holds an empty or '.' component"
    if b":" in path:
        return "holds a ':' (on Windows, a drive or a stream of a file)"
    return None


def control_bytes(values: np.ndarray, below: int = 0x20, lengths: Optional[np.ndarray] = None,
                  chunk: int = 1 << 16) -> np.ndarray:
    """Which byte strings of the ``S`` array ``values`` hold a byte below ``below`` (1: a NUL
    byte; 0x20: any control byte) before their end (their ``lengths`` where known: an ``S``
    array drops trailing NULs), a chunk at a time (``np.char.find`` cannot look for a NUL
    byte, which a fixed-width array uses as padding)."""
    out = np.zeros(len(values), bool)
    width = values.dtype.itemsize
    for start in range(0, len(values), chunk):
        part = np.ascontiguousarray(values[start:start + chunk])
        view = part.view(np.uint8).reshape(len(part), width)
        ends = np.char.str_len(part) if lengths is None else lengths[start:start + chunk]
        before_end = np.arange(width) < ends[:, None]
        out[start:start + chunk] = ((view < below) & before_end).any(axis=1)
    return out


def suspects(paths: np.ndarray) -> np.ndarray:
    """Which paths of the ``S`` array ``paths`` :func:`unsafe_reason` may refuse (a few,
    usually none: only those are looked at one by one); every path it refuses is among them.
    """
    return (np.char.startswith(paths, b"/") | (np.char.find(paths, b"\\") >= 0) |
            (np.char.find(paths, b"//") >= 0) | np.char.endswith(paths, b"/") |
            (np.char.find(paths, b":") >= 0) | np.char.startswith(paths, b".") |
            (np.char.find(paths, b"/.") >= 0) | (paths == b"") | control_bytes(paths, 1))
