"""Interruption (kill -9, Ctrl-C, SIGTERM, SIGHUP) leaves earlier outputs intact; --extract stays
in its folder."""
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile

import pytest
from conftest import CLICKTURE, clickture_args, run

from amc_keywords import sample
from amc_keywords.writing import PREFIX


@pytest.fixture(scope="module")
def big_clickture(tmp_path_factory):
    """Large enough that a run takes a few seconds, so it can be interrupted mid-way."""
    folder = tmp_path_factory.mktemp("big_clickture")
    sample.make_clickture(folder, 20000, 60000, seed=1, junk=False)
    return folder


def outputs(folder, arrays_only=False):
    """Final output files (not the toolkit's temporaries and run records) and their bytes."""
    return {p: open(os.path.join(folder, p), "rb").read() for p in sorted(os.listdir(folder))
            if not p.startswith(PREFIX) and (p.endswith(".npy") or not arrays_only)}


def processes_in_session(session):
    """Processes of a session: the run's main process, its worker server and its workers
    (started with start_new_session, the run's session id is its main process's pid)."""
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == session and fields[0] != "Z":
                found.append(int(pid))
    return found


def session_ended(session):
    """Whether every process of the session has ended, allowing a moment for the exits (the
    worker server notices at once that the main process is gone)."""
    for _ in range(100):
        if not processes_in_session(session):
            return True
        time.sleep(0.1)
    return False


