"""The files of an unzipped keyword folder, opened so that nothing outside it is ever read.

Input
    The folder (``keyword/keywords_<set>/``) and a key (a keyword file's path inside it,
    without ``.json``, as bytes: a file name that is not UTF-8 stays the bytes it is), or a
    name such as ``dataset``.
Output
    :meth:`FolderFiles.read`: the file's ``os.stat_result`` and bytes, or None when there is
    no such file; an :class:`~amc_keywords.errors.InputError` naming the file when it is not
    one to read:

    - a link (the file's own, or one of its folders') whose target is outside the folder:
      ``unzip`` restores the links an archive stores, so a crafted download can hold one;
      the message names the target;
    - anything but a regular file (a folder, a FIFO, a device, a socket), checked on the open
      file before any byte is read: a FIFO would block the run, ``/dev/zero`` never end;
    - a file larger than ``limit`` (:data:`MAX_KEYWORD_FILE`, the cap an archive member has).

A link whose target is inside the folder is followed, as ``unzip`` users expect.
"""
import errno
import os
import stat
from typing import Dict, Optional, Tuple

from .errors import InputError, escaped
from .keyword_files import KEYWORD_SUFFIX, MAX_KEYWORD_FILE, keyword_file_path

_SUFFIX = KEYWORD_SUFFIX.encode()
PATH_WIDTH = 300  # characters of a link's target shown in a message
# Not blocking on a FIFO's open (its type is then refused), not following a last-component
# link (whose target is checked first).
_OPEN_FLAGS = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) |
               getattr(os, "O_BINARY", 0))
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


class FolderFiles:
    """Reads the files of one folder (see the module's docstring); keeps which of its
    subfolders were found inside it, so that each is resolved once."""

    def __init__(self, root: str) -> None:
        self.root = root
        self._root_bytes = os.fsencode(root)
        self._real_root = os.path.realpath(self._root_bytes)
        self._folders_inside: Dict[bytes, bool] = {}

    def _inside(self, real: bytes) -> bool:
        return real == self._real_root or real.startswith(self._real_root.rstrip(b"/") + b"/")

    def read(self, key: bytes,
             limit: int = MAX_KEYWORD_FILE) -> Optional[Tuple[os.stat_result, bytes]]:
        """``(stat, bytes)`` of ``<root>/<key>.json``; None when it does not exist."""
        path = os.path.join(self._root_bytes, bytes(key) + _SUFFIX)
        folder = os.path.dirname(bytes(key))
        if folder:
            inside = self._folders_inside.get(folder)
            if inside is None:
                real = os.path.realpath(os.path.join(self._root_bytes, folder))
                inside = self._folders_inside[folder] = self._inside(real)
            if not inside:
                self._refuse_link(key, os.path.join(self._root_bytes, folder))
        via = ""  # what a message adds when the file is a link's target
        try:
            fd = os.open(path, _OPEN_FLAGS | _NOFOLLOW)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno not in (errno.ELOOP, errno.EMLINK):  # not a link (as FreeBSD says)
                raise self._error(key, str(exc.strerror)) from None
            real = os.path.realpath(path)
            if not self._inside(real):
                self._refuse_link(key, path)
            via = f" (the link's target, {escaped(real, PATH_WIDTH)})"
            try:
                fd = os.open(real, _OPEN_FLAGS | _NOFOLLOW)
            except FileNotFoundError:  # a dangling link: no file
                return None
            except OSError as exc:
                raise self._error(key, str(exc.strerror)) from None
        facts = os.fstat(fd)
        kind = next((name for test, name in _KINDS if test(facts.st_mode)), None)
        if kind is not None or not stat.S_ISREG(facts.st_mode):
            os.close(fd)
            raise self._error(key, f"{kind or 'not a regular file'}{via}, where a file "
                              "is expected; only regular files are read")
        if facts.st_size > limit:
            os.close(fd)
            raise self._error(key, f"{facts.st_size} bytes{via}, more than a keyword "
                              f"file holds ({limit}); refusing it")
        try:
            # The size it has, then to its end (it may have grown), never past the limit: a
            # read of the limit itself would allocate it for every file.
            raw = os.read(fd, facts.st_size + 1)
            while len(raw) <= limit:
                more = os.read(fd, min(1 << 16, limit + 1 - len(raw)))
                if not more:
                    break
                raw += more
        finally:
            os.close(fd)
        if len(raw) > limit:  # grown since
            raise self._error(key, f"more than {limit} bytes, more than a keyword "
                              "file holds; refusing it")
        return facts, raw

    def _error(self, key: bytes, what: str) -> InputError:
        return InputError(f"{keyword_file_path(self.root, key)}: {what}")

    def _refuse_link(self, key: bytes, link: bytes) -> None:
        target = os.path.realpath(link)
        raise self._error(key, f"a link (or in a linked folder) to "
                          f"{escaped(target, PATH_WIDTH)}, outside the keyword folder "
                          f"{self.root}; nothing outside it is read: replace the link by the "
                          "file")
