"""Ctrl-C, SIGTERM and SIGHUP at the two moments a run must not be cut short: during the final
renames (every file still moves, and the folder's lock is held throughout), and during the
clean-up a first signal started (a second one is only noted). The runs interrupted mid-way are
in test_interrupt_and_extract.py."""
import os
import signal
import subprocess
import sys

import pytest
from conftest import ROOT

from amc_keywords import stop_signals, writing
from amc_keywords.errors import InputError
from amc_keywords.folder_lock import FolderLock

NAMES = ["a.npy", "b.npy", "c.npy", "manifest.json"]


@pytest.fixture
def command_line_handlers():
    """The handlers the command line runs under, for the test's duration."""
    saved = {signum: signal.getsignal(signum) for signum in stop_signals.STOP_SIGNALS}
    stop_signals.install(stop_signals.stop)
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)
    stop_signals.received.clear()


def pending_outputs(folder):
    """An OutputSet of ``folder`` with four new files pending over four earlier ones."""
    for name in NAMES:
        (folder / name).write_bytes(b"earlier")
    outputs = writing.OutputSet(str(folder))
    for name in NAMES:
        with open(outputs.path(name), "wb") as f:
            f.write(b"new " + name.encode())
    return outputs


@pytest.mark.parametrize("signum", list(stop_signals.STOP_SIGNALS))
def test_a_signal_during_the_renames_waits_for_the_last(tmp_path, monkeypatch,
                                                        command_line_handlers, signum):
    outputs = pending_outputs(tmp_path)
    publish, moved = writing._publish, []

    def publish_then_signal(temp, final):
        publish(temp, final)
        moved.append(final)
        if len(moved) == 1:  # after the first rename
            os.kill(os.getpid(), signum)
    monkeypatch.setattr(writing, "_publish", publish_then_signal)
    with pytest.raises(stop_signals.Stopped) as stopped, outputs:
        outputs.commit("manifest.json")
    assert stopped.value.signum == signum
    assert len(moved) == len(NAMES)
    for name in NAMES:
        assert (tmp_path / name).read_bytes() == b"new " + name.encode(), name
    assert sorted(os.listdir(tmp_path)) == NAMES  # no temporary, no run record


def test_the_folder_lock_is_held_during_the_renames(tmp_path, monkeypatch):
    outputs = pending_outputs(tmp_path)
    publish, refused = writing._publish, []

    def publish_while_another_run_tries(temp, final):
        try:
            FolderLock(str(tmp_path), wait=False).release()
        except InputError as exc:
            refused.append(str(exc))
        publish(temp, final)
    monkeypatch.setattr(writing, "_publish", publish_while_another_run_tries)
    with outputs:
        outputs.commit("manifest.json")
    assert len(refused) == len(NAMES), "a second run could start while files moved"
    assert all("is writing there" in message for message in refused), refused
    FolderLock(str(tmp_path), wait=False).release()  # released once the run is done


# A command that makes a temporary, is stopped by a signal, and gets a second one while it
# removes its temporaries.
SECOND_SIGNAL = """
import os, signal, sys, time
from amc_keywords import cli, writing
folder, signum = sys.argv[1], int(sys.argv[2])
abort = writing.OutputSet.abort

def abort_after_a_second_signal(self):
    os.kill(os.getpid(), signum)
    abort(self)

writing.OutputSet.abort = abort_after_a_second_signal

def main(argv):
    with writing.OutputSet(folder) as outputs:
        outputs.path("rows.npy")
        os.kill(os.getpid(), signum)
        time.sleep(60)

status = cli.run_cli(main, [])
# The interpreter's exit resets a Python handler to the default: a signal then would end the
# process with another status than the line printed. Ignored, it does not.
assert all(signal.getsignal(s) is signal.SIG_IGN for s in (signal.SIGTERM, signal.SIGHUP))
sys.exit(status)
"""


@pytest.mark.parametrize("signum", list(stop_signals.STOP_SIGNALS))
def test_a_second_signal_during_the_clean_up_is_only_noted(tmp_path, signum):
    proc = subprocess.run([sys.executable, "-c", SECOND_SIGNAL, str(tmp_path), str(signum)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 128 + signum, proc.stderr
    assert proc.stderr.strip().splitlines() == [stop_signals.line(signum)]
    assert os.listdir(tmp_path) == []  # the temporary and the run record removed


def test_a_run_record_is_not_left_when_it_cannot_be_written(tmp_path, monkeypatch):
    real_fdopen = os.fdopen

    class FullDisk:
        def __init__(self, fd, *args, **kwargs):
            self.file = real_fdopen(fd, *args, **kwargs)

        def __enter__(self):
            return self

        def write(self, text):
            raise OSError(28, "No space left on device")

        def __exit__(self, *exc):
            self.file.close()
    monkeypatch.setattr(writing.os, "fdopen", FullDisk)
    with pytest.raises(InputError, match="No space left on device"):
        writing.OutputSet(str(tmp_path))
    assert os.listdir(tmp_path) == []
    FolderLock(str(tmp_path), wait=False).release()


def test_a_record_its_run_never_wrote_is_removed_by_the_next_run(tmp_path):
    # A run killed between making its record and writing it: the record is empty.
    (tmp_path / f"{writing.RUN_RECORD_PREFIX}dead1.lock").write_bytes(b"")
    (tmp_path / f"{writing.PREFIX}dead1-rows.npy.abc.tmp").write_bytes(b"part")
    writing.remove_stale(str(tmp_path))  # without the folder's lock: it might be starting
    assert len(os.listdir(tmp_path)) == 2
    with writing.OutputSet(str(tmp_path)):  # holding the lock: no live run has that record
        assert [n for n in os.listdir(tmp_path) if "dead1" in n] == []
    assert os.listdir(tmp_path) == []


# A command's start (the worker server first, as the command line starts it), then what a
# worker's signal mask and SIGTERM handler are.
WORKER_SIGNALS = """
import signal
from amc_keywords import stop_signals, workers
workers.start_early()
with workers.pool(1) as executor:
    blocked = workers.result(workers.submit(executor, signal.pthread_sigmask,
                                            signal.SIG_BLOCK, []))
    handler = workers.result(workers.submit(executor, signal.getsignal, signal.SIGTERM))
print(sorted(set(blocked) & set(stop_signals.STOP_SIGNALS)),
      handler in (signal.SIG_IGN, signal.SIG_DFL))
"""


def test_a_worker_can_be_ended_by_sigterm():
    """The worker server is started with the stop signals blocked, and workers inherit the
    mask: a worker must unblock them (else the pool could not end it, nor a SIGTERM sent to
    the group stop its work), and end through its clean-ups."""
    proc = subprocess.run([sys.executable, "-c", WORKER_SIGNALS], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.stdout.split() == ["[]", "False"], proc.stdout + proc.stderr
