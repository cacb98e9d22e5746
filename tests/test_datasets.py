"""The datasets as descriptions: Flickr30k and Flickr8k against the plain reference, COCO's and
Flickr's splits as outputs, Clickture's dev alone, and no dataset named outside the package."""
import json
import os
import re
import shutil

import numpy as np
import pytest
import reference
from conftest import clickture_args, run_in_process, unzip

import amc_keywords
from amc_keywords import InputError, load_keywords, sample
from amc_keywords.datasets import DATASETS
from amc_keywords.vocabulary import Vocabulary

FLICKR = ("flickr30k", "flickr8k")


@pytest.fixture(scope="module", params=FLICKR)
def hard_flickr(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(request.param)
    sample.make_flickr(str(folder), request.param, 400, 150, 60, seed=17, hard=True)
    return request.param, folder


def index_images(folder, index, splits):
    with open(os.path.join(folder, index)) as f:
        return [im for im in json.load(f)["images"] if im["split"] in splits]


def test_flickr_rows_equal_reference(hard_flickr, tmp_path):
    name, data = hard_flickr
    out = tmp_path / "out"
    run_in_process(name, "--keyword-dir", data, "--out-dir", out, "--quiet")
    unzip(data / f"keywords_{name}.zip", tmp_path)
    folder, index = tmp_path / f"keywords_{name}", f"dataset_{name}.json"
    vocabulary, expected = reference.coco(folder, index=index)
    rows = np.load(out / f"img_keyword_ind_{name}_sk_6.npy")
    assert len(rows) > 1000
    np.testing.assert_array_equal(rows, expected)
    words = Vocabulary.load(out / f"vocabulary_{name}_sk_6.json").words
    assert {w: i for i, w in enumerate(words)} == vocabulary
    images = index_images(folder, index, ("train", "test"))
    np.testing.assert_array_equal(np.load(out / f"img_keyword_range_{name}_sk_6.npy"),
                                  reference.range_table(expected,
                                                        [im["imgid"] for im in images]))
    names = np.load(out / f"img_names_{name}.npy")
    assert all(names[im["imgid"]].decode() == im["filename"] for im in images)
    # The API, from the unzipped folder, with other splits and options: the same numbers.
    result = amc_keywords.prepare(name, keyword_dir=str(tmp_path), out_dir=str(tmp_path / "a"),
                                  splits=["val", "train"], min_df=3, stop_words="none",
                                  jobs=2, progress=False)
    _, expected = reference.coco(folder, ("val", "train"), 3, None, index=index)
    np.testing.assert_array_equal(np.load(result.outputs[f"{name} rows"]), expected)
    assert result.dataset == name and [s.name for s in result.sets] == [name]


@pytest.mark.parametrize("name,splits", [("coco", ("train", "test")),
                                         *((name, ("train", "test", "val")) for name in FLICKR)])
def test_splits_are_outputs(name, splits, tmp_path):
    """The splits table holds each listed image's split, b"" for the others; the loader
    selects a split's ids, verify re-encodes through it, export writes it."""
    data = os.path.join(os.path.dirname(amc_keywords.__file__), "sample_data")
    out = tmp_path / "out"
    run_in_process(name, "--keyword-dir", data, "--out-dir", out, "--quiet", "--splits",
                   ",".join(splits))
    unzip(os.path.join(data, f"keywords_{name}.zip"), tmp_path)
    index = "dataset.json" if name == "coco" else f"dataset_{name}.json"
    images = index_images(tmp_path / f"keywords_{name}", index, splits)
    kw = load_keywords(out / f"img_keyword_ind_{name}_sk_6.npy")
    expected = {im["imgid"]: im["split"] for im in images}
    assert {i: kw.split(i) for i in range(len(kw)) if kw.split(i)} == expected
    for split in splits:
        assert kw.split_ids(split).tolist() == sorted(i for i, s in expected.items()
                                                      if s == split)
    assert sorted(np.concatenate([kw.split_ids(s) for s in splits]).tolist()) == \
        kw.ids.tolist()
    # Export writes it as a column, image by image.
    pq = pytest.importorskip("pyarrow.parquet")
    run_in_process("export", out / f"img_keyword_ind_{name}_sk_6.npy", tmp_path / "x.parquet")
    table = pq.read_table(tmp_path / "x.parquet").to_pydict()
    assert dict(zip(table["img_id"], table["split"])) == expected
    # Re-encoding finds each image's keyword file by its split.
    proc = run_in_process("verify", out / f"img_keyword_ind_{name}_sk_6.npy", "--keyword-dir",
                          data, "--samples", 50)
    assert "50 images re-encoded" in proc.stdout


def test_the_original_layout_has_no_splits_table(tmp_path):
    data = os.path.join(os.path.dirname(amc_keywords.__file__), "sample_data")
    run_in_process("flickr8k", "--keyword-dir", data, "--out-dir", tmp_path, "--quiet",
                   "--original-layout")
    assert sorted(os.listdir(tmp_path)) == [
        "count_vectorizer_flickr8k_keyword_sk_6.pkl", "img_keyword_ind_flickr8k_sk_6.npy",
        "img_keyword_rec_flickr8k_sk_6.npy", "manifest_flickr8k_sk_6.json"]


def test_dev_alone(hard_clickture, tmp_path):
    """--sets dev with only the dev archive: dev's outputs as a full run writes them."""
    full, alone, data = tmp_path / "full", tmp_path / "alone", tmp_path / "data"
    run_in_process("clickture", *clickture_args(hard_clickture, full), "--quiet")
    data.mkdir()
    for f in os.listdir(hard_clickture):
        if "lite" not in f and f != "img_id_map.pkl":
            shutil.copy(hard_clickture / f, data / f)
    run_in_process("clickture", *clickture_args(data, alone), "--quiet", "--sets", "dev")
    dev = ["img_keyword_ind_clickture_dev_sk_6_sparse.npy",
           "img_keyword_range_clickture_dev_sk_6.npy", "img_names_clickture_dev.npy",
           "vocabulary_clickture_sk_6.json"]
    assert sorted(os.listdir(alone)) == sorted(dev + ["manifest_clickture_sk_6.json"])
    for name in dev[:3]:
        assert (alone / name).read_bytes() == (full / name).read_bytes(), name
    assert Vocabulary.load(alone / dev[3]).words == Vocabulary.load(full / dev[3]).words
    manifest = json.loads((alone / "manifest_clickture_sk_6.json").read_text())
    assert manifest["options"]["sets"] == ["dev"]
    assert [s["set"] for s in manifest["summary"]] == ["dev"]
    # Up to date with the same sets; not with other ones (the Lite archive is needed then).
    proc = run_in_process("clickture", *clickture_args(data, alone), "--sets", "dev")
    assert "outputs are up to date" in proc.stdout + proc.stderr
    proc = run_in_process("clickture", *clickture_args(data, alone), "--quiet", check=False)
    assert proc.returncode == 2 and "keywords_lite.zip: not found" in proc.stderr
    # The API: the same sets; a set Clickture does not have is refused before anything runs.
    result = amc_keywords.prepare_clickture(keyword_dir=str(data), lists_dir=str(data),
                                            out_dir=str(alone), sets=["dev"], jobs=1,
                                            progress=False)
    assert result.up_to_date and set(result.outputs) == {
        "dev rows", "dev ranges", "dev names", "vocabulary", "manifest"}
    with pytest.raises(InputError, match=r"sets=\('coco',\): expected a non-empty tuple"):
        amc_keywords.prepare("clickture", keyword_dir=str(data), lists_dir=str(data),
                             out_dir=str(alone), sets=["coco"])


def test_lite_alone_is_fitted_on_dev(hard_clickture, tmp_path):
    full, alone = tmp_path / "full", tmp_path / "alone"
    run_in_process("clickture", *clickture_args(hard_clickture, full), "--quiet")
    run_in_process("clickture", *clickture_args(hard_clickture, alone), "--quiet", "--sets",
                   "lite")
    lite = "img_keyword_ind_clickture_lite_sk_6_sparse.npy"
    assert (alone / lite).read_bytes() == (full / lite).read_bytes()
    assert not any("dev" in name for name in os.listdir(alone))


def test_prepare_names_the_dataset_and_its_parameters(tmp_path):
    with pytest.raises(InputError, match="dataset='flickr': not one the toolkit knows"):
        amc_keywords.prepare("flickr", keyword_dir=str(tmp_path), out_dir=str(tmp_path))
    with pytest.raises(TypeError, match="unexpected keyword argument 'lists_dir'"):
        amc_keywords.prepare("flickr30k", keyword_dir=str(tmp_path), out_dir=str(tmp_path),
                             lists_dir=str(tmp_path))
    with pytest.raises(InputError, match="splits=\\('restval',\\): expected a non-empty "
                                         "tuple of train, val, test"):
        amc_keywords.prepare("flickr8k", keyword_dir=str(tmp_path), out_dir=str(tmp_path),
                             splits=("restval",))


PACKAGE = os.path.dirname(amc_keywords.__file__)
# A comparison with, or a mapping keyed by, a dataset's or a set's name.
NAMED = re.compile(r"""(==|!=|\bin)\s*\(?\s*["'](%s)["']|["'](%s)["']\s*:""" % (
    "|".join(["lite", "dev", *DATASETS]), "|".join(["lite", "dev", *DATASETS])))


def test_no_module_outside_the_datasets_package_names_a_dataset():
    found = []
    for name in sorted(os.listdir(PACKAGE)):
        if name.endswith(".py") and name not in ("sample.py", "filenames.py"):
            with open(os.path.join(PACKAGE, name), encoding="utf-8") as f:
                found += [f"{name}:{i}: {line.strip()}" for i, line in enumerate(f, 1)
                          if NAMED.search(line)]
    assert found == []


def test_the_grep_finds_what_it_looks_for():
    assert NAMED.search('fitted_on = "dev" if settings.dataset == "clickture" else x')
    assert NAMED.search('FOLDER_MUST_HOLD = {"keywords_coco": 1, "coco": "dataset.json"}')
    assert not NAMED.search('logger.info("coco")')
