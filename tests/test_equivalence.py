"""Same numbers as the plain algorithm: the toolkit against tests/reference.py on hard data."""
import json
import os
import pathlib
import random
import re
import shutil

import numpy as np
import pytest
import reference
from conftest import CLICKTURE, MSCOCO, ROOT, clickture_args, run, run_in_process, unzip

from amc_keywords import sample
from amc_keywords.analyzer import (
    TOKEN_SEP,
    AnalyzerSettings,
    KeywordEncoder,
    analyzer_of_each,
    analyzer_settings,
    make_vectorizer,
)
from amc_keywords.errors import InputError
from amc_keywords.keyword_files import parse_keyword_files
from amc_keywords.vocabulary import Vocabulary
from amc_keywords.writing import RowWriter

OUT_NAMES = ["img_keyword_ind_clickture_lite_sk_6_sparse.npy",
             "img_keyword_ind_clickture_dev_sk_6_sparse.npy",
             "img_keyword_range_clickture_lite_sk_6.npy",
             "img_keyword_range_clickture_dev_sk_6.npy",
             "img_names_clickture_lite.npy", "img_names_clickture_dev.npy",
             "vocabulary_clickture_sk_6.json"]


def read_bytes(folder, names=OUT_NAMES):
    """Each output's bytes; a vocabulary's without its "inputs" (the fingerprints of what it
    was fitted from, which differ between an archive and its unzipped folder)."""
    found = {}
    for name in names:
        raw = pathlib.Path(folder, name).read_bytes()
        if name.endswith(".json"):
            vocabulary = json.loads(raw)
            assert isinstance(vocabulary.pop("inputs"), dict)
            raw = json.dumps(vocabulary).encode()
        found[name] = raw
    return found


@pytest.fixture(scope="module")
def clickture_reference(hard_clickture, tmp_path_factory):
    unzipped = tmp_path_factory.mktemp("unzipped")
    for name in ("dev", "lite"):
        unzip(hard_clickture / f"keywords_{name}.zip", unzipped)
    return reference.clickture(unzipped / "keywords_dev", hard_clickture / "clickture-dev.lst",
                               unzipped / "keywords_lite", hard_clickture / "clickture-lite.lst")


@pytest.fixture(scope="module")
def clickture_out(hard_clickture, tmp_path_factory):
    out = tmp_path_factory.mktemp("out_zip")
    run_in_process("clickture", *clickture_args(hard_clickture, out))
    return out


def test_clickture_rows_equal_reference(clickture_out, clickture_reference, hard_clickture):
    vocabulary, lite_rows, dev_rows = clickture_reference
    for name, expected in (("lite", lite_rows), ("dev", dev_rows)):
        rows = np.load(clickture_out / f"img_keyword_ind_clickture_{name}_sk_6_sparse.npy")
        assert rows.dtype == np.int64 and rows.ndim == 2 and rows.shape[1] == 2
        assert len(rows) > 1000  # the data really has rows to compare
        np.testing.assert_array_equal(rows, expected)
    words = Vocabulary.load(clickture_out / "vocabulary_clickture_sk_6.json").words
    assert {w: i for i, w in enumerate(words)} == vocabulary


def test_clickture_range_and_names_tables(clickture_out, clickture_reference, hard_clickture):
    _, lite_rows, dev_rows = clickture_reference
    for name, rows in (("lite", lite_rows), ("dev", dev_rows)):
        entries = reference.read_lines(hard_clickture / f"clickture-{name}.lst")
        ids = [int(e.split("/")[-1]) for e in entries]
        table = np.load(clickture_out / f"img_keyword_range_clickture_{name}_sk_6.npy")
        np.testing.assert_array_equal(table, reference.range_table(rows, ids))
        assert (table[:, 0] == -1).any()  # the hard data has images without rows
        names = np.load(clickture_out / f"img_names_clickture_{name}.npy")
        prefix = "img" if name == "dev" else "lite_img"
        assert [n.decode() for n in names[ids]] == [f"{prefix}{i}" for i in ids]


