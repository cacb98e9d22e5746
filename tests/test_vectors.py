"""Word vectors aligned to the vocabulary (``amc-keywords vectors``, ``align_vectors``,
``kw.vectors``): every vector kept equals gensim's for that word, on generated files of each
format and compression full of hard cases; the report's figures against a plain count; bad
input is one line naming the file and the record, and nothing is written."""
import json
import os
import re
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import clickture_args, one_line, run_in_process
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from amc_keywords.errors import InputError
from amc_keywords.keywords import LoadError
from amc_keywords.loader import load_keywords
from amc_keywords.sample_vectors import synthetic_records, write_vectors
from amc_keywords.vectors import align_vectors

# gensim is the reference; it has no wheel for every Python the package supports (none for
# 3.14 yet), and the test extra installs it only where it has one: there, the comparisons
# with it skip, saying so, and the other tests run.
try:
    from gensim import models as gensim
except ImportError:
    gensim = None
needs_gensim = pytest.mark.skipif(gensim is None, reason="gensim is not installed (the test "
                                  "extra installs it on Python < 3.14, where it has wheels)")

KINDS = ("word2vec binary", "word2vec text", "GloVe text")
COMPRESSIONS = ("none", "gzip", "bzip2", "xz", "zip")
EXTENSIONS = {"none": "", "gzip": ".gz", "bzip2": ".bz2", "xz": ".xz", "zip": ".zip"}  # gensim's
DIM = 7
VOCABULARY = ["cat", "café", "dog", "missing", "new", "paris", "the", "york", "zebra",
              "ünïcode"]
# In file order: cased variants in several orders, duplicates, an exact word after its
# variant, invalid UTF-8 (one decodes, with errors ignored, to a vocabulary word), non-ASCII
# case, a word that only differs by case from nothing.
HARD_WORDS = [b"the", b"Paris", b"paris", b"PARIS", b"DOG", b"Dog", b"Cat", b"cat", b"cat",
              b"\xff\xfejunk", b"zebra\xff", b"CAF\xc3\x89", b"caf\xc3\xa9", b"York", b"YORK",
              b"\xc3\x9cN\xc3\x8fCODE", b"zebra", b"the", b"Zebra", b"unrelated"]
NEWLINE = b"\n"
SPACED = [b"new york", b". . .", b"New York City"]


def gensim_load(path, kind):
    return gensim.KeyedVectors.load_word2vec_format(
        path, binary=kind == "word2vec binary", no_header=kind == "GloVe text",
        unicode_errors="replace")


def expected_matrix(kv, vocabulary, exact=False):
    """From gensim's reading: a word's own vector, else (unless ``exact``) the vector of
    the first key in file order whose lowercase is the word; zeros for the rest and the
    padding row. Also (found exactly, found by case)."""
    matrix = np.zeros((len(vocabulary) + 1, kv.vector_size), np.float32)
    exact_found = by_case = 0
    for i, word in enumerate(vocabulary):
        if word in kv.key_to_index:
            matrix[i], exact_found = kv[word], exact_found + 1
        elif not exact:
            variant = next((k for k in kv.index_to_key if k is not None and k.lower() == word),
                           None)
            if variant is not None:
                matrix[i], by_case = kv[variant], by_case + 1
    return matrix, exact_found, by_case


def hard_file(folder, kind, compression="none", **dress):
    records = synthetic_records(HARD_WORDS, DIM, seed=len(kind) + len(compression))
    name = f"hard.{kind.split()[0]}.{kind.split()[1]}{EXTENSIONS[compression]}"
    return write_vectors(str(folder / name), records, kind, compression=compression,
                         **dress), records


def plain_copy(path, folder):
    """The member of a zip, for gensim, which does not read zips."""
    if not zipfile.is_zipfile(path):
        return path
    with zipfile.ZipFile(path) as archive:
        return archive.extract(archive.namelist()[-1], folder)


@needs_gensim
@pytest.mark.parametrize("compression", COMPRESSIONS)
@pytest.mark.parametrize("kind", KINDS)
def test_every_vector_kept_equals_gensims(tmp_path, kind, compression):
    dress = {"trailing_space": kind == "word2vec text", "crlf": kind == "GloVe text"}
    path, _ = hard_file(tmp_path, kind, compression, **dress)
    kv = gensim_load(plain_copy(path, tmp_path), kind)
    for exact in (False, True):
        aligned = align_vectors(VOCABULARY, path, exact=exact)
        expected, exact_found, by_case = expected_matrix(kv, VOCABULARY, exact)
        assert aligned.matrix.dtype == np.float32
        np.testing.assert_array_equal(aligned.matrix, expected)
        report = aligned.report
        assert (report.found_exact, report.found_by_case) == (exact_found, by_case)
        assert report.source["format"] == kind and report.source["compression"] == compression
        assert report.source["records"] == len(HARD_WORDS)


