"""The ``verify`` command: is an output set consistent, and does it match its archives?

Input
    A rows file (``img_keyword_ind_..._sk_<k>[_sparse].npy``) with the files beside it, loaded
    by :func:`~amc_keywords.stats.open_rows_file`; for a re-encoding check, the keyword
    archives or folders the set was made from.
Output
    :func:`verify` returns a one-line summary (``ok: ...``) or raises an
    :class:`~amc_keywords.errors.CheckFailed` naming the first problem (exit status 1).
"""
from __future__ import annotations

import os
from types import SimpleNamespace
from typing import List, Optional, Tuple

import numpy as np

from . import encoding
from .datasets import dataset as dataset_named
from .entry_checks import Entries
from .errors import CheckFailed
from .filenames import names_beside, parse_rows_name
from .loader import Keywords
from .stats import open_rows_file
from .tables import ranges_from_rows


def verify(path: str, keyword_dir: Optional[str], samples: int) -> str:
    """Check one output set's internal consistency (and, with ``keyword_dir``, re-encode a
    random sample of its images from the archives). Returns a one-line summary."""
    # The loader checks dtype and shape, and that the vocabulary beside is of the min_df in
    # the name; a missing range table is an error below, not a notice.
    keywords = open_rows_file(path, notices=False, inconsistent=CheckFailed)
    beside, min_df = names_beside(path)
    rows, vocabulary = np.asarray(keywords.rows), keywords.vocabulary
    if not os.path.exists(beside["ranges"]):
        raise CheckFailed(f"{beside['ranges']}: missing; run the dataset script again")
    ranges = np.asarray(keywords.ranges)  # its dtype and shape checked by the loader
    if len(rows):
        low, high = int(rows[:, 1].min()), int(rows[:, 1].max())
        if low < 0 or high >= len(vocabulary) or int(rows[:, 0].min()) < 0:
            raise CheckFailed(f"{path}: word ids run from {low} to {high}, beyond the vocabulary "
                             f"of {len(vocabulary)} words (ids 0..{len(vocabulary) - 1}) (or "
                             "image ids are negative)")
        if int(rows[:, 0].max()) >= len(ranges):
            raise CheckFailed(f"{path}: image id {int(rows[:, 0].max())} is beyond the range "
                             f"table ({len(ranges)} ids)")
        runs = np.count_nonzero(rows[1:, 0] != rows[:-1, 0]) + 1
        if runs != len(np.unique(rows[:, 0])):
            raise CheckFailed(f"{path}: an image's rows are not contiguous")
    derived = ranges_from_rows(rows)
    expected = np.full_like(ranges, -1)
    expected[:len(derived)] = derived
    bad = np.flatnonzero(np.any(expected != ranges, axis=1))
    if len(bad):
        i = bad[0]
        raise CheckFailed(f"{beside['ranges']}: image {i} has range {ranges[i].tolist()}, but its "
                         f"rows are at {expected[i].tolist()}")
    listed = keywords.ids
    unlisted = np.setdiff1d(np.unique(rows[:, 0]), listed) if len(rows) else listed[:0]
    if len(unlisted):
        raise CheckFailed(f"{path}: image id {unlisted[0]} has rows but is not a listed image")
    summary = (f"ok: {path}: {len(rows)} rows, {len(listed)} images, {len(vocabulary)} words "
               f"(min_df={min_df})")
    if keyword_dir:
        checked, source_path = reencode_sample(keywords, keyword_dir, samples)
        summary += f"; {checked} images re-encoded from {source_path}: identical"
    return summary


def reencode_sample(keywords: Keywords, keyword_dir: str, samples: int) -> Tuple[int, str]:
    """Encode a random sample of listed images (seeded: the same each time) and compare."""
    path, vocabulary, listed = keywords.path, keywords.vocabulary, keywords.ids
    name = parse_rows_name(path)
    dataset = dataset_named(name["dataset"])
    source = dataset.open_keywords(keyword_dir, name["set_name"])
    rng = np.random.default_rng(0)
    ids = np.sort(rng.choice(listed, size=min(samples, len(listed)), replace=False))
    keys = dataset.keys_of(source, keywords.image_name, keywords.split, ids)
    entries = Entries(keys, ids, path)
    chunks: List[np.ndarray] = []  # the rows, written to a list instead of a file
    ranges = np.full((int(ids.max()) + 1, 2), -1, np.int64)
    encoding.encode(source, source.plan(entries), vocabulary.words, vocabulary.analyzer,
                    SimpleNamespace(write=chunks.append), ranges, jobs=1, progress=False)
    got = np.concatenate(chunks) if chunks else np.empty((0, 2), np.int64)
    expected = np.concatenate([np.column_stack([np.full(len(k), i), k])
                               for i in ids for k in [keywords.word_ids(int(i))]])
    if not np.array_equal(got, expected):
        first = next(int(i) for i in ids if not np.array_equal(
            got[got[:, 0] == i, 1], keywords.word_ids(int(i))))
        raise CheckFailed(f"{path}: image {first}: its rows differ from its keyword file in "
                         f"{source.path}")
    return len(ids), source.path

