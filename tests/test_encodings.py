"""What Windows tools write: a UTF-8 byte-order mark reads as if absent (the same rows as
without it), in keyword files, dataset.json and the vocabulary and manifest files read back;
another encoding is refused in one line that names it and says to save the file as UTF-8."""
import os
import shutil
import zipfile

import numpy as np
import pytest
from conftest import clickture_args, run_in_process

from amc_keywords import manifest, sample
from amc_keywords.errors import InputError
from amc_keywords.json_files import parse_json
from amc_keywords.vocabulary import Vocabulary

BOM = b"\xef\xbb\xbf"
DEV = "img_keyword_ind_clickture_dev_sk_6_sparse.npy"


def rewrite_members(archive, change, which=lambda name: name.endswith(".json")):
    """Rewrite ``archive`` with ``change(bytes)`` applied to the members ``which`` picks."""
    with zipfile.ZipFile(archive) as zf:
        rows = [(i, zf.read(i)) for i in zf.infolist()]
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for info, raw in rows:
            zf.writestr(info, change(raw) if which(info.filename) else raw)


def arrays(folder):
    """The output arrays of a folder (the vocabulary and manifest record the inputs'
    fingerprints, which differ between two versions of an input)."""
    return {name: np.load(os.path.join(folder, name)) for name in sorted(os.listdir(folder))
            if name.endswith(".npy")}


def assert_same_arrays(a, b):
    first, second = arrays(a), arrays(b)
    assert sorted(first) == sorted(second) and first
    for name in first:
        np.testing.assert_array_equal(first[name], second[name], err_msg=name)


@pytest.fixture(scope="module")
def clickture(tmp_path_factory):
    """Clickture data, and the outputs of a run on it."""
    folder = tmp_path_factory.mktemp("encodings")
    sample.make_clickture(folder / "data", 200, 150, seed=5, hard=True)
    run_in_process("clickture", *clickture_args(folder / "data", folder / "out"))
    return folder / "data", folder / "out"


def test_keyword_files_with_a_bom_give_the_same_rows(clickture, tmp_path):
    data, out = clickture
    copy = tmp_path / "data"
    shutil.copytree(data, copy)
    rewrite_members(copy / "keywords_lite.zip", lambda raw: BOM + raw)
    # Unzipped, too: a folder of files an editor saved.
    with zipfile.ZipFile(copy / "keywords_dev.zip") as zf:
        zf.extractall(copy)
    os.remove(copy / "keywords_dev.zip")
    for name in os.listdir(copy / "keywords_dev"):
        path = copy / "keywords_dev" / name
        path.write_bytes(BOM + path.read_bytes())
    run_in_process("clickture", *clickture_args(copy, tmp_path / "out"))
    assert_same_arrays(out, tmp_path / "out")


def test_dataset_json_with_a_bom_gives_the_same_rows(tmp_path):
    sample.make_coco(str(tmp_path), 120, 40, 10, seed=3, hard=True)
    run_in_process("coco", "--keyword-dir", tmp_path, "--out-dir", tmp_path / "plain")
    rewrite_members(tmp_path / "keywords_coco.zip", lambda raw: BOM + raw,
                    lambda name: name.endswith("/dataset.json"))
    run_in_process("coco", "--keyword-dir", tmp_path, "--out-dir", tmp_path / "bom")
    assert_same_arrays(tmp_path / "plain", tmp_path / "bom")


def test_a_vocabulary_and_a_manifest_with_a_bom_read_as_without(clickture, tmp_path):
    _, out = clickture
    for name in ("vocabulary_clickture_sk_6.json", "manifest_clickture_sk_6.json"):
        (tmp_path / name).write_bytes(BOM + (out / name).read_bytes())
    vocabulary = Vocabulary.load(str(tmp_path / "vocabulary_clickture_sk_6.json"))
    plain = Vocabulary.load(str(out / "vocabulary_clickture_sk_6.json"))
    assert vocabulary.to_json() == plain.to_json()
    assert manifest.load(str(tmp_path / "manifest_clickture_sk_6.json")) == \
        manifest.load(str(out / "manifest_clickture_sk_6.json"))


TEXT = '{"tagging": {"keywords": ["café", "dog"]}}'
OTHER_ENCODINGS = [
    (TEXT.encode("utf-16"), "UTF-16 text (it begins with a UTF-16 byte-order mark)"),
    (TEXT.encode("utf-16-be"), "holds NUL bytes (UTF-16 or UTF-32 text"),
    (TEXT.encode("utf-32"), "UTF-32 text (it begins with a UTF-32 byte-order mark)"),
    (TEXT.encode("latin-1"), f"not UTF-8 (byte 0xe9 at offset {TEXT.index('é')}: Latin-1 or "
                             "Windows-1252"),
]


@pytest.mark.parametrize("raw,phrase", OTHER_ENCODINGS)
def test_another_encoding_is_refused_in_one_line(clickture, tmp_path, raw, phrase):
    data, _ = clickture
    copy = tmp_path / "data"
    shutil.copytree(data, copy)
    rewrite_members(copy / "keywords_dev.zip", lambda _: raw,
                    lambda name: name.endswith("/00000007.json"))
    proc = run_in_process("clickture", *clickture_args(copy, tmp_path / "out"), check=False)
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(f"error: {copy / 'keywords_dev.zip'}: keywords_dev/00000007.json: ")
    assert phrase in line and line.endswith("save it as UTF-8 (in an editor's Save As, or "
                                            "iconv -t UTF-8)"), line
    assert not (tmp_path / "out").exists() or not os.listdir(tmp_path / "out")


@pytest.mark.parametrize("raw,reason", [
    (b"", "empty: no JSON in it"),
    (b'{"a": 1,}', "not valid JSON (line 1, column 9: expected a name in double quotes)"),
    (b'{"a": 1}\n{"b": 2}', "not valid JSON (line 2, column 1: more text after the end of "
                            "the JSON value)"),
    (b'{"a": "x\ty"}', "not valid JSON (line 1, column 9: a tab, newline or other control "
                       "character inside a string (write it as \\t, \\n, ...))"),
])
def test_broken_json_is_said_in_a_user_s_words(raw, reason):
    with pytest.raises(InputError) as refused:
        parse_json(raw, "f.json")
    assert str(refused.value) == f"f.json: {reason}"
    assert "char " not in str(refused.value) and "decode" not in str(refused.value)
