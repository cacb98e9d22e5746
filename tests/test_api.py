"""The Python API: prepare_clickture / prepare_coco, their result, errors and logging."""
import dataclasses
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import amc_keywords
from amc_keywords import (
    InputError,
    Keywords,
    PrepareResult,
    SetFigures,
    Vocabulary,
    load_keywords,
    prepare_clickture,
    prepare_coco,
)
from amc_keywords.datasets import dataset as dataset_named
from amc_keywords.datasets.list_and_map import SAMPLE_FILES
from amc_keywords.settings import RunSettings

SAMPLE = os.path.join(os.path.dirname(amc_keywords.__file__), "sample_data")


@pytest.fixture
def quiet_logger():
    """The amc_keywords logger as a library user has it: no handler, propagating to root."""
    logger = logging.getLogger("amc_keywords")
    saved = logger.handlers[:], logger.level, logger.propagate
    logger.handlers[:] = []
    logger.setLevel(logging.NOTSET)
    logger.propagate = True
    yield logger
    logger.handlers[:] = saved[0]
    logger.setLevel(saved[1])
    logger.propagate = saved[2]


def clickture(data, out, **options):
    return prepare_clickture(keyword_dir=str(data), lists_dir=str(data), out_dir=str(out),
                             progress=False, **options)


def plain_figures(rows_path, listed_ids):
    """A set's figures computed from its rows file and list alone, with plain Python."""
    rows = np.load(rows_path)
    per_image = dict.fromkeys(listed_ids, 0)
    for img_id, _ in rows.tolist():
        per_image[img_id] += 1
    counts = sorted(per_image.values())
    return {"images": len(listed_ids), "rows": len(rows),
            "images_without_rows": sum(1 for c in counts if c == 0),
            "min": counts[0], "max": counts[-1], "mean": sum(counts) / len(counts)}


def listed(path):
    with open(path, encoding="utf-8") as f:
        return [int(line.strip().rsplit("/", 1)[-1]) for line in f if line.strip()]


def test_prepare_clickture_returns_what_it_wrote(hard_clickture, tmp_path, quiet_logger,
                                                 capsys):
    result = clickture(hard_clickture, tmp_path / "out", jobs=2)
    assert isinstance(result, PrepareResult) and not result.up_to_date
    assert result.dataset == "clickture" and result.out_dir == str(tmp_path / "out")
    assert sorted(result.outputs) == ["dev names", "dev ranges", "dev rows", "lite names",
                                      "lite ranges", "lite rows", "manifest", "vocabulary"]
    assert sorted(result.outputs.values()) == sorted(
        str(p) for p in (tmp_path / "out").iterdir())
    assert [s.name for s in result.sets] == ["lite", "dev"]
    vocabulary = Vocabulary.load(result.outputs["vocabulary"])
    assert result.vocabulary_size == len(vocabulary) > 0
    for figures in result.sets:
        expected = plain_figures(result.outputs[f"{figures.name} rows"],
                                 listed(hard_clickture / f"clickture-{figures.name}.lst"))
        assert (figures.images, figures.rows, figures.images_without_rows) == \
            (expected["images"], expected["rows"], expected["images_without_rows"])
        low, _, mean, high = figures.keywords_per_image
        assert (low, high) == (expected["min"], expected["max"])
        assert mean == pytest.approx(expected["mean"])
        assert 0 <= figures.dropped_share < 1 and figures.tokens >= figures.rows
        assert result.set(figures.name) is figures
    with pytest.raises(KeyError, match="'coco': no such image set"):
        result.set("coco")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.up_to_date = True
    # Logging unconfigured: a library call writes nothing on stdout.
    assert capsys.readouterr().out == ""
    kw = load_keywords(result.outputs["dev rows"])
    assert isinstance(kw, Keywords) and kw.n_rows == result.set("dev").rows


def test_a_second_call_is_up_to_date_and_writes_nothing(hard_clickture, tmp_path,
                                                        quiet_logger, caplog):
    first = clickture(hard_clickture, tmp_path, jobs=1)
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    with caplog.at_level(logging.INFO, logger="amc_keywords"):
        again = clickture(hard_clickture, tmp_path, jobs=1)
    assert again.up_to_date and again.sets == first.sets
    assert again.outputs == first.outputs and again.vocabulary_size == first.vocabulary_size
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == before
    assert any("outputs are up to date" in r.getMessage() for r in caplog.records)
    forced = clickture(hard_clickture, tmp_path, jobs=1, force=True)
    assert not forced.up_to_date and forced.sets == first.sets


