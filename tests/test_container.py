"""Keywords as a collections.abc.Sequence: each operation the ABC defines, against a plain list
of each image's word ids built from the rows; and the tables checked when a set is opened."""
import collections.abc
import os
import shutil
import warnings

import numpy as np
import pytest
from conftest import clickture_args, run_in_process

from amc_keywords import load_keywords
from amc_keywords.errors import InputError

DEV = "img_keyword_ind_clickture_dev_sk_6_sparse.npy"
RANGES = "img_keyword_range_clickture_dev_sk_6.npy"
NAMES = "img_names_clickture_dev.npy"


@pytest.fixture(scope="module")
def out(hard_clickture, tmp_path_factory):
    folder = tmp_path_factory.mktemp("container")
    run_in_process("clickture", *clickture_args(hard_clickture, folder), "--quiet")
    return folder


@pytest.fixture(scope="module")
def plain(out):
    """``[word ids of image 0, of image 1, ...]`` as plain lists, from the rows alone, for the
    range table's length."""
    rows = np.load(out / DEV).tolist()
    size = len(np.load(out / RANGES))
    words = [[] for _ in range(size)]
    for img_id, word_id in rows:
        words[img_id].append(word_id)
    return words


def as_lists(arrays):
    return [a.tolist() for a in arrays]


def test_it_is_a_sequence_and_len_iter_reversed_are_a_list_s(out, plain):
    kw = load_keywords(out / DEV)
    assert isinstance(kw, collections.abc.Sequence)
    assert not isinstance(kw, collections.abc.Mapping)
    assert len(kw) == len(plain) == 700
    assert any(not w for w in plain) and any(len(w) > 1 for w in plain)
    assert as_lists(kw) == plain
    assert as_lists(reversed(kw)) == list(reversed(plain))
    assert all(a.dtype == np.int64 for a in kw)


def test_indices_negative_and_numpy_integers(out, plain):
    kw = load_keywords(out / DEV)
    for i in [0, 1, 5, 699, -1, -2, -700, np.int64(3), np.int32(-4), True]:
        assert kw[i].tolist() == plain[i]
        assert kw[i].dtype == np.int64
    for i in [700, -701, 10 ** 12, -(10 ** 12)]:
        with pytest.raises(IndexError, match="outside the range table"):
            kw[i]
        with pytest.raises(KeyError):  # as before: a KeyError too
            kw[i]
    for i in [1.0, "3", None, [1, 2]]:
        with pytest.raises(TypeError, match="integers or slices"):
            kw[i]


@pytest.mark.parametrize("s", [slice(None), slice(3, 40), slice(-30, None), slice(None, None, -1),
                               slice(10, 0, -3), slice(650, 10 ** 9), slice(5, 5),
                               slice(-10 ** 9, 2), slice(None, None, 7), slice(698, None)])
def test_slices_are_a_list_s(out, plain, s):
    kw = load_keywords(out / DEV)
    got = kw[s]
    assert isinstance(got, list)
    assert as_lists(got) == plain[s]
    assert all(a.dtype == np.int64 for a in got)


def values(plain):
    """Values to look for: some images' word ids (one empty), and arrays no image has."""
    some = [w for w in plain if w][:5] + [[]] + [w for w in plain if len(w) > 3][-3:]
    return some + [[10 ** 6], plain[7] + [0], [-1, -2]]


def test_in_index_count_compare_whole_arrays(out, plain):
    kw = load_keywords(out / DEV)
    for value in values(plain):
        for given in (value, tuple(value), np.array(value, np.int64)):
            assert (given in kw) == (value in plain)
            assert kw.count(given) == plain.count(value)
            if value in plain:
                assert kw.index(given) == plain.index(value)
                for start, stop in [(plain.index(value) + 1, None), (-100, None), (3, 200),
                                    (0, -5)]:
                    expected = next((i for i in range(*slice(start, stop).indices(len(plain)))
                                     if plain[i] == value), None)
                    if expected is None:
                        with pytest.raises(ValueError):
                            kw.index(given, start, len(plain) if stop is None else stop)
                    else:
                        assert kw.index(given, start, len(plain) if stop is None else
                                        stop) == expected
            else:
                with pytest.raises(ValueError, match="not the word ids of any image"):
                    kw.index(given)
    assert [[1.5]] not in kw and ["dog"] not in kw and [[1], [2, 3]] not in kw


@pytest.mark.parametrize("scalar", [5, np.int64(5), 0, "dog", None, 2.0])
def test_a_scalar_is_refused_by_in_index_and_count(out, scalar):
    kw = load_keywords(out / DEV)
    with pytest.raises(TypeError, match=r"kw\.ids"):
        scalar in kw  # noqa: B015
    with pytest.raises(TypeError, match=r"0 <= i < len\(kw\)"):
        kw.index(scalar)
    with pytest.raises(TypeError, match="image id"):
        kw.count(scalar)


def test_word_ids_takes_image_ids_and_keywords_is_deprecated(out, plain):
    kw = load_keywords(out / DEV)
    for i in [0, 5, 699, np.int64(12)]:
        assert kw.word_ids(i).tolist() == plain[i]
        assert kw.words(i) == [kw.vocabulary[w] for w in plain[i]]
    for i in [-1, 700]:
        with pytest.raises(KeyError, match="outside the range table"):
            kw.word_ids(i)
    with pytest.warns(DeprecationWarning, match="use Keywords.word_ids"):
        assert kw.keywords(5).tolist() == plain[5]


