"""Each layer of defence tested on its own: with the other layers switched off, it still
refuses the crafted input, for its own reason.

The id map's two layers (the opcode walk, the restricted unpickler) against every way a
pickle runs code, at protocols 0, 2 and 4; the inflate bound against a zip bomb whose size
and CRC fields agree with what it would give; the ``..`` filter of ``--extract`` with the
folder-making that used to catch it by accident made lenient; the overlap check against
members nested in one another that every other check accepts; the stale clean-up's
other-user checks with the owner faked (any user can run them). Then property tests of the
hand-written readers against the libraries they replace, where test_readers.py has none.
"""
import copyreg
import io
import logging
import ntpath
import os
import pickle
import pickletools
import posixpath
import random
import shlex
import struct
import tracemalloc
import types
import zipfile
import zlib
from pathlib import Path
from typing import Any, Callable, Iterator, List, Optional, Set, Tuple

import numpy as np
import pytest
from _pytest.tmpdir import TempPathFactory
from hypothesis import example, given
from hypothesis import strategies as st
from pytest import MonkeyPatch
from test_readers import SETTINGS, plain_map
from test_safety import escapes as safety_escapes

from amc_keywords import idmap, sample, stale_runs, writing, zip_reader
from amc_keywords.errors import InputError
from amc_keywords.extract import extract_archive
from amc_keywords.idmap import read_id_map
from amc_keywords.safe_paths import unsafe_reason
from amc_keywords.writing import PREFIX, remove_stale
from amc_keywords.zip_reader import MAX_KEYWORD_FILE, ZipDirectory, read_members

PROTOCOLS = [0, 2, 4]


# ---- pickles that run code, byte by byte ---------------------------------------------------

def push_text(protocol: int, text: str) -> bytes:
    """A str on the stack: UNICODE (protocol 0), BINUNICODE (2), SHORT_BINUNICODE (4)."""
    raw = text.encode()
    if protocol == 0:
        return b"V" + raw + b"\n"
    if protocol == 2 or len(raw) > 255:
        return b"X" + struct.pack("<I", len(raw)) + raw
    return b"\x8c" + bytes([len(raw)]) + raw


def push_global(protocol: int, module: str, name: str) -> bytes:
    """GLOBAL below protocol 4, STACK_GLOBAL from it."""
    if protocol < 4:
        return b"c" + f"{module}\n{name}\n".encode()
    return push_text(protocol, module) + push_text(protocol, name) + b"\x93"


def call(protocol: int, callable_ops: bytes, argument_ops: bytes) -> bytes:
    """``callable(argument)`` by REDUCE (the argument tuple by MARK..TUPLE, or TUPLE1)."""
    if protocol == 0:
        return callable_ops + b"(" + argument_ops + b"tR"
    return callable_ops + argument_ops + b"\x85R"


def map_pickle(protocol: int, value_ops: bytes) -> bytes:
    """``{"img1": <value>}`` at ``protocol``: an escape where a map's id should be."""
    body = (b"(d" if protocol == 0 else b"}") + push_text(protocol, "img1") + value_ops + b"s."
    if protocol == 0:
        return body
    if protocol == 2:
        return b"\x80\x02" + body
    return b"\x80\x04\x95" + struct.pack("<Q", len(body)) + body  # one FRAME


# Extension codes for EXT1, EXT2 and EXT4 (copyreg's registry: a program that registers
# some gives a pickle's EXT opcodes a function to call).
EXTENSIONS = {"EXT1": (b"\x82" + bytes([0xE1]), "builtins", "eval", 0xE1),
              "EXT2": (b"\x83" + struct.pack("<H", 0xE1E1), "builtins", "exec", 0xE1E1),
              "EXT4": (b"\x84" + struct.pack("<i", 0xE1E1E1), "os", "system", 0xE1E1E1)}