def test_zip_and_folder_give_same_bytes(hard_clickture, clickture_out, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(hard_clickture, data)
    for name in ("dev", "lite"):
        unzip(data / f"keywords_{name}.zip", data)
        os.remove(data / f"keywords_{name}.zip")  # only the folders remain
    out = tmp_path / "out"
    run_in_process("clickture", *clickture_args(data, out))
    assert read_bytes(out) == read_bytes(clickture_out)


def test_any_worker_count_gives_same_bytes(hard_clickture, clickture_out, tmp_path):
    for jobs in (1, 3):
        out = tmp_path / f"jobs{jobs}"
        run_in_process("clickture", *clickture_args(hard_clickture, out), "--jobs", jobs)
        assert read_bytes(out) == read_bytes(clickture_out)


def test_both_invocations_give_same_bytes(tmp_path):
    from_root, from_folder = tmp_path / "root", tmp_path / "folder"
    run(CLICKTURE, "--sample", "--out-dir", from_root, "--quiet", cwd=ROOT)
    run("pro_keyword_clickture.py", "--sample", "--out-dir", from_folder, "--quiet",
        cwd=os.path.join(ROOT, "clickture"))
    assert read_bytes(from_root) == read_bytes(from_folder)
    run(MSCOCO, "--sample", "--out-dir", tmp_path / "c1", "--quiet", cwd=ROOT)
    run("pro_keyword_mscoco.py", "--sample", "--out-dir", tmp_path / "c2", "--quiet",
        cwd=os.path.join(ROOT, "mscoco"))
    names = ["img_keyword_ind_coco_sk_6.npy", "img_keyword_range_coco_sk_6.npy",
             "img_names_coco.npy", "vocabulary_coco_sk_6.json"]
    assert read_bytes(tmp_path / "c1", names) == read_bytes(tmp_path / "c2", names)


def test_default_paths_resolve_from_script_location(tmp_path):
    """With no options the script looks beside itself and in ../keyword, from any cwd."""
    proc = run(CLICKTURE, "--quiet", cwd=tmp_path, check=False)
    assert proc.returncode != 0
    expected = os.path.join(ROOT, "keyword", "keywords_")
    assert expected in proc.stderr and "Traceback" not in proc.stderr


def test_coco_rows_equal_reference(hard_coco, tmp_path):
    out = tmp_path / "out"
    run_in_process("coco", "--keyword-dir", hard_coco, "--out-dir", out, "--quiet")
    unzip(hard_coco / "keywords_coco.zip", tmp_path)
    vocabulary, expected = reference.coco(tmp_path / "keywords_coco")
    rows = np.load(out / "img_keyword_ind_coco_sk_6.npy")
    assert len(rows) > 1000
    np.testing.assert_array_equal(rows, expected)
    words = Vocabulary.load(out / "vocabulary_coco_sk_6.json").words
    assert {w: i for i, w in enumerate(words)} == vocabulary
    with open(tmp_path / "keywords_coco" / "dataset.json") as f:
        images = [im for im in json.load(f)["images"] if im["split"] in ("train", "test")]
    table = np.load(out / "img_keyword_range_coco_sk_6.npy")
    np.testing.assert_array_equal(table, reference.range_table(
        expected, [im["imgid"] for im in images]))
    names = np.load(out / "img_names_coco.npy")
    assert all(names[im["imgid"]].decode() == im["filename"] for im in images)
    # From the unzipped folder too, and with other splits and min_df.
    out2 = tmp_path / "out2"
    run_in_process("coco", "--keyword-dir", tmp_path, "--out-dir", out2, "--quiet")
    assert (out2 / "img_keyword_ind_coco_sk_6.npy").read_bytes() == \
        (out / "img_keyword_ind_coco_sk_6.npy").read_bytes()


def test_coco_other_splits_and_options(hard_coco, tmp_path):
    out = tmp_path / "out"
    run_in_process("coco", "--keyword-dir", hard_coco, "--out-dir", out, "--quiet", "--splits",
                   "train", "--min-df", 3, "--stop-words", "none")
    unzip(hard_coco / "keywords_coco.zip", tmp_path)
    _, expected = reference.coco(tmp_path / "keywords_coco", ("train",), 3, None)
    np.testing.assert_array_equal(np.load(out / "img_keyword_ind_coco_sk_3.npy"), expected)


def test_clickture_options_min_df_stop_words_vocab_from(hard_clickture, tmp_path):
    out = tmp_path / "out"
    run_in_process("clickture", *clickture_args(hard_clickture, out), "--min-df", 2,
                   "--stop-words", "none", "--vocab-from", "both")
    unzipped = tmp_path / "unzipped"
    for name in ("dev", "lite"):
        unzip(hard_clickture / f"keywords_{name}.zip", unzipped)
    entries = {n: reference.read_lines(hard_clickture / f"clickture-{n}.lst")
               for n in ("dev", "lite")}
    docs = {n: [(int(e.split("/")[-1]), reference.document(unzipped / f"keywords_{n}", e))
                for e in entries[n]] for n in entries}
    vectorizer = reference.fit([d for n in ("lite", "dev") for _, d in docs[n]], 2, None)
    for n in ("dev", "lite"):
        np.testing.assert_array_equal(
            np.load(out / f"img_keyword_ind_clickture_{n}_sk_2_sparse.npy"),
            reference.encode(vectorizer, docs[n]))


def test_vocabulary_is_reused_only_when_it_matches(hard_clickture, tmp_path):
    out = tmp_path / "out"
    first = run_in_process("clickture", *clickture_args(hard_clickture, out)).stdout
    assert "fitted on 700 images" in first
    before = read_bytes(out)
    # --force: the manifest would otherwise say the outputs are up to date.
    second = run_in_process("clickture", *clickture_args(hard_clickture, out), "--force").stdout
    assert "reusing" in second and read_bytes(out) == before
    # Fitting and reusing: the same outputs (above) and the same figures.
    summary = [line for line in first.splitlines() if line.startswith(("lite:", "dev:"))]
    assert len(summary) == 2
    assert summary == [line for line in second.splitlines() if line.startswith(("lite:", "dev:"))]
    forced = run_in_process("clickture", *clickture_args(hard_clickture, out), "--refit").stdout
    assert "fitted on 700 images" in forced and read_bytes(out) == before
    # Same file name, other stop words: the file's parameters differ, so it is refitted.
    other = run_in_process("clickture", *clickture_args(hard_clickture, out), "--stop-words",
                           "none").stdout
    assert "fitting again" in other
    vocabulary = Vocabulary.load(out / "vocabulary_clickture_sk_6.json")
    assert vocabulary.stop_words == "none" and "the" in vocabulary.words


def test_summary_reports_the_figures(hard_clickture, tmp_path):
    stdout = run_in_process("clickture", *clickture_args(hard_clickture, tmp_path)).stdout
    rows = np.load(tmp_path / "img_keyword_ind_clickture_dev_sk_6_sparse.npy")
    table = np.load(tmp_path / "img_keyword_range_clickture_dev_sk_6.npy")
    empty = int(np.count_nonzero(table[:, 0] == -1))
    assert f"dev: 700 images read, {len(rows)} rows written, {empty} images with no rows" \
        in stdout
    words = Vocabulary.load(tmp_path / "vocabulary_clickture_sk_6.json").words
    assert f"vocabulary size: {len(words)}" in stdout
    assert str(tmp_path / "img_keyword_ind_clickture_dev_sk_6_sparse.npy") in stdout


def random_keywords(rng):
    pool = sample.HARD + sample.WORDS[:30] + sample.PHRASES + sample.STOP_WORDS
    return [rng.choice(pool) if rng.random() < 0.8 else
            "".join(chr(rng.choice([rng.randint(32, 0x24F), rng.randint(0x370, 0x3FF),
                                    rng.randint(0x4E00, 0x4E2F), 0x3A3, 0x130, 0x2019,
                                    0x0301, 0x200B, 0x00A0]))
                    for _ in range(rng.randint(0, 12)))
            for _ in range(rng.randint(0, 8))]


def analyzer_of_one(settings):
    """The analyzer of ``settings`` on one document: its tokens."""
    analyze_each = analyzer_of_each(settings)
    return lambda document: analyze_each([document])[0]


@pytest.mark.parametrize("stop_words", ["english", "none"])
def test_our_analyzer_equals_sklearn_analyzer(stop_words):
    """Workers analyse without scikit-learn, from the settings read off its vectorizer."""
    rng = random.Random(3)
    documents = [" ".join(random_keywords(rng)) for _ in range(5000)]
    documents += [*sample.HARD, "ΣΑΣ ΑΣ", "İİ ıı", "ǅǅ ǆǆ", "ﬁﬁ ßß", "Ⅻ ⅻ",
                            "THE The the", "x y zz", "a\u0301b \u0301ab"]
    expected = make_vectorizer(1, stop_words).build_analyzer()
    analyzer = analyzer_of_one(analyzer_settings(stop_words))
    for document in documents:
        assert analyzer(document) == expected(document), document
    assert any(analyzer(d) != analyzer_of_one(analyzer_settings("none"))(d)
               for d in documents) == (stop_words == "english")  # stop words do matter


@pytest.mark.parametrize("stop_words", ["english", "none"])
def test_the_checked_copy_is_the_installed_vectorizer_s(stop_words):
    """A run never imports scikit-learn: the analyzer's settings are a copy of its
    CountVectorizer's, which must be the installed one's, down to every stop word."""
    vectorizer = make_vectorizer(1, stop_words)
    assert (vectorizer.analyzer, vectorizer.preprocessor, vectorizer.tokenizer,
            vectorizer.strip_accents, tuple(vectorizer.ngram_range)) == \
        ("word", None, None, None, (1, 1))  # nothing beyond the three settings
    settings = analyzer_settings(stop_words)
    stop = vectorizer.get_stop_words()
    assert (settings.lowercase, settings.token_pattern, settings.stop_set) == (
        vectorizer.lowercase, vectorizer.token_pattern,
        None if stop is None else frozenset(stop))


def test_analyzer_settings_refuse_tokens_across_the_joining_space():
    """The per-keyword cache is right only while no token spans the space between keywords
    or holds the token separator: settings that would allow one are refused when made."""
    AnalyzerSettings(token_pattern=r"(?u)\b\w+\b")  # one-letter words: fine
    for pattern in (r"\w+ \w+", r"(?u)\b[\w ]+\b", f"a{TOKEN_SEP}b|\\w+"):
        with pytest.raises(ValueError, match="span a space or the token separator"):
            AnalyzerSettings(token_pattern=pattern)
    with pytest.raises(InputError, match="stop_words='french': expected one of"):
        AnalyzerSettings(stop_words="french")


def test_the_version_read_without_import_is_sklearn_s():
    import sklearn

    from amc_keywords.vocabulary import sklearn_version
    assert sklearn_version() == sklearn.__version__


@pytest.mark.parametrize("stop_words", ["english", "none"])
def test_keyword_encoder_equals_analyzer_on_joined_document(stop_words):
    rng = random.Random(5)
    lists = [random_keywords(rng) for _ in range(3000)]
    vectorizer = make_vectorizer(2, stop_words).fit([" ".join(k) for k in lists])
    words = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.get)
    analyzer = vectorizer.build_analyzer()
    expected_tokens = [analyzer(" ".join(keywords)) for keywords in lists]
    expected_ids = [[vectorizer.vocabulary_[t] for t in tokens if t in vectorizer.vocabulary_]
                    for tokens in expected_tokens]
    encoder = KeywordEncoder(words, analyzer_settings(stop_words))
    # Batches of varied size, as chunks are; the first ones meet every keyword for the first
    # time, later ones mix known and new keywords.
    start = 0
    while start < len(lists):
        stop = start + rng.choice([1, 2, 7, 50, 400])
        batch = lists[start:stop]
        counts, ids, n_tokens = encoder.encode_lists(batch)
        assert counts.tolist() == [len(e) for e in expected_ids[start:stop]]
        assert ids.tolist() == [i for e in expected_ids[start:stop] for i in e]
        assert n_tokens == sum(map(len, expected_tokens[start:stop]))
        texts = encoder.token_texts(batch)
        assert [t.split(TOKEN_SEP) if t else [] for t in texts] == expected_tokens[start:stop]
        start = stop
    for keywords, tokens, ids in zip(lists, expected_tokens, expected_ids):
        counts, got, n_tokens = encoder.encode_lists([keywords])  # a list on its own
        assert (got.tolist(), n_tokens) == (ids, len(tokens)), keywords