def test_messages_go_to_the_logger_at_their_levels(tmp_path, quiet_logger, caplog):
    with caplog.at_level(logging.DEBUG, logger="amc_keywords"):
        prepare_clickture(keyword_dir=SAMPLE, lists_dir=SAMPLE, out_dir=str(tmp_path),
                          side_files=SAMPLE_FILES, jobs=1, progress=False)
    by_level = {}
    for record in caplog.records:
        assert record.name.startswith("amc_keywords")
        by_level.setdefault(record.levelno, []).append(record.getMessage())
    info = "\n".join(by_level[logging.INFO])
    assert "vocabulary size: 57" in info and "wrote:" in info
    assert "dev: 300 images read, 1616 rows written" in info
    assert any(m.startswith("time: ") for m in by_level[logging.DEBUG])


def test_prepare_coco(hard_coco, tmp_path, quiet_logger, capsys):
    result = prepare_coco(keyword_dir=str(hard_coco), out_dir=str(tmp_path), jobs=1,
                          splits=["train"], min_df=2, progress=False)
    assert [s.name for s in result.sets] == ["coco"]
    assert set(result.outputs) == {"coco rows", "coco ranges", "coco names", "coco splits",
                                   "vocabulary",
                                   "manifest"}
    rows = np.load(result.outputs["coco rows"])
    assert result.set("coco").rows == len(rows)
    assert capsys.readouterr().out == ""


def test_original_layout_roles(hard_coco, tmp_path, quiet_logger):
    result = prepare_coco(keyword_dir=str(hard_coco), out_dir=str(tmp_path), jobs=1,
                          layout="original", progress=False)
    assert sorted(os.path.basename(p) for p in result.outputs.values()) == sorted(
        p.name for p in tmp_path.iterdir())
    assert "vectorizer" in result.outputs and "vocabulary" not in result.outputs


@pytest.mark.parametrize("options,phrase", [
    ({"min_df": 0}, "min_df=0: expected a positive integer"),
    ({"min_df": True}, "min_df=True: expected a positive integer"),
    ({"jobs": 0}, "jobs=0: expected a positive integer"),
    ({"stop_words": "french"}, "stop_words='french': expected one of 'english', 'none'"),
    ({"layout": "old"}, "layout='old': expected one of 'default', 'original'"),
    ({"vocab_from": "test"}, "vocab_from='test': expected one of 'dev', 'lite', 'both'"),
])
def test_bad_parameters_are_one_line_errors(options, phrase, tmp_path):
    with pytest.raises(InputError) as caught:
        clickture(tmp_path, tmp_path / "out", **options)
    assert phrase in str(caught.value) and "\n" not in str(caught.value)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("parameter,value,given", [
    ("out_dir", None, "NoneType"), ("keyword_dir", 5, "int"), ("lists_dir", b"data", "bytes"),
    ("out_dir", ["out"], "list"), ("min_df", 3.0, "float"), ("jobs", "2", "str"),
    ("min_df", None, "NoneType"), ("refit", "yes", "str"), ("wait", 1, "int"),
    ("progress", "no", "str"), ("side_files", {"dev": "a.lst"}, "dict"),
])
def test_a_parameter_of_the_wrong_type_is_an_input_error_naming_it(tmp_path, parameter, value,
                                                                   given):
    options = {"keyword_dir": tmp_path, "lists_dir": tmp_path, "out_dir": tmp_path / "out",
               parameter: value}
    with pytest.raises(InputError) as caught:
        prepare_clickture(**options)
    message = str(caught.value)
    assert message.startswith(f"{parameter}=") and message.endswith(f", not {given}"), message
    assert not (tmp_path / "out").exists()
    with pytest.raises(InputError, match="^splits=None: expected a non-empty tuple"):
        prepare_coco(keyword_dir=tmp_path, out_dir=tmp_path, splits=None)


def test_paths_as_path_objects_and_numpy_integers_are_taken(hard_clickture, tmp_path,
                                                            quiet_logger):
    plain = clickture(hard_clickture, tmp_path / "plain", min_df=3, jobs=1)
    result = prepare_clickture(keyword_dir=hard_clickture, lists_dir=hard_clickture,
                               out_dir=tmp_path / "typed", min_df=np.int64(3),
                               jobs=np.int32(1), progress=False)
    assert all(type(path) is str for path in result.outputs.values())
    assert type(result.out_dir) is str
    for role, path in plain.outputs.items():
        if path.endswith(".npy"):
            np.testing.assert_array_equal(np.load(path), np.load(result.outputs[role]), role)
    coco = dataset_named("coco")
    settings = RunSettings(coco, tmp_path, tmp_path, coco.make_options(splits=["train"]),
                           min_df=np.uint8(2))
    assert (settings.options.splits, settings.keyword_dir, settings.min_df) == (
        ("train",), str(tmp_path), 2)
    assert type(settings.min_df) is int  # a manifest records it as JSON


