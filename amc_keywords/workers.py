"""Worker processes: how they start, stop, and die with the main process (standard library
only, so a script can start them before its own heavy imports).

Input
    Calls to run (``(function, *args)``) and a worker count.
Output
    Their results, in order. Workers come from a forkserver that has imported
    :mod:`amc_keywords.encoding` once: fast to start, and they do not inherit the main
    process's memory. Each worker exits when the main process does, ``kill -9`` included;
    Ctrl-C reaches only the main process.
"""
import contextlib
import gc
import multiprocessing
import os
import select
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from .errors import InputError

PRELOAD = ["amc_keywords.encoding"]  # what every worker needs, imported once in the server


def context():
    """The forkserver where there is one; plain fork elsewhere."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        _let_server_import_package()
        forkserver = multiprocessing.get_context("forkserver")
        forkserver.set_forkserver_preload(PRELOAD)
        return forkserver
    return multiprocessing.get_context()


def _let_server_import_package():
    """Put this package's folder on PYTHONPATH, which the worker server inherits.

    The server is a new interpreter (``python -c``): it finds modules through the working
    directory and PYTHONPATH only, as Python up to 3.12 ignores the ``sys_path`` it is
    handed. Run from anywhere but the repository root, its preload would fail without a
    word, and every worker would import scikit-learn itself (~2 s a pool, twice the run).
    """
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if root not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([root, *paths])


def start_early():
    """Start the worker server now, so that its imports overlap with the main process's."""
    if context().get_start_method() == "forkserver":
        from multiprocessing import forkserver, resource_tracker
        # The resource tracker first, on its own: starting it unblocks Ctrl-C (see below).
        resource_tracker.ensure_running()
        # Started with Ctrl-C ignored (inherited through exec): a Ctrl-C during their start-up
        # must reach only the main process, which reports it in one line. Blocked here
        # meanwhile, so that a Ctrl-C coming in that moment waits and is then delivered to
        # this process, rather than lost (the run would go on): Linux queues a blocked signal
        # even when it is ignored.
        previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            forkserver.ensure_running()
        finally:
            signal.signal(signal.SIGINT, previous)
            signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)


def init_worker(main_pid, setup=None, *setup_args):
    """Every worker's start: ``setup(*setup_args)``, no Ctrl-C, and exit with the main process."""
    if setup is not None:
        setup(*setup_args)
    # Everything imported so far lives as long as the worker: out of the collector's sight,
    # its full collections no longer walk the libraries' objects (~3% of a worker's time).
    gc.freeze()
    # Ctrl-C reaches the whole process group; only the main process should act on it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A worker's parent is the worker server, and the pipes it holds never report the main
    # process gone: watch the main process itself.
    threading.Thread(target=_exit_with, args=(main_pid,), daemon=True).start()


def _exit_with(pid):
    try:
        fd = os.pidfd_open(pid)  # Linux: readable once the process has exited
    except (AttributeError, OSError):
        fd = None
    while True:
        if fd is not None:
            select.select([fd], [], [])
        else:
            time.sleep(0.5)
            try:
                os.kill(pid, 0)
                continue
            except PermissionError:
                continue
            except OSError:
                pass
        os._exit(1)


@contextlib.contextmanager
def pool(jobs, setup=None, setup_args=(), one_task_each=False):
    """A worker pool that is always shut down whole, even when Ctrl-C comes mid-way.

    Starting or stopping workers interrupted half-way would leave one running past the main
    process, printing a traceback of its own: Ctrl-C is held while the pool changes, and
    acted on right after. ``one_task_each``: a fresh process for each task, for tasks that
    need much memory for a moment (reading a million-entry map or zip directory): memory a
    worker freed is not always returned to the system, so two such tasks in one worker would
    add up their peaks, while a worker that ends takes its peak along.
    """
    options = dict(mp_context=context(), initializer=init_worker,
                   initargs=(os.getpid(), setup, *setup_args))
    if one_task_each and sys.version_info >= (3, 11):
        executor = ProcessPoolExecutor(jobs, max_tasks_per_child=1, **options)
    else:
        executor = ProcessPoolExecutor(jobs, **options)
    try:
        yield executor
    finally:
        with interrupt_held():
            executor.shutdown(wait=True, cancel_futures=True)


@contextlib.contextmanager
def interrupt_held():
    """Ctrl-C during the block is noted and raised at its end (a signal mask would not do:
    the pool's own threads would take the signal instead)."""
    received = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            raise KeyboardInterrupt


def submit(executor, func, *args):
    with interrupt_held():  # submitting may start a worker
        return executor.submit(func, *args)


def result(future):
    try:
        return future.result()
    except BrokenProcessPool:
        raise InputError("a worker process died (out of memory, or killed); earlier outputs "
                         "are unchanged; try again with fewer --jobs") from None


def default_jobs():
    """All cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return os.cpu_count() or 1
