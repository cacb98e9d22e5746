"""Bad input: one clear line on stderr, non-zero exit, no traceback, earlier outputs intact."""
import os
import pickle
import shutil
import zipfile

import numpy as np
import pytest
from conftest import CLICKTURE, MSCOCO, clickture_args, one_line, run, run_in_process

from amc_keywords import sample
from amc_keywords.idmap import read_id_map

LFS = b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 123\n"


@pytest.fixture(scope="module")
def good_clickture(tmp_path_factory):
    folder = tmp_path_factory.mktemp("good_clickture")
    sample.make_clickture(folder, 200, 150, seed=1)
    return folder


@pytest.fixture
def data(good_clickture, tmp_path):
    """A private copy of good data, and an output folder holding a previous good run."""
    copy = tmp_path / "data"
    shutil.copytree(good_clickture, copy)
    out = tmp_path / "out"
    run_in_process("clickture", *clickture_args(copy, out))
    return copy, out


def snapshot(folder):
    return {p: open(os.path.join(folder, p), "rb").read() for p in sorted(os.listdir(folder))}


def expect_error(script, args, out, *phrases):
    """Run, and check the contract: non-zero, one stderr line with the phrases, outputs intact."""
    before = snapshot(out) if os.path.isdir(out) else None
    line = one_line(run(script, *args, check=False), *phrases)
    if before is not None:
        assert snapshot(out) == before  # earlier outputs byte-identical, no temporaries left
    return line


def members(archive):
    with zipfile.ZipFile(archive) as zf:
        return [(i.filename, zf.read(i)) for i in zf.infolist() if not i.is_dir()]


def replace_member(archive, name, data, stored=False):
    """Rewrite ``archive`` with member ``name`` holding ``data``."""
    rows = [(n, data if n == name else d) for n, d in members(archive)]
    assert any(n == name for n, _ in rows)
    with zipfile.ZipFile(archive, "w") as zf:
        for n, d in rows:
            kind = zipfile.ZIP_STORED if stored and n == name else zipfile.ZIP_DEFLATED
            zf.writestr(zipfile.ZipInfo(n, sample.TIMESTAMP), d, compress_type=kind)


# ---- archives ------------------------------------------------------------------------------

def test_archive_missing_names_path_and_download(data):
    folder, out = data
    os.remove(folder / "keywords_lite.zip")
    expect_error(CLICKTURE, clickture_args(folder, out), out,
                 str(folder / "keywords_lite.zip"), "not found", "download")


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_member_twice_in_archive(data):
    folder, out = data
    rows = members(folder / "keywords_dev.zip")
    name, raw = next((n, d) for n, d in rows if n.endswith("00000007.json"))
    with zipfile.ZipFile(folder / "keywords_dev.zip", "a") as zf:
        zf.writestr(zipfile.ZipInfo(name, sample.TIMESTAMP), raw)  # zipfile warns, and adds it
    expect_error(CLICKTURE, clickture_args(folder, out), out, "keywords_dev.zip",
                 f"'{name}' is in the archive twice")


def test_archive_not_a_zip(data):
    folder, out = data
    (folder / "keywords_dev.zip").write_bytes(b"<html>Google Drive: virus scan warning</html>")
    expect_error(CLICKTURE, clickture_args(folder, out), out, "keywords_dev.zip",
                 "not a valid zip")


