"""The outputs in training code: the loader as a dataset, batches, encoding new keywords,
Parquet export and the original scripts' layout (the documentation's examples are run by
test_docs.py)."""
import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import threading
import zipfile

import numpy as np
import pytest
import reference
from conftest import ROOT, clickture_args, run_in_process, unzip

from amc_keywords import load_keywords, sample
from amc_keywords.analyzer import make_vectorizer
from amc_keywords.vocabulary import Vocabulary

DEV = "img_keyword_ind_clickture_dev_sk_6_sparse.npy"


@pytest.fixture(scope="module")
def hard(hard_clickture, tmp_path_factory):
    out = tmp_path_factory.mktemp("hard_out")
    run_in_process("clickture", *clickture_args(hard_clickture, out))
    return out


def plain_words_of(rows, img_id):
    return rows[rows[:, 0] == img_id, 1]


def test_keywords_is_a_sequence_over_image_ids(hard):
    kw = load_keywords(hard / DEV)
    rows = np.load(hard / DEV)
    names = np.load(hard / "img_names_clickture_dev.npy")
    assert len(kw) == len(np.load(hard / "img_keyword_range_clickture_dev_sk_6.npy"))
    assert kw.n_rows == len(rows)
    np.testing.assert_array_equal(kw.ids, np.flatnonzero(names != b""))
    assert kw.n_images == 700
    for img_id, word_ids in enumerate(kw):
        assert word_ids.dtype == np.int64
        np.testing.assert_array_equal(word_ids, plain_words_of(rows, img_id))
        np.testing.assert_array_equal(kw[img_id], word_ids)
    with pytest.raises(KeyError):
        kw[len(kw)]
    # A sequence: -1 is the last image (tests/test_container.py); an image id is never
    # negative, so word_ids refuses it.
    np.testing.assert_array_equal(kw[-1], plain_words_of(rows, len(kw) - 1))
    with pytest.raises(KeyError):
        kw.word_ids(-1)


def test_pickles_by_path_and_reopens_the_memory_maps(hard):
    kw = load_keywords(hard / DEV)
    raw = pickle.dumps(kw)
    assert len(raw) < 1024
    again = pickle.loads(raw)
    assert isinstance(again.rows, np.memmap)
    np.testing.assert_array_equal(again.padded(kw.ids[:50]), kw.padded(kw.ids[:50]))
    custom = load_keywords(hard / DEV, vocabulary=hard / "vocabulary_clickture_sk_6.json")
    assert len(pickle.dumps(custom)) < 1024


def test_reading_from_threads_gives_the_same_answers(hard):
    kw = load_keywords(hard / DEV)
    expected = [kw[i] for i in range(len(kw))]
    matrices, failures = [], []

    def read():
        try:
            for i in range(len(kw)):
                assert np.array_equal(kw[i], expected[i])
            matrices.append(kw.matrix)
        except Exception as exc:  # reported below
            failures.append(exc)
    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures and all(m is matrices[0] for m in matrices)


@pytest.mark.parametrize("method", ["padded", "bag", "collate"])
def test_a_negative_id_in_a_batch_is_refused_not_wrapped(hard, method):
    """numpy would read ranges[-1], the last image's words: a batch is checked as kw[i] is."""
    kw = load_keywords(hard / DEV)
    for bad in (-1, -len(kw.ranges)):
        with pytest.raises(IndexError, match=f"image id {bad} is outside the range table"):
            getattr(kw, method)([kw.ids[0], bad])


def test_padded_bag_and_collate_equal_plain_loops(hard):
    kw = load_keywords(hard / DEV)
    rows = np.load(hard / DEV)
    V = len(kw.vocabulary)
    rng = np.random.default_rng(0)
    batch = rng.choice(kw.ids, 64)
    plain = [plain_words_of(rows, i) for i in batch]
    longest = max(len(p) for p in plain)
    padded = kw.padded(batch)
    assert padded.shape == (64, longest) and padded.dtype == np.int64
    for row, p in zip(padded, plain):
        np.testing.assert_array_equal(row[:len(p)], p)
        assert (row[len(p):] == V).all()
    cut = kw.padded(batch, max_len=3, pad=-1)
    for row, p in zip(cut, plain):
        np.testing.assert_array_equal(row, np.concatenate([p[:3], [-1] * (3 - len(p[:3]))]))
    flat, offsets = kw.bag(batch)
    np.testing.assert_array_equal(flat, np.concatenate(plain))
    np.testing.assert_array_equal(offsets, np.cumsum([0] + [len(p) for p in plain[:-1]]))
    ids, word_ids, lengths = kw.collate(list(batch))
    np.testing.assert_array_equal(ids, batch)
    np.testing.assert_array_equal(word_ids, padded)
    np.testing.assert_array_equal(lengths, [len(p) for p in plain])
    empty = kw.padded([])
    assert empty.shape == (0, 0)
    assert kw.bag([])[0].shape == (0,)


