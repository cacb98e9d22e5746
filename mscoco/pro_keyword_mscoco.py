"""Encode the MSCOCO keyword dataset as rows ``[img_id, word_id]`` (AMC, CVPR 2017).

Run from this folder or from the repository root (``pip install -r requirements.txt``
first); ``--help`` lists the options, ``--sample`` runs on the shipped synthetic sample.
The same job is ``amc-keywords coco`` once the package is installed.

Reads (defaults; see --help):
    ../keyword/keywords_coco.zip (or its unzipped folder), holding
        dataset.json  the Karpathy split file: {"images": [{"split": "train", "filename":
                      "COCO_val2014_000000391895.jpg", "imgid": 0, ...}, ...]}
        keyword_<split>/<filename without extension>.json  keywords of each image at
                      ["tagging"]["keywords"], a list of strings

Writes, in this folder (or --out-dir), 6 being --min-df, all moved into place at the end:
    vocabulary_coco_sk_6.json        {"words": [...], "min_df": 6, ...}; words[word_id] == word
    img_keyword_ind_coco_sk_6.npy    int64 (N, 2): rows [img_id, word_id], dataset.json order
    img_keyword_range_coco_sk_6.npy  int64 (max imgid + 1, 2): [first, last] row of each
                                     image, [-1, -1] for none
    img_names_coco.npy               S (UTF-8): COCO file name of each imgid

Steps:
    1. Read dataset.json and the archive directory (in a worker process); the images are
       those whose split is train or test (--splits), in file order; img_id is "imgid".
    2. Fit the vocabulary: CountVectorizer(min_df=6, stop_words="english") on those images'
       documents, " ".join(keywords); reused when a matching vocabulary file exists.
    3. In dataset.json order: each token of the image's document that is in the vocabulary
       gives a row [img_id, word_id] (repeats included; no token, no rows).
    4. Move every file into place; print the vocabulary size, rows, images without rows,
       share of tokens dropped and keywords per image.
"""
import os
import sys

if __name__ == "__main__":  # not when worker processes import this file
    try:
        from amc_keywords.cli import run_script
    except ImportError:
        sys.exit("error: the amc_keywords package is not installed: run "
                 "pip install -r requirements.txt in the repository first")
    sys.exit(run_script("coco", __doc__,
                        os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