def test_archive_truncated(data):
    folder, out = data
    raw = (folder / "keywords_dev.zip").read_bytes()
    (folder / "keywords_dev.zip").write_bytes(raw[: len(raw) // 2])
    expect_error(CLICKTURE, clickture_args(folder, out), out, "keywords_dev.zip",
                 "truncated")


def test_archive_truncated_inside_member_data(data):
    """The directory survives but a member's bytes are gone: found when the member is read."""
    folder, out = data
    path = folder / "keywords_lite.zip"
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("keywords_lite/00000100.json")
    raw = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename) + 4
    raw[start:start + 4] = b"PK\x05\x06"  # not fatal alone; now cut the member's data short
    del raw[start: start + 200]
    path.write_bytes(bytes(raw))
    line = expect_error(CLICKTURE, clickture_args(folder, out), out, "keywords_lite.zip")
    assert "download it again" in line


def test_archive_crc_error_names_member(data):
    folder, out = data
    path = folder / "keywords_dev.zip"
    name = "keywords_dev/00000042.json"
    replace_member(path, name, members(path)[3][1], stored=True)
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(name)
    raw = bytearray(path.read_bytes())
    raw[info.header_offset + 30 + len(name) + 10] ^= 0x20  # flip a bit of the stored data
    path.write_bytes(bytes(raw))
    expect_error(CLICKTURE, clickture_args(folder, out), out, "keywords_dev.zip", name,
                 "CRC check failed")


def test_archive_empty(data):
    folder, out = data
    zipfile.ZipFile(folder / "keywords_lite.zip", "w").close()
    expect_error(CLICKTURE, clickture_args(folder, out), out, "keywords_lite.zip",
                 "no .json keyword file")


# ---- keyword files -------------------------------------------------------------------------

@pytest.mark.parametrize("content,phrases", [
    (b'{"tagging": {"keywords": ["dog", "cat"]', ["not valid JSON (line 1, column 40"]),
    (b'{"tagging": {"keywords": ["caf\xe9"]}}', ["not UTF-8"]),
    (b'{"id": "\xff", "tagging": {"keywords": ["dog"]}}', ["not UTF-8 (byte 0xff at offset 8"]),
    (b'{"id": "00000007", "scores": []}', ['no ["tagging"]["keywords"] field']),
    (b'{"tagging": {"scores": [0.5]}}', ['no ["tagging"]["keywords"] field']),
    (b'{"tagging": {"keywords": "dog cat"}}', ['is a str, expected a list of strings']),
    (b'{"tagging": {"keywords": ["dog", 7]}}', ['["keywords"][1] is 7, expected a string']),
    (b'{"tagging": {"keywords": ["dog", ["cat"]]}}', ['["keywords"][1] is [\'cat\']']),
    (b'[1, 2]', ['no ["tagging"]["keywords"] field']),
])
def test_bad_keyword_file_names_archive_and_member(data, content, phrases):
    folder, out = data
    name = "keywords_lite/00000007.json"
    replace_member(folder / "keywords_lite.zip", name, content)
    expect_error(CLICKTURE, clickture_args(folder, out), out, f"keywords_lite.zip: {name}",
                 *phrases)


def test_bad_keyword_file_in_folder_names_file(data):
    folder, out = data
    with zipfile.ZipFile(folder / "keywords_dev.zip") as zf:
        zf.extractall(folder)
    os.remove(folder / "keywords_dev.zip")
    (folder / "keywords_dev" / "00000011.json").write_bytes(b"{not json")
    expect_error(CLICKTURE, clickture_args(folder, out), out,
                 str(folder / "keywords_dev" / "00000011.json"), "not valid JSON")


def test_list_entry_without_keyword_file(data):
    folder, out = data
    with open(folder / "clickture-dev.lst", "a") as f:
        f.write("00099999\n")
    (folder / "img_id_map_dev.pkl").write_bytes(
        sample.py2_pickle({f"img{i}": i for i in [*range(200), 99999]}))
    expect_error(CLICKTURE, clickture_args(folder, out), out, "keywords_dev.zip",
                 "'00099999'", "no keyword file")


def test_list_entry_without_file_in_folder(data):
    folder, out = data
    with zipfile.ZipFile(folder / "keywords_lite.zip") as zf:
        zf.extractall(folder)
    os.remove(folder / "keywords_lite.zip")
    os.remove(folder / "keywords_lite" / "00000005.json")
    expect_error(CLICKTURE, clickture_args(folder, out), out, "00000005.json",
                 "no keyword file for list entry '00000005'")


# ---- lists and maps ------------------------------------------------------------------------

def test_entry_listed_twice(data):
    folder, out = data
    with open(folder / "clickture-lite.lst", "a") as f:
        f.write("00000003\n")
    expect_error(CLICKTURE, clickture_args(folder, out), out, "clickture-lite.lst",
                 "image id 3 is listed twice", "'00000003'")


@pytest.mark.parametrize("entry", ["img_0003", "sub/12a", "+17", "1_000"])
def test_entry_not_an_integer(data, entry):
    folder, out = data
    with open(folder / "clickture-dev.lst", "a") as f:
        f.write(entry + "\n")
    expect_error(CLICKTURE, clickture_args(folder, out), out, "clickture-dev.lst: line 201",
                 f"'{entry}'", "not an integer")


def test_image_id_absent_from_map(data):
    folder, out = data
    (folder / "img_id_map_dev.pkl").write_bytes(
        sample.py2_pickle({f"img{i}": i for i in range(199)}))  # id 199 missing
    expect_error(CLICKTURE, clickture_args(folder, out), out, "img_id_map_dev.pkl",
                 "image id 199", "not in the id map")


@pytest.mark.parametrize("obj,phrase", [
    ([1, 2, 3], "expected a non-empty {image name: id} dict, found list"),
    ({}, "found dict (empty)"),
    ({"img1": "one"}, "expected a string name and a non-negative integer id"),
    ({"img1": -4}, "expected a string name and a non-negative integer id"),
    ({"img1": 1, "img2": 1}, "id 1 is given to two names"),
])
def test_map_not_a_name_to_id_dict(data, obj, phrase):
    folder, out = data
    (folder / "img_id_map.pkl").write_bytes(pickle.dumps(obj, protocol=2))
    expect_error(CLICKTURE, clickture_args(folder, out), out, "img_id_map.pkl", phrase)


def test_map_not_a_pickle(data):
    folder, out = data
    (folder / "img_id_map.pkl").write_bytes(b"\x80\x02}q\x01(U\x08img5")  # truncated
    expect_error(CLICKTURE, clickture_args(folder, out), out, "img_id_map.pkl",
                 "not a readable {image name: id} pickle")


def test_pickle_that_runs_code_is_refused_and_not_run(data, tmp_path):
    folder, out = data
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    (folder / "img_id_map_dev.pkl").write_bytes(pickle.dumps({"img1": Evil()}, protocol=2))
    expect_error(CLICKTURE, clickture_args(folder, out), out, "img_id_map_dev.pkl",
                 "only a plain {name: id} dict is allowed")
    assert not marker.exists()


def test_py2_pickle_read_byte_exactly():
    # What Python 2's cPickle writes for {'img57159': 57159, 'img3': 3} (protocol 2).
    raw = b"\x80\x02}q\x01(U\x08img57159MG\xdfU\x04img3K\x03u."
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"py2map{os.getpid()}.pkl")
    with open(path, "wb") as f:
        f.write(raw)
    ids, names = read_id_map(path)
    os.remove(path)
    assert ids.tolist() == [3, 57159] and names.tolist() == [b"img3", b"img57159"]
    assert sample.py2_pickle({"img57159": 57159, "img3": 3}) == raw