@pytest.fixture
def extensions() -> Iterator[None]:
    for _, module, name, code in EXTENSIONS.values():
        copyreg.add_extension(module, name, code)
    yield
    for _, module, name, code in EXTENSIONS.values():
        copyreg.remove_extension(module, name, code)


def crafted_escapes(protocol: int, marker: Path) -> Iterator[Tuple[str, bytes, bool]]:
    """``(label, pickle, runs)``: every way a pickle calls or builds something, as the id
    of a ``{"img1": ...}`` map at ``protocol``. ``runs``: unprotected, it creates ``marker``
    (else it builds an object that is not plain data)."""
    code = f"open({str(marker)!r}, 'w').close()"
    shell = f"touch {shlex.quote(str(marker))}"

    def text(s: str) -> bytes:
        return push_text(protocol, s)

    def glob(module: str, name: str) -> bytes:
        return push_global(protocol, module, name)

    g = "STACK_GLOBAL" if protocol >= 4 else "GLOBAL"
    cases = [
        (f"{g} builtins.eval + REDUCE", call(protocol, glob("builtins", "eval"), text(code)),
         True),
        (f"{g} os.system + REDUCE", call(protocol, glob("os", "system"), text(shell)), True),
        ("INST builtins.eval", b"(" + text(code) + b"ibuiltins\neval\n", True),
        ("OBJ builtins.eval", b"(" + glob("builtins", "eval") + text(code) + b"o", True),
        ("NEWOBJ", glob("types", "SimpleNamespace") + b")\x81", False),
        ("NEWOBJ_EX", glob("types", "SimpleNamespace") + b")}\x92", False),
        ("NEWOBJ + BUILD", glob("types", "SimpleNamespace") + b")\x81}" + text("ran") +
         b"K\x01sb", False),
        ("PERSID", b"P" + code.encode() + b"\n", True),
        ("BINPERSID", text(code) + b"Q", True),
    ]
    for opcode, (ops, module, name, _) in EXTENSIONS.items():
        argument = shell if module == "os" else code
        cases.append((f"{opcode} -> {module}.{name} + REDUCE",
                      call(protocol, ops, text(argument)), True))
    for label, value_ops, runs in cases:
        yield f"{label} (protocol {protocol})", map_pickle(protocol, value_ops), runs


class Unprotected(pickle.Unpickler):
    """An unpickler with no protection: any global, and persistent ids resolved by
    ``eval``, as a careless application's could be. ``reached`` notes each one made."""

    reached: List[bytes] = []

    def __init__(self, file: Any, **options: Any) -> None:
        Unprotected.reached.append(file.getvalue())
        super().__init__(file, **options)

    def persistent_load(self, pid: Any) -> Any:
        return eval(pid)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_the_crafted_pickles_do_run_code_where_nothing_protects(tmp_path: Path, extensions: None,
                                                                protocol: int) -> None:
    """The control: each crafted pickle is well formed and, unprotected, does what it is
    made for; so the refusals below are the layers' work, not a malformed file's."""
    marker = tmp_path / "ran"
    for label, raw, runs in crafted_escapes(protocol, marker):
        for _ in pickletools.genops(raw):
            pass
        value = Unprotected(io.BytesIO(raw), encoding="bytes").load()["img1"]
        if runs:
            assert marker.exists(), f"{label}: did not run"
            marker.unlink()
        else:
            assert isinstance(value, types.SimpleNamespace), label


def all_escapes(protocol: int, marker: Path) -> Iterator[Tuple[str, bytes, bool]]:
    yield from crafted_escapes(protocol, marker)
    if protocol == 0:  # test_safety's, once
        for label, raw in safety_escapes(marker):
            yield f"{label} (test_safety)", raw, False


