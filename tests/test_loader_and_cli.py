"""The loader and the verify / stats / show commands, against plain computations from rows."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT, clickture_args, run_in_process

from amc_keywords import load_keywords
from amc_keywords.keywords import LoadError
from amc_keywords.vocabulary import Vocabulary

DEV = "img_keyword_ind_clickture_dev_sk_6_sparse.npy"
LITE = "img_keyword_ind_clickture_lite_sk_6_sparse.npy"


@pytest.fixture(scope="module")
def outputs(hard_clickture, tmp_path_factory):
    out = tmp_path_factory.mktemp("loader_out")
    run_in_process("clickture", *clickture_args(hard_clickture, out))
    return out


def cli(*args, check=True):
    proc = subprocess.run([sys.executable, "-m", "amc_keywords", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def plain_keywords(rows, img_id):
    return [int(w) for i, w in rows if i == img_id]


def test_load_keywords_matches_plain_computation(outputs):
    rows = np.load(outputs / DEV)
    words = Vocabulary.load(outputs / "vocabulary_clickture_sk_6.json").words
    kw = load_keywords(outputs / DEV)
    assert isinstance(kw.rows, np.memmap) and np.array_equal(kw.rows, rows)
    assert len(kw.vocabulary) == len(words)
    assert all(kw.vocabulary[i] == w and kw.vocabulary.word_id(w) == i
               for i, w in enumerate(words))
    ids = sorted(set(rows[:, 0].tolist()))
    listed = range(700)
    empty = [i for i in listed if i not in set(ids)]
    assert empty, "the hard data has images without keywords"
    for img_id in listed:
        expected = plain_keywords(rows, img_id)
        assert kw.word_ids(img_id).tolist() == expected
        assert kw.words(img_id) == [words[w] for w in expected]
    assert kw.image_name(3) == "img3"


def test_matrix_counts_rows(outputs):
    rows = np.load(outputs / LITE)
    kw = load_keywords(outputs / LITE)
    matrix = kw.matrix
    assert matrix.format == "csr"
    assert matrix.shape == (900, len(kw.vocabulary))
    dense = np.zeros(matrix.shape, np.int64)
    for img_id, word_id in rows:
        dense[img_id, word_id] += 1
    assert np.array_equal(matrix.toarray(), dense)
    assert dense.max() > 1  # repeated keywords give counts above one


def test_padded_batches(outputs):
    rows = np.load(outputs / DEV)
    kw = load_keywords(outputs / DEV)
    table = np.load(outputs / "img_keyword_range_clickture_dev_sk_6.npy")
    empty = int(np.flatnonzero(table[:, 0] == -1)[0])
    batch = [5, empty, 17, 42]
    lists = [plain_keywords(rows, i) for i in batch]
    longest = max(map(len, lists))
    got = kw.padded(batch)  # padded with V: nn.Embedding(V + 1, d, padding_idx=V)
    assert got.shape == (4, longest)
    V = len(kw.vocabulary)
    for row, expected in zip(got, lists):
        assert row.tolist() == expected + [V] * (longest - len(expected))
    short = kw.padded(batch, max_len=2, pad=0)
    assert short.tolist() == [(e[:2] + [0, 0])[:2] for e in lists]
    assert kw.padded([empty]).shape == (1, 0)


def test_out_of_range_and_bad_files(outputs, tmp_path):
    kw = load_keywords(outputs / DEV)
    with pytest.raises(KeyError, match="outside the range table"):
        kw.word_ids(700)
    with pytest.raises(KeyError, match="not in the vocabulary"):
        kw.vocabulary.word_id("no-such-word")
    bad = tmp_path / "img_keyword_ind_clickture_dev_sk_6_sparse.npy"
    for name in ("vocabulary_clickture_sk_6.json", "img_keyword_range_clickture_dev_sk_6.npy"):
        shutil.copy(outputs / name, tmp_path / name)
    np.save(bad, np.zeros((3, 3), np.int64))
    with pytest.raises(ValueError, match="expected an N x 2 integer array"):
        load_keywords(bad)
    np.save(bad, np.zeros((3, 2), np.float64))
    with pytest.raises(ValueError, match=str(bad).replace("/", ".")[:20]):
        load_keywords(bad)
    np.save(bad, np.array([[0, 10 ** 6]], np.int64))
    with pytest.raises(ValueError, match="beyond the vocabulary"):
        load_keywords(bad)
    with pytest.raises(ValueError, match="not an output name"):
        load_keywords(tmp_path / "rows.npy")
    # vocabulary= overrides the file beside it; without a range table it is derived from rows
    os.remove(tmp_path / "img_keyword_range_clickture_dev_sk_6.npy")
    np.save(bad, np.array([[0, 1], [0, 0]], np.int64))
    with pytest.warns(UserWarning, match="rebuilt from the rows"):
        assert load_keywords(bad, vocabulary=["a", "b"]).words(0) == ["b", "a"]


def test_verify_accepts_fresh_outputs_and_reencodes(outputs, hard_clickture):
    proc = cli("verify", outputs / DEV, outputs / LITE, "--keyword-dir", hard_clickture)
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("ok: ") for line in lines)
    assert "200 images re-encoded" in lines[0] and "identical" in lines[0]


def corrupt_copy(outputs, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(outputs, copy)
    return copy


@pytest.mark.parametrize("corruption,phrase", [
    ("word id beyond vocabulary", "beyond the vocabulary"),
    ("rows float", "expected an N x 2 integer array"),
    ("range table shifted", "has range"),
    ("rows not contiguous", "not contiguous"),
    ("unlisted image", "not a listed image"),
    ("vocabulary min_df", "fitted with min_df=5"),
    ("range table missing", "missing"),
    ("keyword changed", "differ from its keyword file"),
])
def test_verify_rejects_each_corruption(outputs, hard_clickture, tmp_path, corruption, phrase):
    copy = corrupt_copy(outputs, tmp_path)
    rows_path = copy / DEV
    rows = np.load(rows_path)
    ranges_path = copy / "img_keyword_range_clickture_dev_sk_6.npy"
    extra = []
    if corruption == "word id beyond vocabulary":
        rows[10, 1] = 10 ** 6
        np.save(rows_path, rows)
    elif corruption == "rows float":
        np.save(rows_path, rows.astype(np.float64))
    elif corruption == "range table shifted":
        table = np.load(ranges_path)
        table[rows[0, 0], 1] += 1
        np.save(ranges_path, table)
    elif corruption == "rows not contiguous":
        np.save(rows_path, rows[np.r_[1:len(rows), 0]])
    elif corruption == "unlisted image":
        names = np.load(copy / "img_names_clickture_dev.npy")
        names[rows[0, 0]] = b""
        np.save(copy / "img_names_clickture_dev.npy", names)
    elif corruption == "vocabulary min_df":
        path = copy / "vocabulary_clickture_sk_6.json"
        path.write_text(path.read_text().replace('"min_df": 6', '"min_df": 5'))
    elif corruption == "range table missing":
        os.remove(ranges_path)
    elif corruption == "keyword changed":
        rows[:, 1] = (rows[:, 1] + 1) % (rows[:, 1].max() + 1)
        np.save(rows_path, rows)
        extra = ["--keyword-dir", hard_clickture, "--samples", 700]
    proc = cli("verify", rows_path, *extra, check=False)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert len(lines) == 1 and phrase in lines[0], proc.stderr


def test_stats_figures_and_json(outputs):
    import json
    rows = np.load(outputs / DEV)
    proc = cli("stats", outputs / DEV, "--json")
    figures = json.loads(proc.stdout)
    per_image = np.bincount(rows[:, 0], minlength=700)
    assert figures["images"] == 700 and figures["rows"] == len(rows)
    assert figures["images_without_rows"] == int(np.count_nonzero(per_image == 0))
    assert figures["keywords_per_image"]["max"] == int(per_image.max())
    assert figures["keywords_per_image"]["median"] == float(np.median(per_image))
    words = Vocabulary.load(outputs / "vocabulary_clickture_sk_6.json").words
    counts = np.bincount(rows[:, 1], minlength=len(words))
    assert figures["most_frequent"][0] == [words[int(counts.argmax())], int(counts.max())]
    assert figures["vocabulary_never_used"] == pytest.approx(np.mean(counts == 0))
    text = cli("stats", outputs / DEV).stdout
    assert f"rows: {len(rows)}" in text and "most frequent:" in text


def test_stats_plot_writes_png(outputs, tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "stats.png"
    cli("stats", outputs / DEV, "--plot", png)
    data = png.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10000


def test_stats_plot_without_matplotlib_is_only_the_error(outputs, tmp_path, monkeypatch,
                                                         capsys):
    from amc_keywords import cli as command_line
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib fails
    status = command_line.report_errors(
        command_line.command, ["stats", str(outputs / DEV), "--plot", str(tmp_path / "x.png")])
    out, err = capsys.readouterr()
    assert status == 2 and out == ""
    assert err.strip() == ("error: --plot needs matplotlib: pip install 'amc-keywords[plot]' "
                           "(or pip install matplotlib)")


def test_show(outputs):
    kw = load_keywords(outputs / DEV)
    img = next(i for i in range(700) if len(kw.word_ids(i)))
    assert cli("show", outputs / DEV, img).stdout.strip() == \
        f"{img} (img{img}): {', '.join(kw.words(img))}"
    proc = cli("show", outputs / DEV, 5000, check=False)
    assert proc.returncode != 0 and "outside the range table" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_coco_outputs_load_and_verify(hard_coco, tmp_path):
    out = tmp_path / "out"
    run_in_process("coco", "--keyword-dir", hard_coco, "--out-dir", out, "--quiet")
    path = out / "img_keyword_ind_coco_sk_6.npy"
    kw = load_keywords(path)
    rows = np.load(path)
    img = int(rows[0, 0])
    assert kw.word_ids(img).tolist() == plain_keywords(rows, img)
    assert kw.image_name(img).startswith("COCO_")
    assert "identical" in cli("verify", path, "--keyword-dir", hard_coco).stdout


def test_workers_have_the_package_preloaded_from_any_working_directory(tmp_path):
    # The worker server is a new interpreter: had it not found the package to preload, every
    # worker would import it itself (a run took twice as long from `cd clickture`). Run from
    # an empty folder, with no PYTHONPATH, a worker must find it already imported when it
    # starts (the package is installed); and scikit-learn not imported at all (workers
    # analyse from plain settings: a second saved per process).
    code = ("from amc_keywords import workers\n"
            "if __name__ == '__main__':\n"
            "    workers.start_early()\n"
            "    with workers.pool(1) as pool:\n"
            "        print(pool.submit(eval, \"[m for m in ('amc_keywords.encoding', "
            "'sklearn', 'scipy') if m in __import__('sys').modules]\").result())\n")
    (tmp_path / "probe.py").write_text(code)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "probe.py"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['amc_keywords.encoding']"


def test_installed_defaults_are_the_current_folder_s(tmp_path):
    """amc-keywords (here: python -m amc_keywords) outside a clone: ./keyword, ./clickture,
    ./mscoco, shown by --help; a missing folder is one line naming the option to give."""
    help_text = subprocess.run([sys.executable, "-m", "amc_keywords", "clickture", "--help"],
                               cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    help_text = " ".join(help_text.split())  # however argparse wrapped it
    assert "(default: ./keyword)" in help_text and "(default: ./clickture" in help_text
    for command, option in (("clickture", "--keyword-dir"), ("coco", "--keyword-dir")):
        proc = subprocess.run([sys.executable, "-m", "amc_keywords", command], cwd=tmp_path,
                              capture_output=True, text=True)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1, proc.stderr
        assert lines[0].startswith("error: ./keyword: no such folder") and option in lines[0]
    (tmp_path / "keyword").mkdir()
    proc = subprocess.run([sys.executable, "-m", "amc_keywords", "clickture"], cwd=tmp_path,
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "./clickture: no such folder" in proc.stderr
    assert "--lists-dir" in proc.stderr
    assert os.listdir(tmp_path) == ["keyword"]  # nothing made on the way
    version = subprocess.run([sys.executable, "-m", "amc_keywords", "--version"],
                             capture_output=True, text=True, check=True).stdout
    from amc_keywords import __version__
    assert version.strip() == f"amc-keywords {__version__}"


def test_verify_samples_must_be_positive(outputs):
    proc = cli("verify", outputs / DEV, "--keyword-dir", outputs, "--samples", 0, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "--samples" in proc.stderr and "positive integer" in proc.stderr


def test_the_original_layout_s_range_table_is_named_as_such(outputs, hard_clickture, tmp_path):
    """--original-layout into a folder of default outputs: its range table sits under the
    rows' name, and loading it says so (not "word ids beyond the vocabulary")."""
    out = tmp_path / "out"
    shutil.copytree(outputs, out)
    run_in_process("clickture", *clickture_args(hard_clickture, out), "--original-layout")
    with pytest.raises(LoadError, match="the original layout's range table, not rows .*"
                       "img_keyword_rec_clickture_dev_sk_6.npy"):
        load_keywords(out / DEV)
    proc = cli("stats", out / DEV, check=False)
    assert proc.returncode == 2 and "the original layout's range table" in proc.stderr
