"""The library's logger, and the handler the command line puts on it.

Input
    Messages from the library, through ``logging.getLogger("amc_keywords")`` (:data:`logger`):
    notices and warnings at WARNING, a run's progress (an archive being extracted), its
    summary and the files it wrote at INFO, the time each step took at DEBUG. Library code
    never prints.
Output
    Nothing, until a caller configures logging: with logging unconfigured, Python shows only
    WARNING and above, on stderr. :func:`configure_cli` is what the command line uses:
    INFO lines on stdout and WARNING and above on stderr, each exactly as written (no level
    or logger name in front), so that a user sees the lines the tool has always printed.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from typing import Any, Iterator, List, Optional, TextIO, Tuple

logger = logging.getLogger("amc_keywords")


class _ConsoleHandler(logging.Handler):
    """INFO and DEBUG on stdout, WARNING and above on stderr; the message alone. The streams
    are looked up at each record, so that a test's captured ``sys.stdout`` is honoured."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = sys.stderr if record.levelno >= logging.WARNING else sys.stdout
            stream.write(self.format(record) + "\n")
            stream.flush()
        except BrokenPipeError:
            raise
        except Exception:
            self.handleError(record)


# Why what was meant for stdout could not be written (``> /dev/full``, ``>&-``): the command
# line ends with one line saying so, and exit status 3, rather than a traceback a line.
stdout_lost: List[str] = []


class _GuardedStdout:
    """The command line's ``sys.stdout``: a write that fails (a full device) or has nowhere
    to go (stdout closed) is noted in :data:`stdout_lost` and dropped, and what follows goes
    to ``os.devnull``; a reader gone away (``| head``) still raises BrokenPipeError."""

    def __init__(self, stream: Optional[TextIO]) -> None:
        self.stream = stream

    def _lost(self, reason: str) -> None:
        stdout_lost.append(reason)
        if self.stream is not None:  # what the stream still buffers goes nowhere at exit
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.stream.fileno())
            os.close(devnull)
            self.stream = None

    def write(self, text: str) -> int:
        if self.stream is None:
            if text and not stdout_lost:
                stdout_lost.append("it is closed")
            return len(text)
        try:
            return self.stream.write(text)
        except BrokenPipeError:
            raise
        except OSError as exc:
            self._lost(exc.strerror or str(exc))
            return len(text)

    def flush(self) -> None:
        if self.stream is not None:
            try:
                self.stream.flush()
            except BrokenPipeError:
                raise
            except OSError as exc:
                self._lost(exc.strerror or str(exc))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def guard_stdout() -> None:
    """Put :class:`_GuardedStdout` in place of ``sys.stdout`` (once)."""
    if not isinstance(sys.stdout, _GuardedStdout):
        sys.stdout = _GuardedStdout(sys.stdout)


def configure_cli(quiet: bool = False, verbose: bool = False) -> None:
    """What the command line shows: ``quiet`` leaves errors only; ``verbose`` adds the DEBUG
    detail (the time of each step)."""
    for handler in list(logger.handlers):
        if isinstance(handler, _ConsoleHandler):
            logger.removeHandler(handler)
    logger.addHandler(_ConsoleHandler())
    logger.setLevel(logging.ERROR if quiet else logging.DEBUG if verbose else logging.INFO)
    logger.propagate = False


def worker_config() -> Tuple[int, bool]:
    """What a worker process needs to log as this process does: the level, and whether the
    command line's handler is on (see :func:`configure_worker`)."""
    console = any(isinstance(h, _ConsoleHandler) for h in logger.handlers)
    return logger.getEffectiveLevel(), console


def configure_worker(level: int, console: bool) -> None:
    """In a worker process: log at ``level``, through the command line's handler when the
    main process has it (a worker's notices then read as the main process's)."""
    logger.setLevel(level)
    if console and not any(isinstance(h, _ConsoleHandler) for h in logger.handlers):
        logger.addHandler(_ConsoleHandler())
        logger.propagate = False


@contextlib.contextmanager
def timed(step: str) -> Iterator[None]:
    """Log at DEBUG how long ``step`` took (shown by ``-v``)."""
    start = time.perf_counter()
    try:
        yield
    finally:
        logger.debug("time: %s: %.3f s", step, time.perf_counter() - start)
