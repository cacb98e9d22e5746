"""``.npy`` files read back: the plan, an output, a vectors matrix.

Input
    The path of a ``.npy`` file (as ``np.save`` or the toolkit's own writers make it).
Output
    :func:`npy_header`: its shape, dtype and the offset of its data, from the header alone;
    :func:`load_npy`: its array, or one :class:`~amc_keywords.errors.LoadError` naming the
    file when something else is under its name (an ``.npz`` archive, a pickle, an empty or
    cut file).
"""
import numpy as np

from .errors import LoadError


def npy_header(path):
    """``(shape, dtype, offset of the data)`` of a ``.npy`` file, from its header alone."""
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        shape, _, dtype = (np.lib.format.read_array_header_1_0 if version == (1, 0) else
                           np.lib.format.read_array_header_2_0)(f)
        return shape, dtype, f.tell()


def load_npy(path, remedy, mmap_mode=None):
    """The array of the ``.npy`` file at ``path`` (memory-mapped with ``mmap_mode="r"``);
    anything else under the name (an ``.npz`` archive, a pickle, an empty or cut file) is a
    :class:`~amc_keywords.errors.LoadError` naming it, an empty one with ``remedy`` (how to
    write the file again)."""
    try:
        array = np.load(path, mmap_mode=mmap_mode, allow_pickle=False)
    except EOFError:
        raise LoadError(f"{path}: empty (0 bytes): not a .npy array file; {remedy}") from None
    except (ValueError, OSError) as exc:
        raise LoadError(f"{path}: not a readable .npy array file ({str(exc)[:120]})") from None
    if not isinstance(array, np.ndarray):  # an NpzFile: what else np.load gives
        array.close()
        raise LoadError(f"{path}: a {type(array).__name__} (an .npz archive of arrays), not a "
                        ".npy array file: an output is one array saved with numpy.save")
    return array