def test_real_dev_map_and_list_shipped_in_clickture():
    from conftest import REAL_DEV_LIST, REAL_DEV_MAP
    ids, names = read_id_map(REAL_DEV_MAP)
    assert len(ids) == 79665 and ids.tolist() == list(range(79665))
    assert names[57159] == b"img57159"
    with open(REAL_DEV_LIST, "rb") as f:
        entries = [line.strip() for line in f if line.strip()]
    assert sorted(int(e.rsplit(b"/", 1)[-1]) for e in entries) == ids.tolist()


@pytest.mark.parametrize("which", ["list", "map", "both"])
def test_lfs_pointers_fall_back_with_a_notice(data, which):
    folder, out = data
    if which in ("list", "both"):
        (folder / "clickture-lite.lst").write_bytes(LFS)
    if which in ("map", "both"):
        (folder / "img_id_map.pkl").write_bytes(LFS)
    proc = run_in_process("clickture", *clickture_args(folder, out))
    rows = np.load(out / "img_keyword_ind_clickture_lite_sk_6_sparse.npy")
    table = np.load(out / "img_keyword_range_clickture_lite_sk_6.npy")
    assert "Traceback" not in proc.stderr
    if which != "map":
        assert "clickture-lite.lst: a Git LFS pointer, not the file itself (git lfs pull" \
            in proc.stderr
        assert np.all(np.diff(rows[:, 0]) >= 0)  # ordered by id
        assert len(table) == 150
    if which != "list":
        assert "img_id_map.pkl: a Git LFS pointer, not the file itself (git lfs pull" \
            in proc.stderr
    # Names come from the map when there is one, else from the keyword file names.
    names = np.load(out / "img_names_clickture_lite.npy")
    assert names[7] == (b"lite_img7" if which == "list" else b"00000007")