# ---- the tables, checked when the set is opened ------------------------------------------------

@pytest.fixture
def copy(out, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(out, folder)  # (times kept: the manifest still describes the rows)
    return folder


def refused(path, *phrases):
    with pytest.raises(InputError) as caught:
        load_keywords(path)
    assert isinstance(caught.value, ValueError)  # as load_keywords raised before
    message = str(caught.value)
    assert "\n" not in message
    for phrase in phrases:
        assert phrase in message, message
    return message


def test_clean_tables_load(copy):
    assert len(load_keywords(copy / DEV)) == 700
    ranges = np.load(copy / RANGES)
    np.save(copy / RANGES, ranges)  # the same content, a new time: no false alarm
    assert len(load_keywords(copy / DEV)) == 700


@pytest.mark.parametrize("table,array,phrase", [
    (RANGES, lambda a: np.zeros((len(a), 3), np.int64), "expected the range table"),
    (RANGES, lambda a: a.astype(np.float64), "expected the range table"),
    (RANGES, lambda a: a.astype(np.uint64), "expected the range table"),
    (RANGES, lambda a: a[:, 0], "expected the range table"),
    (NAMES, lambda a: a.reshape(-1, 1), "expected the names table"),
    (NAMES, lambda a: np.arange(len(a)), "expected the names table"),
    (NAMES, lambda a: a[:-1], "700 image ids, but img_names_clickture_dev.npy has 699"),
    (RANGES, lambda a: a[:-1], "699 image ids, but img_names_clickture_dev.npy has 700"),
])
def test_a_malformed_table_is_named(copy, table, array, phrase):
    np.save(copy / table, array(np.load(copy / table)))
    refused(copy / DEV, str(copy / (RANGES if "image ids, but" in phrase else table)), phrase)


def stale_ranges(ranges, rows, how):
    ranges = ranges.copy()
    first_image = rows[0, 0]
    if how == "shifted":
        ranges[first_image, 1] += 1
    elif how == "beyond the rows":
        last_image = rows[-1, 0]
        ranges[last_image, 1] = len(rows) + 5
    elif how == "emptied":
        ranges[first_image] = -1
    elif how == "another image's":
        other = rows[-1, 0]
        ranges[[first_image, other]] = ranges[[other, first_image]]
    elif how == "half":
        ranges[first_image] = [ranges[first_image, 0], -1]
    return ranges


@pytest.mark.parametrize("how", ["shifted", "beyond the rows", "emptied", "another image's",
                                 "half"])
def test_a_stale_range_table_is_named(copy, how):
    rows = np.load(copy / DEV)
    np.save(copy / RANGES, stale_ranges(np.load(copy / RANGES), rows, how))
    refused(copy / DEV, str(copy / RANGES), "has range")


def test_a_range_table_of_rows_cut_short_is_named(copy):
    """Rows cut (or grown) after the run: the manifest no longer describes them, the sample
    of ranges shows the difference."""
    rows = np.load(copy / DEV)
    np.save(copy / DEV, rows[:-3])
    refused(copy / DEV, str(copy / RANGES), "has range")


def test_an_image_with_rows_but_no_name_is_named(copy):
    rows = np.load(copy / DEV)
    names = np.load(copy / NAMES)
    names[rows[0, 0]] = b""
    np.save(copy / NAMES, names)
    refused(copy / DEV, str(copy / NAMES), "not a listed image")


def test_a_table_of_another_run_is_named_by_the_manifest(copy):
    """Consistent with the rows, but not the file the run wrote: the manifest says so."""
    ranges = np.load(copy / RANGES)
    np.save(copy / RANGES, ranges.astype(np.int32))  # the same ranges, another file
    refused(copy / DEV, str(copy / RANGES), "not the range table", "belongs to another run",
            "manifest_clickture_sk_6.json")
    np.save(copy / RANGES, ranges)  # the run's content again: loads
    assert len(load_keywords(copy / DEV)) == 700
    names = np.load(copy / NAMES)
    names[int(np.flatnonzero(names != b"")[0])] = b"renamed"  # still listed: consistent
    np.save(copy / NAMES, names)
    refused(copy / DEV, str(copy / NAMES), "not the names table", "belongs to another run")


def test_without_a_manifest_a_consistent_table_loads(copy):
    os.remove(copy / "manifest_clickture_sk_6.json")
    np.save(copy / RANGES, np.load(copy / RANGES).astype(np.int32))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kw = load_keywords(copy / DEV)
    assert kw[5].tolist() == kw.word_ids(5).tolist()


def test_a_bad_table_is_one_line_at_the_command_line(copy):
    rows = np.load(copy / DEV)
    np.save(copy / RANGES, stale_ranges(np.load(copy / RANGES), rows, "shifted"))
    proc = run_in_process("stats", copy / DEV, check=False)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr
    assert lines[0].startswith(f"error: {copy / RANGES}: image ") and "has range" in lines[0]
