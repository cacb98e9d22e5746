"""File names: the keyword archives a dataset reads and the outputs it writes.

Input files: ``keywords_<set>.zip``, which unzips to the folder ``keywords_<set>/`` (a
    dataset's other inputs, such as Clickture's lists and maps, are named by its
    description: :mod:`amc_keywords.datasets`).
Output files: the rows, the range, names and splits tables, the vocabulary and the manifest,
    named as docs/formats.md#outputs lists them (``<tag>``, a set's part of the names:
    :func:`set_tag`); with the original layout, the original scripts' names instead
    (:func:`original_names`).

An image set is named by its *set name*: ``lite`` or ``dev`` for Clickture; COCO has one set,
whose set name is the dataset's, ``coco``.
"""
from __future__ import annotations

import os
import re
from typing import Dict, Tuple

ROWS_NAME = re.compile(r"^img_keyword_ind_(?P<tag>(?P<dataset>[a-z0-9]+)(?:_(?P<set_name>\w+?))?)"
                       r"_sk_(?P<min_df>\d+)(?:_sparse)?\.npy$")


def archive_name(set_name: str) -> str:
    """``keywords_<set>`` (``keywords_dev``, ``keywords_lite``, ``keywords_coco``): the
    downloaded archive without ``.zip``, and the folder it unzips to."""
    return f"keywords_{set_name}"


def set_tag(dataset: str, set_name: str) -> str:
    """``clickture_dev``, ``clickture_lite``, ``coco``: a set's part of its output names."""
    return dataset if set_name == dataset else f"{dataset}_{set_name}"


def vocabulary_name(dataset: str, min_df: int) -> str:
    return f"vocabulary_{dataset}_sk_{min_df}.json"


def manifest_name(dataset: str, min_df: int) -> str:
    return f"manifest_{dataset}_sk_{min_df}.json"


def output_names(dataset: str, set_name: str, min_df: int,
                 splits: bool = False) -> Dict[str, str]:
    """File names of one set's outputs, by role: ``rows``, ``ranges``, ``names``, (with
    ``splits``) ``splits``, ``vocabulary``."""
    tag = set_tag(dataset, set_name)
    # The original names: a set named apart from its dataset (Clickture's) has "_sparse".
    sparse = "" if set_name == dataset else "_sparse"
    names = {"rows": f"img_keyword_ind_{tag}_sk_{min_df}{sparse}.npy",
             "ranges": f"img_keyword_range_{tag}_sk_{min_df}.npy",
             "names": f"img_names_{tag}.npy"}
    if splits:
        names["splits"] = f"img_splits_{tag}.npy"
    names["vocabulary"] = vocabulary_name(dataset, min_df)
    return names


def original_names(dataset: str, set_name: str, min_df: int) -> Dict[str, str]:
    """File names the original scripts wrote (the original layout): the rows as their
    earlier revision saved them and the range table under the original README's names (the
    pickled CountVectorizer: :func:`vectorizer_name`)."""
    tag = set_tag(dataset, set_name)
    return {"rows": f"img_keyword_rec_{tag}_sk_{min_df}.npy",
            "ranges": output_names(dataset, set_name, min_df)["rows"]}


def vectorizer_name(stem: str, min_df: int) -> str:
    """The original layout's pickled CountVectorizer (``stem``: the dataset's)."""
    return f"{stem}_sk_{min_df}.pkl"


def parse_rows_name(rows_path: str) -> Dict[str, str]:
    """``{"tag", "dataset", "set_name", "min_df"}`` of a rows file's name; ValueError when it
    is not an output name."""
    match = ROWS_NAME.match(os.path.basename(rows_path))
    if not match:
        raise ValueError(f"{rows_path}: not an output name (expected "
                         "img_keyword_ind_<dataset>[_<set>]_sk_<min_df>[_sparse].npy)")
    parts = match.groupdict()
    parts["set_name"] = parts["set_name"] or parts["dataset"]
    return parts


def names_beside(rows_path: str) -> Tuple[Dict[str, str], int]:
    """Paths of the files that go with a rows file, found by its name, and its min_df."""
    folder = os.path.dirname(rows_path)
    match = parse_rows_name(rows_path)
    names = output_names(match["dataset"], match["set_name"], int(match["min_df"]), True)
    return {k: os.path.join(folder, v) for k, v in names.items()}, int(match["min_df"])
