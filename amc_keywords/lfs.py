"""Git LFS pointer files: what a clone without Git LFS holds in place of a list or an id map.

Input
    A path. Output: whether a list or map is there to read (:func:`side_file_present`): not
    when it is missing or such a pointer (a short text file starting ``version
    https://git-lfs``), while a folder in its place is an error, not a missing file; and how
    a notice says which of the two a file is (:func:`absence`).
"""
import os

from .errors import InputError

LFS_POINTER_PREFIX = b"version https://git-lfs"


def absence(path: str) -> str:
    """What a notice says of a list or map file the run goes on without: missing, or a Git
    LFS pointer, and how to fetch it."""
    if os.path.isfile(path):
        return ("a Git LFS pointer, not the file itself (git lfs pull, in a clone of the "
                "original repository, fetches it)")
    return ("missing (it comes from the original repository's clickture/ folder, where "
            "git lfs pull fetches it)")


def side_file_present(path: str, what: str) -> bool:
    """Whether the list or map file at ``path`` is there to read: False when it is missing
    or a Git LFS pointer (the documented fallbacks); anything but a regular file in its place
    (a folder, a FIFO, a device) is an InputError, not a missing file."""
    if not os.path.exists(path):
        return False
    if os.path.isdir(path):
        raise InputError(f"{path}: a folder, where {what} is expected; give the file's path "
                         "(or move the folder away to run without it)")
    if not os.path.isfile(path):
        raise InputError(f"{path}: not a regular file, where {what} is expected")
    with open(path, "rb") as f:
        return f.read(len(LFS_POINTER_PREFIX)) != LFS_POINTER_PREFIX