def hard_keyword_lists():
    rng = np.random.default_rng(5)
    maker = sample.KeywordMaker(__import__("random").Random(5), hard=True)
    lists = [maker.keywords() for _ in range(400)]
    lists += [["The", "the dog"], ["dog", "dog", "DOG"], [], ["café Café", "ǅemal"],
              ["a b c", "x"], ["rock'n'roll", "e-mail", "C++"], ["🐶 dog", "東京 タワー"]]
    return lists + [list(rng.choice(sample.WORDS, 3)) for _ in range(50)]


@pytest.mark.parametrize("stop_words", ["english", "none"])
def test_encode_equals_the_analyzer_on_the_joined_document(stop_words):
    lists = hard_keyword_lists()
    vectorizer = make_vectorizer(2, stop_words).fit([" ".join(k) for k in lists])
    words = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.get)
    vocabulary = Vocabulary(words, 2, stop_words)
    analyzer = vectorizer.build_analyzer()
    expected = [[vectorizer.vocabulary_[t] for t in analyzer(" ".join(keywords))
                 if t in vectorizer.vocabulary_] for keywords in lists]
    for keywords, ids in zip(lists, expected):
        assert vocabulary.encode(keywords).tolist() == ids
    assert [a.tolist() for a in vocabulary.encode_many(lists)] == expected
    assert vocabulary.encode_many([]) == []
    documents = [" ".join(k) for k in lists]
    assert (vocabulary.to_vectorizer().transform(documents) !=
            vectorizer.transform(documents)).nnz == 0


def test_encode_and_vectorizer_equal_the_outputs_of_the_sample(tmp_path):
    out = tmp_path / "out"
    run_in_process("clickture", "--sample", "--out-dir", out, "--quiet")
    kw = load_keywords(out / DEV)
    archive = os.path.join(ROOT, "amc_keywords", "sample_data", "keywords_dev.zip")
    documents = {}
    with zipfile.ZipFile(archive) as zf:
        for img_id in kw.ids:
            doc = json.loads(zf.read(f"keywords_dev/{img_id:08d}.json"))
            keywords = doc["tagging"]["keywords"]
            np.testing.assert_array_equal(kw.vocabulary.encode(keywords), kw[img_id])
            documents[img_id] = " ".join(keywords)
    counts = kw.vocabulary.to_vectorizer().transform([documents[i] for i in kw.ids])
    assert (counts != kw.matrix[kw.ids]).nnz == 0


@pytest.mark.parametrize("bad,phrase", [
    ("dog", "expected a list of strings"), (None, "expected a list of strings"),
    (["dog", 7], r"keywords\[1\]: expected a string, got int"),
    ([["nested"]], r"keywords\[0\]: expected a string, got list")])
def test_encode_refuses_what_is_not_a_keyword_list(bad, phrase):
    with pytest.raises(TypeError, match=phrase):
        Vocabulary(["dog"]).encode(bad)


