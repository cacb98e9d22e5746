"""Figures and views of an output set: what ``stats`` and ``show`` print.

Input
    A rows file (``img_keyword_ind_..._sk_<k>[_sparse].npy``) with the files beside it.
Output
    :func:`open_rows_file` opens it (bad input as an InputError); :func:`statistics` returns
    :class:`Statistics`, whose ``figures`` are JSON-ready; :func:`plot` writes a PNG;
    :func:`show` is one image's keywords as words.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import Any, Dict, Type

import numpy as np

from .errors import InputError, escaped
from .filenames import parse_rows_name
from .loader import Keywords, load_keywords
from .log import logger
from .tables import keywords_per_image, rows_per_image

PERCENTILES = (10, 25, 50, 75, 90, 99)


@dataclass(frozen=True)
class Statistics:
    """``figures`` (plain Python types, as ``stats --json`` prints them) and the arrays the
    plot draws: rows per listed image, and how often each word id occurs."""
    figures: Dict[str, Any]
    per_image: np.ndarray
    frequency: np.ndarray


def open_rows_file(path: str, notices: bool = True,
                   inconsistent: Type[InputError] = InputError) -> Keywords:
    """:func:`load_keywords`, with its ValueError as an ``inconsistent`` error (one line at the
    CLI; ``verify`` makes it a :class:`~amc_keywords.errors.CheckFailed`) and its warnings
    as notices in the log. A path that is not there, or not an output name, is an
    InputError."""
    if not os.path.isfile(path):
        raise InputError(f"{path}: not found")
    try:
        parse_rows_name(path)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            keywords = load_keywords(path)
    except ValueError as exc:
        raise inconsistent(str(exc)) from None
    for warning in caught if notices else ():
        logger.warning("notice: %s", warning.message)
    return keywords


NAME_WIDTH = 200  # characters of an image's name shown (escaped: it is read from a file)


def show(path: str, img_id: int) -> str:
    """``"<img_id> (<name>): word, word, ..."``: one image's keywords as words."""
    keywords = open_rows_file(path)
    try:
        words = keywords.words(img_id)
    except KeyError as exc:
        raise InputError(exc.args[0]) from None  # it names the file already
    name = keywords.image_name(img_id)
    label = f"{img_id} ({escaped(name, NAME_WIDTH)})" if name else f"{img_id}"
    return f"{label}: {', '.join(words) if words else '(no keywords)'}"


def statistics(keywords: Keywords, top: int = 20) -> Statistics:
    """Figures a user checks before training."""
    rows = np.asarray(keywords.rows)
    listed = keywords.ids
    per_image = rows_per_image(np.asarray(keywords.ranges)[listed])
    low, median, mean, high = keywords_per_image(per_image)
    frequency = np.bincount(rows[:, 1], minlength=len(keywords.vocabulary))
    order = np.argsort(-frequency, kind="stable")[:top]
    return Statistics({
        "file": keywords.path,
        "images": int(len(listed)),
        "images_without_rows": int(np.count_nonzero(per_image == 0)),
        "rows": int(len(rows)),
        "vocabulary_size": int(len(keywords.vocabulary)),
        "min_df": keywords.min_df,
        "keywords_per_image": {
            "min": low, "median": median, "mean": mean, "max": high,
            "percentiles": {str(p): float(np.percentile(per_image, p)) if len(per_image)
                            else 0.0 for p in PERCENTILES}},
        "most_frequent": [[keywords.vocabulary[int(i)], int(frequency[i])] for i in order
                          if frequency[i]],
        "vocabulary_never_used": float(np.mean(frequency == 0)) if len(frequency) else 0.0,
    }, per_image, frequency)


def format_statistics(stats: Statistics) -> str:
    figures = stats.figures
    k = figures["keywords_per_image"]
    lines = [f"{figures['file']}",
             f"  images: {figures['images']} ({figures['images_without_rows']} with no rows)",
             f"  rows: {figures['rows']}",
             f"  vocabulary: {figures['vocabulary_size']} words (min_df={figures['min_df']}), "
             f"{figures['vocabulary_never_used']:.1%} never used",
             f"  keywords per image: min {k['min']} / median {k['median']:g} / mean "
             f"{k['mean']:.2f} / max {k['max']}",
             "  percentiles: " + ", ".join(f"p{p} {v:g}" for p, v in k["percentiles"].items()),
             "  most frequent: " + ", ".join(f"{w} ({n})" for w, n in figures["most_frequent"])]
    return "\n".join(lines)


def pyplot():
    """matplotlib's pyplot, drawing to files; an InputError says how to install it. Asked
    for before any figure is printed, so that a missing plot extra is the only output."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise InputError("--plot needs matplotlib: pip install 'amc-keywords[plot]' (or "
                         "pip install matplotlib)") from None
    return plt


def plot(stats: Statistics, path: str) -> None:
    """PNG: keywords-per-image histogram and word-frequency rank plot (log-log)."""
    plt = pyplot()
    per_image, frequency, figures = stats.per_image, stats.frequency, stats.figures
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
    tag = parse_rows_name(figures["file"])["tag"]
    fig.suptitle(f"AMC keywords: {tag.replace('_', ' ')} (min_df={figures['min_df']})")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
