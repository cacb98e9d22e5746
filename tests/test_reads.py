"""What the readers let through: nothing read outside an unzipped folder (links included),
names that are not UTF-8, bounded and escaped messages, a folder where a file is expected."""
import collections
import gzip
import io
import json
import os
import pickle
import shutil
import threading
import zipfile

import numpy as np
import pytest
from conftest import clickture_args, one_line, run_in_process

from amc_keywords import sample
from amc_keywords.errors import QUOTED_WIDTH, InputError, quoted
from amc_keywords.folder_files import FolderFiles
from amc_keywords.keyword_files import MAX_KEYWORD_FILE
from amc_keywords.lists import read_list
from amc_keywords.sources import FolderSource

KEYWORDS = b'{"tagging": {"keywords": ["planted words"]}}'


@pytest.fixture(scope="module")
def small_clickture(tmp_path_factory):
    folder = tmp_path_factory.mktemp("small_clickture")
    sample.make_clickture(folder, 60, 40, seed=3)
    return folder


def fresh_copy(folder, tmp_path, name):
    """A copy of a module-scoped folder, for a test to damage."""
    copy = tmp_path / name
    shutil.copytree(folder, copy)
    return copy


@pytest.fixture
def data(small_clickture, tmp_path):
    return fresh_copy(small_clickture, tmp_path, "data")


def unzip(data, set_name):
    with zipfile.ZipFile(data / f"keywords_{set_name}.zip") as zf:
        zf.extractall(data)
    os.remove(data / f"keywords_{set_name}.zip")
    return data / f"keywords_{set_name}"


