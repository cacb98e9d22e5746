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
import math
import multiprocessing
import os
import select
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from . import log
from .errors import SystemLimit

PRELOAD = ["amc_keywords.encoding"]  # what every worker needs, imported once in the server


def context():
    """The forkserver where there is one; plain fork elsewhere."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        forkserver = multiprocessing.get_context("forkserver")
        forkserver.set_forkserver_preload(PRELOAD)
        return forkserver
    return multiprocessing.get_context()


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


def init_worker(main_pid, log_config=None, setup=None, *setup_args):
    """Every worker's start: logging as in the main process, ``setup(*setup_args)``, no
    Ctrl-C, and exit with the main process."""
    if log_config is not None:
        log.configure_worker(*log_config)
    if setup is not None:
        setup(*setup_args)
    # Everything imported so far lives as long as the worker: out of the collector's sight,
    # its full collections no longer walk the libraries' objects.
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
                   initargs=(os.getpid(), log.worker_config(), setup, *setup_args))
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
        raise SystemLimit("a worker process died (out of memory, or killed); earlier outputs "
                         "are unchanged; try again with fewer --jobs") from None


def default_jobs():
    """The cores this process may use: its CPU affinity (``os.process_cpu_count`` where
    Python has it), capped by a cgroup CPU quota (a container's ``--cpus`` or CPU limit)."""
    count = getattr(os, "process_cpu_count", None)  # Python 3.13
    if count is not None:
        cores = count()
    else:
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:
            cores = os.cpu_count()
    quota = cgroup_cpu_quota()
    if quota is not None:
        cores = min(cores or 1, max(1, math.ceil(quota)))
    return max(1, cores or 1)


def cgroup_cpu_quota(root="/sys/fs/cgroup", membership="/proc/self/cgroup"):
    """CPUs' worth of time this process's cgroup may use (quota / period), or None when
    unlimited or unknown. cgroup v2: ``cpu.max`` of the process's group and every parent
    (the smallest wins); v1: ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``."""
    limits = []
    try:
        with open(membership) as f:
            lines = f.read().splitlines()
    except OSError:
        lines = []
    for line in lines:
        hierarchy, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        if hierarchy == "0" and controllers == "":  # v2: walk up from the process's group
            parts = [p for p in path.split("/") if p]
            for depth in range(len(parts), -1, -1):
                limits.append(_read_quota(os.path.join(root, *parts[:depth], "cpu.max")))
        elif "cpu" in controllers.split(","):  # v1
            for folder in (os.path.join(root, controllers), os.path.join(root, "cpu")):
                limits.append(_read_quota(os.path.join(folder, "cpu.cfs_quota_us"),
                                          os.path.join(folder, "cpu.cfs_period_us")))
    limits = [limit for limit in limits if limit is not None]
    return min(limits) if limits else None


def _read_quota(path, period_path=None):
    """CPUs of a ``cpu.max`` file (``"<quota> <period>"`` or ``"max ..."``), or of a v1
    quota and period file pair; None when unlimited, missing or unreadable."""
    try:
        with open(path) as f:
            fields = f.read().split()
        if period_path is not None:
            with open(period_path) as f:
                fields += f.read().split()
        quota, period = fields[0], int(fields[1])
        if quota in ("max", "-1") or period <= 0 or int(quota) <= 0:
            return None
        return int(quota) / period
    except (OSError, ValueError, IndexError):
        return None