@pytest.mark.parametrize("stop_words", ["english", "none"])
def test_a_chunk_s_new_keywords_learned_at_once_are_analysed_as_each_alone(stop_words):
    """A chunk's new keywords are analysed in one batch: the tokens and ids are the
    analyzer's of each image's document, for non-ASCII keywords, keywords that are all stop
    words or empty, and a new keyword repeated within an image and across images."""
    settings = analyzer_settings(stop_words)
    analyze = analyzer_of_one(settings)
    keywords = ["the and of", "Café", "ΣΑΣ", "東京 タワー", "", "dog", "a", "İstanbul",
                "x y", "The Dog", "ﬁsh ǅemal", *sample.HARD]
    tokens = sorted({t for k in keywords for t in analyze(k)})
    words = tokens[::2]  # half of the tokens in the vocabulary
    index = {w: i for i, w in enumerate(words)}
    lists = [keywords[:5], ["dog", "dog", "the and of"], [], keywords, ["dog"] * 3 + ["Café"],
             ["a", "the and of", ""]]
    encoder = KeywordEncoder(words, settings)
    counts, ids, n_tokens = encoder.encode_lists(lists)
    expected = [[index[t] for t in analyze(" ".join(k)) if t in index] for k in lists]
    assert counts.tolist() == [len(e) for e in expected]
    assert ids.tolist() == [i for e in expected for i in e]
    assert n_tokens == sum(len(analyze(" ".join(k))) for k in lists)
    assert len(encoder.number) == len(set(keywords))  # each distinct keyword learned once
    texts = KeywordEncoder(words, settings).token_texts(lists)
    assert [t.split(TOKEN_SEP) if t else [] for t in texts] == \
        [analyze(" ".join(k)) for k in lists]
    with pytest.raises(TypeError):  # a new keyword that is not a string, among new ones
        KeywordEncoder(words, settings).encode_lists([["new one", 7, "dog"]])


