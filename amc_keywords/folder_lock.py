"""One run at a time per output folder: an advisory lock on the folder itself.

Input
    An output folder, and whether to wait for a run that holds it.
Output
    :class:`FolderLock`, held from the moment a run first writes in the folder until its
    files are moved into place (``fcntl.flock`` on the folder, so that no lock file is left
    behind; the system drops the lock when its process ends, ``kill -9`` included, so a
    lock is never stale). A second run logs ``waiting for the run <pid> writing <folder>``
    and waits, or, told not to wait, refuses in one line.
"""
from __future__ import annotations

import fcntl
import os
from typing import Optional

from .errors import InputError
from .log import logger

RUN_RECORD_PREFIX = ".amc-keywords-run-"  # the owner records of writing.OutputSet


class FolderLock:
    """An exclusive advisory lock on ``folder`` (which must exist), taken at once."""

    def __init__(self, folder: str, wait: bool = True) -> None:
        self.folder = folder
        self.fd: Optional[int] = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                pass
            holder = holding_run(folder)
            if not wait:
                raise InputError(f"{folder}: the run {holder} is writing there; wait for it "
                                 "to end, or choose another folder with out_dir=")
            logger.warning("waiting for the run %s writing %s", holder, folder)
            fcntl.flock(self.fd, fcntl.LOCK_EX)  # Ctrl-C interrupts the wait
        except BaseException:  # the folder not held: closed
            self.release()
            raise

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing drops the lock
            self.fd = None


def holding_run(folder: str) -> str:
    """The process id of the run that holds ``folder`` (from its owner record), or
    ``"(unknown)"``."""
    try:
        names = os.listdir(folder)
    except OSError:
        return "(unknown)"
    for name in sorted(names):
        if name.startswith(RUN_RECORD_PREFIX) and name.endswith(".lock"):
            try:
                with open(os.path.join(folder, name)) as f:
                    pid = int(f.read(100).split()[0])
                if pid != os.getpid():
                    os.kill(pid, 0)
                    return str(pid)
            except (OSError, ValueError, IndexError):
                continue
    return "(unknown)"
