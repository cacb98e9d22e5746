import contextlib
import io
import os
import subprocess
import sys
import zipfile

import pytest

import amc_keywords
from amc_keywords import sample

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CLICKTURE = os.path.join(ROOT, "clickture", "pro_keyword_clickture.py")
MSCOCO = os.path.join(ROOT, "mscoco", "pro_keyword_mscoco.py")
# The real Clickture-dev list and id map, as the original repository ships them.
REAL_DEV_LIST = os.path.join(ROOT, "clickture", "clickture-dev.lst")
REAL_DEV_MAP = os.path.join(ROOT, "clickture", "img_id_map_dev.pkl")


def pytest_sessionstart(session):
    """Compile the package's bytecode once, as installing a package does: where
    PYTHONDONTWRITEBYTECODE is set (as on this project's machines), each of the suite's
    hundreds of interpreters (runs, their worker servers) would otherwise compile it anew."""
    import compileall
    compileall.compile_dir(os.path.dirname(amc_keywords.__file__), quiet=1)


def run(script, *args, cwd=ROOT, check=True):
    """Run a script as a user would; return the CompletedProcess (text output)."""
    proc = subprocess.run([sys.executable, script, *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"{script} failed ({proc.returncode}):\n{proc.stdout}\n"
                             f"{proc.stderr}")
    return proc


def one_line(proc, *phrases):
    """The bad-input contract: non-zero, one stderr line holding the phrases, no traceback."""
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode != 0, proc.stdout
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for phrase in phrases:
        assert phrase in lines[0], lines[0]
    return lines[0]


def run_in_process(dataset, *args, check=True):
    """``amc-keywords <dataset> ARGS`` run in this process (through the Python API, as the
    command line runs it), for tests that need a run's outputs or lines but not a process of
    its own; a CompletedProcess, as :func:`run` returns. The logger is left as it was."""
    from amc_keywords import cli
    from amc_keywords.log import logger
    argv = [dataset, *map(str, args)]
    saved = logger.handlers[:], logger.level, logger.propagate
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = cli.report_errors(cli.command, argv)
    finally:
        logger.handlers[:] = saved[0]
        logger.setLevel(saved[1])
        logger.propagate = saved[2]
    proc = subprocess.CompletedProcess(argv, status, out.getvalue(), err.getvalue())
    if check and status != 0:
        raise AssertionError(f"{argv} failed ({status}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def unzip(archive, folder):
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(folder)


@pytest.fixture(scope="session")
def hard_clickture(tmp_path_factory):
    """Clickture-format data full of hard cases; lists are shuffled, some entries prefixed."""
    folder = tmp_path_factory.mktemp("clickture_data")
    sample.make_clickture(folder, 700, 900, seed=11, hard=True, prefix_every=9)
    return folder


@pytest.fixture(scope="session")
def hard_coco(tmp_path_factory):
    folder = tmp_path_factory.mktemp("coco_data")
    sample.make_coco(str(folder), 500, 200, 80, seed=13, hard=True)
    return folder


def clickture_args(data, out):
    return ["--keyword-dir", data, "--lists-dir", data, "--out-dir", out]