def outside(tmp_path):
    """A readable keyword file outside any keyword folder."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "00000005.json").write_bytes(KEYWORDS)
    return folder


# ---- 1. nothing read outside the folder, only regular files of a keyword file's size --------

def test_a_link_to_a_file_outside_the_folder_is_refused_naming_its_target(tmp_path):
    folder = tmp_path / "keywords_dev"
    folder.mkdir()
    target = outside(tmp_path) / "00000005.json"
    os.symlink(target, folder / "00000005.json")
    with pytest.raises(InputError) as caught:
        FolderFiles(str(folder)).read(b"00000005")
    assert str(caught.value).startswith(f"{folder / '00000005.json'}: a link")
    assert "elsewhere/00000005.json" in str(caught.value)


def test_a_linked_folder_leading_outside_is_refused(tmp_path):
    folder = tmp_path / "keywords_dev"
    folder.mkdir()
    os.symlink(outside(tmp_path), folder / "sub")
    with pytest.raises(InputError, match="outside the keyword folder"):
        FolderFiles(str(folder)).read(b"sub/00000005")


def test_a_link_inside_the_folder_is_followed(tmp_path):
    folder = tmp_path / "keywords_dev"
    (folder / "real").mkdir(parents=True)
    (folder / "real" / "00000005.json").write_bytes(KEYWORDS)
    os.symlink("real/00000005.json", folder / "00000005.json")
    os.symlink("real", folder / "sub")
    files = FolderFiles(str(folder))
    assert files.read(b"00000005")[1] == KEYWORDS
    assert files.read(b"sub/00000005")[1] == KEYWORDS
    assert files.read(b"absent") is None


def test_a_fifo_is_refused_without_blocking(tmp_path):
    folder = tmp_path / "keywords_dev"
    folder.mkdir()
    fifo = folder / "00000005.json"
    os.mkfifo(fifo)
    # Were the open to block, this writer would release it (then the read must still be
    # refused); the writer itself is released below once the read is done.
    writer = threading.Thread(target=lambda: os.close(os.open(fifo, os.O_WRONLY)))
    writer.start()
    try:
        with pytest.raises(InputError, match="a FIFO"):
            FolderFiles(str(folder)).read(b"00000005")
    finally:
        keeper = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader, while the writer ends
        writer.join()
        os.close(keeper)


def test_a_file_beyond_a_keyword_files_size_is_refused_before_reading(tmp_path, monkeypatch):
    folder = tmp_path / "keywords_dev"
    folder.mkdir()
    with open(folder / "00000005.json", "wb") as f:
        f.truncate(MAX_KEYWORD_FILE + 1)  # sparse: no disk taken
    # The size its stat gives: refused before any byte is read.
    with pytest.raises(InputError, match=f": {MAX_KEYWORD_FILE + 1} bytes, more than a "
                                         "keyword file holds"):
        FolderFiles(str(folder)).read(b"00000005")


@pytest.mark.parametrize("link", ["file", "folder", "dev-zero"])
def test_a_run_on_an_unzipped_set_with_a_link_outside_is_one_line(data, tmp_path, link):
    folder = unzip(data, "dev")
    elsewhere = outside(tmp_path)
    os.remove(folder / "00000005.json")
    if link == "file":
        os.symlink(elsewhere / "00000005.json", folder / "00000005.json")
    elif link == "dev-zero":
        os.symlink("/dev/zero", folder / "00000005.json")
    else:  # the entry moved into a linked folder
        lines = (data / "clickture-dev.lst").read_text().splitlines()
        lines[lines.index("00000005")] = "sub/00000005"
        (data / "clickture-dev.lst").write_text("\n".join(lines) + "\n")
        os.symlink(elsewhere, folder / "sub")
    out = tmp_path / "out"
    proc = run_in_process("clickture", *clickture_args(data, out), "--jobs", "1", check=False)
    one_line(proc, "00000005.json", "outside the keyword folder",
             "/dev/zero" if link == "dev-zero" else "elsewhere")
    assert not out.exists() or not [n for n in os.listdir(out) if n.endswith(".npy")]


def test_extract_writes_a_stored_link_as_a_plain_file(data, tmp_path):
    """A member that unzip would restore as a link becomes a file holding the link's text
    (then refused as not a keyword file), never a link."""
    path = data / "keywords_lite.zip"
    info = zipfile.ZipInfo("keywords_lite/00000003.json", sample.TIMESTAMP)
    info.external_attr = (0o120777 << 16)  # a symbolic link, as zip -y stores one
    with zipfile.ZipFile(path) as zf:
        kept = [(i, zf.read(i)) for i in zf.infolist() if i.filename != info.filename]
    with zipfile.ZipFile(path, "w") as zf:
        for i, body in kept:
            zf.writestr(i, body)
        zf.writestr(info, b"/etc/passwd")
    proc = run_in_process("clickture", *clickture_args(data, tmp_path / "out"), "--extract",
                          "--jobs", "1", check=False)
    written = data / "keywords_lite" / "00000003.json"
    assert not written.is_symlink() and written.read_bytes() == b"/etc/passwd"
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "00000003.json: not valid JSON" in proc.stderr.splitlines()[-1]


# ---- 2. names that are not UTF-8 ----------------------------------------------------------

def test_file_names_that_are_not_utf8_are_read_as_the_bytes_they_are(data, tmp_path):
    folder = unzip(data, "lite")
    os.remove(data / "clickture-lite.lst")
    os.remove(data / "img_id_map.pkl")
    root = os.fsencode(folder)
    with open(os.path.join(root, b"notes-caf\xe9.txt"), "wb") as f:
        f.write(b"not a keyword file")
    os.mkdir(os.path.join(root, b"caf\xe9\x1b[31m"))
    os.rename(folder / "00000007.json", os.path.join(root, b"caf\xe9\x1b[31m/00000007.json"))
    out = tmp_path / "out"
    run_in_process("clickture", *clickture_args(data, out), "--jobs", "1")
    names = np.load(out / "img_names_clickture_lite.npy")
    assert names[7] == b"caf\xe9\x1b[31m/00000007"
    rows = out / "img_keyword_ind_clickture_lite_sk_6_sparse.npy"
    shown = run_in_process("show", rows, 7).stdout
    assert shown.startswith("7 (caf\\xe9\\x1b[31m/00000007): ") and "\x1b" not in shown
    pytest.importorskip("pyarrow")
    proc = run_in_process("export", rows, tmp_path / "x.parquet", check=False)
    one_line(proc, "image 7's name 'caf\\xe9\\x1b[31m/00000007' is not UTF-8")
    assert not (tmp_path / "x.parquet").exists()


# ---- 4. bounded, escaped messages; a list's line length does not set its memory ------------

def test_quoted_values_are_escaped_and_cut():
    assert quoted(b"caf\xe9\x1b[31m") == "'caf\\xe9\\x1b[31m'"
    assert quoted("a\u202eb\udce9") == "'a\\u202eb\\xe9'"
    long = quoted(b"x" * 5_000_000)
    assert long.startswith("'" + "x" * QUOTED_WIDTH + "...'") and "5,000,000 bytes" in long
    assert len(long) < QUOTED_WIDTH + 40


def test_an_overlong_list_line_is_refused_naming_it(tmp_path):
    path = tmp_path / "clickture-lite.lst"
    path.write_bytes(b"00000001\n00000002\n" + b"9" * (5 << 20) + b"\n00000003\n")
    with pytest.raises(InputError) as caught:
        read_list(str(path))
    message = str(caught.value)
    assert message.startswith(f"{path}: line 3: an entry of 5,242,880 bytes")
    assert "longer than a keyword file's path may be" in message and len(message) < 400


def test_blanks_around_an_entry_do_not_count_towards_its_length(tmp_path):
    path = tmp_path / "clickture-lite.lst"
    path.write_bytes(b"00000001\n" + b" " * 5000 + b"00000002\t\t\n")
    entries = read_list(str(path))
    assert entries.keys.tolist() == [b"00000001", b"00000002"]
    assert entries.keys.dtype.itemsize == 8


def test_a_long_list_with_cr_line_ends_is_one_short_line(tmp_path):
    path = tmp_path / "clickture-lite.lst"
    path.write_bytes(b"\r".join(b"%08d" % i for i in range(100_000)) + b"\r")
    with pytest.raises(InputError) as caught:
        read_list(str(path))
    assert "old Mac (CR) line ends" in str(caught.value) and len(str(caught.value)) < 300


def test_escape_sequences_in_an_entry_reach_no_terminal(data, tmp_path):
    lines = (data / "clickture-dev.lst").read_text().splitlines()
    lines[3] = "\x1b[2J\x1b[31mevil"
    (data / "clickture-dev.lst").write_text("\n".join(lines) + "\n")
    proc = run_in_process("clickture", *clickture_args(data, tmp_path / "out"), check=False)
    line = one_line(proc, "clickture-dev.lst: line 4", "'\\x1b[2J\\x1b[31mevil'")
    assert "\x1b" not in proc.stderr, line


# ---- 5. a folder where a file is expected ----------------------------------------------------

@pytest.mark.parametrize("which", ["clickture-dev.lst", "img_id_map_dev.pkl"])
def test_a_folder_in_place_of_a_list_or_map_is_an_error(data, tmp_path, which):
    os.remove(data / which)
    (data / which).mkdir()
    proc = run_in_process("clickture", *clickture_args(data, tmp_path / "out"), check=False)
    one_line(proc, f"{data / which}: a folder, where")


def test_a_folder_in_place_of_dataset_json_is_an_error(tmp_path):
    folder = tmp_path / "keywords_coco"
    (folder / "dataset.json").mkdir(parents=True)
    with pytest.raises(InputError, match="dataset.json: a folder, where"):
        FolderSource(str(folder)).read(b"dataset")


# ---- 6. the outputs that are read back are checked --------------------------------------------

ROWS = "img_keyword_ind_clickture_dev_sk_6_sparse.npy"
VOCABULARY = "vocabulary_clickture_sk_6.json"
MANIFEST = "manifest_clickture_sk_6.json"


@pytest.fixture(scope="module")
def small_run(small_clickture, tmp_path_factory):
    out = tmp_path_factory.mktemp("small_run")
    run_in_process("clickture", *clickture_args(small_clickture, out), "--jobs", "1")
    return out


@pytest.fixture
def run_copy(small_run, tmp_path):
    return fresh_copy(small_run, tmp_path, "out")


def test_an_npz_under_an_output_name_is_a_load_error(run_copy):
    from amc_keywords.loader import LoadError, load_keywords
    rows = np.load(run_copy / ROWS)
    with open(run_copy / ROWS, "wb") as f:
        np.savez(f, rows=rows)
    with pytest.raises(LoadError, match=f"^{run_copy / ROWS}: a NpzFile .*not a .npy array"):
        load_keywords(run_copy / ROWS)


@pytest.mark.parametrize("command", ["stats", "show", "verify"])
def test_a_zero_byte_rows_file_is_one_line(run_copy, command):
    from amc_keywords.loader import LoadError, load_keywords
    (run_copy / ROWS).write_bytes(b"")
    with pytest.raises(LoadError, match="empty"):
        load_keywords(run_copy / ROWS)
    proc = run_in_process(command, run_copy / ROWS, *(["0"] if command == "show" else []),
                          check=False)
    one_line(proc, f"{run_copy / ROWS}: empty (0 bytes)")


def edit_manifest(folder, change):
    manifest = json.loads((folder / MANIFEST).read_text())
    change(manifest["outputs"])
    (folder / MANIFEST).write_text(json.dumps(manifest))


def test_a_manifest_record_of_the_wrong_shape_is_one_line(run_copy):
    edit_manifest(run_copy, lambda outputs: outputs.update({ROWS: ["not", "an", "object"]}))
    proc = run_in_process("verify", "--manifest", run_copy / MANIFEST, check=False)
    assert proc.returncode == 2
    one_line(proc, f"output '{ROWS}': its record is ['not', 'an', 'object']")


@pytest.mark.parametrize("name,phrase", [("../img_names_clickture_dev.npy", "'..' component"),
                                         ("/dev/zero", "absolute path"),
                                         ("sub/x.npy", "folder part")])
def test_verify_reads_no_name_outside_the_manifests_folder(run_copy, name, phrase):
    edit_manifest(run_copy, lambda outputs: outputs.update({name: {"sha256": "0" * 64}}))
    proc = run_in_process("verify", "--manifest", run_copy / MANIFEST, check=False)
    assert proc.returncode == 2
    one_line(proc, f"output {quoted(name)}: the name ", phrase)


@pytest.mark.parametrize("kind", ["link", "folder"])
def test_verify_reads_only_regular_files_inside_its_folder(run_copy, tmp_path, kind):
    target = tmp_path / "elsewhere.npy"
    target.write_bytes(b"outside")
    os.remove(run_copy / ROWS)
    if kind == "link":
        os.symlink(target, run_copy / ROWS)
    else:
        (run_copy / ROWS).mkdir()
    proc = run_in_process("verify", "--manifest", run_copy / MANIFEST, check=False)
    assert proc.returncode == 2
    one_line(proc, f"{run_copy / ROWS}: ",
             "outside the manifest's folder" if kind == "link" else "not a regular file")


def edit_vocabulary(folder, change):
    vocabulary = json.loads((folder / VOCABULARY).read_text())
    change(vocabulary)
    (folder / VOCABULARY).write_text(json.dumps(vocabulary))


@pytest.mark.parametrize("change,phrase", [
    (lambda v: v["words"].insert(3, v["words"][3]), "words[4] '{}' is there twice"),
    (lambda v: v["words"].__setitem__(2, 7), "words[2] is 7, not a string"),
    (lambda v: v["words"].reverse(), "words[1] '{}' is out of sorted order"),
    (lambda v: v.__setitem__("min_df", "6"), "min_df is '6', not a positive integer"),
    (lambda v: v.pop("min_df"), "records no min_df"),
])
def test_a_hand_edited_vocabulary_is_refused_without_a_manifest(run_copy, change, phrase):
    from amc_keywords.loader import LoadError, load_keywords
    os.remove(run_copy / MANIFEST)  # the outputs copied elsewhere: no manifest's help
    edit_vocabulary(run_copy, change)
    words = json.loads((run_copy / VOCABULARY).read_text())["words"]
    expected = phrase.format(words[4] if "twice" in phrase else words[1])
    with pytest.raises(LoadError) as caught:
        load_keywords(run_copy / ROWS)
    assert str(caught.value).startswith(f"{run_copy / VOCABULARY}: {expected}")


def test_a_run_refuses_a_hand_edited_vocabulary_in_one_line(small_clickture, run_copy):
    edit_vocabulary(run_copy, lambda v: v["words"].insert(3, v["words"][3]))
    proc = run_in_process("clickture", *clickture_args(small_clickture, run_copy), check=False)
    last = proc.stderr.splitlines()[-1]  # after the notice that the outputs changed
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert last.startswith(f"error: {run_copy / VOCABULARY}: words[4] ") and "twice" in last


# ---- 3. maps ---------------------------------------------------------------------------------

def write_map(tmp_path, raw):
    path = tmp_path / "img_id_map.pkl"
    path.write_bytes(raw)
    return str(path)


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_a_bytes_keyed_map_reads_at_any_protocol(tmp_path, protocol):
    from amc_keywords.idmap import read_id_map
    mapping = {b"img%d" % i: 3 * i + 1 for i in range(40)}
    ids, names = read_id_map(write_map(tmp_path, pickle.dumps(mapping, protocol)))
    assert dict(zip(names.tolist(), ids.tolist())) == mapping


# The bytes call in forms pickle never writes for bytes (another encoding, another shape).
OTHER_CALLS = {
    "utf-16": b"\x80\x02}(c_codecs\nencode\nX\x02\x00\x00\x00abX\x05\x00\x00\x00utf16\x86R"
              b"K\x01u.",
    "one argument": b"\x80\x02}(c_codecs\nencode\nX\x02\x00\x00\x00ab\x85RK\x01u.",
    "not called": b"\x80\x02}(c_codecs\nencode\nK\x01u.",
    "a string called": b"\x80\x02}(X\x01\x00\x00\x00xX\x02\x00\x00\x00abX\x06\x00\x00\x00"
                       b"latin1\x86RK\x01u.",
}


@pytest.mark.parametrize("form", sorted(OTHER_CALLS))
def test_the_walk_alone_admits_only_the_bytes_form(tmp_path, form):
    from amc_keywords.pickle_walk import check_opcodes as _check_opcodes
    with pytest.raises(InputError, match="not a readable"):
        _check_opcodes(OTHER_CALLS[form], "m.pkl")


def test_the_walk_alone_refuses_any_other_global_by_its_name():
    from amc_keywords.pickle_walk import check_opcodes as _check_opcodes
    with pytest.raises(InputError, match="it asks for 'os.system'"):
        _check_opcodes(b"\x80\x02}(cos\nsystem\nK\x01u.", "m.pkl")


def test_the_unpickler_alone_calls_nothing_but_latin1_bytes():
    from amc_keywords.idmap import _DictOnlyUnpickler
    for form in ("utf-16",):
        with pytest.raises(pickle.UnpicklingError, match="other than as pickle writes bytes"):
            _DictOnlyUnpickler(io.BytesIO(OTHER_CALLS[form]), encoding="bytes").load()
    with pytest.raises(pickle.UnpicklingError, match="asks for 'os.system'"):
        _DictOnlyUnpickler(io.BytesIO(b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00id\x85R."),
                           encoding="bytes").load()


@pytest.mark.parametrize("what,phrase", [
    ("numpy", "it holds numpy values"), ("OrderedDict", "it holds an OrderedDict"),
    ("gzip", "a gzip-compressed file, not a pickle"), ("JSON", "JSON text, not a pickle")])
def test_a_map_written_the_python3_way_is_refused_saying_what_it_holds(tmp_path, what,
                                                                        phrase):
    from amc_keywords.idmap import read_id_map
    from amc_keywords.pickle_walk import FIX
    mapping = {"img1": 1, "img2": 2}
    raw = {"numpy": lambda: pickle.dumps({k: np.int64(v) for k, v in mapping.items()}),
           "OrderedDict": lambda: pickle.dumps(collections.OrderedDict(mapping)),
           "gzip": lambda: gzip.compress(pickle.dumps(mapping, 2)),
           "JSON": lambda: json.dumps(mapping).encode()}[what]()
    with pytest.raises(InputError) as caught:
        read_id_map(write_map(tmp_path, raw))
    assert phrase in str(caught.value) and FIX in str(caught.value)


@pytest.mark.parametrize("protocol", [0, 2, 4])
def test_an_empty_name_is_refused_when_the_map_is_read(tmp_path, protocol):
    from amc_keywords.idmap import read_id_map
    raw = pickle.dumps({"img1": 1, "": 2, "img3": 3}, protocol)
    with pytest.raises(InputError, match="the image of id 2 has an empty name"):
        read_id_map(write_map(tmp_path, raw))



@pytest.mark.parametrize("protocol", [0, 2, 4])
def test_a_byte_string_name_is_stored_as_the_bytes_it_is(tmp_path, protocol):
    """A Python 2 name that is not UTF-8 (Latin-1 text, say) reaches the names table as
    its own bytes, not re-encoded; a text name as UTF-8."""
    from amc_keywords.idmap import read_id_map
    for mapping in ({b"caf\xe9": 1, b"img2": 2}, {b"caf\xe9": 1, "na\xefve": 2}):
        ids, names = read_id_map(write_map(tmp_path, pickle.dumps(mapping, protocol)))
        assert names.tolist() == [k if isinstance(k, bytes) else k.encode("utf-8")
                                  for k in mapping]


def test_a_name_utf8_cannot_hold_is_one_line(tmp_path):
    from amc_keywords.idmap import read_id_map
    raw = pickle.dumps({"img1": 1, "\ud800bad": 2}, 4)
    with pytest.raises(InputError, match=r"entry '.*bad': a name that UTF-8 cannot hold"):
        read_id_map(write_map(tmp_path, raw))


# ---- 8. runs with different settings in one folder ----------------------------------------

def test_runs_with_two_min_df_into_one_folder_each_stay_up_to_date(small_clickture, tmp_path):
    out = tmp_path / "out"
    for min_df in (6, 7):
        run_in_process("clickture", *clickture_args(small_clickture, out), "--min-df", min_df)
    for min_df in (6, 7, 6):
        proc = run_in_process("clickture", *clickture_args(small_clickture, out), "--min-df",
                              min_df)
        assert "outputs are up to date" in proc.stdout
        assert f"manifest_clickture_sk_{min_df}.json)" in proc.stdout
        assert "wrote:" not in proc.stdout and "running again" not in proc.stderr


# ---- 7. one run, seen the same way by every process ------------------------------------------

@pytest.mark.parametrize("manifest", ["with", "without"])
def test_a_pickled_keywords_refuses_the_files_a_rerun_wrote(small_clickture, tmp_path,
                                                            manifest):
    from amc_keywords.loader import LoadError, load_keywords

    def run(*extra):
        run_in_process("clickture", *clickture_args(small_clickture, out), *extra)
        if manifest == "without":  # the outputs copied elsewhere: the rows' own digest
            os.remove(out / MANIFEST)

    out = tmp_path / "out"
    run()
    kw, late = load_keywords(out / ROWS), load_keywords(out / ROWS)
    blob = pickle.dumps(kw)
    copy = pickle.loads(blob)  # the same run: served as the original serves it
    assert all(np.array_equal(copy[i], kw[i]) for i in range(len(kw)))
    before = np.load(out / ROWS)
    run("--vocab-from", "both")  # a rerun with other settings replaces the files
    assert not np.array_equal(np.load(out / ROWS), before)
    with pytest.raises(LoadError, match=f"^{out / ROWS}: replaced since this Keywords was "
                                        "opened"):
        pickle.loads(blob)
    if manifest == "without":  # pickled only now: its identity is of the files it opened
        with pytest.raises(LoadError, match="replaced since"):
            pickle.dumps(late)


def test_a_manifest_that_is_a_fifo_is_refused_without_blocking(run_copy):
    from amc_keywords.loader import load_keywords
    from amc_keywords.manifest import load
    os.remove(run_copy / MANIFEST)
    os.mkfifo(run_copy / MANIFEST)

    def writer():  # releases a reader that would block, then gives it no manifest
        fd = os.open(run_copy / MANIFEST, os.O_WRONLY)
        os.close(fd)
    thread = threading.Thread(target=writer)
    thread.start()
    try:
        with pytest.raises(InputError, match="not a regular file, where a manifest"):
            load(str(run_copy / MANIFEST))
        assert len(load_keywords(run_copy / ROWS))  # the loader goes on without it
    finally:
        keeper = os.open(run_copy / MANIFEST, os.O_RDONLY | os.O_NONBLOCK)
        thread.join()
        os.close(keeper)


def test_an_overlong_name_in_a_map_or_dataset_json_is_refused(tmp_path):
    """The names arrays are as wide as the longest name: one long name would set their
    memory, as one long line did a list's."""
    from amc_keywords.idmap import read_id_map
    from amc_keywords.lists import read_karpathy_images
    raw = pickle.dumps({"img1": 1, "x" * 5_000_000: 2}, 4)
    with pytest.raises(InputError) as caught:
        read_id_map(write_map(tmp_path, raw))
    assert "a name of 5,000,000 characters, longer than" in str(caught.value)
    assert len(str(caught.value)) < 400
    dataset = {"images": [{"split": "train", "filename": "a.jpg", "imgid": 0},
                          {"split": "train", "filename": "b" * 5_000_000 + ".jpg", "imgid": 1}]}
    with pytest.raises(InputError) as caught:
        read_karpathy_images(json.dumps(dataset).encode(), "d.json", ("train",))
    assert str(caught.value).startswith("d.json: images[1]: \"filename\" 'bbbb")
    assert "longer than a file name may be" in str(caught.value)
    assert len(str(caught.value)) < 400


