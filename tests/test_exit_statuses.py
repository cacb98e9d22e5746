"""One convention of exit statuses for every command and both scripts: 0 success, 1 a check
found a difference, 2 bad input or usage, 3 the system, 130 interrupted."""
import importlib
import os
import shutil
import subprocess
import sys
from concurrent.futures.process import BrokenProcessPool

import numpy as np
import pytest
from conftest import CLICKTURE, MSCOCO, ROOT, clickture_args, run, run_in_process

from amc_keywords import cli, workers
from amc_keywords.errors import CheckFailed, InputError, SystemLimit

DEV = "img_keyword_ind_clickture_dev_sk_6_sparse.npy"
LITE = "img_keyword_ind_clickture_lite_sk_6_sparse.npy"


def amc(*args):
    return subprocess.run([sys.executable, "-m", "amc_keywords", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def outputs(hard_clickture, tmp_path_factory):
    out = tmp_path_factory.mktemp("statuses")
    run_in_process("clickture", *clickture_args(hard_clickture, out))
    return out


@pytest.fixture
def tampered(outputs, tmp_path):
    """A copy of the output set whose dev range table is off by one row for one image."""
    copy = tmp_path / "copy"
    shutil.copytree(outputs, copy)
    os.remove(copy / "manifest_clickture_sk_6.json")  # the loader would name the change
    ranges = np.load(copy / "img_keyword_range_clickture_dev_sk_6.npy")
    image = int(np.flatnonzero(ranges[:, 0] >= 0)[1])
    ranges[image, 1] -= 1
    np.save(copy / "img_keyword_range_clickture_dev_sk_6.npy", ranges)
    return copy, image


def test_success_is_0(outputs):
    proc = amc("verify", outputs / DEV, outputs / LITE)
    assert proc.returncode == 0 and proc.stdout.count("ok: ") == 2, proc.stderr


def test_verify_checks_every_path_and_exits_with_the_worst(tampered, outputs):
    copy, image = tampered
    proc = amc("verify", copy / DEV, outputs / LITE)
    assert proc.returncode == 1, proc.stderr
    assert f"ok: {outputs / LITE}" in proc.stdout  # the second path is checked too
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(f"error: {copy / 'img_keyword_range_clickture_dev_sk_6.npy'}: image ")
    # A path that is not there is bad input (2), worse than a difference (1).
    worse = amc("verify", copy / DEV, copy / "img_keyword_ind_clickture_x_sk_6_sparse.npy")
    assert worse.returncode == 2 and len(worse.stderr.strip().splitlines()) == 2


def test_verify_manifest_difference_is_1_and_a_bad_manifest_2(outputs, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(outputs, copy)
    with open(copy / DEV, "r+b") as f:
        f.seek(-1, os.SEEK_END)
        last = f.read(1)
        f.seek(-1, os.SEEK_END)
        f.write(bytes([last[0] ^ 1]))
    assert amc("verify", "--manifest", copy / "manifest_clickture_sk_6.json").returncode == 1
    (tmp_path / "not.json").write_text("{")
    bad = amc("verify", "--manifest", tmp_path / "not.json")
    assert bad.returncode == 2 and "not a manifest" in bad.stderr


def test_compare_difference_is_1(outputs, hard_clickture, tmp_path):
    run_in_process("clickture", *clickture_args(hard_clickture, tmp_path), "--stop-words",
                   "none")
    proc = amc("compare", outputs / "manifest_clickture_sk_6.json",
               tmp_path / "manifest_clickture_sk_6.json")
    assert proc.returncode == 1 and "options stop_words" in proc.stdout


@pytest.mark.parametrize("args", [["stats", "x.npy", "--top", "-1"],
                                  ["stats", "x.npy", "--top", "0"],
                                  ["show", "x.npy", "one"], ["nonsense"], []])
def test_usage_errors_are_2(args):
    proc = amc(*args)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_scripts_use_the_same_statuses(tmp_path):
    for script in (CLICKTURE, MSCOCO):
        proc = run(script, "--min-df", "0", check=False)
        assert proc.returncode == 2 and "expected a positive integer" in proc.stderr
    proc = run(MSCOCO, "--keyword-dir", tmp_path, check=False)
    assert proc.returncode == 2 and "keywords_coco.zip: not found" in proc.stderr


def test_an_output_folder_the_system_refuses_is_3(hard_clickture):
    # /sys refuses a new folder even to root: "Operation not permitted".
    proc = run(CLICKTURE, *clickture_args(hard_clickture, "/sys/amc-keywords-test/out"),
               check=False)
    assert proc.returncode == 3, proc.stderr
    assert "the output folder cannot be written" in proc.stderr


def test_system_problems_map_to_3_and_bad_input_to_2(capsys):
    def killed(argv):
        future_error = BrokenProcessPool("A child process terminated abruptly")

        class Future:
            def result(self):
                raise future_error
        return workers.result(Future())

    def out_of_memory(argv):
        raise MemoryError

    def denied(argv):
        raise PermissionError(13, "Permission denied", "/some/file")

    def missing(argv):
        raise FileNotFoundError(2, "No such file or directory", "/some/file")

    assert cli.report_errors(killed, []) == 3
    assert "a worker process died" in capsys.readouterr().err
    assert cli.report_errors(out_of_memory, []) == 3
    assert cli.report_errors(denied, []) == 3
    assert "error: /some/file: Permission denied" in capsys.readouterr().err
    assert cli.report_errors(missing, []) == 2
    for error, status in ((InputError("x"), 2), (CheckFailed("x"), 1), (SystemLimit("x"), 3)):
        def fails(argv, error=error):
            raise error
        assert cli.report_errors(fails, []) == status
    assert issubclass(CheckFailed, InputError) and issubclass(SystemLimit, InputError)


def test_help_states_the_statuses():
    for args in (["--help"], ["verify", "--help"], ["clickture", "--help"]):
        text = amc(*args).stdout
        assert "exit status: 0 success; 1 a check found a difference" in text
    assert "exit status: 0 success" in run(CLICKTURE, "--help").stdout


def test_the_top_level_help_is_written_for_users():
    text = amc("--help").stdout
    # No developer's markup, no module docstring.
    for markup in ("``", ":data:", ":func:", "Input:", "Output:"):
        assert markup not in text, markup
    # Every command, one line each; where to start; where the docs are.
    lines = text.splitlines()
    for name in ("clickture", "coco", "verify", "stats", "compare", "export", "show"):
        assert any(line.split()[:1] == [name] and len(line.split()) > 1 for line in lines), name
    assert "amc-keywords clickture --sample" in text and "docs/cli.md" in text


def test_out_of_memory_names_the_file_being_read(hard_clickture, tmp_path, monkeypatch):
    from amc_keywords import encoding

    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(encoding, "encode", no_memory)
    proc = run_in_process("clickture", *clickture_args(hard_clickture, tmp_path), "--jobs", 1,
                          check=False)
    assert proc.returncode == 3
    # dev, fitted on, is the first set encoded.
    assert proc.stderr.strip() == (f"error: {hard_clickture / 'keywords_dev.zip'}: out of "
                                   "memory while reading it; close other programs, or run "
                                   "with fewer --jobs")


# What opening a set reads: the list, the id map, the archive's directory.
@pytest.mark.parametrize("module,reader", [("lists", "_listtext_of"),
                                           ("idmap", "_read_py2_dict"),
                                           ("sources", "ZipDirectory")])
def test_out_of_memory_while_opening_a_set_names_what_it_read(hard_clickture, tmp_path,
                                                              monkeypatch, module, reader):
    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(importlib.import_module(f"amc_keywords.{module}"), reader, no_memory)
    proc = run_in_process("clickture", *clickture_args(hard_clickture, tmp_path), "--jobs", 1,
                          check=False)
    assert proc.returncode == 3
    assert proc.stderr.strip() == (
        "error: the dev set's list, id map and keyword archive directory (in "
        f"{hard_clickture}): out of memory while reading it; close other programs, or run "
        "with fewer --jobs")


@pytest.mark.parametrize("stdout", ["full", "closed"])
def test_stdout_that_cannot_be_written_is_one_line_and_3(hard_clickture, tmp_path, stdout):
    """``> /dev/full`` or ``>&-``: the run's files are written; its summary is lost, which
    one line says (not a traceback a line), with the system's status."""
    def start(*args):
        with open("/dev/full", "w") as full:
            return subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, text=True,
                                  stdout=full if stdout == "full" else None,
                                  stderr=subprocess.PIPE, timeout=300,
                                  preexec_fn=(lambda: os.close(1)) if stdout == "closed"
                                  else None)
    reason = "No space left on device" if stdout == "full" else "it is closed"
    line = (f"error: standard output cannot be written ({reason}): what the command printed "
            "there is lost (the files it wrote are complete)")
    out = tmp_path / "out"
    proc = start(CLICKTURE, *clickture_args(hard_clickture, out))
    assert (proc.returncode, proc.stderr.strip().splitlines()) == (3, [line]), proc.stderr
    assert amc("verify", out / DEV).returncode == 0  # the outputs are whole
    proc = start("-m", "amc_keywords", "stats", out / DEV)
    assert (proc.returncode, proc.stderr.strip().splitlines()) == (3, [line]), proc.stderr


@pytest.mark.parametrize("below", ["", "sub/deeper"])
def test_an_output_folder_that_is_a_file_is_bad_input(hard_clickture, tmp_path, below):
    a_file = tmp_path / "a_file"
    a_file.write_bytes(b"mine")
    out = a_file / below if below else a_file
    proc = run_in_process("clickture", *clickture_args(hard_clickture, out), check=False)
    which = f"{a_file} " if below else ""
    assert (proc.returncode, proc.stderr.strip().splitlines()) == (2, [
        f"error: {out}: {which}is a file, not a folder; choose another output folder with "
        "--out-dir"]), proc.stderr
    assert a_file.read_bytes() == b"mine"
