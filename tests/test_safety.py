"""Safe in a shared folder and against crafted files: victims untouched, or one line (exit 2)."""
import json
import os
import pathlib
import pickle
import shutil
import struct
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest
import reference
from conftest import CLICKTURE, MSCOCO, ROOT, clickture_args, run, run_in_process, unzip

from amc_keywords import sample
from amc_keywords.errors import InputError
from amc_keywords.idmap import read_id_map
from amc_keywords.writing import PREFIX, OutputSet, open_temporary, remove_stale


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    folder = tmp_path_factory.mktemp("good")
    sample.make_clickture(folder, 200, 150, seed=3)
    return folder


@pytest.fixture
def data(good, tmp_path):
    copy = tmp_path / "data"
    shutil.copytree(good, copy)
    return copy


def one_line_error(proc, *phrases, status=2):
    """Exit ``status`` (2: bad input) and one error line naming the phrases (with --extract,
    its progress notices, "extracting <archive> ...", are on stdout)."""
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == status, proc.stderr
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for phrase in phrases:
        assert phrase in lines[0], lines[0]
    return lines[0]


# ---- the map unpickler: every way a pickle runs code is refused, with no side effect --------

def escapes(marker):
    """Pickles that would create ``marker`` if run, one per opcode a pickle runs code with."""
    command = f"open({str(marker)!r}, 'w').close()"

    class Runs:
        def __reduce__(self):
            return (eval, (command,))

    quoted = repr(command).encode()
    yield "GLOBAL (protocol 0) + REDUCE", b"cbuiltins\neval\n(" + b"V" + command.encode() + \
        b"\ntR."
    for protocol in (2, 4, 5):  # GLOBAL at 2; STACK_GLOBAL at 4 and 5
        yield f"REDUCE through builtins (protocol {protocol})", pickle.dumps(
            {"img1": Runs()}, protocol=protocol)
    yield "INST", b"(S" + quoted + b"\nibuiltins\neval\n."
    yield "OBJ", b"(cbuiltins\neval\nS" + quoted + b"\no."
    yield "PERSID", b"P" + command.encode() + b"\n."
    yield "BINPERSID", b"\x80\x02X" + struct.pack("<I", len(command)) + command.encode() + b"Q."
    yield "EXT1", b"\x80\x02\x82\x01."
    yield "BUILD", b"\x80\x02}X\x04\x00\x00\x00img1K\x01s}X\x08\x00\x00\x00__dict__K\x01sb."
    yield "STACK_GLOBAL to os.system", b"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00" + \
        b"\x8c\x02os\x94\x8c\x06system\x94\x93\x94\x8c\x04true\x94\x85\x94R\x94."


def test_every_unpickler_escape_is_refused_without_side_effect(tmp_path):
    marker = tmp_path / "ran"
    cases = list(escapes(marker))
    assert len(cases) >= 10
    for label, raw in cases:
        path = tmp_path / "map.pkl"
        path.write_bytes(raw)
        with pytest.raises(InputError, match="map.pkl: "):
            read_id_map(str(path))
        assert not marker.exists(), f"{label}: the pickle's code ran"


def test_crafted_maps_are_refused_quickly_with_a_short_message(tmp_path):
    path = tmp_path / "map.pkl"
    # A "billion laughs" of shared lists as an id: refused on its type, its repr cut short.
    laughs = [1] * 10
    for _ in range(40):
        laughs = [laughs] * 10
    path.write_bytes(pickle.dumps({"img1": laughs}, protocol=2))
    began = time.perf_counter()
    with pytest.raises(InputError) as refused:
        read_id_map(str(path))
    assert len(str(refused.value)) < 300 and time.perf_counter() - began < 5
    # A huge name: the message shows a few dozen characters of it.
    path.write_bytes(pickle.dumps({"x" * 10 ** 6: -1}, protocol=2))
    with pytest.raises(InputError) as refused:
        read_id_map(str(path))
    assert len(str(refused.value)) < 300
    # Nesting far deeper than a map's: by marks, and by tuples built without marks (a key
    # hashed recursively).
    path.write_bytes(b"\x80\x02" + b"(" * 100000 + b".")
    with pytest.raises(InputError, match="nested deeper"):
        read_id_map(str(path))
    path.write_bytes(b"\x80\x02}K\x01" + b"\x85" * 1000000 + b"K\x01s.")
    began = time.perf_counter()
    with pytest.raises(InputError, match="no {name: id} dict needs"):
        read_id_map(str(path))
    assert time.perf_counter() - began < 5