@needs_gensim
def test_binary_without_newlines_equals_gensim(tmp_path):
    path, _ = hard_file(tmp_path, "word2vec binary", newline=False)
    aligned = align_vectors(VOCABULARY, path)
    np.testing.assert_array_equal(aligned.matrix, expected_matrix(
        gensim_load(path, "word2vec binary"), VOCABULARY)[0])


@needs_gensim
@pytest.mark.parametrize("kind", ("word2vec text", "GloVe text"))
def test_spaced_words_bom_crlf_and_trailing_spaces(tmp_path, kind):
    """Lines whose word holds spaces are skipped (gensim fails on them, so it reads the file
    without them, and without the BOM, which it would take as part of the first word)."""
    records = synthetic_records(HARD_WORDS + SPACED, DIM, seed=3)
    order = [records[i] for i in np.random.default_rng(5).permutation(len(records))]
    path = write_vectors(str(tmp_path / "spaced"), order, kind, bom=True, crlf=True,
                         trailing_space=True)
    clean = write_vectors(str(tmp_path / "clean"), [r for r in order if b" " not in r[0]],
                          kind)
    aligned = align_vectors(VOCABULARY, path)
    np.testing.assert_array_equal(aligned.matrix, expected_matrix(
        gensim_load(clean, kind), VOCABULARY)[0])


@needs_gensim
@pytest.mark.parametrize("kind", KINDS)
def test_a_truncated_tail_fails_as_gensim_does(tmp_path, kind):
    path, _ = hard_file(tmp_path, kind, cut=3 if kind == "word2vec binary" else 0,
                        count=None if kind == "word2vec binary" else len(HARD_WORDS) + 1)
    if kind == "GloVe text":  # no header: a cut line is a line with too few values
        path = write_vectors(str(tmp_path / "cut.txt"), synthetic_records(
            [w.encode() for w in VOCABULARY], DIM), kind)
        data = Path(path).read_bytes()
        Path(path).write_bytes(data[:data.rstrip().rfind(b" ")])  # the last value gone
    with pytest.raises((EOFError, ValueError)):
        gensim_load(path, kind)
    with pytest.raises(InputError) as caught:
        align_vectors(VOCABULARY, path)
    assert {"word2vec binary": "cut short", "word2vec text": f"header says {len(HARD_WORDS) + 1}"
            f" words, but the file holds {len(HARD_WORDS)}",
            "GloVe text": f"line {len(VOCABULARY)} (word 'ünïcode'): {DIM - 1} values, but "
            f"the first line has {DIM}"}[kind] in str(caught.value)


def test_missing_random_is_seeded_and_leaves_found_rows(tmp_path):
    path, _ = hard_file(tmp_path, "GloVe text")
    zero = align_vectors(VOCABULARY, path)
    first, again, other = (align_vectors(VOCABULARY, path, missing="random", seed=seed)
                           for seed in (1, 1, 2))
    np.testing.assert_array_equal(first.matrix, again.matrix)
    missing = ~zero.matrix[:-1].any(axis=1)
    assert missing.any() and (~missing).sum() >= 2
    np.testing.assert_array_equal(first.matrix[:-1][~missing], zero.matrix[:-1][~missing])
    assert first.matrix[:-1][missing].all() and not first.matrix[-1].any()
    assert not np.array_equal(first.matrix[:-1][missing], other.matrix[:-1][missing])


# -- on an output set: the command, the report, the sidecar, kw.vectors ------------------------

@pytest.fixture(scope="module")
def dev_set(hard_clickture, tmp_path_factory):
    out = tmp_path_factory.mktemp("vectors_set")
    run_in_process("clickture", *clickture_args(hard_clickture, out))
    return out / "img_keyword_ind_clickture_dev_sk_6_sparse.npy"


def glove_for(vocabulary, folder, name="glove.small.zip", dim=DIM):
    """A GloVe zip of two members (two dimensions) holding every third vocabulary word,
    every fifth capitalised, among words of no vocabulary."""
    words = [w.capitalize() if i % 5 == 0 else w for i, w in enumerate(vocabulary) if i % 3]
    records = synthetic_records([w.encode() for w in words + ["zzz-other", "qqq"]], dim)
    path = str(folder / name)
    write_vectors(path, records, "GloVe text", compression="zip", member=f"small.{dim}d.txt",
                  other_members=["small.2d.txt"])
    return path


