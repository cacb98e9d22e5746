"""Lists as people save them, unzipped folders that are empty or partial, image ids that would
size the tables absurdly, and keys that would reach outside the keyword folder.

Each case is compared with plain code (a list read as ``line.strip()`` reads it, the id rule
written out) or with the run on the clean input, byte for byte; bad input is one line."""
import builtins
import os
import random
import shutil
import zipfile

import numpy as np
import pytest
from conftest import (
    CLICKTURE,
    MSCOCO,
    REAL_DEV_LIST,
    clickture_args,
    one_line,
    run,
    run_in_process,
)

from amc_keywords import sample
from amc_keywords.entry_checks import check_keys, check_largest_id, id_limit
from amc_keywords.errors import QUOTED_WIDTH, InputError
from amc_keywords.lists import entries_from_map, entries_from_source, read_list
from amc_keywords.sources import FolderSource

LISTS = ("clickture-dev.lst", "clickture-lite.lst")
MAPS = ("img_id_map_dev.pkl", "img_id_map.pkl")


def plain_list(raw):
    """The entries the original script reads: each line's ``strip()``, empty lines skipped."""
    text = raw.decode("utf-8-sig")
    return [line.strip() for line in text.split("\n") if line.strip()]


def plain_id(entry):
    return int(entry.rsplit("/", 1)[-1])


def saved_as_windows(raw):
    """A list as a Windows editor saves it: BOM, CRLF, blanks after entries, empty lines,
    no final line end."""
    lines = raw.decode("utf-8").split("\n")
    out = []
    for i, line in enumerate(lines):
        if line:
            out.append(line + (" \t" if i % 3 == 0 else " " if i % 3 == 1 else ""))
        if i % 50 == 0:
            out.append("")  # an empty line
            out.append("   ")  # and a blank one
    return b"\xef\xbb\xbf" + "\r\n".join(out).rstrip("\r\n").encode("utf-8")


def outputs(folder):
    return {name: (folder / name).read_bytes() for name in sorted(os.listdir(folder))
            if name.endswith(".npy")}


@pytest.fixture
def data(hard_clickture, tmp_path):
    copy = tmp_path / "data"
    shutil.copytree(hard_clickture, copy)
    return copy


# ---- 1. lists as people save them -----------------------------------------------------------