# ---- shared folders --------------------------------------------------------------------------

def test_planted_symlinks_at_old_temporary_names_are_not_followed(data, tmp_path):
    """Links at the names temporaries used to have (``.<name>.<pid>.tmp``, for every pid a
    run could get) point at victims; the run writes none of them, and its outputs are
    regular files."""
    out = tmp_path / "shared"
    out.mkdir()
    victim = tmp_path / "victim"
    victim.write_text("precious")
    names = ["img_keyword_ind_clickture_dev_sk_6_sparse.npy", "vocabulary_clickture_sk_6.json",
             "img_names_clickture_dev.npy", "write-test", "plan_dev.npy"]
    pid_max = int(pathlib.Path("/proc/sys/kernel/pid_max").read_text()) if os.path.exists(
        "/proc/sys/kernel/pid_max") else 1 << 15
    start = os.getpid()
    for name in names:
        for pid in range(start, min(start + 400, pid_max)):
            os.symlink(victim, out / f".{name}.{pid}.tmp")
    run_in_process("clickture", *clickture_args(data, out))
    assert victim.read_text() == "precious"
    for name in os.listdir(out):
        if not name.endswith(".tmp"):
            assert not os.path.islink(out / name), name


def test_a_temporary_replaced_by_a_link_is_not_written_through(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious")
    outputs = OutputSet(str(tmp_path / "out"))
    temp = outputs.path("x.npy")
    os.remove(temp)
    os.symlink(victim, temp)
    with pytest.raises(OSError):
        open_temporary(temp)
    outputs.close()
    assert victim.read_text() == "precious"


def test_clean_up_removes_only_the_toolkit_s_own_dead_runs(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    strangers = [".notes.2019.tmp", ".my thesis draft.v3.4000000.tmp", f"{PREFIX}zz-x.tmp",
                 f"{PREFIX}run-zz.lock.bak", "keep.tmp"]
    for name in strangers:
        (folder / name).write_text("mine")
    # A dead run of ours: its record names a process that is gone.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    (folder / f"{PREFIX}run-dead1.lock").write_text(f"{dead} 1\n")
    (folder / f"{PREFIX}dead1-rows.npy.abc.tmp").write_text("garbage")
    # A live run: this process.
    from amc_keywords.stale_runs import start_time
    (folder / f"{PREFIX}run-live1.lock").write_text(f"{os.getpid()} "
                                                   f"{start_time(os.getpid())}\n")
    (folder / f"{PREFIX}live1-rows.npy.abc.tmp").write_text("in use")
    # A dead run's record that another user owns (as root, the test can make one).
    if os.getuid() == 0:
        (folder / f"{PREFIX}run-other1.lock").write_text(f"{dead} 1\n")
        (folder / f"{PREFIX}other1-rows.npy.abc.tmp").write_text("theirs")
        for name in (f"{PREFIX}run-other1.lock", f"{PREFIX}other1-rows.npy.abc.tmp"):
            os.chown(folder / name, 4242, 4242)
    remove_stale(str(folder))
    left = set(os.listdir(folder))
    assert set(strangers) <= left
    assert f"{PREFIX}dead1-rows.npy.abc.tmp" not in left
    assert f"{PREFIX}run-dead1.lock" not in left
    assert {f"{PREFIX}run-live1.lock", f"{PREFIX}live1-rows.npy.abc.tmp"} <= left
    if os.getuid() == 0:
        assert {f"{PREFIX}run-other1.lock", f"{PREFIX}other1-rows.npy.abc.tmp"} <= left


def test_a_private_sample_folder_of_another_user_is_refused(tmp_path, monkeypatch):
    """Mode 0700, so that the mode check passes: only the owner check refuses it. The owner
    is faked (the folder seems another user's), so that the test runs as any user."""
    from amc_keywords import run_options
    shared = tmp_path / "amc-keywords-sample-x"
    shared.mkdir(mode=0o700)
    assert run_options.private_folder(str(shared)) == str(shared)  # ours: accepted
    monkeypatch.setattr(run_options.os, "getuid", lambda: os.stat(shared).st_uid + 1)
    with pytest.raises(InputError, match="not a folder of yours alone"):
        run_options.private_folder(str(shared))


def test_sample_folder_of_another_user_is_refused(tmp_path):
    env = dict(os.environ, TMPDIR=str(tmp_path))
    shared = tmp_path / f"amc-keywords-sample-{os.getuid()}"
    shared.mkdir(mode=0o777)
    os.chmod(shared, 0o777)  # writable by others: someone else could have made it
    proc = subprocess.run([sys.executable, CLICKTURE, "--sample", "--quiet"], env=env,
                          capture_output=True, text=True, timeout=600)
    one_line_error(proc, str(shared), "not a folder of yours alone", "--out-dir")
    assert os.listdir(shared) == []
    os.chmod(shared, 0o700)
    proc = subprocess.run([sys.executable, CLICKTURE, "--sample", "--quiet"], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert (shared / "clickture" / "img_keyword_ind_clickture_dev_sk_6_sparse.npy").is_file()


def test_extract_never_follows_a_link_it_did_not_create(data, tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    for pid in range(os.getpid(), os.getpid() + 300):  # the old temporary names
        os.symlink(victim, data / f"keywords_dev.{pid}.tmp")
    run_in_process("clickture", *clickture_args(data, tmp_path / "out"), "--extract")
    assert os.listdir(victim) == []
    assert (data / "keywords_dev").is_dir() and not (data / "keywords_dev").is_symlink()
    assert not [n for n in os.listdir(data) if n.startswith(PREFIX)]


# ---- crafted archives ------------------------------------------------------------------------

def central_directory(raw):
    """Offsets of the end record and of the central directory of a zip."""
    end = raw.rfind(b"PK\x05\x06")
    count, size, offset = struct.unpack_from("<HLL", raw, end + 10)
    return end, count, size, offset


def test_entries_pointing_at_one_member_are_refused(data, tmp_path):
    """300 directory entries pointing at one 2 MB member (a bomb that inflates the same data
    300 times): one line naming the archive, in place and with --extract."""
    path = data / "keywords_dev.zip"
    big = json.dumps({"tagging": {"keywords": ["dog"] * 400000}}).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("keywords_dev/00000000.json", big)
    raw = bytearray(path.read_bytes())
    end, _, size, offset = central_directory(raw)
    record = bytes(raw[offset:offset + size])
    records = b"".join(record.replace(b"00000000.json", f"{i:08d}.json".encode())
                       for i in range(300))
    raw = raw[:offset] + records + raw[end:]
    struct.pack_into("<HHLL", raw, len(raw) - 22 + 8, 300, 300, len(records), offset)
    path.write_bytes(bytes(raw))
    for extra in ([], ["--extract"]):
        proc = run(CLICKTURE, *clickture_args(data, tmp_path / "out"), *extra, check=False)
        one_line_error(proc, "keywords_dev.zip", "overlaps another member")
    assert not (data / "keywords_dev").exists()


def test_a_directory_claiming_four_billion_entries_is_refused(data, tmp_path):
    path = data / "keywords_dev.zip"
    raw = bytearray(path.read_bytes())
    end, _, size, offset = central_directory(raw)
    # A Zip64 end record and locator claiming 2**32 entries in the same directory.
    eocd64 = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, 1 << 32, 1 << 32,
                         size, offset)
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, end, 1)
    raw = raw[:end] + eocd64 + locator + raw[end:]
    struct.pack_into("<HHLL", raw, len(raw) - 22 + 8, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF)
    path.write_bytes(bytes(raw))
    began = time.perf_counter()
    proc = run(CLICKTURE, *clickture_args(data, tmp_path / "out"), check=False)
    one_line_error(proc, "keywords_dev.zip", "claims 4294967296 members")
    assert time.perf_counter() - began < 60


def test_local_header_naming_another_file_is_refused(data, tmp_path):
    path = data / "keywords_dev.zip"
    raw = path.read_bytes()
    # Rename one member in its local header only: same length, another name.
    raw = raw.replace(b"keywords_dev/00000042.json", b"keywords_dev/99999942.json", 1)
    path.write_bytes(raw)
    proc = run(CLICKTURE, *clickture_args(data, tmp_path / "out"), check=False)
    one_line_error(proc, "keywords_dev.zip", "00000042.json", "local header names another")


def test_oversized_keyword_file_is_refused_and_inflation_stops(data, tmp_path):
    path = data / "keywords_lite.zip"
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("keywords_lite/00000149.json.big", b"")  # not a keyword file: ignored
    members = [(i.filename, zipfile.ZipFile(path).read(i)) for i in
               zipfile.ZipFile(path).infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, body in members:
            if name == "keywords_lite/00000007.json":
                body = b'{"tagging": {"keywords": ["' + b"a" * (20 << 20) + b'"]}}'
            zf.writestr(name, body)
    proc = run(CLICKTURE, *clickture_args(data, tmp_path / "out"), check=False)
    one_line_error(proc, "keywords_lite.zip", "00000007.json", "more than a keyword file holds")


def test_extract_bomb_check_uses_the_real_archive_size(data, tmp_path):
    """Declared sizes summed against the archive's size on disk, not its declared packed
    sizes (which overlapping members could inflate)."""
    with zipfile.ZipFile(data / "keywords_lite.zip", "a", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("keywords_lite/bomb.json", b"\0" * (64 << 20))
    proc = run(CLICKTURE, *clickture_args(data, tmp_path / "out"), "--extract", check=False)
    one_line_error(proc, "keywords_lite.zip", "zip bomb")
    assert not (data / "keywords_lite").exists()


@pytest.mark.parametrize("name,phrase", [
    ("keywords_dev/a\x00b.json", "control character"),
    ("keywords_dev/tab\there.json", "control character"),
])
def test_control_bytes_in_member_names_with_extract(data, tmp_path, name, phrase):
    path = data / "keywords_dev.zip"
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr(zipfile.ZipInfo("keywords_dev/placeholder_name.json"), b"{}")
    placeholder = b"keywords_dev/placeholder_name.json"
    crafted = name.encode()[:-5].ljust(len(placeholder) - 5, b"x") + b".json"
    raw = path.read_bytes().replace(placeholder, crafted)
    path.write_bytes(raw)
    proc = run(CLICKTURE, *clickture_args(data, tmp_path / "out"), "--extract", check=False)
    one_line_error(proc, "keywords_dev.zip", phrase)


def test_backslash_and_dot_dot_names_do_not_leave_the_folder():
    from amc_keywords.safe_paths import unsafe_reason
    assert unsafe_reason(b"keywords_dev/00000001.json") is None
    for name in ("..\\..\\evil.json", "a\\..\\..\\evil.json", "\\abs.json", "C:\\x.json",
                 "c:/x.json", "../x.json", "a//b.json", "/abs.json"):
        assert unsafe_reason(name.encode()) is not None, name


def test_crc_failure_while_the_json_stays_valid(data, tmp_path):
    path = data / "keywords_dev.zip"
    name = "keywords_dev/00000042.json"
    with zipfile.ZipFile(path) as zf:
        members = [(i.filename, zf.read(i)) for i in zf.infolist()]
    with zipfile.ZipFile(path, "w") as zf:
        for n, body in members:
            if n == name:
                body = json.dumps({"tagging": {"keywords": ["dog", "cat"]}}).encode()
            zf.writestr(zipfile.ZipInfo(n, sample.TIMESTAMP), body,
                        compress_type=zipfile.ZIP_STORED if n == name else
                        zipfile.ZIP_DEFLATED)
    raw = bytearray(path.read_bytes())
    at = raw.index(b'["dog", "cat"]')
    raw[at + 2:at + 5] = b"cow"  # still valid JSON, another keyword: only the CRC can tell
    path.write_bytes(bytes(raw))
    proc = run(CLICKTURE, *clickture_args(data, tmp_path / "out"), check=False)
    one_line_error(proc, "keywords_dev.zip", name, "CRC check failed")


# ---- parse errors are one line ----------------------------------------------------------------

def test_huge_integer_among_keywords_and_in_a_skipped_field(data, tmp_path):
    from amc_keywords.keyword_files import parse_keyword_files
    digits = b"7" * 5000
    among = b'{"tagging": {"keywords": ["dog", ' + digits + b']}}'
    skipped = b'{"id": ' + digits + b', "tagging": {"keywords": ["dog"]}}'
    for raw in (among, skipped):
        try:
            expected = json.loads(raw)["tagging"]["keywords"]
        except ValueError:
            expected = None  # Python 3.11+ refuses integers this long
        if expected is None:
            with pytest.raises(InputError):
                parse_keyword_files([raw], lambda i: "f.json")
        elif all(isinstance(k, str) for k in expected):
            assert parse_keyword_files([raw], lambda i: "f.json") == [expected]
    path = data / "keywords_dev.zip"
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("keywords_dev/00000999.json", among)
    with open(data / "clickture-dev.lst", "a") as f:
        f.write("00000999\n")
    with open(data / "img_id_map_dev.pkl", "wb") as f:
        f.write(sample.py2_pickle({f"img{i}": i for i in [*range(200), 999]}))
    proc = run(CLICKTURE, *clickture_args(data, tmp_path / "out"), check=False)
    one_line_error(proc, "keywords_dev.zip", "00000999.json")


def test_deep_dataset_json_and_vocabulary_are_one_line(tmp_path):
    coco = tmp_path / "coco"
    coco.mkdir()
    sample.make_coco(str(coco), 40, 20, 5, seed=1)
    unzip(coco / "keywords_coco.zip", coco)
    os.remove(coco / "keywords_coco.zip")
    (coco / "keywords_coco" / "dataset.json").write_text("[" * 200000 + "]" * 200000)
    proc = run(MSCOCO, "--keyword-dir", coco, "--out-dir", tmp_path / "out", "--quiet",
               check=False)
    one_line_error(proc, "dataset.json", "nested too deeply")
    out = tmp_path / "clickture"
    out.mkdir()
    (out / "vocabulary_clickture_sk_6.json").write_text("[" * 200000 + "]" * 200000)
    from amc_keywords.vocabulary import Vocabulary
    with pytest.raises(InputError, match="not a vocabulary file"):
        Vocabulary.load(str(out / "vocabulary_clickture_sk_6.json"))


# ---- the boundary of the vocabulary ------------------------------------------------------------

def test_word_id_equal_to_the_vocabulary_size_is_rejected(tmp_path):
    out = tmp_path / "out"
    run_in_process("clickture", "--sample", "--out-dir", out, "--quiet")
    rows_path = out / "img_keyword_ind_clickture_dev_sk_6_sparse.npy"
    words = json.loads((out / "vocabulary_clickture_sk_6.json").read_text())["words"]
    rows = np.load(rows_path)
    recorded = os.stat(rows_path)
    rows[5, 1] = len(words)  # one past the last word
    np.save(rows_path, rows)
    from amc_keywords import load_keywords
    with pytest.raises(ValueError, match=f"ids 0..{len(words) - 1}"):
        load_keywords(rows_path)
    proc = subprocess.run([sys.executable, "-m", "amc_keywords", "verify", str(rows_path)],
                          capture_output=True, text=True)
    one_line_error(proc, str(rows_path), "beyond the vocabulary", status=1)  # a difference
    # With its time set back, the manifest vouches for the file and the loader does not scan
    # it (opening stays instant); verify checks regardless.
    os.utime(rows_path, ns=(recorded.st_atime_ns, recorded.st_mtime_ns))
    assert load_keywords(rows_path).n_rows == len(rows)
    proc = subprocess.run([sys.executable, "-m", "amc_keywords", "verify", str(rows_path)],
                          capture_output=True, text=True)
    one_line_error(proc, str(rows_path), f"ids 0..{len(words) - 1}", status=1)
    rows[5, 1] = len(words) - 1  # the last word: fine
    np.save(rows_path, rows)
    assert load_keywords(rows_path).words(int(rows[5, 0]))


# ---- the sample and stats against the plain implementation ------------------------------------

SHIPPED = os.path.join(ROOT, "amc_keywords", "sample_data")


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    """The toolkit's --sample Clickture outputs, and the plain implementation's vocabulary,
    Lite rows and dev rows of the same shipped sample."""
    from amc_keywords.datasets.list_and_map import SAMPLE_FILES
    folder = tmp_path_factory.mktemp("sample_run")
    run_in_process("clickture", "--sample", "--out-dir", folder / "out", "--quiet")
    for name in ("keywords_dev", "keywords_lite"):
        unzip(os.path.join(SHIPPED, name + ".zip"), folder)
    plain = reference.clickture(
        folder / "keywords_dev", os.path.join(SHIPPED, SAMPLE_FILES["dev"][0]),
        folder / "keywords_lite", os.path.join(SHIPPED, SAMPLE_FILES["lite"][0]))
    return folder / "out", plain


def test_sample_outputs_equal_the_plain_implementation(sample_run, tmp_path):
    out, (vocabulary, lite, dev) = sample_run
    words = json.loads((out / "vocabulary_clickture_sk_6.json").read_text())["words"]
    assert {w: i for i, w in enumerate(words)} == vocabulary
    np.testing.assert_array_equal(np.load(out / "img_keyword_ind_clickture_lite_sk_6_sparse.npy"),
                                  lite)
    np.testing.assert_array_equal(np.load(out / "img_keyword_ind_clickture_dev_sk_6_sparse.npy"),
                                  dev)
    coco = tmp_path / "coco"
    run_in_process("coco", "--sample", "--out-dir", coco, "--quiet")
    unzip(os.path.join(SHIPPED, "keywords_coco.zip"), tmp_path)
    vocabulary, rows = reference.coco(tmp_path / "keywords_coco")
    np.testing.assert_array_equal(np.load(coco / "img_keyword_ind_coco_sk_6.npy"), rows)
    assert json.loads((coco / "vocabulary_coco_sk_6.json").read_text())["words"] == \
        sorted(vocabulary, key=vocabulary.get)


def test_stats_figures_equal_figures_of_the_plain_rows(sample_run):
    from amc_keywords.datasets.list_and_map import SAMPLE_FILES
    out, (vocabulary, _, dev) = sample_run
    dev_list = os.path.join(SHIPPED, SAMPLE_FILES["dev"][0])
    listed = [int(e.split("/")[-1]) for e in reference.read_lines(dev_list)]
    per_image = [sum(1 for i in dev[:, 0] if i == img) for img in listed]
    frequency = {w: int((dev[:, 1] == i).sum()) for w, i in vocabulary.items()}
    proc = subprocess.run([sys.executable, "-m", "amc_keywords", "stats", "--json",
                           str(out / "img_keyword_ind_clickture_dev_sk_6_sparse.npy")],
                          capture_output=True, text=True, check=True)
    figures = json.loads(proc.stdout)
    assert figures["images"] == len(listed) and figures["rows"] == len(dev)
    assert figures["images_without_rows"] == per_image.count(0)
    assert figures["vocabulary_size"] == len(vocabulary)
    assert figures["keywords_per_image"]["min"] == min(per_image)
    assert figures["keywords_per_image"]["max"] == max(per_image)
    assert figures["keywords_per_image"]["mean"] == pytest.approx(sum(per_image) / len(listed))
    top_word, top_count = figures["most_frequent"][0]
    assert top_count == max(frequency.values()) and frequency[top_word] == top_count
    assert figures["vocabulary_never_used"] == pytest.approx(
        sum(1 for n in frequency.values() if n == 0) / len(frequency))