@needs_gensim
def test_the_command_writes_the_matrix_sidecar_and_report(dev_set, tmp_path):
    kw = load_keywords(dev_set)
    words = list(kw.vocabulary)
    vectors = glove_for(words, tmp_path)
    proc = run_in_process("vectors", dev_set, vectors, "--member", f"small.{DIM}d.txt")
    written = dev_set.parent / f"vectors_clickture_sk_6_small.{DIM}d.npy"
    matrix = kw.vectors(written)
    kv = gensim_load(plain_copy(vectors, tmp_path), "GloVe text")
    expected, exact_found, by_case = expected_matrix(kv, words)
    np.testing.assert_array_equal(matrix, expected)
    # The report against a plain count of the rows.
    has = {i for i, w in enumerate(words) if expected[i].any()}
    covered = sum(1 for _, word_id in kw.rows if int(word_id) in has)
    assert f"({exact_found:,} exact, {by_case:,} by case)" in proc.stdout
    assert f"({covered:,} of {kw.n_rows:,} rows of {dev_set.name})" in proc.stdout
    counts = {}
    for _, word_id in kw.rows:
        if int(word_id) not in has:
            counts[int(word_id)] = counts.get(int(word_id), 0) + 1
    top = sorted(counts, key=lambda i: (-counts[i], i))[:20]
    assert ", ".join(f"{words[i]} ({counts[i]:,})" for i in top) in proc.stdout
    sidecar = json.loads(written.with_suffix(".json").read_text())
    assert sidecar["shape"] == [len(words) + 1, DIM]
    assert sidecar["source"]["size"] == os.path.getsize(vectors)
    assert sidecar["vocabulary"]["fingerprint"] == kw.vocabulary.ids_digest
    assert sidecar["coverage"]["rows_covered"] == covered


def test_kw_vectors_refuses_a_matrix_of_another_vocabulary(dev_set, tmp_path):
    kw = load_keywords(dev_set)
    other = list(kw.vocabulary)[1:] + ["zzzz"]
    aligned = align_vectors(other, glove_for(other, tmp_path), member=f"small.{DIM}d.txt")
    path, _ = aligned.write(str(tmp_path / "other.npy"))
    with pytest.raises(LoadError, match="made for another vocabulary"):
        kw.vectors(path)


@pytest.mark.parametrize("content", ["npz", "empty"])
def test_kw_vectors_refuses_what_is_not_a_npy_array_in_one_line(dev_set, tmp_path, content):
    """An .npz archive or an empty file under the matrix's name: a LoadError naming it, as
    the loader gives for an output (not an AttributeError from deep in numpy)."""
    kw = load_keywords(dev_set)
    words = list(kw.vocabulary)
    aligned = align_vectors(words, glove_for(words, tmp_path), member=f"small.{DIM}d.txt")
    path, _ = aligned.write(str(tmp_path / "matrix.npy"))
    if content == "npz":
        with open(path, "wb") as f:
            np.savez(f, matrix=np.zeros((2, 2)))
        expected = "an .npz archive of arrays"
    else:
        open(path, "wb").close()
        expected = "empty (0 bytes): not a .npy array file; align the vectors again"
    with pytest.raises(LoadError, match=re.escape(f"{path}: ")) as caught:
        kw.vectors(path)
    assert expected in str(caught.value) and "\n" not in str(caught.value)


def snapshot(folder):
    return sorted((p, os.path.getsize(os.path.join(folder, p))) for p in os.listdir(folder))