def start(folder, out, *extra):
    return subprocess.Popen([sys.executable, CLICKTURE, *map(str, clickture_args(folder, out)),
                             "--jobs", "2", *extra], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


@pytest.fixture(scope="module")
def earlier_outputs(big_clickture, tmp_path_factory):
    """The outputs of a good run, which a later, interrupted run would overwrite."""
    out = tmp_path_factory.mktemp("earlier") / "out"
    run(CLICKTURE, *clickture_args(big_clickture, out), "--min-df", 3, "--jobs", 1)
    return out


def full_run(earlier, out):
    """``out`` as a good run left it (a copy of its outputs, times included)."""
    shutil.copytree(earlier, out)


# Observable points of a run, in the order it reaches them: its worker server is started
# (start-up is done importing the standard library), the sets' plans are being written, the
# vocabulary is written, and a share of the Lite rows is on disk (a share of the size of the
# earlier run's Lite rows: this run, keeping stop words, writes more). Each leaves seconds of
# work, so a run is caught mid-way however busy the machine.
POINTS = [("server", 0), ("plan", 0), ("vocabulary", 0), ("lite rows", 0.2), ("lite rows", 0.6)]


def temporaries(out, before, part):
    """Sizes of the run's files in ``out`` that are not outputs of the earlier run and whose
    name holds ``part``."""
    sizes = []
    for name in os.listdir(out):
        if part in name and name not in before:
            try:
                sizes.append(os.path.getsize(os.path.join(out, name)))
            except FileNotFoundError:
                pass
    return sizes


def reached(proc, out, before, point, share):
    if point == "server":
        return len(processes_in_session(proc.pid)) >= 2
    if point == "lite rows":
        final = before["img_keyword_ind_clickture_lite_sk_3_sparse.npy"]
        return any(size >= share * len(final) for size in
                   temporaries(out, before, "img_keyword_ind_clickture_lite"))
    return bool(temporaries(out, before, {"plan": "plan_", "vocabulary": "vocabulary_"}[point]))


def wait_for(proc, out, before, point, share):
    """Poll until the run reaches the point (never a guessed time)."""
    deadline = time.monotonic() + 600
    while not reached(proc, out, before, point, share):
        assert proc.poll() is None, f"the run ended before reaching {point} {share}"
        assert time.monotonic() < deadline, f"the run never reached {point} {share}"
        time.sleep(0.002)


@pytest.mark.parametrize("point,share", POINTS)
def test_kill_9_leaves_outputs_and_no_orphans(big_clickture, earlier_outputs, tmp_path, point,
                                             share):
    out = tmp_path / "out"
    full_run(earlier_outputs, out)
    before = outputs(out)
    # Same file names, other stop words: every output would be rewritten with new content.
    proc = start(big_clickture, out, "--min-df", "3", "--stop-words", "none", "--jobs", "2")
    wait_for(proc, out, before, point, share)
    proc.kill()
    proc.wait()
    assert proc.returncode == -9, "the run ended before it could be killed"
    assert session_ended(proc.pid), "worker processes outlived the main process"
    assert outputs(out) == before
    # The next run succeeds and removes the killed run's temporaries and its record.
    run(CLICKTURE, *clickture_args(big_clickture, out))
    assert not [p for p in os.listdir(out) if p.startswith(PREFIX) or p.endswith(".tmp")]


@pytest.mark.parametrize("point,share", POINTS)
def test_ctrl_c_is_one_line_and_leaves_outputs(big_clickture, earlier_outputs, tmp_path, point,
                                               share):
    out = tmp_path / "out"
    full_run(earlier_outputs, out)
    before = outputs(out)
    proc = start(big_clickture, out, "--min-df", "3", "--stop-words", "none", "--jobs", "2")
    wait_for(proc, out, before, point, share)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert stderr.strip().splitlines() == ["interrupted: earlier outputs are unchanged"]
    assert sorted(os.listdir(out)) == sorted(before)  # no temporaries left either
    assert outputs(out) == before


def first_temporary(out):
    """Whether a run has made the first temporary of a file it writes in ``out``."""
    try:
        return any(name.startswith(PREFIX) and name.endswith(".tmp")
                   for name in os.listdir(out))
    except FileNotFoundError:
        return False


# What a scheduler or a closing terminal sends: to the main process alone (``kill``, ``docker
# stop``) or to the whole process group (``timeout``, Slurm, the terminal).
@pytest.mark.parametrize("signum,status,word,group", [
    (signal.SIGTERM, 143, "terminated", False), (signal.SIGTERM, 143, "terminated", True),
    (signal.SIGHUP, 129, "hung up", False), (signal.SIGHUP, 129, "hung up", True)])
def test_sigterm_and_sighup_are_one_line_and_leave_outputs(big_clickture, earlier_outputs,
                                                           tmp_path, signum, status, word,
                                                           group):
    out = tmp_path / "out"
    full_run(earlier_outputs, out)
    before = outputs(out)
    proc = start(big_clickture, out, "--min-df", "3", "--stop-words", "none", "--jobs", "2")
    deadline = time.monotonic() + 600
    while not first_temporary(out):
        assert proc.poll() is None and time.monotonic() < deadline, "no temporary was made"
        time.sleep(0.002)
    (os.killpg if group else os.kill)(proc.pid, signum)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == status, stderr
    # One line: no traceback, no resource tracker's "leaked semaphore" warning.
    assert stderr.strip().splitlines() == [f"{word}: earlier outputs are unchanged"]
    assert sorted(os.listdir(out)) == sorted(before)  # no temporaries or run record left
    assert outputs(out) == before
    assert session_ended(proc.pid), "worker processes outlived the run"


def stop_when(args, reached, signum):
    """Start ``python ARGS``, send ``signum`` to its process group once ``reached()``; its exit
    status and stderr."""
    proc = subprocess.Popen([sys.executable, *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 600
    while not reached():
        assert proc.poll() is None and time.monotonic() < deadline, "the point never came"
        time.sleep(0.002)
    os.killpg(proc.pid, signum)
    _, stderr = proc.communicate(timeout=120)
    return proc.returncode, stderr


def toolkit_temporaries(folder):
    return [os.path.join(folder, name) for name in os.listdir(folder) if name.startswith(PREFIX)]


def test_sighup_during_export_and_sigterm_during_extract(big_clickture, earlier_outputs,
                                                         tmp_path):
    export_to = tmp_path / "export"
    export_to.mkdir()
    status, stderr = stop_when(
        ["-m", "amc_keywords", "export", earlier_outputs /
         "img_keyword_ind_clickture_lite_sk_3_sparse.npy", export_to / "lite.parquet",
         "--words"], lambda: toolkit_temporaries(export_to), signal.SIGHUP)
    assert (status, stderr.strip().splitlines()) == (
        129, ["hung up: earlier outputs are unchanged"]), stderr
    assert os.listdir(export_to) == []
    data = tmp_path / "data"
    shutil.copytree(big_clickture, data)
    # Once a worker extracting has written files into its temporary folder.
    status, stderr = stop_when(
        [CLICKTURE, *clickture_args(data, tmp_path / "out"), "--extract"],
        lambda: any(os.path.isdir(t) and os.listdir(t) for t in toolkit_temporaries(data)),
        signal.SIGTERM)
    assert (status, stderr.strip().splitlines()[-1:]) == (
        143, ["terminated: earlier outputs are unchanged"]), stderr
    # The workers extracting, reached too, remove their temporary folders.
    assert toolkit_temporaries(data) == []


def test_an_up_to_date_rerun_removes_what_a_killed_run_left(big_clickture, earlier_outputs,
                                                           tmp_path):
    out = tmp_path / "out"
    full_run(earlier_outputs, out)
    before = outputs(out)
    proc = start(big_clickture, out, "--min-df", "3", "--force")
    wait_for(proc, out, before, "plan", 0)
    proc.kill()
    proc.wait()
    assert [p for p in os.listdir(out) if p.startswith(PREFIX)], "the killed run left nothing"
    rerun = run(CLICKTURE, *clickture_args(big_clickture, out), "--min-df", 3)
    assert "outputs are up to date" in rerun.stdout
    assert sorted(os.listdir(out)) == sorted(before)
    assert outputs(out) == before


def test_extract_unpacks_next_to_archive_and_gives_same_rows(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    sample.make_clickture(data, 200, 150, seed=1)
    run(CLICKTURE, *clickture_args(data, tmp_path / "from_zip"))
    proc = run(CLICKTURE, *clickture_args(data, tmp_path / "extracted"), "--extract")
    assert (data / "keywords_dev" / "00000007.json").is_file()
    assert not (data / "keywords_dev" / "__MACOSX").exists()
    assert not (data / "keywords_dev" / "keywords_dev").exists()  # top folder not doubled
    assert f"extracting {data / 'keywords_dev.zip'} ..." in proc.stdout.splitlines()
    # The same arrays (the vocabulary and manifest record the inputs' fingerprints: an
    # archive's and a folder's differ).
    assert outputs(tmp_path / "from_zip", True) == outputs(tmp_path / "extracted", True)


def test_extract_skips_members_that_leave_the_folder(tmp_path):
    data = tmp_path / "deep" / "data"
    data.mkdir(parents=True)
    sample.make_clickture(data, 200, 150, seed=1)
    with zipfile.ZipFile(data / "keywords_dev.zip", "a") as zf:
        zf.writestr("keywords_dev/../../escaped.json", b"{}")
        zf.writestr("keywords_dev/sub/../../../../escaped2.json", b"{}")
        zf.writestr(f"{tmp_path}/absolute.json", b"{}")
    proc = run(CLICKTURE, *clickture_args(data, tmp_path / "out"), "--extract")
    assert (data / "keywords_dev" / "00000007.json").is_file()
    assert not (tmp_path / "deep" / "escaped.json").exists()
    assert not (data / "escaped.json").exists() and not (tmp_path / "escaped2.json").exists()
    assert not (tmp_path / "absolute.json").exists()
    assert "escaped.json: skipped, its path leaves the target folder" in proc.stderr
    written = {os.path.relpath(os.path.join(d, f), tmp_path)
               for d, _, files in os.walk(tmp_path) for f in files}
    assert all(w.startswith(("deep/data/", "out/")) for w in written), written


def test_extract_refuses_a_zip_bomb_before_writing(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    sample.make_clickture(data, 200, 50, seed=1)
    with zipfile.ZipFile(data / "keywords_lite.zip", "a", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("keywords_lite/bomb.json", b"\0" * (64 << 20))
    out = tmp_path / "out"
    proc = run(CLICKTURE, *clickture_args(data, out), "--extract", check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "zip bomb" in proc.stderr.strip().splitlines()[-1]
    assert not (data / "keywords_lite").exists()
    assert not [p for p in os.listdir(data) if p.endswith(".tmp")]


def test_files_synced_early_are_committed_and_a_failed_sync_moves_nothing(tmp_path,
                                                                          monkeypatch):
    from amc_keywords import writing as outputs_module
    out = outputs_module.OutputSet(str(tmp_path))
    for name in ("a.npy", "b.npy"):
        with open(out.path(name), "wb") as f:
            f.write(name.encode())
    out.sync_soon(out.pending[str(tmp_path / "a.npy")])
    assert sorted(out.commit()) == [str(tmp_path / "a.npy"), str(tmp_path / "b.npy")]
    assert (tmp_path / "a.npy").read_bytes() == b"a.npy" and out.syncing == {}
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
    out.close()  # the folder's lock released: the next run may write

    out = outputs_module.OutputSet(str(tmp_path))
    with open(out.path("a.npy"), "wb") as f:
        f.write(b"new")
    monkeypatch.setattr(outputs_module.os, "fsync", lambda fd: (_ for _ in ()).throw(
        OSError(5, "Input/output error")))
    out.sync_soon(out.pending[str(tmp_path / "a.npy")])
    with pytest.raises(OSError, match="Input/output error"):
        out.commit()
    out.close()
    assert (tmp_path / "a.npy").read_bytes() == b"a.npy"  # the earlier file, untouched
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


@pytest.mark.parametrize("when", ["before", "while writing"])
def test_extract_without_room_names_the_keyword_folder(tmp_path, monkeypatch, when):
    from collections import namedtuple

    from amc_keywords import extract
    from amc_keywords.errors import SystemLimit
    sample.make_clickture(tmp_path, 50, 20, seed=1)
    archive = tmp_path / "keywords_dev.zip"
    if when == "before":
        usage = namedtuple("usage", "total used free")
        monkeypatch.setattr(extract.shutil, "disk_usage", lambda path: usage(100, 90, 10))
        why = "it needs "
    else:
        def full(fd, *args, **kwargs):
            os.close(fd)
            raise OSError(28, "No space left on device")
        monkeypatch.setattr(extract.os, "fdopen", full)
        why = "No space left on device"
    with pytest.raises(SystemLimit) as refused:
        extract.extract_archive(str(archive), str(tmp_path / "keywords_dev"))
    message = str(refused.value)
    assert message.startswith(f"{tmp_path}: no room to extract keywords_dev.zip ({why}"), message
    assert message.endswith("free some space there, or read the archive in place (without "
                            "extract=True)"), message
    assert not [p for p in os.listdir(tmp_path) if p.startswith(PREFIX)]
    assert not (tmp_path / "keywords_dev").exists()