VARIANTS = {
    "crlf": lambda raw: raw.replace(b"\n", b"\r\n"),
    "bom": lambda raw: b"\xef\xbb\xbf" + raw,
    "blanks and empty lines": lambda raw: b"\n\n" + raw.replace(b"\n", b"  \n\n\t\n") + b"\n\n",
    "no final line end": lambda raw: raw.rstrip(b"\n"),
    "windows editor": saved_as_windows,
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_saved_list_gives_the_entries_of_strip(hard_clickture, tmp_path, variant):
    for name in LISTS:
        raw = (hard_clickture / name).read_bytes()
        path = tmp_path / name
        path.write_bytes(VARIANTS[variant](raw))
        expected = plain_list(raw)
        assert plain_list(path.read_bytes()) == expected  # the variant is the same list
        entries = read_list(str(path))
        assert [k.decode() for k in entries.keys] == expected
        assert entries.ids.tolist() == [plain_id(e) for e in expected]


@pytest.mark.parametrize("maps", ["with maps", "map-less"])
def test_windows_saved_lists_give_byte_identical_rows(data, tmp_path, maps):
    """Dev and Lite lists saved by a Windows editor (BOM, CRLF, blanks, empty lines): the
    same output files, byte for byte, as the clean lists; with and without the id maps."""
    if maps == "map-less":
        for name in MAPS:
            os.remove(data / name)
    clean_out, saved_out = tmp_path / "clean", tmp_path / "saved"
    run_in_process("clickture", *clickture_args(data, clean_out), "--quiet")
    for name in LISTS:
        (data / name).write_bytes(saved_as_windows((data / name).read_bytes()))
    run_in_process("clickture", *clickture_args(data, saved_out), "--quiet")
    clean, saved = outputs(clean_out), outputs(saved_out)
    assert {"img_keyword_ind_clickture_dev_sk_6_sparse.npy",
            "img_keyword_ind_clickture_lite_sk_6_sparse.npy"} <= set(clean)
    assert saved == clean


def test_real_dev_list_saved_with_crlf_and_bom(tmp_path):
    with open(REAL_DEV_LIST, "rb") as f:
        raw = f.read()
    path = tmp_path / "clickture-dev.lst"
    path.write_bytes(b"\xef\xbb\xbf" + raw.replace(b"\n", b"\r\n"))
    entries, clean = read_list(str(path)), read_list(REAL_DEV_LIST)
    expected = plain_list(raw)
    assert len(expected) == len(entries) == 79665
    assert entries.keys.tolist() == clean.keys.tolist() == [e.encode() for e in expected]
    assert entries.ids.tolist() == clean.ids.tolist() == [plain_id(e) for e in expected]


@pytest.mark.parametrize("raw", [b"", b"\xef\xbb\xbf", b"\r\n\r\n  \r\n", b" \t\n\n"])
def test_a_list_without_entries_keeps_its_message(tmp_path, raw):
    path = tmp_path / "x.lst"
    path.write_bytes(raw)
    with pytest.raises(InputError, match="the list is empty"):
        read_list(str(path))


@pytest.mark.parametrize("raw,line,phrase", [
    (b"00000001\n00000002\n0000\x000003\n", 3, "a NUL byte: not a text file"),
    ("00000001\r\n00000002\r\n".encode("utf-16"), 1, "a NUL byte: not a text file"),
    (b"00000001\n0000\xe90002\n", 2, "is not UTF-8: not a text file"),
    (b"00000001\n00000002\n\x89PNG\r\n", 3, "is not UTF-8: not a text file"),
    (b"00000001\r00000002\r", 1, "old Mac (CR) line ends"),
])
def test_a_list_that_is_not_text_is_named_with_its_line(tmp_path, raw, line, phrase):
    path = tmp_path / "x.lst"
    path.write_bytes(raw)
    with pytest.raises(InputError) as caught:
        read_list(str(path))
    message = str(caught.value)
    assert message.startswith(f"{path}: line {line}: ") and phrase in message, message


def test_a_binary_list_is_one_line_at_the_command_line(data, tmp_path):
    (data / "clickture-dev.lst").write_bytes(b"00000001\n\0\0\0\x01\x02\n")
    one_line(run(CLICKTURE, *clickture_args(data, tmp_path / "out"), check=False),
             "clickture-dev.lst: line 2", "not a text file")


# ---- 2. empty or partial unzipped folders -----------------------------------------------------

SITUATIONS = {"list and map": (), "map, no list": ("clickture-lite.lst",),
              "no list, no map": ("clickture-lite.lst", "img_id_map.pkl")}


@pytest.mark.parametrize("content", ["empty", "no keyword file"])
@pytest.mark.parametrize("situation", sorted(SITUATIONS))
def test_an_unzipped_folder_without_keyword_files_is_one_line(data, tmp_path, situation,
                                                             content):
    for name in SITUATIONS[situation]:
        os.remove(data / name)
    folder = data / "keywords_lite"
    folder.mkdir()
    if content == "no keyword file":  # what an unzip stopped early, or junk, leaves
        (folder / "README.txt").write_text("not a keyword file")
        (folder / "part1").mkdir()
        (folder / "._00000001.json").write_bytes(b"\0\5")
        (folder / "__MACOSX").mkdir()
        (folder / "__MACOSX" / "00000001.json").write_text("{}")
    line = one_line(run_in_process("clickture", *clickture_args(data, tmp_path / "out"),
                                   check=False),
                    f"{folder}/", "holds no keyword file", "finish unzipping",
                    "remove the folder", str(data / "keywords_lite.zip"))
    assert line.startswith("error: ")


def test_an_empty_folder_without_its_archive_says_to_download(data, tmp_path):
    os.remove(data / "keywords_lite.zip")
    (data / "keywords_lite").mkdir()
    one_line(run_in_process("clickture", *clickture_args(data, tmp_path / "out"), check=False),
             f"{data / 'keywords_lite'}/", "holds no keyword file", "download keywords_lite.zip")


def test_the_tracebacks_of_before_are_gone_at_the_script(data, tmp_path):
    """Without a list, an empty folder gave worker tracebacks (IndexError / ValueError)."""
    os.remove(data / "clickture-lite.lst")
    (data / "keywords_lite").mkdir()
    one_line(run(CLICKTURE, *clickture_args(data, tmp_path / "out"), "--jobs", "2",
                 check=False), "keywords_lite/", "finish unzipping")


@pytest.mark.parametrize("content", ["empty", "keyword files, no dataset.json",
                                     "dataset.json only"])
def test_a_coco_folder_without_dataset_json_or_keyword_files(hard_coco, tmp_path, content):
    data = tmp_path / "coco"
    shutil.copytree(hard_coco, data)
    folder = data / "keywords_coco"
    folder.mkdir()
    with zipfile.ZipFile(data / "keywords_coco.zip") as zf:
        if content == "keyword files, no dataset.json":
            zf.extractall(data, [n for n in zf.namelist() if "dataset.json" not in n][:30])
        elif content == "dataset.json only":
            zf.extract("keywords_coco/dataset.json", data)
    missing = "holds no keyword file" if content == "dataset.json only" else \
        "holds no dataset.json"
    one_line(run(MSCOCO, "--keyword-dir", data, "--out-dir", tmp_path / "out", check=False),
             f"{folder}/", missing, "finish unzipping", "remove the folder",
             str(data / "keywords_coco.zip"))


def test_a_partly_unzipped_folder_names_the_missing_file(data, tmp_path):
    """A listed image whose file is missing: the worker's message (as before), which now also
    says that the folder may be partly unzipped."""
    with zipfile.ZipFile(data / "keywords_lite.zip") as zf:
        zf.extractall(data, zf.namelist()[:200])
    line = one_line(run_in_process("clickture", *clickture_args(data, tmp_path / "out"),
                                   check=False), "no keyword file for list entry",
                    "finish unzipping")
    assert str(data / "keywords_lite") in line


def test_the_fallbacks_refuse_a_source_without_keyword_files(tmp_path):
    """Called directly on an empty folder (open_source refuses it before): one InputError."""
    source = FolderSource(str(tmp_path))
    with pytest.raises(InputError, match="holds no keyword file"):
        entries_from_source(source)
    with pytest.raises(InputError, match="holds no keyword file"):
        entries_from_map((np.arange(3), np.array([b"a", b"b", b"c"])), source, "m.pkl")


# ---- 3. image ids that would size the tables absurdly -----------------------------------------

def plain_limit(n):
    return min(2 ** 31, 100 * n + 1_000_000)


def test_the_id_limit_is_the_rule():
    for n in (0, 1, 401, 79665, 1_000_000, 21_464_836, 21_464_837, 10 ** 9):
        assert id_limit(n) == plain_limit(n)


@pytest.mark.parametrize("n", [1, 7, 1000])
def test_the_largest_id_at_and_beyond_the_limit(n):
    ids = np.arange(n, dtype=np.int64)
    ids[n // 2] = plain_limit(n)
    check_largest_id(ids, lambda i: f"t: line {i + 1}")  # at: accepted
    ids[n // 2] += 1
    with pytest.raises(InputError) as caught:
        check_largest_id(ids, lambda i: f"t: line {i + 1}")
    message = str(caught.value)
    assert message.startswith(f"t: line {n // 2 + 1}: image id {plain_limit(n) + 1} ")
    assert "too large" in message and "100 x the number of images + 1,000,000" in message


def test_an_absurd_id_in_the_list_is_refused_before_any_table(data, tmp_path):
    """It ended in "out of memory" (a 9-trillion-row range table)."""
    os.remove(data / "img_id_map.pkl")  # else the map refuses the id first
    lines = (data / "clickture-lite.lst").read_text().splitlines()
    (data / "clickture-lite.lst").write_text("\n".join(lines + ["9000000000123"]) + "\n")
    one_line(run(CLICKTURE, *clickture_args(data, tmp_path / "out"), check=False),
             f"clickture-lite.lst: line {len(lines) + 1}", "'9000000000123'",
             "image id 9000000000123 is too large", "2**31")


def test_an_absurd_id_in_a_map_or_folder_or_dataset_json(data, tmp_path, hard_coco):
    ids = np.array([0, 1, 9000000000123], np.int64)
    names = np.array([b"img0", b"img1", b"imgbig"])
    with pytest.raises(InputError, match=r"^m\.pkl: image 'imgbig': image id 9000000000123 is "
                                         "too large"):
        entries_from_map((ids, names), FolderSource(str(tmp_path)), "m.pkl")
    folder = tmp_path / "keywords"
    folder.mkdir()
    for name in ("00000001", "9000000000123"):
        (folder / f"{name}.json").write_text('{"tagging": {"keywords": []}}')
    with pytest.raises(InputError, match="9000000000123.json: image id 9000000000123 is too "
                                         "large"):
        entries_from_source(FolderSource(str(folder)))
    from amc_keywords.lists import read_karpathy_images
    raw = ('{"images": [{"split": "train", "filename": "a.jpg", "imgid": 0}, '
           '{"split": "train", "filename": "b.jpg", "imgid": 9000000000123}]}').encode()
    with pytest.raises(InputError, match=r"^d\.json: images\[1\] \('b\.jpg'\): \"imgid\": "
                                         "image id 9000000000123 is too large"):
        read_karpathy_images(raw, "d.json", ("train",))


# ---- 4. nothing read outside the keyword folder -----------------------------------------------

def plain_safe(key):
    """A key names a file inside the folder: relative, plain components, no backslash or NUL,
    no drive."""
    parts = key.split("/")
    return not (key.startswith("/") or "\\" in key or "\0" in key or ":" in key or
                any(p in ("", ".", "..") for p in parts))


def test_check_keys_is_the_plain_rule():
    rng = random.Random(5)
    alphabet = ["a", "0", "/", ".", "..", "\\", ":", "\0", "sub", "../", "/."]
    keys = {"00048500", "sub/00048500", "part3/00000010", "keyword_train/COCO_x_0001",
            "a/...", "a/..b", ".hidden/1", "../planted/00000999", "/abs/00000001", "a/./b",
            "a//b", "a/", ".", "..", "c:/x", "sub\\x", "a\0b"}
    keys |= {"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6)))
             for _ in range(3000)}
    for key in sorted(keys):
        raw = np.array([key.encode()])
        if raw[0] != key.encode():  # numpy drops trailing NULs: not a key a file holds
            continue
        if plain_safe(key):
            check_keys(raw, lambda i: "t")
            root = "/data/keywords_dev"
            assert os.path.normpath(os.path.join(root, key)).startswith(root + "/")
        else:
            with pytest.raises(InputError, match="^t: entry '.*': the path "):
                check_keys(raw, lambda i: "t")


def unzipped(data, set_name="dev"):
    with zipfile.ZipFile(data / f"keywords_{set_name}.zip") as zf:
        zf.extractall(data)
    os.remove(data / f"keywords_{set_name}.zip")


def plant(data):
    """A readable keyword file one level above the keyword folder."""
    planted = data / "planted"
    planted.mkdir()
    (planted / "00000005.json").write_text('{"tagging": {"keywords": ["planted"]}}')
    return planted


class OpenRecorder:
    """Every path this process opens, through open() and os.open()."""

    def __init__(self, monkeypatch):
        self.paths = []
        real_open, real_os_open = builtins.open, os.open

        def recording_open(file, *args, **kwargs):
            self.paths.append(os.fspath(file) if not isinstance(file, int) else "")
            return real_open(file, *args, **kwargs)

        def recording_os_open(path, *args, **kwargs):
            self.paths.append(os.fspath(path))
            return real_os_open(path, *args, **kwargs)
        monkeypatch.setattr(builtins, "open", recording_open)
        monkeypatch.setattr(os, "open", recording_os_open)

    def touched(self, folder):
        return [p for p in self.paths if os.path.realpath(p).startswith(str(folder))]


@pytest.mark.parametrize("form", ["relative", "absolute"])
@pytest.mark.parametrize("source", ["folder", "archive"])
def test_a_list_entry_outside_the_folder_is_never_read(data, tmp_path, monkeypatch, form,
                                                      source):
    if source == "folder":
        unzipped(data)
    planted = plant(data)
    entry = "../planted/00000005" if form == "relative" else str(planted / "00000005")
    lines = (data / "clickture-dev.lst").read_text().splitlines()
    at = lines.index("00000005")  # image 5 is listed once: at the planted file now
    lines[at] = entry
    (data / "clickture-dev.lst").write_text("\n".join(lines) + "\n")
    recorder = OpenRecorder(monkeypatch)
    proc = run_in_process("clickture", *clickture_args(data, tmp_path / "out"), "--jobs", "1",
                          check=False)
    monkeypatch.undo()
    assert recorder.touched(planted) == []
    one_line(proc, f"clickture-dev.lst: line {at + 1}", f"entry '{entry[:QUOTED_WIDTH]}",
             "absolute path" if form == "absolute" else "'..' component")


def test_a_coco_filename_outside_the_folder_is_refused(hard_coco, tmp_path):
    import json
    data = tmp_path / "coco"
    shutil.copytree(hard_coco, data)
    with zipfile.ZipFile(data / "keywords_coco.zip") as zf:
        members = [(n, zf.read(n)) for n in zf.namelist() if not n.endswith("/")]
    for filename, phrase in (("../../planted/x.jpg", "'..' component"),
                             ("/etc/x.jpg", "absolute path"), ("a\\..\\x.jpg", "backslash")):
        rewritten = []
        for name, raw in members:
            if name == "keywords_coco/dataset.json":
                dataset = json.loads(raw)
                i = next(i for i, im in enumerate(dataset["images"]) if im["split"] == "train")
                dataset["images"][i]["filename"] = filename
                raw = json.dumps(dataset).encode()
            rewritten.append((name[len("keywords_coco/"):], raw))
        sample.write_zip(str(data / "keywords_coco.zip"), rewritten, "keywords_coco")
        one_line(run_in_process("coco", "--keyword-dir", data, "--out-dir", tmp_path / "out",
                                check=False),
                 f"dataset.json: images[{i}]: \"filename\"", phrase)


def test_folder_prefixes_and_the_archive_top_still_work(data, tmp_path):
    """Entries with a folder prefix (``part3/00000010``, in the hard lists) and entries
    written from the archive root (``keywords_dev/...``): the same rows as before."""
    assert any("/" in line for line in (data / "clickture-dev.lst").read_text().splitlines())
    clean_out, top_out = tmp_path / "clean", tmp_path / "top"
    run_in_process("clickture", *clickture_args(data, clean_out), "--quiet")
    lines = (data / "clickture-dev.lst").read_text().splitlines()
    (data / "clickture-dev.lst").write_text(
        "".join((f"keywords_dev/{e}" if i % 2 else e) + "\n" for i, e in enumerate(lines)))
    run_in_process("clickture", *clickture_args(data, top_out), "--quiet")
    assert outputs(top_out) == outputs(clean_out)


@pytest.mark.parametrize("without", ["list", "list and map"])
def test_an_archive_whose_top_folder_holds_one_of_the_same_name(data, tmp_path, without):
    """Keys the fallbacks take from the archive (``keywords_dev/keywords_dev/<id>.json``,
    read as ``keywords_dev/<id>`` inside the top folder) are not stripped a second time, as
    a list's entries written from the archive root are: the same rows as the plain layout."""
    for list_name, map_name in zip(LISTS, MAPS):
        (data / list_name).unlink()
        if without == "list and map":
            (data / map_name).unlink()
    clean_out, nested_out = tmp_path / "clean", tmp_path / "nested"
    run_in_process("clickture", *clickture_args(data, clean_out), "--quiet")
    for set_name in ("dev", "lite"):
        archive = data / f"keywords_{set_name}.zip"
        with zipfile.ZipFile(archive) as zf:
            members = [(info.filename, zf.read(info)) for info in zf.infolist()
                       if not info.is_dir()]
        top = f"keywords_{set_name}"
        sample.write_zip(str(archive), members, top)
        with zipfile.ZipFile(archive) as zf:
            assert all(n.startswith(f"{top}/{top}/") for n in zf.namelist()
                       if n.endswith(".json") and "__MACOSX" not in n and "/._" not in n)
    run_in_process("clickture", *clickture_args(data, nested_out), "--quiet")
    nested, clean = outputs(nested_out), outputs(clean_out)
    if without == "list and map":  # the names are the keys: the extra folder is in them
        for set_name in ("dev", "lite"):
            name = f"img_names_clickture_{set_name}.npy"
            names = np.load(nested_out / name)
            expected = [f"keywords_{set_name}/".encode() + n for n in np.load(clean_out / name)]
            assert names.tolist() == expected
            del nested[name], clean[name]
    assert nested == clean