BAD = {  # name: (how to make the file, what the one line must say)
    "truncated binary": (dict(kind="word2vec binary", cut=5), "record 20 at byte {last}: cut "
                         "short"),
    "more records than the header": (dict(kind="word2vec binary", count=19),
                                     "more data after the 19 words"),
    "fewer records than the header": (dict(kind="word2vec text", count=25),
                                      "the header says 25 words, but the file holds 20"),
    "a header of another dimension": (dict(kind="word2vec text", dim=DIM + 1),
                                      "line 2: 7 values, but the header says vectors of "
                                      "dimension 8"),
    "an empty file": (None, "empty"),
    "a damaged gzip": (dict(kind="GloVe text", compression="gzip"), "not a readable gzip"),
    "a zip of several files": (dict(kind="GloVe text", compression="zip",
                                    other_members=["b.txt"]), "choose one with --member"),
    "a damaged bzip2": (dict(kind="GloVe text", compression="bzip2"), "not a readable bzip2"),
    "a damaged xz": (dict(kind="GloVe text", compression="xz"), "not a readable xz"),
    "a damaged zip": (dict(kind="GloVe text", compression="zip"), "not a readable zip"),
    "not a vectors file": (dict(kind="GloVe text", crlf=True), "not a word-vector file"),
    "a header of a dimension no matrix holds": (dict(kind="word2vec binary", dim=10**9),
                                                "line 1: the header says vectors of "
                                                "dimension 1000000000"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_line_and_writes_nothing(dev_set, tmp_path, case):
    make, phrase = BAD[case]
    path = str(tmp_path / "bad")
    if make is None:
        Path(path).write_bytes(b"")
    else:
        path, _ = hard_file(tmp_path, **make)
        data = Path(path).read_bytes()
        if case.startswith("a damaged"):  # cut, or for a zip its directory damaged
            Path(path).write_bytes(data[:len(data) // 2] if "zip" not in case else
                                   data[:-30] + b"\0" * 30)
        elif case == "not a vectors file":
            Path(path).write_bytes(b"<html>\n" + data)
    before = snapshot(dev_set.parent)
    proc = run_in_process("vectors", dev_set, path, "--exact", check=False)
    # Where the cut record starts (its word's first byte), for the message to name.
    last = data.rindex(b"\n" + HARD_WORDS[-1] + b" ") + 1 if case == "truncated binary" else 0
    line = one_line(proc, phrase.format(last=last), os.path.basename(path))
    assert proc.returncode == 2 and line.startswith("error: ")
    assert snapshot(dev_set.parent) == before


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("value", (b"nan", b"inf", b"1e39", b"x1"))
def test_a_kept_value_that_is_not_a_finite_number(tmp_path, kind, value):
    records = synthetic_records([b"zebra", b"the", b"Paris"], DIM)
    if kind == "word2vec binary":
        if value == b"x1":
            pytest.skip("binary values are always numbers")
        with np.errstate(over="ignore"):
            records[1][1][3] = np.float32(float(value))
    path = write_vectors(str(tmp_path / "bad"), records, kind)
    if kind != "word2vec binary":
        data = Path(path).read_bytes().split(b"\n")
        row = 2 if kind == "word2vec text" else 1
        fields = data[row].split(b" ")
        fields[4] = value
        data[row] = b" ".join(fields)
        Path(path).write_bytes(b"\n".join(data))
    with pytest.raises(InputError, match="word 'the'") as caught:
        align_vectors(VOCABULARY, path)
    assert "not a number" in str(caught.value) or "not a finite number" in str(caught.value)
    data = Path(path).read_bytes()
    if kind == "word2vec binary":  # the record, and where it starts in the file
        where = f"record 2 at byte {data.index(b'the ')}"
    else:
        where = f"line {data[:data.index(b'the ')].count(NEWLINE) + 1}"
    assert f"{path}: {where} (word 'the')" in str(caught.value)
    # The same value in a word not kept costs nothing and is no error.
    assert align_vectors(["zebra"], path).report.found_exact == 1


def test_same_dim_as_refuses_another_dimension(dev_set, tmp_path):
    words = list(load_keywords(dev_set).vocabulary)
    first = align_vectors(dev_set, glove_for(words, tmp_path, "a.zip"), member="small.7d.txt")
    earlier, _ = first.write(str(tmp_path / "earlier.npy"))
    proc = run_in_process("vectors", dev_set, glove_for(words, tmp_path, "b.zip", dim=5),
                          "--member", "small.5d.txt", "--same-dim-as", earlier,
                          "-o", tmp_path / "second.npy", check=False)
    one_line(proc, "b.zip:small.5d.txt", "dimension 5", "has 7")
    assert not (tmp_path / "second.npy").exists()


def test_a_vocabulary_of_another_run_is_refused(dev_set, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(dev_set.parent, copy)
    vocabulary = copy / "vocabulary_clickture_sk_6.json"
    vocabulary.write_text(vocabulary.read_text().replace('"words": [', '"words": ["aaaa", '))
    proc = run_in_process("vectors", copy / dev_set.name, glove_for(["a"], tmp_path),
                          check=False)
    one_line(proc, "vocabulary_clickture_sk_6.json", "another")


def test_member_is_for_a_zip(tmp_path):
    path, _ = hard_file(tmp_path, "GloVe text", "gzip")
    with pytest.raises(InputError, match=r"member=x.txt names a file in a zip archive, and "
                                         "this file is a gzip file"):
        align_vectors(VOCABULARY, path, member="x.txt")


@needs_gensim
def test_a_first_line_whose_word_holds_spaces(tmp_path):
    records = synthetic_records(SPACED[1:2] + HARD_WORDS, DIM, seed=8)
    path = write_vectors(str(tmp_path / "spaced-first.txt"), records, "GloVe text")
    clean = write_vectors(str(tmp_path / "clean.txt"), records[1:], "GloVe text")
    np.testing.assert_array_equal(align_vectors(VOCABULARY, path).matrix, expected_matrix(
        gensim_load(clean, "GloVe text"), VOCABULARY)[0])


def test_a_vocabulary_file_is_weighed_by_the_rows_of_its_run(dev_set, tmp_path):
    folder = dev_set.parent
    sets = [load_keywords(folder / name) for name in sorted(os.listdir(folder))
            if name.startswith("img_keyword_ind_")]
    assert len(sets) == 2  # dev and Lite
    vocabulary = folder / "vocabulary_clickture_sk_6.json"
    aligned = align_vectors(vocabulary, glove_for(list(sets[0].vocabulary), tmp_path),
                            member=f"small.{DIM}d.txt")
    found = {i for i in range(len(sets[0].vocabulary)) if aligned.matrix[i].any()}
    rows = [int(word_id) for kw in sets for _, word_id in kw.rows]
    assert aligned.report.rows == len(rows)
    assert aligned.report.rows_covered == sum(1 for word_id in rows if word_id in found)
    assert sorted(aligned.report.rows_files) == sorted(os.path.basename(kw.path) for kw in sets)


def test_a_negative_seed_is_one_line(dev_set, tmp_path):
    path, _ = hard_file(tmp_path, "GloVe text")
    proc = run_in_process("vectors", dev_set, path, "--missing", "random", "--seed", "-1",
                          check=False)
    one_line(proc, "--seed: '-1': expected an integer 0 or more")
    with pytest.raises(InputError, match="seed=-1: expected an integer 0 or more"):
        align_vectors(VOCABULARY, path, missing="random", seed=-1)


# Any order of case variants, duplicates and unwanted (even invalid UTF-8) words.
VARIANTS = [b"paris", b"Paris", b"PARIS", b"dog", b"Dog", b"DOG", b"caf\xc3\xa9",
            b"CAF\xc3\x89", b"the", b"\xff\xfe", b"zebra\xff", b"other"]


@needs_gensim
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.lists(st.sampled_from(VARIANTS), min_size=1, max_size=14),
       kind=st.sampled_from(KINDS), exact=st.booleans())
def test_any_order_of_variants_equals_gensim(tmp_path, order, kind, exact):
    path = write_vectors(str(tmp_path / "any"), synthetic_records(order, 3, seed=len(order)),
                         kind)
    aligned = align_vectors(VOCABULARY, path, exact=exact)
    expected, exact_found, by_case = expected_matrix(gensim_load(path, kind), VOCABULARY,
                                                     exact)
    np.testing.assert_array_equal(aligned.matrix, expected)
    assert (aligned.report.found_exact, aligned.report.found_by_case) == (exact_found, by_case)


def test_a_word_list_with_a_word_twice_is_refused(tmp_path):
    path, _ = hard_file(tmp_path, "GloVe text")
    with pytest.raises(InputError, match="'paris' is in it twice"):
        align_vectors(["dog", "paris", "the", "paris"], path)


def test_an_earlier_matrix_is_intact_after_a_failed_run(dev_set, tmp_path):
    words = list(load_keywords(dev_set).vocabulary)
    good = glove_for(words, tmp_path)
    target = tmp_path / "out" / "vectors.npy"
    target.parent.mkdir()
    run_in_process("vectors", dev_set, good, "--member", f"small.{DIM}d.txt", "-o", target)
    before = {p.name: p.read_bytes() for p in target.parent.iterdir()}
    assert sorted(before) == ["vectors.json", "vectors.npy"]
    bad, _ = hard_file(tmp_path, "word2vec binary", cut=5)
    proc = run_in_process("vectors", dev_set, bad, "-o", target, check=False)
    one_line(proc, "cut short")
    assert {p.name: p.read_bytes() for p in target.parent.iterdir()} == before


def test_an_output_folder_that_is_not_there_is_one_line(dev_set, tmp_path):
    path, _ = hard_file(tmp_path, "GloVe text")
    proc = run_in_process("vectors", dev_set, path, "-o", tmp_path / "nowhere" / "v.npy",
                          check=False)
    one_line(proc, f"{tmp_path / 'nowhere' / 'v.npy'}: cannot be written")