def refusals(tmp_path: Path, protocol: int, crafted_only: bool = False
             ) -> Iterator[Tuple[str, str]]:
    """``(label, message)`` of read_id_map's refusal of each escape; none may run."""
    marker, path = tmp_path / "ran", tmp_path / "map.pkl"
    for label, raw, _ in (crafted_escapes if crafted_only else all_escapes)(protocol, marker):
        path.write_bytes(raw)
        with pytest.raises(InputError, match="map.pkl: ") as refused:
            read_id_map(str(path))
        assert not marker.exists(), f"{label}: the pickle's code ran"
        yield label, str(refused.value)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_the_opcode_walk_alone_refuses_every_escape(tmp_path: Path, monkeypatch: MonkeyPatch,
                                                    extensions: None, protocol: int) -> None:
    """The unpickler switched off (an unprotected one in its place): the walk refuses each
    escape before any unpickler sees the file."""
    monkeypatch.setattr(idmap, "_DictOnlyUnpickler", Unprotected)
    monkeypatch.setattr(Unprotected, "reached", [])
    for label, message in refusals(tmp_path, protocol):
        assert Unprotected.reached == [], f"{label}: the walk let it through: {message}"
        assert "which no {name: id} dict needs" in message, f"{label}: {message}"
    # The switch is in effect: a plain map outside the cPickle layout reaches the unpickler.
    (tmp_path / "map.pkl").write_bytes(pickle.dumps({"img1": 1}, protocol=protocol))
    ids, _ = read_id_map(str(tmp_path / "map.pkl"))
    assert ids.tolist() == [1] and len(Unprotected.reached) == 1


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_the_restricted_unpickler_alone_refuses_every_escape(tmp_path: Path,
                                                             monkeypatch: MonkeyPatch,
                                                             extensions: None,
                                                             protocol: int) -> None:
    """The opcode walk switched off: the unpickler refuses each escape itself, at the global
    (or extension code, or persistent id) it asks for."""
    walked = []
    monkeypatch.setattr(idmap, "check_opcodes", lambda data, path: walked.append(path))
    for label, message in refusals(tmp_path, protocol, crafted_only=True):
        assert "which no {name: id} dict needs" not in message
        assert "and only a plain {name: id} dict is allowed" in message, f"{label}: {message}"
        assert "asks for '" in message or "persistent ids" in message, f"{label}: {message}"
    assert len(list(refusals(tmp_path, protocol))) > 0  # test_safety's too: none ran
    assert walked, "the opcode walk was not switched off"


# ---- zip archives, field by field -----------------------------------------------------------

def local_entry(name: bytes, data: bytes, method: int, crc: int, usize: int) -> bytes:
    return struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0x4AF5, crc, len(data),
                       usize, len(name), 0) + name + data


def central_record(name: bytes, offset: int, method: int, crc: int, csize: int,
                   usize: int) -> bytes:
    return struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, method, 0, 0x4AF5, crc, csize,
                       usize, len(name), 0, 0, 0, 0, 0, offset) + name


def zip_of(body: bytes, records: List[bytes]) -> bytes:
    directory = b"".join(records)
    return body + directory + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(records),
                                          len(records), len(directory), len(body), 0)


