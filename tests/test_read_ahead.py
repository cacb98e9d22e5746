"""The archive read-ahead stops at its next block when the work it runs beside fails or is
interrupted, rather than reading the rest of the archive first.

Every point is observed (an Event, the main thread's stack), never a guessed time: the
read-ahead is held at its first block until it is told to stop, so what it has read when
it ends says whether it stopped.
"""
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Tuple

import numpy as np
import pytest

from amc_keywords import pipeline, read_ahead, sample
from amc_keywords.errors import InputError
from amc_keywords.fingerprints import SetInputs
from amc_keywords.lists import Entries
from amc_keywords.sources import ZipSource

BLOCK = 64 << 10  # the read-ahead's block in these tests: the archive is many blocks
MAIN = threading.main_thread().ident or 0
GUARD = 120  # seconds a held read waits to be told to stop; reached only when it is not


@pytest.fixture(autouse=True)
def python_ctrl_c() -> Iterator[None]:
    """Ctrl-C raises KeyboardInterrupt, whatever handler an earlier test left installed."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture
def archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A ~1.2 MB archive of 300 members: about twenty blocks of the read-ahead."""
    monkeypatch.setattr(read_ahead, "READ_AHEAD_BLOCK", BLOCK)
    monkeypatch.setattr(read_ahead, "_available_memory", lambda: 1 << 40)
    path = str(tmp_path / "keywords_dev.zip")
    rng = np.random.default_rng(0)
    sample.write_zip(path, [(f"{i:08d}.json", rng.bytes(4000)) for i in range(300)],
                     "keywords_dev")
    assert os.path.getsize(path) > 10 * BLOCK
    return path


class Held:
    """Replaces ReadAhead.advanced: counts what the read-ahead read, signals its first block
    (``first``), runs ``then`` (in the read-ahead thread), and holds the read there until
    the thread is told to stop. ``ended`` is set when the read-ahead's read returns (the
    thread's own word: after a Ctrl-C in ``Thread.join``, Python 3.11 says a thread that is
    still running is not alive)."""

    def __init__(self, then: Callable[[], None] = lambda: None) -> None:
        self.first, self.ended = threading.Event(), threading.Event()
        self.threads: List[read_ahead.ReadAhead] = []
        self.then = then

    def install(self, monkeypatch: pytest.MonkeyPatch) -> "Held":
        monkeypatch.setattr(read_ahead.ReadAhead, "advanced",
                            lambda thread, n: self.advanced(thread, n))
        read_through = read_ahead._read_through

        def observed(path: str) -> None:
            try:
                read_through(path)
            finally:
                self.ended.set()
        monkeypatch.setattr(read_ahead, "_read_through", observed)
        return self

    def read(self, archive: str) -> int:
        """What the read-ahead had read when it ended (it must end, and read less than the
        whole archive)."""
        assert self.ended.wait(GUARD), "the read-ahead never ended"
        [thread] = self.threads
        size = os.path.getsize(archive)
        assert thread.done < size, f"the read-ahead read all {size} bytes of the archive"
        return thread.done

    def advanced(self, thread: read_ahead.ReadAhead, n: int) -> None:
        thread.done += n
        if not self.first.is_set():
            self.threads.append(thread)
            self.first.set()
            self.then()
            thread.stop.wait(GUARD)


def scratch(tmp_path: Path) -> Tuple[str, str]:
    """The plan and names files _open_set writes (made beforehand, as OutputSet does)."""
    paths = (str(tmp_path / "plan_dev.npy"), str(tmp_path / "names.npy"))
    for path in paths:
        with open(path, "wb"):
            pass
    return paths


def opener_of(path: str) -> Callable[[], pipeline.OpenedSet]:
    def opener() -> pipeline.OpenedSet:
        keys = np.array([f"{i:08d}".encode() for i in range(300)])
        return pipeline.OpenedSet(ZipSource(path), Entries(keys, np.arange(300), "test"), [],
                                  SetInputs("dev"))
    return opener