# Keyword files the fast JSON path must read exactly as json.loads does, or hand over to it:
# fields it skips holding invalid UTF-8 or NaN, lone surrogates, repeated keys (the last one
# counts), escaped key names, trailing data, deep nesting, non-string keywords.
KEYWORD_FILES = [
    b'{"tagging": {"keywords": ["a"]}, "tagging": {"keywords": ["b"]}}',
    b'{"tagging": {"keywords": ["a"], "keywords": ["b", "c"]}}',
    b'{"tagging": {"keywords": ["a"]}, "tagging": 5}',
    b'{"id": "\xff\xfe", "tagging": {"keywords": ["dog"]}}',
    b'{"id": "\xed\xa0\x80", "tagging": {"keywords": ["dog"]}}',
    b'{"id": "caf\xc3\xa9", "tagging": {"keywords": ["caf\xc3\xa9", "\\u00e9t\\u00e9"]}}',
    b'{"tagging": {"keywords": ["\\ud800", "dog"]}}',
    b'{"tagging": {"keywords": ["\\ud83d\\udc36 dog", "\\u0000", "tab\\tnew\\nline"]}}',
    b'{"score": NaN, "tagging": {"keywords": ["dog"]}}',
    b'{"score": -Infinity, "tagging": {"keywords": ["dog"]}}',
    b'{"score": 1e999, "big": 123456789012345678901234567890, "tagging": {"keywords": ["a"]}}',
    b'\xef\xbb\xbf{"tagging": {"keywords": ["dog"]}}',
    b'{"tagg\\u0069ng": {"k\\u0065ywords": ["dog"]}}',
    b'{"tagging": {"keywords": ["raw\ttab"]}}',
    b'{"tagging": {"keywords": ["dog"]}} trailing',
    b'  {"tagging": {"keywords": ["dog"]}}  \n',
    b'{"tagging": {"keywords": ["dog"]},}',
    b'{"x": [1,], "tagging": {"keywords": ["dog"]}}',
    b'{"x": ' + b'[' * 3000 + b']' * 3000 + b', "tagging": {"keywords": ["dog"]}}',
    b'{"tagging": {"keywords": ["dog", 7, null, ["cat"], {"a": 1}, true, 1.5]}}',
    b'{"tagging": {"keywords": []}, "other": {"keywords": ["x"]}}',
    b'{"tagging": {"keywords": null}}',
    b'{"tagging": ["keywords"]}',
    b'{"tagging": {"scores": [0.5]}}',
    b'[{"tagging": {"keywords": ["dog"]}}]',
    b'"dog"',
    b'',
]


