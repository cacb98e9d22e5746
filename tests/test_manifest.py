"""Reruns notice changed inputs; the manifest proves what a run produced (verify, compare)."""
import json
import os
import pathlib
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import reference
from conftest import ROOT, run_in_process, unzip

from amc_keywords import sample
from amc_keywords.datasets.list_and_map import ORIGINAL_FILES, SAMPLE_FILES

SAMPLE = os.path.join(ROOT, "amc_keywords", "sample_data")
MANIFEST = "manifest_clickture_sk_6.json"
DEV_ROWS = "img_keyword_ind_clickture_dev_sk_6_sparse.npy"


def sample_copy(folder):
    """The shipped Clickture sample, its list and map files under the original names."""
    os.makedirs(folder)
    for name in ("keywords_dev.zip", "keywords_lite.zip"):
        shutil.copy(os.path.join(SAMPLE, name), folder)
    for subset in ("dev", "lite"):
        for shipped, original in zip(SAMPLE_FILES[subset], ORIGINAL_FILES[subset]):
            shutil.copy(os.path.join(SAMPLE, shipped), os.path.join(folder, original))
    return folder


def args(data, out, *extra):
    return ["--keyword-dir", data, "--lists-dir", data, "--out-dir", out, *extra]


def cli(*arguments, check=True):
    proc = subprocess.run([sys.executable, "-m", "amc_keywords", *map(str, arguments)],
                          capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(proc.stdout + proc.stderr)
    return proc


def add_keyword(archive, keyword, only=None):
    """Rewrite ``archive`` with ``keyword`` added to every keyword file (or to ``only``)."""
    with zipfile.ZipFile(archive) as zf:
        members = [(info, zf.read(info)) for info in zf.infolist()]
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for info, data in members:
            if info.filename.endswith(".json") and "__MACOSX" not in info.filename and \
                    "/._" not in info.filename and (only is None or info.filename == only):
                try:
                    doc = json.loads(data)
                    doc["tagging"]["keywords"].append(keyword)
                    data = json.dumps(doc).encode()
                except (ValueError, KeyError, TypeError):
                    pass
            zf.writestr(info, data)


def outputs(folder):
    return {n: open(os.path.join(folder, n), "rb").read() for n in sorted(os.listdir(folder))}


def test_changed_keywords_with_the_same_ids_refit_without_refit(tmp_path):
    """The issue's scenario: every dev keyword file gets one more keyword, same ids."""
    data, out = sample_copy(tmp_path / "data"), tmp_path / "out"
    first = run_in_process("clickture", *args(data, out)).stdout
    assert "57 words" in first and "1616 rows" in first
    add_keyword(os.path.join(data, "keywords_dev.zip"), "zebracorn")
    second = run_in_process("clickture", *args(data, out)).stdout
    assert ("vocabulary: keywords_dev.zip changed since the vocabulary was fitted; "
            "fitting again") in second
    assert "58 words" in second and "dev: 300 images read, 1916 rows written" in second
    refit = tmp_path / "refit"
    run_in_process("clickture", *args(data, refit, "--refit"))
    assert outputs(out).keys() == outputs(refit).keys()
    for name, content in outputs(refit).items():
        if name.endswith(".npy"):
            assert outputs(out)[name] == content, name
    # And the plain algorithm agrees on the changed data.
    unzip(os.path.join(data, "keywords_dev.zip"), tmp_path / "plain")
    unzip(os.path.join(data, "keywords_lite.zip"), tmp_path / "plain")
    vocabulary, _, dev = reference.clickture(
        tmp_path / "plain" / "keywords_dev", os.path.join(data, "clickture-dev.lst"),
        tmp_path / "plain" / "keywords_lite", os.path.join(data, "clickture-lite.lst"))
    assert len(vocabulary) == 58 and "zebracorn" in vocabulary
    np.testing.assert_array_equal(np.load(out / DEV_ROWS), dev)


def test_unchanged_rerun_is_up_to_date_and_force_runs(tmp_path):
    data, out = sample_copy(tmp_path / "data"), tmp_path / "out"
    run_in_process("clickture", *args(data, out))
    before = {n: os.stat(out / n).st_mtime_ns for n in os.listdir(out)}
    proc = run_in_process("clickture", *args(data, out))
    manifest_path = out / "manifest_clickture_sk_6.json"
    assert proc.stdout.strip() == (f"outputs are up to date ({manifest_path}); "
                                   "--force to run again")
    assert {n: os.stat(out / n).st_mtime_ns for n in os.listdir(out)} == before
    for flag in ("--force", "--refit"):
        assert "wrote:" in run_in_process("clickture", *args(data, out, flag)).stdout
    # Other options are another run.
    assert "wrote:" in run_in_process("clickture", *args(data, out, "--vocab-from", "both")).stdout
    # A list that changed: not up to date.
    with open(os.path.join(data, "clickture-lite.lst"), "a") as f:
        f.write("\n")
    assert "wrote:" in run_in_process("clickture", *args(data, out, "--vocab-from", "both")).stdout


def test_touched_output_is_not_up_to_date_and_verify_catches_a_modified_one(tmp_path):
    data, out = sample_copy(tmp_path / "data"), tmp_path / "out"
    run_in_process("clickture", *args(data, out))
    manifest = out / MANIFEST
    ok = cli("verify", "--manifest", manifest)
    assert "every output has the SHA-256 it records" in ok.stdout
    rows = np.load(out / DEV_ROWS)
    rows[0, 1] = (rows[0, 1] + 1) % 57
    np.save(out / DEV_ROWS, rows)  # same size, other content
    bad = cli("verify", "--manifest", manifest, check=False)
    assert bad.returncode == 1
    assert bad.stdout.strip() == f"{out / DEV_ROWS}: differs from the manifest (SHA-256)"
    # The next run sees the change (its modification time) and writes the outputs again.
    assert "wrote:" in run_in_process("clickture", *args(data, out)).stdout
    assert cli("verify", "--manifest", manifest).returncode == 0
    os.remove(out / DEV_ROWS)
    gone = cli("verify", "--manifest", manifest, check=False)
    assert gone.returncode == 1 and "missing (the manifest records it)" in gone.stdout


def test_compare_two_clones_then_one_changed_file(tmp_path):
    """Two runs on copies of the same downloads at other paths: the same dataset; after one
    keyword file changes, compare names what differs."""
    one, two = sample_copy(tmp_path / "one"), sample_copy(tmp_path / "two")
    run_in_process("clickture", *args(one, tmp_path / "out1"))
    run_in_process("clickture", *args(two, tmp_path / "out2"))
    a, b = tmp_path / "out1" / MANIFEST, tmp_path / "out2" / MANIFEST
    same = cli("compare", a, b)
    assert same.stdout.strip() == "same dataset"
    word = json.loads((tmp_path / "out2" / "vocabulary_clickture_sk_6.json").read_text())[
        "words"][0]  # in the vocabulary: the lite rows change
    add_keyword(os.path.join(two, "keywords_lite.zip"), word,
                only="keywords_lite/00000007.json")
    run_in_process("clickture", *args(two, tmp_path / "out2"))
    differ = cli("compare", a, b, check=False)
    lines = differ.stdout.strip().splitlines()
    assert differ.returncode == 1
    assert any(line.startswith("inputs lite keywords: ") for line in lines), lines
    assert any(line.startswith("outputs img_keyword_ind_clickture_lite_sk_6_sparse.npy: ")
               for line in lines), lines
    assert not any("dev" in line for line in lines), lines  # dev is the same
    assert not any("mtime" in line for line in lines), lines  # not compared, not shown


def test_compare_an_output_only_one_run_has_shows_no_modification_time(tmp_path):
    data = sample_copy(tmp_path / "data")
    run_in_process("clickture", *args(data, tmp_path / "out1"))
    run_in_process("clickture", *args(data, tmp_path / "out2"), "--original-layout")
    lines = cli("compare", tmp_path / "out1" / MANIFEST, tmp_path / "out2" / MANIFEST,
                check=False).stdout.splitlines()
    assert any("(absent)" in line for line in lines), lines
    assert not any("mtime" in line or "size=" in line for line in lines), lines


@pytest.mark.parametrize("content,phrase", [
    ("{not json", "not a manifest: not valid JSON (line 1, column 2"),
    (json.dumps({"format": "something else"}), "not a manifest (expected format"),
    (json.dumps({"format": "amc-keywords-manifest/9"}), "written by a later version"),
])
def test_bad_manifest_is_one_line_and_never_stops_a_run(tmp_path, content, phrase):
    data, out = sample_copy(tmp_path / "data"), tmp_path / "out"
    run_in_process("clickture", *args(data, out))
    (out / MANIFEST).write_text(content)
    proc = cli("verify", "--manifest", out / MANIFEST, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert str(out / MANIFEST) in proc.stderr and phrase in proc.stderr
    rerun = run_in_process("clickture", *args(data, out))
    assert f"notice: {out / MANIFEST}: " in rerun.stderr and "wrote:" in rerun.stdout
    assert json.loads((out / MANIFEST).read_text())["format"] == "amc-keywords-manifest/1"


def test_manifest_of_another_dataset(tmp_path):
    out = tmp_path / "coco"
    run_in_process("coco", "--sample", "--out-dir", out, "--quiet")
    other = tmp_path / "clickture"
    other.mkdir()
    shutil.copy(out / "manifest_coco_sk_6.json", other / MANIFEST)
    data = sample_copy(tmp_path / "data")
    rerun = run_in_process("clickture", *args(data, other))
    assert "a manifest of 'coco', not of 'clickture'" in rerun.stderr
    assert "same dataset" in cli("compare", out / "manifest_coco_sk_6.json",
                                 out / "manifest_coco_sk_6.json").stdout
    # COCO: an unchanged rerun is up to date too.
    assert "outputs are up to date" in run_in_process("coco", "--sample", "--out-dir",
                                           out).stdout


def test_manifest_records_inputs_outputs_and_versions(tmp_path):
    data, out = sample_copy(tmp_path / "data"), tmp_path / "out"
    run_in_process("clickture", *args(data, out))
    manifest = json.loads((out / MANIFEST).read_text())
    assert (out / MANIFEST).read_text() == json.dumps(manifest, sort_keys=True, indent=1,
                                                      ensure_ascii=False) + "\n"
    assert set(manifest["inputs"]) == {f"{s} {k}" for s in ("dev", "lite")
                                       for k in ("keywords", "list", "map")}
    assert manifest["inputs"]["dev keywords"]["images"] == 300
    assert manifest["inputs"]["dev keywords"]["kind"] == "zip"
    assert set(manifest["versions"]) == {"python", "numpy", "scikit-learn"}
    import hashlib
    for name, record in manifest["outputs"].items():
        raw = (out / name).read_bytes()
        assert record["sha256"] == hashlib.sha256(raw).hexdigest()
        if name.endswith(".npy"):
            array = np.load(out / name)
            assert (record["dtype"], record["shape"]) == (array.dtype.str, list(array.shape))
    assert {s["set"]: s["rows"] for s in manifest["summary"]} == {"lite": 2058, "dev": 1616}


def test_folder_fingerprint_sees_a_changed_file(tmp_path):
    """An unzipped folder: a keyword file whose size or time changes refits the vocabulary;
    --strict-fingerprint records content too."""
    data, out = sample_copy(tmp_path / "data"), tmp_path / "out"
    for name in ("keywords_dev", "keywords_lite"):
        unzip(os.path.join(data, name + ".zip"), data)
        os.remove(os.path.join(data, name + ".zip"))
    run_in_process("clickture", *args(data, out))
    path = os.path.join(data, "keywords_dev", "00000003.json")
    doc = json.loads(pathlib.Path(path).read_text(encoding="utf-8"))
    doc["tagging"]["keywords"].append("zebracorn")
    with open(path, "w") as f:
        json.dump(doc, f)
    proc = run_in_process("clickture", *args(data, out))
    assert "vocabulary: keywords_dev changed since the vocabulary was fitted" in proc.stdout
    strict = run_in_process("clickture", *args(data, tmp_path / "strict", "--strict-fingerprint"))
    assert "wrote:" in strict.stdout
    assert json.loads((tmp_path / "strict" / MANIFEST).read_text())["options"][
        "strict_fingerprint"] is True


def test_generated_data_rerun(tmp_path):
    """Hard generated data (prefixed entries, unicode): a rerun is up to date."""
    sample.make_clickture(tmp_path / "data", 120, 90, seed=5, hard=True, prefix_every=7)
    out = tmp_path / "out"
    run_in_process("clickture", *args(tmp_path / "data", out))
    assert "up to date" in run_in_process("clickture", *args(tmp_path / "data", out)).stdout


def test_unzipped_folders_rerun_up_to_date_and_strict_sees_content(tmp_path):
    """The fingerprint the workers take while reading (fstat) and the one a rerun takes by
    stat are the same: an unchanged rerun from folders is up to date, with and without
    --strict-fingerprint, and with --force reuses its vocabulary; a file rewritten to the
    same size and time is seen only by the strict fingerprint (which reads the files)."""
    data = sample_copy(tmp_path / "data")
    for name in ("keywords_dev", "keywords_lite"):
        unzip(os.path.join(data, name + ".zip"), data)
        os.remove(os.path.join(data, name + ".zip"))
    for flags in ([], ["--strict-fingerprint"]):
        out = tmp_path / f"out{len(flags)}"
        assert "wrote:" in run_in_process("clickture", *args(data, out, *flags)).stdout
        assert "up to date" in run_in_process("clickture", *args(data, out, *flags)).stdout
    forced = run_in_process("clickture", *args(data, tmp_path / "out0", "--force")).stdout
    assert "vocabulary: reusing" in forced
    path = os.path.join(data, "keywords_lite", "00000011.json")
    stat = os.stat(path)
    raw = pathlib.Path(path).read_bytes()
    changed = raw.replace(b'"keywords": [', b'"keywords":[ ', 1)  # same size, same keywords
    assert changed != raw and len(changed) == len(raw)
    with open(path, "wb") as f:
        f.write(changed)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert "up to date" in run_in_process("clickture", *args(data, tmp_path / "out0")).stdout
    assert "wrote:" in run_in_process("clickture", *args(data, tmp_path / "out1",
                                            "--strict-fingerprint")).stdout


def test_extract_rerun_after_the_folder_is_gone(tmp_path):
    data, out = sample_copy(tmp_path / "data"), tmp_path / "out"
    run_in_process("clickture", *args(data, out, "--extract"))
    assert "up to date" in run_in_process("clickture", *args(data, out, "--extract")).stdout
    shutil.rmtree(os.path.join(data, "keywords_dev"))
    again = run_in_process("clickture", *args(data, out, "--extract"))
    assert "wrote:" in again.stdout and os.path.isdir(os.path.join(data, "keywords_dev"))


def test_coco_from_a_folder_sees_a_changed_dataset_json(tmp_path):
    data = tmp_path / "coco"
    data.mkdir()
    unzip(os.path.join(SAMPLE, "keywords_coco.zip"), data)
    out = tmp_path / "out"
    coco_args = ["--keyword-dir", data, "--out-dir", out]
    run_in_process("coco", *coco_args)
    assert "up to date" in run_in_process("coco", *coco_args).stdout
    path = data / "keywords_coco" / "dataset.json"
    dataset = json.loads(path.read_text())
    train = [image for image in dataset["images"] if image["split"] == "train"]
    train[0]["imgid"], train[1]["imgid"] = train[1]["imgid"], train[0]["imgid"]
    path.write_text(json.dumps(dataset))
    assert "wrote:" in run_in_process("coco", *coco_args).stdout
    manifest = json.loads((out / "manifest_coco_sk_6.json").read_text())
    assert manifest["inputs"]["coco dataset.json"]["path"] == str(path)


def test_outputs_are_readable_as_np_save_would_leave_them(tmp_path):
    out = tmp_path / "out"
    run_in_process("clickture", "--sample", "--out-dir", out, "--quiet")
    umask = os.umask(0)
    os.umask(umask)
    for name in os.listdir(out):
        assert os.stat(out / name).st_mode & 0o777 == 0o666 & ~umask, name
