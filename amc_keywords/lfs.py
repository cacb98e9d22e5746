"""Git LFS pointer files: what a clone without Git LFS holds in place of a list or an id map.

Input
    A path. Output: whether the file is such a pointer (a short text file starting
    ``version https://git-lfs``), which the readers treat as a missing file.
"""
LFS_POINTER_PREFIX = b"version https://git-lfs"


def is_lfs_pointer(path: str) -> bool:
    """True when ``path`` is a Git LFS pointer file instead of the real content."""
    with open(path, "rb") as f:
        return f.read(len(LFS_POINTER_PREFIX)) == LFS_POINTER_PREFIX
