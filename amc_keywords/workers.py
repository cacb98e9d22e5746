"""Worker processes: how they start, stop, and die with the main process (standard library
only, so a script can start them before its own heavy imports).

Input
    Calls to run (``(function, *args)``) and a worker count.
Output
    Their results, in order. Workers come from a forkserver that has imported
    :mod:`amc_keywords.encoding` once: fast to start, and they do not inherit the main
    process's memory. They never run the caller's main script again (a script with no
    ``if __name__ == "__main__":`` guard, or ``python -``, works as ``python -c`` does), and
    start under any ``TMPDIR``. Each worker exits when the main process does, ``kill -9``
    included; Ctrl-C, SIGTERM and SIGHUP reach only the main process.
"""
import contextlib
import gc
import io
import math
import multiprocessing.context
import os
import select
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import forkserver, popen_forkserver, reduction, spawn, util
from multiprocessing.context import set_spawning_popen

from . import log, stop_signals
from .errors import SystemLimit

PRELOAD = ["amc_keywords.encoding"]  # what every worker needs, imported once in the server


class _WorkerPopen(popen_forkserver.Popen):
    """A forkserver child that does not run the caller's ``__main__`` again.

    multiprocessing has each new child import the parent's main script (as ``__mp_main__``)
    before its task, so that functions defined there can be unpickled. Ours are all in this
    package, and running the script again is harmful: a script that calls the API at its top
    level, with no ``if __name__ == "__main__":`` guard, would start the same run again in
    every worker (and wait for its own output folder for ever), and a script read from
    standard input (``python -``) cannot be imported at all. So the two entries that name
    the main module are left out of what the child is told; the rest (``sys.path``, the
    current folder, the authentication key) is passed as usual. The launch below is
    multiprocessing's own (unchanged from Python 3.8 to 3.13), with that one filter.
    """

    def _launch(self, process_obj):
        prep_data = {key: value
                     for key, value in spawn.get_preparation_data(process_obj._name).items()
                     if key not in ("init_main_from_path", "init_main_from_name")}
        buf = io.BytesIO()
        set_spawning_popen(self)
        try:
            reduction.dump(prep_data, buf)
            reduction.dump(process_obj, buf)
        finally:
            set_spawning_popen(None)
        self.sentinel, w = forkserver.connect_to_new_process(self._fds)
        # As multiprocessing does: a duplicate of the data pipe's write end is the child's
        # sign that its parent is alive.
        parent_w = os.dup(w)
        self.finalizer = util.Finalize(self, util.close_fds, (parent_w, self.sentinel))
        with open(w, "wb", closefd=True) as f:
            f.write(buf.getbuffer())
        self.pid = forkserver.read_signed(self.sentinel)


class _WorkerProcess(multiprocessing.context.ForkServerProcess):
    @staticmethod
    def _Popen(process_obj):
        return _WorkerPopen(process_obj)


class _WorkerContext(multiprocessing.context.ForkServerContext):
    """The forkserver, of workers that leave ``__main__`` alone. (Every platform that can
    import this module has one: ``popen_forkserver`` refuses to import where there is none.)"""
    Process = _WorkerProcess


def start_early():
    """Start the worker server now, so that its imports overlap with the main process's
    (the command line, before its heavy imports). Where it cannot start, the pool says why
    later, within the command's one-line error handling."""
    try:
        ensure_server()
    except SystemLimit:
        pass


def ensure_server():
    """The worker server, started if it is not running yet."""
    from multiprocessing import resource_tracker
    # Signals can be set in the main thread only, and ignoring one for a moment while
    # other threads run would lose it (one of them, not blocking it, would take it;
    # numpy's BLAS starts some): the dance below only while the process has one thread,
    # as at the command line's start (start_early).
    if threading.current_thread() is not threading.main_thread() or _threads() > 1:
        resource_tracker.ensure_running()
        _start_forkserver()
        return
    # The resource tracker first, on its own: starting it unblocks Ctrl-C and SIGTERM,
    # which it ignores itself (see below); SIGHUP it does not, and it must outlive the
    # main process's clean-up, which tells it the semaphores are gone.
    with stop_signals.blocked_and_ignored({signal.SIGHUP}):
        resource_tracker.ensure_running()
    # Started with the stop signals ignored (inherited through exec): a Ctrl-C, SIGTERM
    # or SIGHUP sent to the whole process group must reach only the main process, which
    # reports it in one line and ends the workers itself.
    with stop_signals.blocked_and_ignored():
        _start_forkserver()