def zeros_stream(total: int) -> bytes:
    """A raw deflate stream of ``total`` zero bytes (a multiple of 1 MiB), in ~1/1000 of
    that: one fully flushed megabyte, repeated."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = compressor.compress(bytes(1 << 20)) + compressor.flush(zlib.Z_FULL_FLUSH)
    return piece * (total >> 20) + compressor.flush()


def zeros_crc(total: int) -> int:
    crc, block = 0, bytes(1 << 20)
    for _ in range(total >> 20):
        crc = zlib.crc32(block, crc)
    return crc


BOMB = b"keywords_x/00000001.json"
GIGABYTE = 1 << 30


def write_bomb(path: Path, stream: bytes, usize: int, crc: int) -> str:
    path.write_bytes(zip_of(local_entry(BOMB, stream, 8, crc, usize),
                            [central_record(BOMB, 0, 8, crc, len(stream), usize)]))
    return str(path)


def read_measured(path: str) -> Tuple[Any, int]:
    """What reading every member of ``path`` raised (None if nothing), and the most memory
    Python held meanwhile."""
    directory = ZipDirectory(path)
    tracemalloc.start()
    try:
        for _ in read_members(path, directory.top, directory.keys, directory.table):
            pass
        raised = None
    except InputError as exc:
        raised = exc
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return raised, peak


def test_a_bomb_declaring_100_bytes_stops_at_them(tmp_path: Path) -> None:
    """Declares 100 bytes, and the CRC of 100 zero bytes, and inflates to a gigabyte: the
    size and CRC comparisons would pass on the first 100 bytes; the bound stops the inflation
    there and names the member, holding a few megabytes at most."""
    path = write_bomb(tmp_path / "keywords_x.zip", zeros_stream(GIGABYTE), 100,
                      zlib.crc32(bytes(100)))
    raised, peak = read_measured(path)
    assert raised is not None, "a member inflating to 1 GB was read as 100 bytes"
    assert str(raised) == (f"{path}: keywords_x/00000001.json: inflates to more than the 100 "
                           "bytes it may hold: a crafted archive (zip bomb?); refusing it")
    assert peak < 16 << 20, f"{peak} bytes held: the inflation did not stop at the bound"


def test_a_bomb_stops_at_the_limit_with_the_size_check_off(tmp_path: Path,
                                                          monkeypatch: MonkeyPatch) -> None:
    """The declared-size check switched off, and a member that tells the truth about its
    gigabyte (size and CRC): only the bound, at a keyword file's limit, stops it."""
    monkeypatch.setattr(zip_reader, "_check_declared_sizes", lambda *args: None)
    path = write_bomb(tmp_path / "keywords_x.zip", zeros_stream(GIGABYTE), GIGABYTE,
                      zeros_crc(GIGABYTE))
    raised, peak = read_measured(path)
    assert raised is not None, "a 1 GB member was read whole"
    assert str(raised) == (f"{path}: keywords_x/00000001.json: inflates to more than the "
                           f"{MAX_KEYWORD_FILE} bytes it may hold: a crafted archive (zip "
                           "bomb?); refusing it")
    assert peak < 3 * MAX_KEYWORD_FILE, f"{peak} bytes held: the inflation did not stop"


def test_a_small_bomb_gets_the_same_line(tmp_path: Path) -> None:
    """Packed small enough to be inflated in one call (8 MiB from 8 KB): the same line."""
    stream = zeros_stream(8 << 20)
    assert len(stream) <= zip_reader.SMALL_MEMBER
    path = write_bomb(tmp_path / "keywords_x.zip", stream, 100, zlib.crc32(bytes(100)))
    raised, _ = read_measured(path)
    assert raised is not None and "inflates to more than the 100 bytes" in str(raised)


def test_the_declared_size_check_refuses_before_any_read(tmp_path: Path,
                                                         monkeypatch: MonkeyPatch) -> None:
    """Its own layer: with inflation switched off entirely, a member declaring more than a
    keyword file holds is still refused, before a byte of it is read."""
    monkeypatch.setattr(zip_reader, "_inflate_bounded", lambda *args: pytest.fail("read"))
    monkeypatch.setattr(zip_reader.os, "pread", lambda *args: pytest.fail("read"))
    path = write_bomb(tmp_path / "keywords_x.zip", zeros_stream(1 << 20), MAX_KEYWORD_FILE + 1,
                      0)
    raised, _ = read_measured(path)
    assert raised is not None and \
        f"{path}: keywords_x/00000001.json: declares 16777217 bytes unpacked" in str(raised)


# ---- --extract: the ``..`` filter itself -----------------------------------------------------

