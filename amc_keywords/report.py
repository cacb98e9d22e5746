"""Checks and figures for an output set: what ``verify``, ``stats`` and ``show`` print.

Input
    A rows file (``img_keyword_ind_..._sk_<k>[_sparse].npy``) with the files beside it, loaded
    by :func:`~amc_keywords.loader.load_keywords`; for a re-encoding check, the keyword
    archives or folders the set was made from.
Output
    :func:`verify` returns a one-line summary or raises an InputError naming the first
    problem; :func:`statistics` returns a dict of figures; :func:`plot` writes a PNG.
"""
import os
import sys
import warnings
from types import SimpleNamespace

import numpy as np

from . import encoding
from .errors import InputError
from .filenames import archive_name, names_beside, parse_rows_name
from .lists import COCO_SPLITS, Entries, coco_key, keys_by_id
from .loader import load_keywords
from .sources import open_source
from .tables import ranges_from_rows
from .vocabulary import Vocabulary

PERCENTILES = (10, 25, 50, 75, 90, 99)


def load(path, notices=True):
    """:func:`load_keywords`, with its ValueError as an InputError (one line at the CLI)."""
    if not os.path.isfile(path):
        raise InputError(f"{path}: not found")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            keywords = load_keywords(path)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    for warning in caught if notices else ():
        print(f"notice: {warning.message}", file=sys.stderr)
    return keywords


def listed_ids(keywords):
    """Ids of the listed images: those with a name (every listed image has one)."""
    if keywords.image_names is not None and len(keywords.image_names):
        return np.flatnonzero(np.asarray(keywords.image_names) != b"")
    return np.arange(len(keywords.ranges))


def rows_per_image(keywords, ids):
    ranges = np.asarray(keywords.ranges)[ids]
    return np.where(ranges[:, 0] >= 0, ranges[:, 1] - ranges[:, 0] + 1, 0)


def verify(path, keyword_dir=None, samples=200, seed=0):
    """Check one output set's internal consistency (and, with ``keyword_dir``, re-encode a
    random sample of its images from the archives). Returns a one-line summary."""
    # dtype and shape are checked here; a missing range table is an error below, not a
    # notice
    keywords = load(path, notices=False)
    beside, min_df = names_beside(path)
    rows = np.asarray(keywords.rows)
    vocabulary = Vocabulary.load(beside["vocabulary"])
    if vocabulary.min_df != min_df:
        raise InputError(f"{beside['vocabulary']}: fitted with min_df={vocabulary.min_df}, but "
                         f"{os.path.basename(path)} says min_df={min_df}")
    if not os.path.exists(beside["ranges"]):
        raise InputError(f"{beside['ranges']}: missing; run the dataset script again")
    ranges = np.asarray(keywords.ranges)
    if ranges.ndim != 2 or ranges.shape[1] != 2 or ranges.dtype.kind not in "iu":
        raise InputError(f"{beside['ranges']}: expected an (n, 2) integer range table, found "
                         f"{ranges.dtype} {ranges.shape}")
    if len(rows):
        low, high = int(rows[:, 1].min()), int(rows[:, 1].max())
        if low < 0 or high >= len(vocabulary) or int(rows[:, 0].min()) < 0:
            raise InputError(f"{path}: word ids run from {low} to {high}, beyond the vocabulary "
                             f"of {len(vocabulary)} words (ids 0..{len(vocabulary) - 1}) (or "
                             "image ids are negative)")
        if int(rows[:, 0].max()) >= len(ranges):
            raise InputError(f"{path}: image id {int(rows[:, 0].max())} is beyond the range "
                             f"table ({len(ranges)} ids)")
        runs = np.count_nonzero(rows[1:, 0] != rows[:-1, 0]) + 1
        if runs != len(np.unique(rows[:, 0])):
            raise InputError(f"{path}: an image's rows are not contiguous")
    derived = ranges_from_rows(rows)
    expected = np.full_like(ranges, -1)
    expected[:len(derived)] = derived
    bad = np.flatnonzero(np.any(expected != ranges, axis=1))
    if len(bad):
        i = bad[0]
        raise InputError(f"{beside['ranges']}: image {i} has range {ranges[i].tolist()}, but its "
                         f"rows are at {expected[i].tolist()}")
    listed = listed_ids(keywords)
    unlisted = np.setdiff1d(np.unique(rows[:, 0]), listed) if len(rows) else []
    if len(unlisted):
        raise InputError(f"{path}: image id {unlisted[0]} has rows but is not a listed image")
    summary = (f"ok: {path}: {len(rows)} rows, {len(listed)} images, {len(vocabulary)} words "
               f"(min_df={min_df})")
    if keyword_dir:
        checked, source_path = reencode_sample(keywords, vocabulary, path, keyword_dir,
                                               listed, samples, seed)
        summary += f"; {checked} images re-encoded from {source_path}: identical"
    return summary