def json_keywords(raw):
    """The plain algorithm's reading of a keyword file: the keywords, or "error" (a UTF-8
    byte-order mark read as absent, as Python's utf-8-sig codec reads it)."""
    try:
        keywords = json.loads(raw.decode("utf-8-sig"))["tagging"]["keywords"]
    except (ValueError, KeyError, TypeError, IndexError, RecursionError):
        return "error"
    return keywords if isinstance(keywords, list) else "error"


def random_keyword_file(rng):
    """A keyword file with the keywords among other fields, some odd, in varied layouts."""
    def value(depth=0):
        kind = rng.randrange(7 if depth < 3 else 4)
        if kind == 0:
            return rng.choice([0, -1, 2 ** 70, 0.5, 1e300, True, False, None])
        if kind <= 2:
            return "".join(chr(rng.choice([rng.randint(32, 126), rng.randint(0xA0, 0x24F),
                                           0x4E00, 0x1F436, 0x22, 0x5C, 0x0A]))
                           for _ in range(rng.randint(0, 6)))
        if kind == 3:
            return random_keywords(rng)
        if kind == 4:
            return [value(depth + 1) for _ in range(rng.randint(0, 3))]
        return {rng.choice(["id", "keywords", "scores", "tagging", "x"]): value(depth + 1)
                for _ in range(rng.randint(0, 3))}
    tagging = {"keywords": random_keywords(rng)}
    for _ in range(rng.randint(0, 2)):
        tagging[rng.choice(["scores", "model", "k"])] = value()
    doc = {"tagging": tagging}
    for _ in range(rng.randint(0, 3)):
        doc[rng.choice(["id", "url", "x", "keywords"])] = value()
    items = list(doc.items())
    rng.shuffle(items)
    text = json.dumps(dict(items), ensure_ascii=rng.random() < 0.5,
                      indent=rng.choice([None, 0, 2]))
    return text.encode("utf-8")


