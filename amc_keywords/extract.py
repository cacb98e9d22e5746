"""``--extract``: unpack a keyword archive next to itself, safely, before reading it.

Input:  ``keyword/keywords_<set>.zip``.
Output: ``keyword/keywords_<set>/`` holding its keyword files (the original workflow's
        folder), made in a temporary folder and renamed into place only when complete.
"""
import os
import shutil
import tempfile

import numpy as np

from . import stop_signals
from .errors import InputError, SystemLimit, escaped, quoted
from .keyword_files import KEYWORD_SUFFIX
from .log import logger
from .safe_paths import control_bytes
from .writing import NO_ROOM, PREFIX
from .writing import umask as _umask
from .zip_reader import ZipDirectory, read_members

MAX_RATIO = 200       # far beyond keyword JSON's deflation (docs/performance.md): a zip bomb
MAX_TOTAL = 64 << 30  # no keyword archive comes near 64 GiB unpacked


def extract_archive(archive, target):
    """Unpack the keyword files of ``archive`` into ``target`` (the folder a source reads).

    Uses the same reader as in-place reading (CRC-checked, each member within its own range
    of the file, a million members in little memory). Members whose path is absolute or
    leaves the target are skipped with a warning; a name holding a control character, or
    sizes implausible against the archive's real size, refuse the archive before anything
    is written. Files go to a ``tempfile.mkdtemp`` folder beside the target (ours alone,
    nothing in it followed that we did not create), renamed into place when complete.
    """
    directory = ZipDirectory(archive)
    size = os.path.getsize(archive)
    total = int(directory.table["usize"].sum())
    if total > MAX_TOTAL or total > MAX_RATIO * size + (1 << 20):
        raise InputError(f"{archive}: declares {total} bytes unpacked from a {size}-byte "
                         "archive: implausible for keyword files (zip bomb?); refusing to "
                         "extract")
    bad = _control_character(directory.keys, directory.unsafe)
    if bad is not None:
        raise InputError(f"{archive}: member {quoted(bad)} has a control character in its "
                         "name; refusing to extract")
    keyword_folder = os.path.dirname(os.path.abspath(target))
    free = shutil.disk_usage(keyword_folder).free
    if total > free:
        raise no_room(archive, keyword_folder, f"it needs {total} bytes, {free} are free")
    for name in directory.unsafe:
        logger.warning(f"warning: {archive}: {escaped(name)}: skipped, its path leaves the "
                       "target folder")
    temporary = []
    try:
        # Held: a signal between making the folder and noting it would leave it.
        with stop_signals.held():
            temporary.append(tempfile.mkdtemp(prefix=PREFIX + "extract-", dir=keyword_folder))
        tmp = temporary[0]
        made = {tmp}
        for key, raw in zip(directory.keys, read_members(archive, directory.top, directory.keys,
                                                         directory.table)):
            try:
                parts = key.decode("utf-8").split("/")
            except UnicodeDecodeError:
                raise InputError(f"{archive}: member {quoted(bytes(key))} has a name that is "
                                 "not UTF-8; refusing to extract") from None
            folder = tmp
            for part in parts[:-1]:  # each folder made here, by us: none is a link
                folder = os.path.join(folder, part)
                if folder not in made:
                    os.mkdir(folder)
                    made.add(folder)
            dest = os.path.join(folder, parts[-1] + KEYWORD_SUFFIX)
            fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL |
                         getattr(os, "O_NOFOLLOW", 0), 0o666)  # less the umask
            with os.fdopen(fd, "wb") as out:
                out.write(raw)
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp's folder is private; the result is not
        os.rename(tmp, target)  # fails, rather than replacing, if the target appeared
    except BaseException as exc:
        for tmp in temporary:
            shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError) and exc.errno in NO_ROOM:
            raise no_room(archive, keyword_folder, exc.strerror) from None
        raise
    return target


def no_room(archive, folder, why):
    """The error for a keyword folder without room for an archive's files."""
    return SystemLimit(f"{folder}: no room to extract {os.path.basename(archive)} ({why}); "
                       "free some space there, or read the archive in place (without "
                       "extract=True)")


def _control_character(keys, set_aside):
    """The first name, of the keys or of the members set aside, holding a byte below 0x20
    (NUL, tab, newline...), or None."""
    bad = np.flatnonzero(control_bytes(keys)) if len(keys) else []
    if len(bad):
        return bytes(keys[bad[0]])
    return next((name for name in set_aside if any(ord(c) < 0x20 for c in name)), None)