def test_a_missing_list_is_said_to_be_missing(data):
    folder, out = data
    os.remove(folder / "clickture-lite.lst")
    proc = run_in_process("clickture", *clickture_args(folder, out))
    assert "clickture-lite.lst: missing (it comes from the original repository's clickture/ " \
        "folder, where git lfs pull fetches it)" in proc.stderr


# ---- COCO ----------------------------------------------------------------------------------

@pytest.fixture
def coco(tmp_path):
    folder = tmp_path / "coco"
    folder.mkdir()
    sample.make_coco(str(folder), 120, 40, 10, seed=3)
    out = tmp_path / "out"
    run_in_process("coco", "--keyword-dir", folder, "--out-dir", out, "--quiet")
    return folder, out


def set_dataset(folder, raw):
    replace_member(folder / "keywords_coco.zip", "keywords_coco/dataset.json", raw)


def coco_images(folder):
    import json
    with zipfile.ZipFile(folder / "keywords_coco.zip") as zf:
        return json.loads(zf.read("keywords_coco/dataset.json"))


def coco_args(folder, out):
    return ["--keyword-dir", folder, "--out-dir", out, "--quiet"]


def test_coco_dataset_json_missing(coco):
    folder, out = coco
    rows = [(n, d) for n, d in members(folder / "keywords_coco.zip") if "dataset" not in n]
    sample.write_zip(str(folder / "keywords_coco.zip"), [(n[len("keywords_coco/"):], d)
                                                          for n, d in rows], "keywords_coco")
    expect_error(MSCOCO, coco_args(folder, out), out, "keywords_coco/dataset.json",
                 "not found")


def test_coco_dataset_json_not_json(coco):
    folder, out = coco
    set_dataset(folder, b'{"images": [')
    expect_error(MSCOCO, coco_args(folder, out), out, "dataset.json", "not valid JSON")


def test_coco_dataset_json_without_images(coco):
    folder, out = coco
    set_dataset(folder, b'{"dataset": "coco"}')
    expect_error(MSCOCO, coco_args(folder, out), out, "dataset.json", '"images" list')


@pytest.mark.parametrize("field", ["split", "filename", "imgid"])
def test_coco_image_without_field(coco, field):
    import json
    folder, out = coco
    dataset = coco_images(folder)
    del dataset["images"][5][field]
    set_dataset(folder, json.dumps(dataset).encode())
    expect_error(MSCOCO, coco_args(folder, out), out, "dataset.json", "images[5]",
                 f'"{field}"')


def test_coco_duplicate_imgid(coco):
    import json
    folder, out = coco
    dataset = coco_images(folder)
    train = [im for im in dataset["images"] if im["split"] == "train"]
    train[1]["imgid"] = train[0]["imgid"]
    set_dataset(folder, json.dumps(dataset).encode())
    expect_error(MSCOCO, coco_args(folder, out), out, "dataset.json",
                 f"image id {train[0]['imgid']} is listed twice")


# ---- options -------------------------------------------------------------------------------

@pytest.mark.parametrize("args,phrase", [
    (["--min-df", "0"], "argument --min-df: expected a positive integer, got '0'"),
    (["--min-df", "six"], "argument --min-df: expected a positive integer, got 'six'"),
    (["--vocab-from", "test"], "argument --vocab-from: invalid choice: 'test'"),
    (["--stop-words", "french"], "argument --stop-words: invalid choice"),
    (["--jobs", "-1"], "argument --jobs"),
])
def test_bad_options(data, args, phrase):
    folder, out = data
    expect_error(CLICKTURE, clickture_args(folder, out) + args, out, phrase)


def test_unknown_split(coco):
    folder, out = coco
    expect_error(MSCOCO, coco_args(folder, out) + ["--splits", "train,dev"], out,
                 "unknown split 'dev'", "train,restval,val,test")


def test_min_df_too_high_names_largest_value(data):
    folder, out = data
    line = expect_error(CLICKTURE, clickture_args(folder, out) + ["--min-df", "5000"], out,
                        "--min-df 5000 is too high", "the largest value that keeps a word is")
    largest = int(line.rsplit(" ", 1)[-1].rstrip(")"))
    assert 1 < largest < 200
    # and it does keep one
    run_in_process("clickture", *clickture_args(folder, out), "--min-df", largest)
    expect_error(CLICKTURE, clickture_args(folder, out) + ["--min-df", str(largest + 1)], out,
                 f"largest value that keeps a word is {largest}")