def interrupted_plan(held: Held) -> Callable[..., None]:
    """A plan that waits until the read-ahead is under way, then takes a Ctrl-C (SIGINT to
    this process, as a terminal sends it)."""
    def plan(self: ZipSource, entries: Entries, path: Optional[str] = None) -> None:
        assert held.first.wait(GUARD), "the read-ahead never started"
        signal.raise_signal(signal.SIGINT)
        raise AssertionError("SIGINT did not interrupt the plan")
    return plan


def failing_plan(held: Held) -> Callable[..., None]:
    def plan(self: ZipSource, entries: Entries, path: Optional[str] = None) -> None:
        assert held.first.wait(GUARD), "the read-ahead never started"
        raise InputError("list.lst: a bad entry")
    return plan


@pytest.mark.parametrize("make_plan,raised", [(interrupted_plan, KeyboardInterrupt),
                                              (failing_plan, InputError)],
                         ids=["ctrl-c", "error"])
def test_read_ahead_stops_when_planning_is_interrupted_or_fails(
        archive: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        make_plan: Callable[[Held], Callable[..., None]], raised: type) -> None:
    held = Held().install(monkeypatch)
    monkeypatch.setattr(ZipSource, "plan", make_plan(held))
    plan_path, names_path = scratch(tmp_path)
    with pytest.raises(raised):
        pipeline._open_set("dev", opener_of(archive), plan_path, names_path, False)
    assert held.read(archive) == BLOCK  # stopped after the block it was reading


def main_thread_waits_in_join() -> bool:
    """Whether the main thread is inside Thread.join (its stack, not a guess at time)."""
    frame = sys._current_frames().get(MAIN)
    while frame is not None:
        if frame.f_code.co_name == "join" and frame.f_code.co_filename == threading.__file__:
            return True
        frame = frame.f_back
    return False


def test_ctrl_c_while_the_read_ahead_is_waited_for_stops_it(archive: str,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    """The block is done and the read-ahead is waited for: a Ctrl-C then stops it too."""
    def ctrl_c_once_joining() -> None:  # in the read-ahead thread
        while not main_thread_waits_in_join():
            if stop_watching.wait(0.001):
                return
        signal.pthread_kill(MAIN, signal.SIGINT)

    stop_watching = threading.Event()
    held = Held(ctrl_c_once_joining).install(monkeypatch)
    try:
        with pytest.raises(KeyboardInterrupt), \
                read_ahead.archive_read_ahead(ZipSource(archive)) as ahead:
            assert held.first.wait(GUARD), "the read-ahead never started"
    finally:
        stop_watching.set()
    assert ahead is not None and held.read(archive) == BLOCK


def test_read_ahead_reads_the_whole_archive_when_nothing_fails(
        archive: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The control: the same run, planned without trouble, reads the archive to its end."""
    threads: List[read_ahead.ReadAhead] = []

    def counted(thread: read_ahead.ReadAhead, n: int) -> None:
        thread.done += n
        if thread not in threads:
            threads.append(thread)
    monkeypatch.setattr(read_ahead.ReadAhead, "advanced", counted)
    plan_path, names_path = scratch(tmp_path)
    image_set = pipeline._open_set("dev", opener_of(archive), plan_path, names_path, False)
    assert len(image_set.plan) == 300
    [thread] = threads
    assert not thread.is_alive() and thread.done == os.path.getsize(archive)


def test_read_ahead_stops_at_any_exception_in_its_block(archive: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever fails in the block (here an error of no kind the toolkit knows), the
    read-ahead ends at its next block."""
    held = Held().install(monkeypatch)
    with pytest.raises(RuntimeError, match="boom"), \
            read_ahead.archive_read_ahead(ZipSource(archive)) as ahead:
        assert held.first.wait(GUARD), "the read-ahead never started"
        raise RuntimeError("boom")
    assert ahead is not None and held.read(archive) == BLOCK