def test_a_link_inside_to_a_fifo_is_refused_naming_its_target(tmp_path):
    folder = tmp_path / "keywords_dev"
    folder.mkdir()
    os.mkfifo(folder / "pipe")
    os.symlink("pipe", folder / "00000005.json")
    with pytest.raises(InputError, match=r"a FIFO \(named pipe\) \(the link's target, .*/pipe\)"):
        FolderFiles(str(folder)).read(b"00000005")


def test_a_folder_linked_into_itself_is_not_walked_for_ever(tmp_path):
    from amc_keywords.sources import check_unzipped
    folder = tmp_path / "keywords_dev"
    folder.mkdir()
    os.symlink(".", folder / "loop")
    with pytest.raises(InputError, match="holds no keyword file"):
        check_unzipped(str(folder), "keywords_dev")


@pytest.mark.parametrize("flag", ["cp437", "utf-8 flag, bytes that are not"])
def test_an_archive_whose_top_folder_is_not_ascii_is_read(data, tmp_path, flag):
    """Its top folder is stripped by its length in bytes (it was stripped by its length in
    characters, and no entry was found); bytes that are not UTF-8 are kept as they are."""
    path = data / "keywords_lite.zip"
    placeholder = "kwXXXX" if flag == "cp437" else "kw\u00e9XX"  # non-ASCII: zipfile flags UTF-8
    with zipfile.ZipFile(path) as zf:
        members = [(i.filename, zf.read(i)) for i in zf.infolist()]
    with zipfile.ZipFile(path, "w") as zf:
        for name, body in members:
            zf.writestr(zipfile.ZipInfo(name.replace("keywords_lite", placeholder),
                                        sample.TIMESTAMP), body)
    crafted = b"kw\xe9\xe9\xe9\xe9" if flag == "cp437" else b"kw\xe9\xe9XX"
    path.write_bytes(path.read_bytes().replace(placeholder.encode("utf-8"), crafted))
    out = tmp_path / "out"
    run_in_process("clickture", *clickture_args(data, out), "--jobs", "1")
    reference = tmp_path / "reference"
    shutil.copytree(data, tmp_path / "plain")
    with zipfile.ZipFile(tmp_path / "plain" / "keywords_lite.zip", "w") as zf:
        for name, body in members:
            zf.writestr(zipfile.ZipInfo(name, sample.TIMESTAMP), body)
    run_in_process("clickture", *clickture_args(tmp_path / "plain", reference), "--jobs", "1")
    for name in os.listdir(reference):
        if name.endswith(".npy"):
            assert (out / name).read_bytes() == (reference / name).read_bytes(), name