def test_keyword_file_parsing_equals_json_module():
    rng = random.Random(11)
    files = KEYWORD_FILES + [random_keyword_file(rng) for _ in range(3000)]
    parsed = 0
    for raw in files:
        expected = json_keywords(raw)
        try:
            got = parse_keyword_files([raw], lambda i: "test.json")[0]
        except InputError as exc:
            assert expected == "error", (raw, str(exc))
            assert str(exc).startswith("test.json: "), str(exc)
            continue
        assert expected != "error", raw
        assert got == expected and list(map(type, got)) == list(map(type, expected)), raw
        parsed += 1
    assert parsed > 3000 - 100  # the random files are valid: nearly all of them parse
    # In one batch, as a worker parses a chunk: the same lists, and an error names the file.
    good = [raw for raw in files if json_keywords(raw) != "error"]
    assert parse_keyword_files(good, str) == [json_keywords(raw) for raw in good]
    with pytest.raises(InputError, match="^7: not valid JSON"):
        parse_keyword_files(good[:7] + [b"{"] + good[7:], str)


@pytest.mark.parametrize("bad", [7, None, 1.5, True, ["nested"], {"a": 1}])
def test_keyword_encoder_refuses_non_strings(bad):
    encoder = KeywordEncoder(["cat", "dog"], analyzer_settings("english"))
    encoder.encode_lists([["cat"], ["dog"]])
    for method in (encoder.encode_lists, encoder.token_texts):
        with pytest.raises(TypeError):
            method([["cat"], ["dog", bad, "cat"]])
    assert encoder.encode_lists([["dog", "a cat"], []])[0].tolist() == [2, 0]


def test_row_writer_bytes_equal_np_save(tmp_path):
    rng = np.random.default_rng(0)
    for n in (0, 1, 5, 100003):
        rows = rng.integers(0, 10 ** 6, size=(n, 2), dtype=np.int64)
        (tmp_path / "streamed.npy").touch()  # as OutputSet makes its temporaries
        writer = RowWriter(str(tmp_path / "streamed.npy"))
        for start in range(0, n, 7919):
            writer.write(rows[start:start + 7919])
        writer.close()
        np.save(tmp_path / "saved.npy", rows)
        assert (tmp_path / "streamed.npy").read_bytes() == (tmp_path / "saved.npy").read_bytes()