class Notices(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: List[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def notices() -> Iterator[List[str]]:
    """The lines the library logs at WARNING and above (whatever level an earlier test left)."""
    logger, handler = logging.getLogger("amc_keywords"), Notices()
    level = logger.level
    logger.setLevel(logging.WARNING)
    logger.addHandler(handler)
    yield handler.lines
    logger.removeHandler(handler)
    logger.setLevel(level)


@pytest.fixture
def lenient_mkdir(monkeypatch: MonkeyPatch) -> None:
    """``os.mkdir`` that accepts a folder that exists: a ``..`` step in a path no longer
    fails by accident, so only the filter stands between a member and the parent folder."""
    real = os.mkdir

    def mkdir(path: Any, mode: int = 0o777, **options: Any) -> None:
        try:
            real(path, mode, **options)
        except FileExistsError:
            if not os.path.isdir(path):
                raise
    monkeypatch.setattr(os, "mkdir", mkdir)


@pytest.mark.parametrize("name", ["keywords_dev/../../evil.json", "keywords_dev/a/../../x.json",
                                  "keywords_dev/a/../../../x.json", "../evil.json",
                                  "keywords_dev/..\\..\\evil.json"])
def test_the_dot_dot_filter_itself_keeps_extract_in_its_folder(tmp_path: Path,
                                                               lenient_mkdir: None,
                                                               notices: List[str],
                                                               name: str) -> None:
    data = tmp_path / "shared" / "data"
    data.mkdir(parents=True)
    archive = data / "keywords_dev.zip"
    sample.write_zip(str(archive), [(f"{i:08d}.json", b'{"tagging": {"keywords": ["dog"]}}')
                                    for i in range(5)], "keywords_dev")
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr(name, b'{"tagging": {"keywords": ["evil"]}}')
    target = extract_archive(str(archive), str(data / "keywords_dev"))
    written = sorted(os.path.relpath(os.path.join(d, f), tmp_path)
                     for d, _, files in os.walk(tmp_path) for f in files)
    assert written == ["shared/data/keywords_dev.zip"] + [
        f"shared/data/keywords_dev/{i:08d}.json" for i in range(5)], written
    assert target == str(data / "keywords_dev")
    assert notices == [f"warning: {archive}: {name}: skipped, its path leaves the target "
                       "folder"], notices


# ---- the overlap check alone -----------------------------------------------------------------

def nested_archive(path: Path) -> str:
    """Member a.json (stored) holds the whole local entry of member b.json: every header
    names its member, every CRC and size is right, all lies before the central directory;
    only that a's data overlaps b's tells them apart from a sound archive."""
    inner = b'{"tagging": {"keywords": ["dog"]}}'
    name_a, name_b = b"keywords_x/a.json", b"keywords_x/b.json"
    entry_b = local_entry(name_b, inner, 0, zlib.crc32(inner), len(inner))
    entry_a = local_entry(name_a, entry_b, 0, zlib.crc32(entry_b), len(entry_b))
    path.write_bytes(zip_of(entry_a, [
        central_record(name_a, 0, 0, zlib.crc32(entry_b), len(entry_b), len(entry_b)),
        central_record(name_b, 30 + len(name_a), 0, zlib.crc32(inner), len(inner),
                       len(inner))]))
    return str(path)


def test_nested_members_are_caught_by_the_overlap_check_alone(tmp_path: Path,
                                                             monkeypatch: MonkeyPatch) -> None:
    path = nested_archive(tmp_path / "keywords_x.zip")
    with pytest.raises(InputError) as refused:
        ZipDirectory(path)
    assert str(refused.value) == (f"{path}: keywords_x/a.json: its data overlaps another "
                                  "member: a crafted or damaged archive; download it again")
    # The control: with the range checks switched off, every other check passes it.
    monkeypatch.setattr(ZipDirectory, "_check_ranges", lambda *args: None)
    directory = ZipDirectory(path)
    got = list(read_members(path, directory.top, directory.keys, directory.table))
    assert directory.keys.tolist() == [b"a", b"b"] and len(got) == 2
    with zipfile.ZipFile(path) as zf:  # and so does zipfile
        assert [zf.read(n) for n in ("keywords_x/a.json", "keywords_x/b.json")] == got


# ---- the stale clean-up's other-user checks, for any user ------------------------------------

class Owned:
    """A stat result with another owner."""

    def __init__(self, result: os.stat_result, uid: int) -> None:
        self._result, self.st_uid = result, uid

    def __getattr__(self, name: str) -> Any:
        return getattr(self._result, name)


@pytest.fixture
def owners(monkeypatch: MonkeyPatch) -> Callable[[str], None]:
    """``owners(name)`` makes the file of that name look another user's to the clean-up; the
    runs of every record are dead (``start_time`` says so, whatever their pid)."""
    others: Set[str] = set()
    real = os.lstat

    def lstat(path: Any, *args: Any, **kwargs: Any) -> Any:
        result = real(path, *args, **kwargs)
        return Owned(result, os.getuid() + 4242) if os.path.basename(path) in others else \
            result
    monkeypatch.setattr(writing.os, "lstat", lstat)
    monkeypatch.setattr(stale_runs, "start_time", lambda pid: "gone")
    return others.add


def make_run(folder: Path, run: str) -> Tuple[str, str]:
    record, temporary = f"{PREFIX}run-{run}.lock", f"{PREFIX}{run}-rows.npy.abc.tmp"
    (folder / record).write_text("12345 678\n")
    (folder / temporary).write_text("data")
    return record, temporary


def test_another_user_s_dead_run_is_left_alone(tmp_path: Path,
                                                owners: Callable[[str], None]) -> None:
    """A dead run whose record is another user's: neither it nor the temporaries named after
    it are removed, though the temporaries are this user's (the record's owner check alone
    keeps them)."""
    theirs = make_run(tmp_path, "other1")
    owners(theirs[0])
    ours = make_run(tmp_path, "mine1")  # the control: a dead run of ours goes
    remove_stale(str(tmp_path))
    left = set(os.listdir(tmp_path))
    assert set(theirs) <= left, "another user's run was cleaned up"
    assert not set(ours) & left


def test_another_user_s_temporary_under_our_run_s_name_is_left_alone(
        tmp_path: Path, owners: Callable[[str], None]) -> None:
    """Our dead run's record, and a temporary named after it that another user owns (the
    temporary's own owner check alone keeps it)."""
    record, temporary = make_run(tmp_path, "mine2")
    planted = f"{PREFIX}mine2-other.npy.xyz.tmp"
    (tmp_path / planted).write_text("theirs")
    owners(planted)
    remove_stale(str(tmp_path))
    left = set(os.listdir(tmp_path))
    assert planted in left, "another user's file was removed"
    assert record not in left and temporary not in left


# ---- a global that nothing calls ------------------------------------------------------------

# A module-level dict a crafted map could write into, were a GLOBAL let through.
WRITABLE_GLOBAL: dict = {}


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_the_opcode_walk_alone_refuses_a_global_that_nothing_calls(
        tmp_path: Path, monkeypatch: MonkeyPatch, protocol: int) -> None:
    """A pickle that loads a global dict and writes into it with SETITEM, with no call (which
    the walk would refuse for its own reason): the walk must refuse the GLOBAL itself."""
    monkeypatch.setattr(idmap, "_DictOnlyUnpickler", Unprotected)
    monkeypatch.setattr(Unprotected, "reached", [])
    body = (push_global(protocol, __name__, "WRITABLE_GLOBAL") + push_text(protocol, "img1") +
            b"K\x01s.")
    raw = body if protocol == 0 else b"\x80" + bytes([protocol]) + body
    # The control: unprotected, the pickle writes into the global and is a {name: id} dict.
    assert Unprotected(io.BytesIO(raw)).load() == {"img1": 1} == WRITABLE_GLOBAL
    WRITABLE_GLOBAL.clear()
    Unprotected.reached.clear()
    (tmp_path / "map.pkl").write_bytes(raw)
    with pytest.raises(InputError, match="which no {name: id} dict needs"):
        read_id_map(str(tmp_path / "map.pkl"))
    assert Unprotected.reached == [] and WRITABLE_GLOBAL == {}


# ---- a folder source's plan on its own ---------------------------------------------------------

@pytest.mark.parametrize("key", [b"../x", b"a/../../x", b"/etc/passwd", b"a\\..\\x"])
def test_a_folder_source_s_plan_refuses_keys_outside_the_folder(tmp_path: Path,
                                                                key: bytes) -> None:
    """The lists, maps and dataset.json check their keys as they make them; the API and later
    callers rely on the source's own check: entries given to ``plan()`` directly."""
    from amc_keywords.lists import Entries
    from amc_keywords.sources import FolderSource
    folder = tmp_path / "keywords_dev"
    folder.mkdir()
    keys = np.array([b"00000001", key], dtype=bytes)
    entries = Entries(keys, np.array([1, 2], np.int64), "a caller's entries")
    with pytest.raises(InputError, match="a caller's entries: position 2: entry"):
        FolderSource(str(folder)).plan(entries)
    # The control: the same entries without the bad key are planned.
    plan = FolderSource(str(folder)).plan(Entries(keys[:1], np.array([1], np.int64), "x"))
    assert len(plan) == 1


# ---- property tests: the hand-written readers against the libraries --------------------------

@SETTINGS
@given(count=st.integers(1, 12), data=st.data())
def test_zip_reader_on_damaged_archives_agrees_with_zipfile(
        tmp_path_factory: TempPathFactory, count: int, data: st.DataObject) -> None:
    """A flipped byte, a field overwritten or a cut: our reader refuses with an InputError,
    or reads the keyword files zipfile reads (whatever zipfile can read of them), each with
    the size and CRC its directory entry gives; never another exception."""
    seed = data.draw(st.integers(0, 2 ** 32 - 1))
    rng = random.Random(seed)
    members = [(f"{i:08d}.json", rng.choice([b"{}", rng.randbytes(rng.randint(0, 3000)),
                                             b"ab" * rng.randint(1, 30000)]))
               for i in range(count)]
    path = tmp_path_factory.mktemp("zip") / "keywords_x.zip"
    sample.write_zip(str(path), members, data.draw(st.sampled_from([None, "keywords_x"])),
                     junk=data.draw(st.booleans()))
    raw = bytearray(path.read_bytes())
    how = data.draw(st.sampled_from(["flip", "field", "cut"]))
    at = data.draw(st.integers(0, len(raw) - 1))
    if how == "flip":
        raw[at] ^= 1 << data.draw(st.integers(0, 7))
    elif how == "field":
        raw[at:at + 4] = data.draw(st.sampled_from([b"\xff\xff\xff\xff", b"\0\0\0\0",
                                                    b"\0\0\0\x80", b"PK\x01\x02"]))
    else:
        raw = raw[:at]
    path.write_bytes(bytes(raw))
    try:
        directory = ZipDirectory(str(path))
        got = list(read_members(str(path), directory.top, directory.keys, directory.table))
    except InputError:
        return
    for row, body in zip(directory.table, got):
        assert (len(body), zlib.crc32(body)) == (row["usize"], row["crc"])
    try:
        with zipfile.ZipFile(path) as zf:
            infos = [i for i in zf.infolist() if i.filename.endswith(".json") and
                     not i.filename.startswith("__MACOSX/") and
                     not i.filename.rsplit("/", 1)[-1].startswith("._") and
                     unsafe_reason(i.filename.encode("utf-8", "surrogateescape")) is None]
            theirs: List[Optional[bytes]] = []
            for info in infos:
                try:
                    theirs.append(zf.read(info))
                except Exception:  # zipfile cannot read it: nothing to compare
                    theirs.append(None)
    except Exception:
        return  # zipfile cannot open it at all
    prefix = directory.top + "/" if directory.top else ""
    names = [prefix + key.decode("utf-8", "replace") + ".json" for key in directory.keys.tolist()]
    assert names == [i.filename for i in infos]
    for name, ours, expected in zip(names, got, theirs):
        assert expected is None or ours == expected, name


names_of_parts = st.lists(st.sampled_from(["a", "b.c", ".", "..", "", "...", "C:", "c:x",
                                           "\\", "a\\..", "..\\", "~", " "]),
                          min_size=1, max_size=6)


@SETTINGS
@given(parts=st.lists(names_of_parts, min_size=1, max_size=8), top=st.booleans())
@example(parts=[["C:"]], top=True)  # found by this test: a drive once the top is stripped
@example(parts=[["\\"]], top=True)  # and a root: "keywords_x/\\.json" -> "\\.json"
@example(parts=[["a", "c:x"], ["b", ".."]], top=False)
def test_kept_member_names_stay_inside_by_the_path_libraries(
        tmp_path_factory: TempPathFactory, parts: List[List[str]], top: bool) -> None:
    """Whatever the names, every keyword file the directory keeps lands inside the folder it
    is unpacked into, by posixpath's and ntpath's own reckoning (the filter against the
    libraries that resolve paths)."""
    names = sorted({("keywords_x/" if top else "") + "/".join(p) + ".json" for p in parts})
    path = tmp_path_factory.mktemp("zip") / "keywords_x.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for name in names + ["keywords_x/zz.json"]:
            zf.writestr(zipfile.ZipInfo(name, (2017, 7, 21, 0, 0, 0)), b"{}")
    directory = ZipDirectory(str(path))
    prefix = directory.top + "/" if directory.top else ""
    kept = {prefix + k.decode("utf-8") + ".json" for k in directory.keys.tolist()}
    assert kept | set(directory.unsafe) == set(names) | {"keywords_x/zz.json"}
    for name in kept:
        key = name[len(prefix):]
        unix = posixpath.normpath(posixpath.join("/base/target", key))
        windows = ntpath.normpath(ntpath.join("D:\\base\\target", key))
        assert unix.startswith("/base/target/"), (name, unix)
        assert windows.startswith("D:\\base\\target\\"), (name, windows)


@SETTINGS
@given(size=st.sampled_from([1, 2, 255, 256, 999, 1000, 1001, 1002, 2000, 2001, 3001]),
       seed=st.integers(0, 2 ** 32 - 1), memo=st.booleans())
def test_the_cpickle_layout_walk_equals_pickle_loads_across_batches(
        tmp_path_factory: TempPathFactory, size: int, seed: int, memo: bool) -> None:
    """Maps around cPickle's 1000-item SETITEMS batches (a last batch of one is a SETITEM)
    and past 256 memo entries (LONG_BINPUT), ids of every width: read by the vectorised walk
    (not the unpickler), the dict pickle.loads gives."""
    rng = random.Random(seed)
    ids = ([0, 255, 256, 65535, 65536] + rng.sample(range(65537, 2 ** 31 - 1), size))[:size]
    rng.shuffle(ids)
    mapping = {f"img{i}_{rng.randrange(10 ** 6)}": v for i, v in enumerate(ids)}
    raw = sample.py2_pickle(mapping, memo=memo)
    assert idmap._read_py2_dict(raw) is not None, "the walk did not take this layout"
    path = tmp_path_factory.mktemp("map") / "map.pkl"
    path.write_bytes(raw)
    got_ids, got_names = read_id_map(str(path))
    got = {bytes(n): int(i) for n, i in zip(got_names, got_ids)}
    assert got == plain_map(raw) == {name.encode("utf-8"): i for name, i in mapping.items()}
    assert np.all(np.diff(got_ids) > 0)
