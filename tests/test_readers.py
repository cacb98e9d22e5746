"""Property tests: the readers written by hand for speed against the library they replace.

The zip directory and member reader against ``zipfile``; the id-map reader against
``pickle.loads``; the vocabulary's min_df pruning against ``CountVectorizer(min_df=...)``;
the CPU count against a cgroup quota written to files; the gathers and sums over ragged
arrays against their loops.
"""
import io
import os
import pickle
import random
import string
import struct
import zipfile
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from amc_keywords import idmap, sample
from amc_keywords.byte_arrays import gather_strings
from amc_keywords.errors import InputError
from amc_keywords.idmap import read_id_map
from amc_keywords.sources import ZipSource
from amc_keywords.tables import ragged_positions, run_sums
from amc_keywords.vocabulary import fit_vocabulary
from amc_keywords.workers import cgroup_cpu_quota
from amc_keywords.zip_reader import read_members

# CI runs the same examples every time (derandomized: a fresh search each run would make it
# fail at random on what an earlier run could have found). AMC_EXAMPLES=N searches afresh
# with N examples a test, to look for new cases by hand.
SETTINGS = settings(max_examples=int(os.environ.get("AMC_EXAMPLES", 60)), deadline=None,
                    derandomize=not os.environ.get("AMC_EXAMPLES"),
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


class Unseekable(io.RawIOBase):
    """A write-only stream that cannot seek: zipfile then writes data descriptors."""

    def __init__(self):
        self.buffer = bytearray()

    def writable(self):
        return True

    def write(self, data):
        self.buffer += data
        return len(data)


stems = st.text(alphabet=string.ascii_letters + string.digits + "_-é東", min_size=1,
                max_size=12)
member = st.fixed_dictionaries({
    "stem": stems,
    "folder": st.sampled_from(["", "part1/", "deep/er/"]),
    "data": st.one_of(st.binary(max_size=300), st.just(b""),
                      st.integers(65536, 70000).map(lambda n: random.Random(n).randbytes(n)),
                      st.integers(1, 5000).map(lambda n: b"ab" * n)),
    "stored": st.booleans(),
    "extra": st.integers(0, 3000),
    "zip64": st.booleans(),
})


@SETTINGS
@given(members=st.lists(member, min_size=1, max_size=12,
                        unique_by=lambda m: m["folder"] + m["stem"]),
       top=st.sampled_from(["", "keywords_dev"]), descriptors=st.booleans(),
       comment=st.binary(max_size=200), stub=st.binary(max_size=300), junk=st.booleans())
def test_zip_reader_equals_zipfile(tmp_path_factory, members, top, descriptors, comment, stub,
                                   junk):
    """Stored, deflated and empty members, members over 64 KB, long extra fields, Zip64 local
    headers, data descriptors, an archive comment, a prepended stub, junk entries."""
    stream = Unseekable() if descriptors else io.BytesIO()
    prefix = f"{top}/" if top else ""
    with zipfile.ZipFile(stream, "w") as zf:
        for m in members:
            info = zipfile.ZipInfo(f"{prefix}{m['folder']}{m['stem']}.json",
                                   (2017, 7, 21, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED if m["stored"] else zipfile.ZIP_DEFLATED
            if m["extra"]:  # an unknown extra field (id 0xCAFE) of that many bytes
                info.extra = struct.pack("<HH", 0xCAFE, m["extra"]) + b"x" * m["extra"]
            with zf.open(info, "w", force_zip64=m["zip64"]) as out:
                out.write(m["data"])
        if junk:
            zf.writestr(f"__MACOSX/{prefix}._a.json", b"\0\5")
            zf.writestr(f"{prefix}notes.txt", b"not a keyword file")
            if top:
                zf.writestr(zipfile.ZipInfo(prefix), b"")
        zf.comment = comment
    raw = bytes(stream.buffer if descriptors else stream.getvalue())
    path = tmp_path_factory.mktemp("zip") / "keywords_x.zip"
    path.write_bytes(stub + raw)

    with zipfile.ZipFile(path) as zf:
        expected = {info.filename: zf.read(info) for info in zf.infolist()
                    if info.filename.endswith(".json") and
                    not info.filename.startswith("__MACOSX/") and
                    not info.filename.rsplit("/", 1)[-1].startswith("._")}
    source = ZipSource(str(path))
    got = {}
    for key, data in zip(source.keys, read_members(str(path), source.top, source.keys,
                                                   source.table)):
        full = (source.top + "/" if source.top else "") + key.decode("utf-8") + ".json"
        got[full] = data
    assert got == expected


def test_zip_reader_reads_a_zip64_central_directory(tmp_path):
    """Over 65,535 members: the Zip64 end records give the count and the directory's place."""
    path = str(tmp_path / "keywords_z.zip")
    members = [(f"{i:08d}.json", b'{"tagging": {"keywords": ["w%d"]}}' % i)
               for i in range(70000)]
    sample.write_zip(path, members, "keywords_z")
    source = ZipSource(path)
    with zipfile.ZipFile(path) as zf:
        assert len(source.keys) == len(zf.infolist()) == 70000
        picks = [0, 12345, 69999]
        got = list(read_members(path, source.top, source.keys[picks], source.table[picks]))
        assert got == [zf.read(f"keywords_z/{source.keys[i].decode()}.json") for i in picks]


# Any text but NUL, which no image name holds (a name with one is refused: below).
names = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"),
                min_size=1, max_size=300)
id_maps = st.dictionaries(names, st.integers(0, 2 ** 31 - 1), min_size=1, max_size=40)


def plain_map(data):
    """The dict pickle.loads gives, names as the names table holds them: a Python 2 byte
    string as its bytes, a text name as UTF-8."""
    mapping = pickle.loads(data, encoding="bytes")
    return {(k if isinstance(k, bytes) else k.encode("utf-8")): v for k, v in mapping.items()}


def ours(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("map") / "map.pkl"
    path.write_bytes(data)
    ids, names_ = read_id_map(str(path))
    return {bytes(n): int(i) for n, i in zip(names_, ids)}


def encodings(mapping):
    """The same map as Python 2's cPickle (memo on and off) and Python 3 (protocols 0-5)."""
    yield sample.py2_pickle(mapping)
    yield sample.py2_pickle(mapping, memo=True)
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        yield pickle.dumps(mapping, protocol=protocol)


@SETTINGS
@given(mapping=id_maps)
def test_id_map_reader_equals_pickle_loads(tmp_path_factory, mapping):
    """Non-ASCII and long names, memo on and off, every protocol: the same dict."""
    assume(len(set(mapping.values())) == len(mapping))  # ids are unique in a real map
    for data in encodings(mapping):
        assert ours(tmp_path_factory, data) == plain_map(data) == {
            name.encode("utf-8"): i for name, i in mapping.items()}


@SETTINGS
@given(mapping=id_maps, data=st.data())
def test_id_map_reader_on_corrupted_bytes(tmp_path_factory, mapping, data):
    """A flipped byte or a cut: an InputError, or (if the bytes still unpickle to a plain map)
    the same dict as pickle.loads; never another exception."""
    assume(len(set(mapping.values())) == len(mapping))
    raw = bytearray(data.draw(st.sampled_from(list(encodings(mapping)))))
    if data.draw(st.booleans()):
        raw = raw[:data.draw(st.integers(0, len(raw) - 1))]
    else:
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    raw = bytes(raw)
    try:
        got = ours(tmp_path_factory, raw)
    except InputError:
        return
    expected = plain_map(raw)
    assert got == expected


def test_id_map_fast_path_decodes_block_by_block(tmp_path_factory, monkeypatch):
    """The cPickle layout's items are decoded a block at a time (a real map is 16 blocks, the
    samples one): the same dict with blocks of 3 items, names of several lengths."""
    mapping = {f"img{i:0{i % 7 + 1}d}.jpg": 7 * i for i in range(50)}
    monkeypatch.setattr(idmap, "ITEM_BLOCK", 3)
    monkeypatch.setattr(idmap, "_unpickle_map", lambda *args: pytest.fail("not the fast path"))
    for data in (sample.py2_pickle(mapping), sample.py2_pickle(mapping, memo=True)):
        assert ours(tmp_path_factory, data) == plain_map(data)


def test_a_name_holding_nul_is_refused(tmp_path):
    """numpy byte strings drop trailing NULs: such a name could not be kept as it is."""
    path = tmp_path / "map.pkl"
    for mapping in ({"img\0": 1}, {"a\0b": 1, "c": 2}):
        for data in encodings(mapping):
            path.write_bytes(data)
            with pytest.raises(InputError, match="holds a NUL byte"):
                read_id_map(str(path))


def test_crafted_memo_index_is_refused_at_once(tmp_path):
    """A 9-byte map whose LONG_BINPUT index is 2**29: refused before the unpickler sizes its
    memo table to it (that took ~25 s and gigabytes)."""
    path = tmp_path / "map.pkl"
    path.write_bytes(b"\x80\x02}r\x00\x00\x00\x20.")
    with pytest.raises(InputError, match="memo index 536870912 .* beyond"):
        read_id_map(str(path))


@pytest.mark.parametrize("min_df", [1, 2, 3, 6, 10])
def test_min_df_pruning_equals_count_vectorizer(min_df):
    """The words kept (document frequency >= min_df) and their ids are CountVectorizer's."""
    from sklearn.feature_extraction.text import CountVectorizer
    rng = random.Random(min_df)
    pool = [f"w{i}" for i in range(60)]
    docs = [[rng.choice(pool[:rng.randint(1, 60)]) for _ in range(rng.randint(0, 15))]
            for _ in range(300)]
    vectorizer = CountVectorizer(min_df=min_df, analyzer=lambda doc: doc).fit(docs)
    vocabulary = fit_vocabulary(iter(docs), min_df, "english", "t", len(docs), "", "here")
    assert {w: i for i, w in enumerate(vocabulary.words)} == vectorizer.vocabulary_


def test_too_high_min_df_names_the_largest_that_keeps_a_word():
    docs = [["a1", "b2"], ["a1"], ["a1", "c3"]]
    with pytest.raises(InputError, match="largest value that keeps a word is 3"):
        fit_vocabulary(iter(docs), 4, "english", "t", 3, "", "here")
    with pytest.raises(InputError, match="nothing to build a vocabulary from"):
        fit_vocabulary(iter([[], []]), 1, "english", "t", 2, "", "here")


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def test_cgroup_quota_v2_v1_and_none(tmp_path):
    root = str(tmp_path / "cgroup")
    membership = str(tmp_path / "self_cgroup")
    write(membership, "0::/docker/abc\n")
    write(os.path.join(root, "docker", "abc", "cpu.max"), "150000 100000\n")
    write(os.path.join(root, "docker", "cpu.max"), "max 100000\n")
    assert cgroup_cpu_quota(root, membership) == 1.5
    write(os.path.join(root, "cpu.max"), "50000 100000\n")  # a parent's smaller limit wins
    assert cgroup_cpu_quota(root, membership) == 0.5
    write(membership, "4:cpu,cpuacct:/\n")
    write(os.path.join(root, "cpu,cpuacct", "cpu.cfs_quota_us"), "200000\n")
    write(os.path.join(root, "cpu,cpuacct", "cpu.cfs_period_us"), "100000\n")
    assert cgroup_cpu_quota(root, membership) == 2.0
    write(os.path.join(root, "cpu,cpuacct", "cpu.cfs_quota_us"), "-1\n")
    assert cgroup_cpu_quota(root, membership) is None
    assert cgroup_cpu_quota(root, str(tmp_path / "absent")) is None


def test_default_jobs_honours_the_quota(monkeypatch):
    from amc_keywords import workers
    monkeypatch.setattr(workers, "cgroup_cpu_quota", lambda: 1.5)
    assert workers.default_jobs() == min(2, _cores())
    monkeypatch.setattr(workers, "cgroup_cpu_quota", lambda: 0.2)
    assert workers.default_jobs() == 1
    monkeypatch.setattr(workers, "cgroup_cpu_quota", lambda: None)
    assert workers.default_jobs() == _cores()


def _cores():
    count = getattr(os, "process_cpu_count", None)
    return count() if count else len(os.sched_getaffinity(0))


def test_macosx_named_keyword_file_is_kept_and_the_folder_skipped(tmp_path):
    """Only the ``__MACOSX/`` folder and ``._`` files are junk: a keyword file that happens
    to be named ``__MACOSX.json`` is read (a case the property test once drew)."""
    path = tmp_path / "keywords_m.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("__MACOSX.json", b"{}")
        zf.writestr("__MACOSX/._x.json", b"\0")
        zf.writestr("x.json", b"[]")
    source = ZipSource(str(path))
    assert sorted(source.keys.tolist()) == [b"__MACOSX", b"x"]


@given(st.binary(max_size=5000), st.integers(0, 2**32 - 1))
def test_isal_crc32_is_zlib_s(data, start):
    """Members' CRC-32 are checked with ISA-L's (faster): the zip format's, as zlib's is."""
    from isal import isal_zlib
    assert isal_zlib.crc32(data) == zlib.crc32(data)
    assert isal_zlib.crc32(data, start) == zlib.crc32(data, start)


slices = st.lists(st.tuples(st.integers(0, 40), st.integers(0, 9)), max_size=30)


@SETTINGS
@given(slices, st.sampled_from([np.int64, np.int32, np.uint16]))
def test_ragged_positions_gather_what_slicing_does(pairs, dtype):
    """Each slice in turn, empty ones and none at all included, whatever the integer type."""
    flat = np.arange(1000, 1050)
    starts = np.array([start for start, _ in pairs], dtype)
    lengths = np.array([length for _, length in pairs], dtype)
    positions = ragged_positions(starts, lengths)
    expected = np.concatenate([flat[s:s + n] for s, n in pairs] + [np.empty(0, flat.dtype)])
    assert positions.dtype == np.int64
    np.testing.assert_array_equal(flat[positions], expected)


@SETTINGS
@given(st.lists(st.integers(0, 9), max_size=30), st.integers(0, 5), st.randoms())
def test_run_sums_sum_each_run(lengths, extra, rng):
    """Runs cut one after the other from the first value (values left over at the end)."""
    values = np.array([rng.randint(0, 1) for _ in range(sum(lengths) + extra)], bool)
    ends = np.cumsum(lengths, dtype=np.int64)
    expected = [int(values[end - n:end].sum()) for end, n in zip(ends, lengths)]
    assert run_sums(values, np.array(lengths, np.int64)).tolist() == expected


@SETTINGS
@given(st.binary(min_size=60, max_size=60), slices, st.sampled_from([1 << 16, 3]))
def test_gather_strings_gives_the_slices_of_the_bytes(data, pairs, chunk):
    """NUL bytes and empty strings included, in chunks of any size."""
    positions = np.array([position for position, _ in pairs], np.int64)
    lengths = np.array([length for _, length in pairs], np.int64)
    strings = [data[p:p + n] for p, n in pairs]
    width = max(map(len, strings), default=1) or 1
    expected = np.array(strings, f"S{width}")
    assert gather_strings(data, positions, lengths, chunk).tobytes() == expected.tobytes()
