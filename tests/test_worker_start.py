"""Worker processes start wherever a user runs the pipeline: from a plain script with no main
guard, from ``python -`` (the documentation's examples, tests/test_docs.py), and under any
``TMPDIR``, however long its path; where the system's limit still bites, one line, exit 3."""
import os
import subprocess
import sys

from conftest import CLICKTURE, MSCOCO, one_line, run

from amc_keywords import workers


def long_tmpdir(tmp_path, length=100):
    """A temporary folder whose path is ``length`` characters long."""
    path = str(tmp_path)
    path = os.path.join(path, "t" * (length - len(path) - 1))
    os.makedirs(path)
    assert len(path) == length
    return path


def test_every_dataset_command_runs_under_a_long_tmpdir(tmp_path):
    tmpdir = long_tmpdir(tmp_path)
    env = {**os.environ, "TMPDIR": tmpdir}
    for script, out in ((CLICKTURE, "clickture"), (MSCOCO, "coco")):
        proc = subprocess.run([sys.executable, script, "--sample", "--jobs", "2",
                               "--out-dir", tmp_path / out], env=env, capture_output=True,
                              text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
        assert "Traceback" not in proc.stderr
        assert list((tmp_path / out).glob("img_keyword_ind_*.npy"))
    for dataset in ("clickture", "coco"):
        proc = subprocess.run([sys.executable, "-m", "amc_keywords", dataset, "--sample",
                               "--jobs", "2", "--out-dir", tmp_path / f"cli-{dataset}"],
                              env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr


def test_no_short_folder_for_the_socket_is_one_line_exit_3(tmp_path):
    # Every short folder made unusable: what a system without a writable /tmp would see.
    code = ("import sys\n"
            "from amc_keywords import workers, cli\n"
            "workers.SHORT_TEMP_FOLDERS = ()\n"
            f"sys.exit(cli.main(['clickture', '--sample', '--jobs', '2', '--out-dir', "
            f"{str(tmp_path / 'out')!r}]))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "TMPDIR": long_tmpdir(tmp_path)}, timeout=600)
    assert proc.returncode == 3
    one_line(proc, "TMPDIR=", "too long a path", "set TMPDIR to a shorter folder")
    assert not list((tmp_path / "out").glob("*.npy"))
    # With one worker-less job, the same run works: the advice is right.
    run(CLICKTURE, "--sample", "--jobs", "1", "--out-dir", tmp_path / "one")


def test_workers_are_not_told_to_run_the_callers_main(monkeypatch, tmp_path):
    """What a worker is told before its task names no main module: it never imports the
    caller's script (the examples' tests show the whole effect)."""
    script = tmp_path / "script.py"
    script.write_text("raise SystemExit('the main script ran again')\n")
    main = sys.modules["__main__"]
    monkeypatch.setattr(main, "__file__", str(script), raising=False)
    monkeypatch.setattr(main, "__spec__", None, raising=False)  # as for ``python script.py``
    with workers.pool(1) as executor:
        assert workers.result(workers.submit(executor, os.getpid)) != os.getpid()


def test_the_worker_server_imports_the_encoder_once_for_every_worker():
    """The server imports :data:`workers.PRELOAD` as it starts (when the command line or a
    pool starts it): a new worker has the encoder before its first task."""
    code = ("from amc_keywords import workers\n"
            "with workers.pool(1) as executor:\n"
            "    print(workers.result(workers.submit(executor, eval, 'sorted(m for m in "
            "__import__(\"sys\").modules if m.startswith(\"amc_keywords.\"))')))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "'amc_keywords.encoding'" in proc.stdout, proc.stdout