def test_output_folder_not_writable(data, tmp_path):
    folder, _ = data
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    expect_error(CLICKTURE, clickture_args(folder, blocker / "out"), blocker,
                 str(blocker / "out"), f"{blocker} is a file, not a folder", "--out-dir")


def test_full_disk_is_one_line_naming_the_output_folder(data):
    """A write that fails for want of room (here: a file-size limit, which fails writes with
    EFBIG as a full disk does with ENOSPC): exit 2, one line naming the folder, earlier
    outputs intact, no temporaries left."""
    import resource
    import signal
    import subprocess
    import sys
    folder, out = data
    before = snapshot(out)

    def limit_file_size():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (4000, 4000))
    # Other stop words, so that the vocabulary is fitted and every file written again.
    proc = subprocess.run([sys.executable, CLICKTURE, *map(str, clickture_args(folder, out)),
                           "--stop-words", "none"], capture_output=True, text=True,
                          preexec_fn=limit_file_size, timeout=600)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 3, proc.stderr  # the system: no room
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith(f"error: {out}: cannot write the outputs (File too large)")
    assert "--out-dir" in lines[0]
    assert snapshot(out) == before


# ---- messages in the user's words ---------------------------------------------------------

# A library's wording that tells a user nothing they can act on.
LIBRARY_WORDS = ["char ", "decode using", "utf-8-sig", "codec", "Errno", "unpack requires",
                 "Expecting", "Error", "opcode b'{'", "stream", "load key", "Ran out of input",
                 "Invalid", "zlib"]


def damaged_zip(path, how):
    sample.write_zip(str(path), [(f"{i:08d}.json", b'{"tagging": {"keywords": ["a dog"]}}' * 50)
                                 for i in range(3)], "keywords_dev")
    raw = bytearray(path.read_bytes())
    if how == "cut":
        del raw[len(raw) - 30:]
    elif how == "record":  # the end record points the directory past the file's end
        end = raw.rfind(b"PK\x05\x06")
        raw[end + 16:end + 20] = (len(raw) - 10).to_bytes(4, "little")
    else:  # the first member's compressed data overwritten
        start = 30 + len(b"keywords_dev/00000000.json")
        raw[start:start + 8] = b"\xff" * 8
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("kind,raw_or_how", [
    ("map", pickle.dumps({"img1": 1}, protocol=2)[:-3]), ("map", b"garbage here"),
    ("map", b"\x1f\x8b\x08\x00abc"), ("map", b"\x80\x02}q\x00"),
    ("zip", "cut"), ("zip", "record"), ("zip", "member"),
    ("manifest", b"\xef\xbb\xbf{\"format\": 1,}"), ("vocabulary", b"{\"words\": [\"a\"]"),
    ("vocabulary", "{}".encode("utf-16")),
])
def test_messages_are_in_the_user_s_words(tmp_path, kind, raw_or_how):
    """Damaged maps, archives, manifests and vocabularies: the message names the file and
    says what is wrong and what to do, without a library's wording."""
    from amc_keywords import manifest
    from amc_keywords.errors import InputError
    from amc_keywords.vocabulary import Vocabulary
    from amc_keywords.zip_reader import ZipDirectory, read_members
    path = tmp_path / {"map": "map.pkl", "zip": "keywords_dev.zip", "manifest": "m.json",
                       "vocabulary": "v.json"}[kind]
    if kind == "zip":
        damaged_zip(path, raw_or_how)
    else:
        path.write_bytes(raw_or_how)
    with pytest.raises(InputError) as refused:
        if kind == "map":
            read_id_map(str(path))
        elif kind == "zip":
            directory = ZipDirectory(str(path))
            list(read_members(str(path), directory.top, directory.keys, directory.table))
        elif kind == "manifest":
            manifest.load(str(path))
        else:
            Vocabulary.load(str(path))
    message = str(refused.value)
    assert message.startswith(f"{path}") and "\n" not in message
    assert not [w for w in LIBRARY_WORDS if w in message], message
    assert any(fix in message for fix in ("download it again", "download the archive again",
                                          "copy or download it again", "expected the pickled",
                                          "refit=True", "save it as UTF-8", "not a manifest",
                                          "decompress it")), \
        message