def reencode_sample(keywords, vocabulary, path, keyword_dir, listed, samples, seed):
    """Encode a random sample of listed images from the keyword files and compare."""
    name = parse_rows_name(path)
    source = open_source(keyword_dir, archive_name(name["dataset"], name["subset"]))
    rng = np.random.default_rng(seed)
    ids = np.sort(rng.choice(listed, size=min(samples, len(listed)), replace=False))
    if name["dataset"] == "coco":
        keys = np.array([_coco_member(source, keywords.image_name(int(i))) for i in ids],
                        dtype=bytes)
    else:
        keys = keys_by_id(source, ids)
    entries = Entries(keys, ids, path)
    chunks = []  # the rows, written to a list instead of a file
    ranges = np.full((int(ids.max()) + 1, 2), -1, np.int64)
    encoding.encode(source, source.plan(entries), vocabulary.words, vocabulary.stop_words,
                    SimpleNamespace(write=chunks.append), ranges, jobs=1, quiet=True)
    got = np.concatenate(chunks) if chunks else np.empty((0, 2), np.int64)
    expected = np.concatenate([np.column_stack([np.full(len(k), i), k])
                               for i in ids for k in [keywords.keywords(int(i))]])
    if not np.array_equal(got, expected):
        first = next(int(i) for i in ids if not np.array_equal(
            got[got[:, 0] == i, 1], keywords.keywords(int(i))))
        raise InputError(f"{path}: image {first}: its rows differ from its keyword file in "
                         f"{source.path}")
    return len(ids), source.path


def _coco_member(source, filename):
    """The key of a COCO image's keyword file, whichever split's folder holds it."""
    for split in COCO_SPLITS:
        key = coco_key(split, filename or "").encode("utf-8")
        if source.has(key):
            return key
    raise InputError(f"{source.path}: no keyword file for {filename}")


def show(path, img_id):
    """``"<img_id> (<name>): word, word, ..."``: one image's keywords as words."""
    keywords = load(path)
    try:
        words = keywords.words(img_id)
    except KeyError as exc:
        raise InputError(exc.args[0]) from None  # it names the file already
    name = keywords.image_name(img_id)
    label = f"{img_id} ({name})" if name else f"{img_id}"
    return f"{label}: {', '.join(words) if words else '(no keywords)'}"


def plot_title(path, keywords):
    tag = parse_rows_name(path)["tag"]
    return f"AMC keywords: {tag.replace('_', ' ')} (min_df={keywords.min_df})"


def statistics(keywords, top=20):
    """Figures a user checks before training (plain Python types, JSON-ready)."""
    rows = np.asarray(keywords.rows)
    listed = listed_ids(keywords)
    per_image = rows_per_image(keywords, listed)
    frequency = np.bincount(rows[:, 1], minlength=len(keywords.vocabulary)) if len(rows) \
        else np.zeros(len(keywords.vocabulary), np.int64)
    order = np.argsort(-frequency, kind="stable")[:top]
    return {
        "file": keywords.path,
        "images": int(len(listed)),
        "images_without_rows": int(np.count_nonzero(per_image == 0)),
        "rows": int(len(rows)),
        "vocabulary_size": int(len(keywords.vocabulary)),
        "min_df": keywords.min_df,
        "keywords_per_image": {
            "min": int(per_image.min()) if len(per_image) else 0,
            "median": float(np.median(per_image)) if len(per_image) else 0.0,
            "mean": float(per_image.mean()) if len(per_image) else 0.0,
            "max": int(per_image.max()) if len(per_image) else 0,
            "percentiles": {str(p): float(np.percentile(per_image, p)) if len(per_image)
                            else 0.0 for p in PERCENTILES}},
        "most_frequent": [[keywords.vocabulary[int(i)], int(frequency[i])] for i in order
                          if frequency[i]],
        "vocabulary_never_used": float(np.mean(frequency == 0)) if len(frequency) else 0.0,
        "_per_image": per_image, "_frequency": frequency,
    }


def format_statistics(stats):
    k = stats["keywords_per_image"]
    lines = [f"{stats['file']}",
             f"  images: {stats['images']} ({stats['images_without_rows']} with no rows)",
             f"  rows: {stats['rows']}",
             f"  vocabulary: {stats['vocabulary_size']} words (min_df={stats['min_df']}), "
             f"{stats['vocabulary_never_used']:.1%} never used",
             f"  keywords per image: min {k['min']} / median {k['median']:g} / mean "
             f"{k['mean']:.2f} / max {k['max']}",
             "  percentiles: " + ", ".join(f"p{p} {v:g}" for p, v in k["percentiles"].items()),
             "  most frequent: " + ", ".join(f"{w} ({n})" for w, n in stats["most_frequent"])]
    return "\n".join(lines)


def plot(stats, title, path):
    """PNG: keywords-per-image histogram and word-frequency rank plot (log-log)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise InputError("--plot needs matplotlib: pip install 'amc-keywords[plot]' (or "
                         "pip install matplotlib)") from None
    per_image, frequency = stats["_per_image"], stats["_frequency"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.hist(per_image, bins=np.arange(per_image.max() + 2) - 0.5 if len(per_image) else 1,
              color="#4477aa")
    left.set_xlabel("keywords (rows) per image")
    left.set_ylabel("images")
    left.set_title("Keywords per image")
    ranked = np.sort(frequency[frequency > 0])[::-1]
    right.loglog(np.arange(1, len(ranked) + 1), ranked, color="#cc6677")
    right.set_xlabel("word rank")
    right.set_ylabel("rows (occurrences)")
    right.set_title("Word frequency by rank")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
