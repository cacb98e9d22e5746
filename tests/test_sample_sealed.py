"""--sample never writes under the package: with --extract, a copy of the sample is unpacked
in the run's own temporary folder."""
import os
import subprocess
import sys

from conftest import CLICKTURE, MSCOCO

import amc_keywords

PACKAGE = os.path.dirname(amc_keywords.__file__)


def package_files():
    found = {}
    for folder, dirs, files in os.walk(PACKAGE):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            path = os.path.join(folder, name)
            found[os.path.relpath(path, PACKAGE)] = os.stat(path).st_mtime_ns
        found.update({os.path.relpath(os.path.join(folder, d), PACKAGE) + "/": 0 for d in dirs})
    return found


def test_sample_extract_leaves_the_package_as_it_was(tmp_path):
    before = package_files()
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    outputs = {}
    for script, dataset in ((CLICKTURE, "clickture"), (MSCOCO, "coco")):
        for extract in ((), ("--extract",)):
            out = tmp_path / f"{dataset}{len(extract)}"
            proc = subprocess.run([sys.executable, script, "--sample", "--out-dir", str(out),
                                   *extract], capture_output=True, text=True, env=env,
                                  timeout=600)
            assert proc.returncode == 0, proc.stderr
            outputs[dataset, bool(extract)] = {p.name: p.read_bytes() for p in out.iterdir()
                                               if p.suffix == ".npy"}
    assert package_files() == before
    copy = tmp_path / f"amc-keywords-sample-{os.getuid()}" / "sample_data"
    assert {"keywords_dev", "keywords_lite", "keywords_coco"} <= set(os.listdir(copy))
    for dataset in ("clickture", "coco"):  # unpacked or not, the same outputs
        assert outputs[dataset, True] == outputs[dataset, False] != {}