def test_bad_input_is_an_input_error_not_a_print(tmp_path, quiet_logger, capsys):
    with pytest.raises(InputError, match="no such folder; it should hold the downloaded"):
        clickture(tmp_path / "missing", tmp_path / "out")
    with pytest.raises(InputError, match="splits='train': expected a non-empty tuple"):
        prepare_coco(keyword_dir=str(tmp_path), out_dir=str(tmp_path), splits="train")
    assert capsys.readouterr().out == ""


def test_parameters_are_keyword_only(tmp_path):
    with pytest.raises(TypeError):
        prepare_clickture(str(tmp_path), str(tmp_path), str(tmp_path))  # type: ignore[misc]


def test_the_public_names_are_exported():
    for name in amc_keywords.__all__:
        assert getattr(amc_keywords, name) is not None
        assert name in dir(amc_keywords)
    assert SetFigures.__module__ == "amc_keywords.pipeline"
    with pytest.raises(AttributeError, match="no attribute 'prepare_flickr'"):
        amc_keywords.prepare_flickr  # noqa: B018


def test_a_run_never_imports_scikit_learn(hard_clickture, tmp_path):
    """Importing scikit-learn takes seconds that a run would wait for: the analyzer's settings
    are read from its source and the vocabulary is counted here (the tests of
    test_equivalence show both equal to scikit-learn's). The original layout, which pickles
    a CountVectorizer, is the one run that needs it."""
    code = ("import sys\n"
            "from amc_keywords import prepare_clickture\n"
            "data, out = sys.argv[1:]\n"
            "result = prepare_clickture(keyword_dir=data, lists_dir=data, out_dir=out, "
            "progress=False)\n"
            "print(result.vocabulary_size, 'sklearn' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code, str(hard_clickture), str(tmp_path)],
                         capture_output=True, text=True, check=True).stdout.split()
    assert int(out[0]) > 0 and out[1] == "False"


def test_sample_inputs_run_the_shipped_sample_as_the_command_line_does(tmp_path, quiet_logger,
                                                                        caplog):
    from amc_keywords import sample_inputs
    for dataset, prepare in (("clickture", prepare_clickture), ("coco", prepare_coco)):
        with caplog.at_level(logging.WARNING, logger="amc_keywords"):
            result = prepare(**sample_inputs(dataset), out_dir=str(tmp_path / dataset))
        assert not caplog.records, [r.getMessage() for r in caplog.records]  # no LFS notice
        subprocess.run([sys.executable, "-m", "amc_keywords", dataset, "--sample", "--quiet",
                        "--out-dir", tmp_path / f"cli-{dataset}"], check=True)
        for role, path in result.outputs.items():
            if path.endswith(".npy"):
                other = tmp_path / f"cli-{dataset}" / os.path.basename(path)
                assert other.read_bytes() == Path(path).read_bytes(), role
    with pytest.raises(InputError, match="dataset='x'"):
        sample_inputs("x")


def test_errors_name_the_parameter_in_the_api_and_the_option_on_the_command_line(tmp_path):
    missing = tmp_path / "missing"
    with pytest.raises(InputError) as caught:
        prepare_clickture(keyword_dir=str(missing), lists_dir=SAMPLE, out_dir=str(tmp_path))
    assert "keyword_dir=" in str(caught.value) and "--" not in str(caught.value)
    proc = subprocess.run([sys.executable, "-m", "amc_keywords", "clickture", "--keyword-dir",
                           missing, "--out-dir", tmp_path], capture_output=True, text=True)
    assert proc.returncode == 2 and "give --keyword-dir" in proc.stderr
    assert "keyword_dir=" not in proc.stderr


def test_settings_in_messages_become_options():
    from amc_keywords.run_options import in_option_terms
    assert in_option_terms("give keyword_dir=; or min_df=5000 is too high; use refit=True, "
                           "wait=False, fewer jobs=") == (
        "give --keyword-dir; or --min-df 5000 is too high; use --refit, --no-wait, fewer --jobs")
    assert in_option_terms("vocabulary fitted with min_dfx=3 (min_df)") == \
        "vocabulary fitted with min_dfx=3 (min_df)"
