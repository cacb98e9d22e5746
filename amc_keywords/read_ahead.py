"""Reading an archive ahead: the whole file into the page cache while other work goes on.

Input
    A keyword source (a zip archive; a folder is not read ahead).
Output
    :func:`archive_read_ahead`, a context manager: while its block runs, a thread reads the
    archive once from start to end, so that the images' members, read later at random
    places, come from memory; when the block fails or is interrupted, the read stops at its
    next block.
"""
import contextlib
import os
import threading
from typing import Any, Iterator, Optional

READ_AHEAD_BLOCK = 4 << 20  # bytes the read-ahead reads at a time


class ReadAhead(threading.Thread):
    """The thread of :func:`archive_read_ahead`: reads an archive through, a block at a time,
    until its end or until :attr:`stop` is set; :attr:`done` is the bytes it has read."""

    def __init__(self, path: str) -> None:
        super().__init__(target=_read_through, args=(path,), name="amc-keywords read-ahead",
                         daemon=True)
        self.stop = threading.Event()
        self.done = 0

    def advanced(self, n: int) -> None:
        """``n`` more bytes read (a block; tests observe the read here)."""
        self.done += n


@contextlib.contextmanager
def archive_read_ahead(source: Any) -> Iterator[Optional[ReadAhead]]:
    """While the block runs, read ``source``'s archive once from start to end, in a thread,
    so that the page cache holds it before the images are read; yields the thread (None
    when there is none).

    A list's order is not the archive's (dev's is shuffled), so the images' members are read
    at random places; from a cold cache that is one disk seek each, where one sequential read
    costs a fraction of a second (docs/performance.md). Skipped for a folder, and for an archive
    larger than half the memory available, which the page cache could not keep.

    When the block ends, the read is waited for; when the block fails or is interrupted
    (Ctrl-C), or Ctrl-C comes while the read is waited for, the read stops at its next block
    instead of going on to the end of the archive.
    """
    thread = None
    if source.kind == "zip" and os.path.getsize(source.path) < _available_memory() // 2:
        thread = ReadAhead(source.path)
        thread.start()
    try:
        yield thread
        if thread is not None:
            thread.join()
    finally:
        if thread is not None:  # failed, or interrupted: at most one block more
            thread.stop.set()
            thread.join()  # (after a Ctrl-C in the join above, Python 3.11 may not wait)


def _available_memory() -> int:
    """Bytes of memory available without swapping (0 when unknown: no read-ahead)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _read_through(path: str) -> None:
    """Read ``path`` to its end, :data:`READ_AHEAD_BLOCK` bytes at a time; in a
    :class:`ReadAhead` thread, only until its ``stop`` is set."""
    thread = threading.current_thread()
    ahead = thread if isinstance(thread, ReadAhead) else None
    stop = ahead.stop if ahead is not None else threading.Event()
    try:
        with open(path, "rb", buffering=0) as f:
            with contextlib.suppress(AttributeError, OSError):
                os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
            buffer = bytearray(READ_AHEAD_BLOCK)
            while not stop.is_set():
                n = f.readinto(buffer)  # the GIL is released while the disk is read
                if not n:
                    break
                if ahead is not None:
                    ahead.advanced(n)
    except OSError:
        pass  # only an optimisation: the reads that matter report their own errors