@pytest.mark.parametrize("kind", ["uniform", "signature in a name", "zip64 (70,000 members)"])
def test_zip_directory_reader_agrees_with_zipfile(tmp_path, kind):
    import zipfile

    from amc_keywords.lists import Entries
    from amc_keywords.sources import ZipSource
    from amc_keywords.zip_reader import ZipDirectory, read_members
    n = 70000 if kind.startswith("zip64") else 300
    members = [(f"{i:08d}.json", json.dumps({"tagging": {"keywords": [f"w{i % 13}"]}}).encode())
               for i in range(n)]
    if kind == "signature in a name":
        members.insert(5, ("odd PK\x01\x02 name.json", b"{}"))
        members.append(("sub/../x.json", b"{}"))
    path = str(tmp_path / "keywords_x.zip")
    sample.write_zip(path, members, "keywords_x", junk=kind != "uniform")
    source = ZipSource(path)
    with zipfile.ZipFile(path) as zf:
        expected = {i.filename[len("keywords_x/"):-5].encode(): zf.read(i) for i in zf.infolist()
                    if i.filename.endswith(".json") and "__MACOSX" not in i.filename
                    and "/._" not in i.filename and ".." not in i.filename}
        if kind.startswith("zip64"):
            assert len(zf.infolist()) > 65535  # so the archive has a Zip64 end record
    assert source.top == "keywords_x"
    assert sorted(source.keys.tolist()) == sorted(expected)
    keys = source.keys[::max(1, n // 500)]
    plan = source.plan(Entries(keys, np.arange(len(keys)), "test"))
    chunk = plan.read(0, len(plan))
    got = dict(zip(keys.tolist(), read_members(*source.payload(chunk)[1:])))
    assert got == {k: expected[k] for k in keys.tolist()}
    if kind == "signature in a name":
        assert ZipDirectory(path).unsafe == ["keywords_x/sub/../x.json"]


def test_shipped_sample_is_what_the_generator_makes(tmp_path):
    """The shipped sample is reproducible: `python -m amc_keywords.sample
    amc_keywords/sample_data`."""
    sample.make_sample(str(tmp_path))
    shipped = os.path.join(ROOT, "amc_keywords", "sample_data")
    assert sorted(os.listdir(tmp_path)) == sorted(os.listdir(shipped))
    for name in os.listdir(shipped):
        assert (tmp_path / name).read_bytes() == pathlib.Path(shipped, name).read_bytes()
    assert sum(os.path.getsize(os.path.join(shipped, n)) for n in os.listdir(shipped)) < 1 << 20


def plain_id_map(raw):
    """What read_id_map must return, computed the obvious way: unpickle, sort by id."""
    import pickle
    mapping = pickle.loads(raw, encoding="bytes")
    pairs = sorted((v, k if isinstance(k, bytes) else k.encode("utf-8"))
                   for k, v in mapping.items())
    return [v for v, _ in pairs], [k for _, k in pairs]


def id_map_cases():
    import pickle
    rng = random.Random(3)
    ids = rng.sample(range(2 ** 31 - 1), 2600) + [0, 255, 256, 65535, 65536]
    names = [f"img{i}" for i in ids]
    cases = {}
    for n in (1, 2, 999, 1000, 1001, 2001, len(ids)):  # full batches and lone SETITEMs
        mapping = dict(zip(names[:n], ids[:n]))
        cases[f"cpickle {n}"] = (sample.py2_pickle(mapping), True)
        cases[f"memoized {n}"] = (sample.py2_pickle(mapping, memo=True), True)
    long_names = {"x" * 300: 1, "y" * 255: 2, "img" * 60: 3}  # BINSTRING for 256 bytes and up
    cases["long names"] = (sample.py2_pickle(long_names), False)
    cases["non-ASCII names"] = (sample.py2_pickle({"café": 1, "img2": 2}), False)
    cases["python 3 str keys"] = (pickle.dumps(dict(zip(names, ids)), protocol=2), False)
    cases["python 3 protocol 5"] = (pickle.dumps(dict(zip(names, ids)), protocol=5), False)
    # A name given twice: the dict keeps its last id, and so must we.
    twice = sample.py2_pickle({"img1": 1, "img2": 2}).replace(b"img2", b"img1")
    cases["name given twice"] = (twice, False)
    return cases


@pytest.mark.parametrize("case", sorted(id_map_cases()))
def test_id_map_reader_equals_unpickling(tmp_path, case):
    from amc_keywords.idmap import _read_py2_dict, read_id_map
    raw, fast = id_map_cases()[case]
    path = tmp_path / "map.pkl"
    path.write_bytes(raw)
    ids, names = read_id_map(str(path))
    assert (ids.tolist(), names.tolist()) == plain_id_map(raw)
    # The cPickle layout takes the vectorised path; anything else the unpickler's.
    assert (_read_py2_dict(raw) is not None) == fast


def test_id_map_reader_refuses_what_the_unpickler_refuses(tmp_path):
    from amc_keywords.errors import InputError
    from amc_keywords.idmap import read_id_map
    raw = sample.py2_pickle({f"img{i}": i for i in range(1500)})
    path = tmp_path / "map.pkl"
    for bad, phrase in ((raw[:-1], "not a readable"), (raw[:len(raw) // 2], "not a readable"),
                        (sample.py2_pickle({"img1": 1, "img2": -5}), "non-negative integer"),
                        (sample.py2_pickle({"img1": 7, "img2": 7}), "id 7 is given to two")):
        path.write_bytes(bad)
        with pytest.raises(InputError, match=phrase):
            read_id_map(str(path))


def test_zip_lookup_when_keys_share_a_hash(tmp_path, monkeypatch):
    """Keys whose hashes collide are found by string search, with the same result."""
    from amc_keywords import sources
    from amc_keywords.lists import Entries
    members = [(f"{i:08d}.json", json.dumps({"tagging": {"keywords": [f"w{i}"]}}).encode())
               for i in range(300)]
    path = str(tmp_path / "keywords_x.zip")
    sample.write_zip(path, members, "keywords_x", junk=True)
    rng = np.random.default_rng(0)
    keys = np.array([f"{i:08d}".encode() for i in rng.permutation(300)])
    entries = Entries(keys, np.arange(300), "test")
    expected = sources.ZipSource(path).plan(entries).read(0, 300)
    # A list in archive order takes the no-search path: the same member for every key.
    in_order = Entries(np.sort(keys), np.arange(300), "test")
    by_key = {row["key"]: row["member"].tobytes() for row in expected}
    planned = sources.ZipSource(path).plan(in_order).read(0, 300)
    assert [row["member"].tobytes() for row in planned] == [by_key[k] for k in np.sort(keys)]
    monkeypatch.setattr(sources, "hash_keys", lambda k: np.zeros(len(k), np.uint64))
    colliding = sources.ZipSource(path)
    assert colliding.plan(entries).read(0, 300).tobytes() == expected.tobytes()
    assert colliding.order is not None and colliding.sorted is None  # searched by string
    with pytest.raises(InputError, match="no keyword file 'keywords_x/99999999.json'"):
        colliding.plan(Entries(np.array([b"00000001", b"99999999"]), np.arange(2), "t"))


def test_an_archive_is_read_ahead_by_the_kernel_and_a_folder_is_not(tmp_path, monkeypatch):
    """Planning a set asks the kernel to read its whole archive ahead (WILLNEED, from offset
    0 to the end); a folder is not read ahead; advice that fails is no error."""
    from amc_keywords import sources
    path = str(tmp_path / "keywords_x.zip")
    sample.write_zip(path, [(f"{i:08d}.json", b"{}") for i in range(3)], "keywords_x")
    advised = []

    def posix_fadvise(fd, offset, length, advice):
        advised.append((os.path.realpath(f"/proc/self/fd/{fd}"), offset, length, advice))
    monkeypatch.setattr(os, "posix_fadvise", posix_fadvise, raising=False)
    sources.ZipSource(path).read_soon()
    assert advised == [(os.path.realpath(path), 0, 0, os.POSIX_FADV_WILLNEED)]
    folder = tmp_path / "keywords_y"
    folder.mkdir()
    sources.FolderSource(str(folder)).read_soon()
    assert len(advised) == 1
    gone = sources.ZipSource(path)
    os.remove(path)
    gone.read_soon()  # no exception: only advice


def test_the_set_fitted_on_is_encoded_while_the_other_is_being_opened(hard_clickture,
                                                                        tmp_path):
    """dev, fitted on, is encoded before the run waits for Lite to be opened: its encoding
    goes on while a worker opens Lite."""
    result = run_in_process("clickture", *clickture_args(hard_clickture, tmp_path), "-v",
                            "--jobs", "2")
    steps = re.findall(r"time: (.+): [0-9.]+ s$", result.stdout + result.stderr, re.M)
    assert steps.index("encoding (dev)") < steps.index("opening lite")


