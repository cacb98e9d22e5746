"""One run at a time per output folder, and a crash between renames that is seen and mended."""
import fcntl
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import CLICKTURE, ROOT, clickture_args, run_in_process

from amc_keywords import writing
from amc_keywords.folder_lock import FolderLock

DEV = "img_keyword_ind_clickture_dev_sk_6_sparse.npy"
MANIFEST = "manifest_clickture_sk_6.json"


def verify_manifest(folder):
    return subprocess.run([sys.executable, "-m", "amc_keywords", "verify", "--manifest",
                           str(folder / MANIFEST)], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def start(data, out, *options):
    return subprocess.Popen([sys.executable, CLICKTURE, *map(str, clickture_args(data, out)),
                             "--force", *options], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def held(folder):
    """Hold ``folder``'s lock from this process, as a running run would."""
    fd = os.open(folder, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def test_two_runs_with_other_options_leave_one_complete_set(hard_clickture, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    fd = held(out)
    # A run record naming this process, as the holder's would.
    record = out / ".amc-keywords-run-holder.lock"
    record.write_text(f"{os.getpid()} {writing.start_time(os.getpid())}\n")
    runs = [start(hard_clickture, out, "--stop-words", words) for words in ("english", "none")]
    try:
        for proc in runs:  # the observable point: each says it waits, then waits
            line = proc.stderr.readline()
            assert line.strip() == f"waiting for the run {os.getpid()} writing {out}", line
        assert not os.listdir(out) or set(os.listdir(out)) == {record.name}
    finally:
        record.unlink()
        os.close(fd)  # let them go: one after the other
    for proc in runs:
        _, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, stderr
    check = verify_manifest(out)
    assert check.returncode == 0, check.stdout + check.stderr
    # The folder is one run's, whole: its files are those of a clean run with its options.
    with open(out / MANIFEST, encoding="utf-8") as f:
        words = json.load(f)["options"]["stop_words"]
    clean = tmp_path / "clean"
    run_in_process("clickture", *clickture_args(hard_clickture, clean), "--stop-words", words)
    for name in sorted(os.listdir(clean)):
        if name.endswith(".npy"):
            assert (out / name).read_bytes() == (clean / name).read_bytes(), name
    assert [p for p in os.listdir(out) if p.startswith(".amc-keywords-")] == []


def test_no_wait_refuses_in_one_line(hard_clickture, tmp_path):
    out = tmp_path / "out"
    run_in_process("clickture", *clickture_args(hard_clickture, out))
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    fd = held(out)
    try:
        proc = start(hard_clickture, out, "--no-wait")
        _, stderr = proc.communicate(timeout=600)
    finally:
        os.close(fd)
    assert proc.returncode == 2 and stderr.strip().splitlines() == [
        f"error: {out}: the run (unknown) is writing there; wait for it to end, or choose "
        "another folder with --out-dir"]
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_the_lock_is_held_until_the_files_are_in_place(tmp_path):
    folder = tmp_path / "out"
    outputs = writing.OutputSet(str(folder))
    with pytest.raises(Exception, match="is writing there"):
        FolderLock(str(folder), wait=False)  # another open file description: refused
    outputs.save_text("a.txt", "a")
    outputs.commit()
    outputs.close()
    FolderLock(str(folder), wait=False).release()  # free again


def test_a_crash_between_renames_is_seen_and_mended(hard_clickture, tmp_path, monkeypatch):
    out = tmp_path / "out"
    run_in_process("clickture", *clickture_args(hard_clickture, out))
    moved = []
    publish = writing._publish

    def crash_after_three(temp, final):
        if len(moved) == 3:
            raise KeyboardInterrupt  # the process stops here, mid-way through the renames
        moved.append(os.path.basename(final))
        publish(temp, final)

    monkeypatch.setattr(writing, "_publish", crash_after_three)
    proc = run_in_process("clickture", *clickture_args(hard_clickture, out), "--stop-words",
                          "none", check=False)
    monkeypatch.setattr(writing, "_publish", publish)
    assert proc.returncode == 130 and len(moved) == 3 and MANIFEST not in moved
    # Detected: the manifest, moved last, still describes the old files.
    check = verify_manifest(out)
    named = [line.split(": ")[0] for line in check.stdout.splitlines()]
    assert check.returncode == 1 and named and all(
        os.path.basename(path) in moved for path in named), check.stdout
    # Mended: the next run says so in one line and writes the whole set again.
    again = run_in_process("clickture", *clickture_args(hard_clickture, out))
    (notice,) = [line for line in again.stderr.splitlines() if line.startswith("notice:")]
    assert "does not match manifest_clickture_sk_6.json" in notice
    assert "a run was stopped while moving its files into place" in notice
    assert verify_manifest(out).returncode == 0
    rows = np.load(out / DEV)
    clean = tmp_path / "clean"
    run_in_process("clickture", *clickture_args(hard_clickture, clean))
    assert np.array_equal(rows, np.load(clean / DEV))