def test_export_parquet_equals_the_loader(hard, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "dev.parquet"
    proc = subprocess.run([sys.executable, "-m", "amc_keywords", "export", str(hard / DEV),
                           str(path), "--format", "parquet", "--words"],
                          capture_output=True, text=True, check=True)
    assert "700 images" in proc.stdout
    table = pq.read_table(path)
    kw = load_keywords(hard / DEV)
    assert table.column_names == ["img_id", "name", "word_ids", "keywords"]
    import pyarrow as pa
    for column, value_type in (("word_ids", pa.int32()), ("keywords", pa.string())):
        kind = table.schema.field(column).type
        assert pa.types.is_list(kind) and kind.value_type == value_type
    assert json.loads(table.schema.metadata[b"amc_keywords.vocabulary"]) == kw.vocabulary.words
    got = table.to_pydict()
    assert got["img_id"] == kw.ids.tolist()
    for img_id, name, word_ids, keywords in zip(*got.values()):
        assert name == kw.image_name(img_id)
        assert word_ids == kw[img_id].tolist()
        assert keywords == kw.words(img_id)
    # Small batches: the same table.
    from amc_keywords.export import export_parquet
    export_parquet(str(hard / DEV), str(tmp_path / "small.parquet"), with_words=True, batch=7)
    assert pq.read_table(tmp_path / "small.parquet").equals(table)
    # The parameter's former name still works, saying it is deprecated.
    with pytest.warns(DeprecationWarning, match="use with_words="):
        export_parquet(str(hard / DEV), str(tmp_path / "old.parquet"), words=True, batch=7)
    assert pq.read_table(tmp_path / "old.parquet").equals(table)
    datasets = pytest.importorskip("datasets", reason="datasets is not installed")
    ds = datasets.Dataset.from_parquet(str(path))
    assert ds["img_id"] == kw.ids.tolist() and ds[5]["word_ids"] == kw[kw.ids[5]].tolist()


def test_export_bad_input_is_one_line(hard, tmp_path):
    pytest.importorskip("pyarrow")
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    for target, phrase in ((blocker / "out.parquet", "cannot be written"),):
        proc = subprocess.run([sys.executable, "-m", "amc_keywords", "export", str(hard / DEV),
                               str(target)], capture_output=True, text=True)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1 and phrase in lines[0], proc.stderr
    assert blocker.read_text() == "x"
    missing = subprocess.run([sys.executable, "-m", "amc_keywords", "export",
                              str(tmp_path / "img_keyword_ind_coco_sk_6.npy"),
                              str(tmp_path / "o.parquet")], capture_output=True, text=True)
    assert missing.returncode == 2 and "not found" in missing.stderr
    assert not (tmp_path / "o.parquet").exists()


def test_loader_bad_input(hard, hard_clickture, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(hard, copy)
    # A vocabulary of another run (other stop words) put beside the rows.
    other = tmp_path / "other"
    run_in_process("clickture", *clickture_args(hard_clickture, other), "--stop-words", "none")
    shutil.copy(other / "vocabulary_clickture_sk_6.json", copy / "vocabulary_clickture_sk_6.json")
    with pytest.raises(ValueError, match="not the vocabulary .* was encoded with"):
        load_keywords(copy / DEV)
    shutil.copy(hard / "vocabulary_clickture_sk_6.json", copy / "vocabulary_clickture_sk_6.json")
    # A truncated rows file.
    raw = (copy / DEV).read_bytes()
    (copy / DEV).write_bytes(raw[:len(raw) // 2])
    with pytest.raises(ValueError, match=re.escape(str(copy / DEV))):
        load_keywords(copy / DEV)
    (copy / DEV).write_bytes(raw)
    os.utime(copy / DEV, ns=(os.stat(hard / DEV).st_atime_ns, os.stat(hard / DEV).st_mtime_ns))
    # A missing range table is rebuilt, with one warning; a missing names table is no error.
    os.remove(copy / "img_keyword_range_clickture_dev_sk_6.npy")
    os.remove(copy / "img_names_clickture_dev.npy")
    with pytest.warns(UserWarning, match="rebuilt from the rows") as caught:
        kw = load_keywords(copy / DEV)
    assert len(caught) == 1
    reference_kw = load_keywords(hard / DEV)
    for img_id in reference_kw.ids[:100]:
        if img_id < len(kw):
            np.testing.assert_array_equal(kw[img_id], reference_kw[img_id])
    assert kw.image_name(3) is None


def test_original_layout_equals_the_original_scripts(hard_clickture, tmp_path):
    out = tmp_path / "out"
    run_in_process("clickture", *clickture_args(hard_clickture, out), "--original-layout")
    assert sorted(os.listdir(out)) == sorted([
        "count_vectorizer_clickture_dev_sk_6.pkl", "img_keyword_ind_clickture_dev_sk_6_sparse.npy",
        "img_keyword_ind_clickture_lite_sk_6_sparse.npy", "img_keyword_rec_clickture_dev_sk_6.npy",
        "img_keyword_rec_clickture_lite_sk_6.npy", "manifest_clickture_sk_6.json"])
    folders = tmp_path / "folders"
    for name in ("keywords_dev", "keywords_lite"):
        unzip(hard_clickture / f"{name}.zip", folders)
    vocabulary, lite, dev = reference.clickture(
        folders / "keywords_dev", hard_clickture / "clickture-dev.lst",
        folders / "keywords_lite", hard_clickture / "clickture-lite.lst")
    for name, rows in (("lite", lite), ("dev", dev)):
        got_rows = np.load(out / f"img_keyword_rec_clickture_{name}_sk_6.npy")
        np.testing.assert_array_equal(got_rows, rows)
        assert got_rows.dtype == np.int64
        table = np.load(out / f"img_keyword_ind_clickture_{name}_sk_6_sparse.npy")
        expected = reference.original_range_table(rows)
        assert table.dtype == np.int64 and table.shape == expected.shape
        np.testing.assert_array_equal(table, expected)
    with open(out / "count_vectorizer_clickture_dev_sk_6.pkl", "rb") as f:
        vectorizer = pickle.load(f)  # our own file, just written: safe to unpickle here
    assert vectorizer.vocabulary_ == vocabulary
    assert vectorizer.build_analyzer()("The Golden retriever") == ["golden", "retriever"]


def test_original_layout_coco_and_image_zero(hard_coco, tmp_path):
    out = tmp_path / "out"
    run_in_process("coco", "--keyword-dir", hard_coco, "--out-dir", out, "--quiet",
                   "--original-layout")
    unzip(hard_coco / "keywords_coco.zip", tmp_path)
    vocabulary, rows = reference.coco(tmp_path / "keywords_coco")
    np.testing.assert_array_equal(np.load(out / "img_keyword_rec_coco_sk_6.npy"), rows)
    np.testing.assert_array_equal(np.load(out / "img_keyword_ind_coco_sk_6.npy"),
                                  reference.original_range_table(rows))
    with open(out / "count_vectorizer_coco_keyword_sk_6.pkl", "rb") as f:
        assert pickle.load(f).vocabulary_ == vocabulary


def test_original_range_table_quirks():
    from amc_keywords.tables import original_range_table, range_table
    cases = [
        ([(3, 2), (0, 0), (5, 1)], 7),   # image 0 has rows, not first
        ([(3, 2), (5, 1)], 7),           # image 0 without rows: [0, -1]
        ([(0, 2), (2, 0), (1, 3)], 4),   # image 0 first; image 3 listed, no rows: cut
        ([(4, 1)], 5),
    ]
    for runs, size in cases:
        ids = np.array([i for i, _ in runs])
        counts = np.array([n for _, n in runs])
        rows = np.column_stack([np.repeat(ids, counts), np.zeros(counts.sum(), np.int64)])
        ours = original_range_table(range_table(ids, counts, size), len(rows))
        expected = reference.original_range_table(rows)
        np.testing.assert_array_equal(ours, expected)


def test_dataloader_with_spawned_workers_shares_the_files(hard):
    torch = pytest.importorskip("torch", reason="torch is not installed")
    from torch.utils.data import DataLoader
    kw = load_keywords(hard / DEV)
    loader = DataLoader(kw.ids, batch_size=32, shuffle=False, num_workers=2,
                        collate_fn=kw.collate, multiprocessing_context="spawn")
    rows = np.load(hard / DEV)
    V = len(kw.vocabulary)
    seen = []
    for img_ids, word_ids, lengths in loader:
        for img_id, padded, length in zip(img_ids, word_ids, lengths):
            plain = plain_words_of(rows, img_id)
            assert length == len(plain)
            np.testing.assert_array_equal(padded[:length], plain)
            assert (padded[length:] == V).all()
        seen.extend(img_ids.tolist())
    assert seen == kw.ids.tolist()
    embedding = torch.nn.Embedding(V + 1, 4, padding_idx=V)
    out = embedding(torch.as_tensor(kw.padded(kw.ids[:8])))
    assert out.shape[0] == 8


def test_original_layout_beside_a_default_run_is_not_vouched_for(hard_clickture, tmp_path):
    """The original layout writes its range table under the rows' name: after a default run
    and an original-layout run in one folder, the loader does not take the range table for
    rows on the manifest's word: the manifest tells it is the original layout's range table."""
    out = tmp_path / "out"
    run_in_process("clickture", *clickture_args(hard_clickture, out))
    run_in_process("clickture", *clickture_args(hard_clickture, out), "--original-layout")
    manifest = json.loads((out / "manifest_clickture_sk_6.json").read_text())
    assert "vocabulary_clickture_sk_6.json" in manifest["outputs"]  # reused: recorded
    with pytest.raises(ValueError, match="the original layout's range table, not rows"):
        load_keywords(out / DEV)
