"""Encode the Clickture keyword datasets as rows ``[img_id, word_id]`` (AMC, CVPR 2017).

Run from this folder or from the repository root (``pip install -r requirements.txt``
first); ``--help`` lists the options, ``--sample`` runs on the shipped synthetic sample.
The same job is ``amc-keywords clickture`` once the package is installed.

Reads (defaults; see --help):
    ../keyword/keywords_dev.zip, ../keyword/keywords_lite.zip  one JSON file per image (or the
        unzipped folders, used when present); keywords at ["tagging"]["keywords"], a list
        of strings, e.g. {"tagging": {"keywords": ["golden retriever", "dog"], ...}}
    clickture-dev.lst, clickture-lite.lst  one entry per line, e.g. 00048500 (a keyword file
        name without .json, maybe with a folder prefix); image id = int(last component);
        the list order is the output order. Missing or a Git LFS pointer: the map's (or the
        archive's) images, by id, with a notice.
    img_id_map_dev.pkl, img_id_map.pkl  Python 2 pickle of {image name: id}, e.g.
        'img57159' -> 57159; read without running code. Optional (then no names).

Writes, in this folder (or --out-dir), 6 being --min-df, all moved into place at the end:
    vocabulary_clickture_sk_6.json                    {"words": [...], "min_df": 6, ...};
                                                      words[word_id] == word
    img_keyword_ind_clickture_lite_sk_6_sparse.npy    int64 (N, 2): rows [img_id, word_id]
    img_keyword_ind_clickture_dev_sk_6_sparse.npy     int64 (N, 2): rows [img_id, word_id]
    img_keyword_range_clickture_{lite,dev}_sk_6.npy   int64 (max id + 1, 2): [first, last]
                                                      row of each image, [-1, -1] for none
    img_names_clickture_{lite,dev}.npy                S (UTF-8): image name of each id

Steps:
    1. Read the lists, maps and archive directories (in worker processes, in parallel).
    2. Fit the vocabulary: CountVectorizer(min_df=6, stop_words="english") on the dev
       documents, " ".join(keywords) of each image (--vocab-from); reused when a matching
       vocabulary file exists (--refit to fit again).
    3. For Lite, then dev, in list order: each token of the image's document that is in the
       vocabulary gives a row [img_id, word_id] (repeats included; no token, no rows).
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
    sys.exit(run_script("clickture", __doc__,
                        os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