def _threads():
    """The process's threads, those of C libraries included (Linux); else Python's."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


# A Unix socket's path holds at most 107 bytes on Linux (108 with its NUL; fewer elsewhere).
SOCKET_PATH_MAX = 107
# The worker server listens on <temporary folder>/pymp-XXXXXXXX/listener-XXXXXXXX.
SOCKET_SUFFIX = len("/pymp-XXXXXXXX/listener-XXXXXXXX")


# Where the worker server's socket goes when the temporary folder's path is too long for it.
SHORT_TEMP_FOLDERS = ("/tmp", "/var/tmp", "/dev/shm")


def _start_forkserver():
    """``forkserver.ensure_running()``, with its socket in a folder whose path fits.

    multiprocessing puts the socket under the temporary folder (``TMPDIR``); a long one (a
    cluster job's scratch folder, say) fails with "AF_UNIX path too long". Then the first of
    :data:`SHORT_TEMP_FOLDERS` that is short enough and writable holds the socket's folder
    instead; where there is none, the run stops in one line that says what to do.
    """
    import tempfile
    chosen = tempfile.gettempdir()
    fits = [folder for folder in (chosen, *SHORT_TEMP_FOLDERS)
            if len(os.fsencode(folder)) + SOCKET_SUFFIX <= SOCKET_PATH_MAX
            and os.access(folder, os.W_OK | os.X_OK)]
    previous = tempfile.tempdir
    tempfile.tempdir = fits[0] if fits else chosen
    forkserver.set_forkserver_preload(PRELOAD)
    try:
        forkserver.ensure_running()
    except OSError as exc:
        if "too long" not in str(exc):
            raise
        raise SystemLimit(f"TMPDIR={chosen}: too long a path for the worker processes' Unix "
                          f"socket (at most {SOCKET_PATH_MAX - SOCKET_SUFFIX} characters "
                          "here); set TMPDIR to a shorter folder, or give jobs=1") from None
    finally:
        tempfile.tempdir = previous


def init_worker(main_pid, log_config, setup=None, *setup_args):
    """Every worker's start: logging as in the main process, ``setup(*setup_args)``, no
    Ctrl-C, and exit with the main process."""
    log.configure_worker(*log_config)
    if setup is not None:
        setup(*setup_args)
    # Everything imported so far lives as long as the worker: out of the collector's sight,
    # its full collections no longer walk the libraries' objects.
    gc.freeze()
    # Ctrl-C and SIGHUP reach the whole process group; only the main process acts on them.
    stop_signals.in_worker()
    # A worker's parent is the worker server, and the pipes it holds never report the main
    # process gone: watch the main process itself.
    threading.Thread(target=_exit_with, args=(main_pid,), daemon=True).start()


def _exit_with(pid):
    try:
        fd = os.pidfd_open(pid)  # Linux: readable once the process has exited
    except (AttributeError, OSError):  # elsewhere: looked for twice a second
        while True:
            time.sleep(0.5)
            try:
                os.kill(pid, 0)
            except PermissionError:
                pass  # there, another user's
            except OSError:
                break
    else:
        select.select([fd], [], [])
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
    ensure_server()  # the same start, with its Ctrl-C rule and socket folder, for API callers
    options = dict(mp_context=_WorkerContext(), initializer=init_worker,
                   initargs=(os.getpid(), log.worker_config(), setup, *setup_args))
    # Held: a signal while the pool makes its queues' semaphores could come between one's
    # registration with the resource tracker and its clean-up's (a "leaked semaphore").
    with stop_signals.held():
        if one_task_each and sys.version_info >= (3, 11):
            executor = ProcessPoolExecutor(jobs, max_tasks_per_child=1, **options)
        else:
            executor = ProcessPoolExecutor(jobs, **options)
    try:
        yield executor
    finally:
        with stop_signals.held():
            executor.shutdown(wait=True, cancel_futures=True)


def submit(executor, func, *args):
    with stop_signals.held():  # submitting may start a worker
        return executor.submit(func, *args)


def result(future):
    try:
        return future.result()
    except (BrokenProcessPool, SystemExit):  # SystemExit: a worker ended by SIGTERM
        raise SystemLimit("a worker process died (out of memory, or killed); earlier outputs "
                         "are unchanged; try again with fewer jobs=") from None


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
