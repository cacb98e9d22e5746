"""File names: the inputs each dataset reads and the outputs it writes.

Input files (Clickture, beside the dataset script as the original repository ships them):
    ``clickture-dev.lst``, ``img_id_map_dev.pkl`` (dev) and ``clickture-lite.lst``,
    ``img_id_map.pkl`` (Lite); the shipped sample's are named ``sample-*`` so that no file
    under an upstream name is ever generated.
Output files (``<tag>``: ``clickture_dev``, ``clickture_lite`` or ``coco``; ``<k>``: min_df):
    ``img_keyword_ind_clickture_<set>_sk_<k>_sparse.npy`` / ``img_keyword_ind_coco_sk_<k>.npy``
    (rows), ``img_keyword_range_<tag>_sk_<k>.npy`` (range table), ``img_names_<tag>.npy``
    (names), ``vocabulary_<dataset>_sk_<k>.json`` (vocabulary). The formats are in
    :mod:`amc_keywords.writing`. With ``--original-layout``, the original scripts' names
    instead (:func:`original_names`).
"""
import os
import re

# List and map file of each Clickture set.
ORIGINAL_FILES = {"dev": ("clickture-dev.lst", "img_id_map_dev.pkl"),
                  "lite": ("clickture-lite.lst", "img_id_map.pkl")}
SAMPLE_FILES = {"dev": ("sample-dev.lst", "sample_id_map_dev.pkl"),
                "lite": ("sample-lite.lst", "sample_id_map.pkl")}

ROWS_NAME = re.compile(r"^img_keyword_ind_(?P<tag>(?P<dataset>[a-z0-9]+)(?:_(?P<subset>\w+?))?)"
                       r"_sk_(?P<min_df>\d+)(?:_sparse)?\.npy$")


def archive_name(dataset, subset):
    """``keywords_<set>`` (``keywords_dev``, ``keywords_lite``, ``keywords_coco``): the
    downloaded archive without ``.zip``, and the folder it unzips to."""
    return f"keywords_{subset or dataset}"


def output_names(dataset, subset, min_df):
    """File names of one set's outputs (``subset`` is None for COCO)."""
    tag = f"{dataset}_{subset}" if subset else dataset
    sparse = "_sparse" if subset else ""  # the original names: Clickture's end in _sparse
    return {"rows": f"img_keyword_ind_{tag}_sk_{min_df}{sparse}.npy",
            "ranges": f"img_keyword_range_{tag}_sk_{min_df}.npy",
            "names": f"img_names_{tag}.npy",
            "vocabulary": f"vocabulary_{dataset}_sk_{min_df}.json"}


def original_names(dataset, subset, min_df):
    """File names the original scripts wrote (``--original-layout``): the rows as their
    earlier revision saved them, the range table under the README's names, and the pickled
    CountVectorizer."""
    tag = f"{dataset}_{subset}" if subset else dataset
    vectorizer = "count_vectorizer_clickture_dev" if subset else "count_vectorizer_coco_keyword"
    return {"rows": f"img_keyword_rec_{tag}_sk_{min_df}.npy",
            "ranges": output_names(dataset, subset, min_df)["rows"],
            "vectorizer": f"{vectorizer}_sk_{min_df}.pkl"}


def parse_rows_name(rows_path):
    """``{"tag", "dataset", "subset", "min_df"}`` of a rows file's name (``subset`` None for
    COCO); ValueError when it is not an output name."""
    match = ROWS_NAME.match(os.path.basename(rows_path))
    if not match:
        raise ValueError(f"{rows_path}: not an output name (expected "
                         "img_keyword_ind_<dataset>[_<set>]_sk_<min_df>[_sparse].npy)")
    return match.groupdict()


def names_beside(rows_path):
    """Paths of the files that go with a rows file, found by its name, and its min_df."""
    folder = os.path.dirname(rows_path)
    match = parse_rows_name(rows_path)
    names = output_names(match["dataset"], match["subset"], int(match["min_df"]))
    return {k: os.path.join(folder, v) for k, v in names.items()}, int(match["min_df"])
