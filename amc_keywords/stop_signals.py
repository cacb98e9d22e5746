"""The signals that stop a run: Ctrl-C (SIGINT), SIGTERM (``timeout``, Slurm, ``docker stop``,
systemd) and SIGHUP (an ssh session's terminal closing), all handled alike (standard library
only, so that the command line and the worker server can use it before the heavy imports).

Input
    A signal's arrival.
Output
    :class:`Stopped` (a ``KeyboardInterrupt``, so that every clean-up that Ctrl-C runs runs for
    the other two as well) carrying the signal; :func:`line` and :func:`exit_status` say how
    the command line reports it: one line (``interrupted: earlier outputs are unchanged``,
    ``terminated: ...``, ``hung up: ...``) and ``128 + the signal's number`` (130, 143, 129).
    :func:`held` notes the signals during a block (the final renames, a pool's start or stop)
    and raises at its end.
"""
import contextlib
import signal
import threading
from typing import Any, Callable, Dict, Iterable, Iterator, List

# Each signal a run stops on, and the word the command line's one line begins with.
STOP_SIGNALS: Dict[int, str] = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated",
                                signal.SIGHUP: "hung up"}


class Stopped(KeyboardInterrupt):
    """A run stopped by a signal (Ctrl-C, SIGTERM, SIGHUP): ``signum`` says which."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signum)
        self.signum = signum


def signal_of(exc: BaseException) -> int:
    """The signal a KeyboardInterrupt stands for (Python's own one is Ctrl-C)."""
    return getattr(exc, "signum", signal.SIGINT)


def line(signum: int) -> str:
    """What the command line says when the signal stopped it."""
    return f"{STOP_SIGNALS.get(signum, 'interrupted')}: earlier outputs are unchanged"


def exit_status(signum: int) -> int:
    """The shell's convention for a process ended by a signal: 128 + its number."""
    return 128 + signum


# The stop signals this process's command line received, in order (see :func:`stop`).
received: List[int] = []


def install(handler: Callable[[int, Any], None]) -> None:
    """``handler`` for every stop signal; SIGTERM and SIGHUP stay ignored where they were
    ignored (``nohup``). Ctrl-C is always handled, as before."""
    for signum in STOP_SIGNALS:
        if signum == signal.SIGINT or signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, handler)


def stop(signum: int, frame: Any) -> None:
    """The command line's handler: the first stop signal raises :class:`Stopped`; later ones
    (during the clean-up it starts) are only noted, so that the clean-up finishes (removing
    the temporaries) rather than being cut short by a second Ctrl-C or SIGTERM."""
    received.append(signum)
    install(note)
    raise Stopped(signum)


def note(signum: int, frame: Any) -> None:
    """The handler once a run is stopping, or done: the signal is noted, nothing else."""
    received.append(signum)


def ignore_until_exit() -> None:
    """Once a command is done: the stop signals ignored. A Python handler would be reset to
    the default as the interpreter exits, and a second signal then (after the one line was
    printed) would end the process with another status."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)


def in_worker() -> None:
    """A worker process's dispositions: Ctrl-C and SIGHUP, which reach the whole process
    group, ignored (the main process acts on them and ends the workers); SIGTERM ends it
    (the pool ends its workers with SIGTERM when one of them died, and a SIGTERM sent to the
    group ends the main process, which reports it, as well), its clean-ups run first: an
    ``--extract`` under way removes its temporary folder."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _end_worker)
    # The worker server was started with them blocked (see blocked_and_ignored), and a
    # process inherits its parent's mask: a blocked SIGTERM would never end the worker.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, set(STOP_SIGNALS))


def _end_worker(signum: int, frame: Any) -> None:
    # SystemExit: the pool's worker loop ends quietly on it; a task's ``finally`` runs.
    raise SystemExit(exit_status(signum))


@contextlib.contextmanager
def held() -> Iterator[None]:
    """A stop signal during the block is noted and raised (as :class:`Stopped`) at its end,
    unless the process was already stopping (its handler :func:`note`: the clean-up goes on).
    A signal mask would not do: the pool's own threads would take the signal instead. An
    ignored signal stays ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach the main thread only, and only it may set their handlers
        return
    arrived: List[int] = []
    previous: Dict[int, Any] = {
        signum: signal.signal(signum, lambda s, frame: arrived.append(s))
        for signum in STOP_SIGNALS if signal.getsignal(signum) is not signal.SIG_IGN}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if arrived:
            if previous.get(arrived[0]) is note:
                received.extend(arrived)
            else:
                raise Stopped(arrived[0])


@contextlib.contextmanager
def blocked_and_ignored(signals: Iterable[int] = tuple(STOP_SIGNALS)) -> Iterator[None]:
    """``signals`` ignored during the block, so that a process started in it (through exec,
    which keeps an ignored signal ignored) ignores them too; blocked meanwhile, so that one
    coming in that moment waits and is then delivered to this process rather than lost
    (Linux queues a blocked signal even when it is ignored)."""
    signals = set(signals)
    previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    previous = {signum: signal.signal(signum, signal.SIG_IGN) for signum in signals}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)
