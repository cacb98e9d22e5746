"""A plain, obviously correct implementation of SPEC.md, written from the spec alone.

It reads unzipped folders with json, fits CountVectorizer on a list of documents and appends
rows to a Python list, exactly as the original scripts do (minus their bugs). Slow; for tests
and for the benchmark's "plain implementation" figure.
"""
import json
import os

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer


def read_lines(path):
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def document(folder, entry):
    with open(os.path.join(folder, entry + ".json"), encoding="utf-8") as f:
        return " ".join(json.load(f)["tagging"]["keywords"])


def fit(documents, min_df=6, stop_words="english"):
    vectorizer = CountVectorizer(min_df=min_df, stop_words=stop_words)
    vectorizer.fit(documents)
    return vectorizer


def encode(vectorizer, images):
    """``images``: (img_id, document) pairs in output order -> N x 2 int64 rows."""
    analyzer = vectorizer.build_analyzer()
    vocabulary = vectorizer.vocabulary_
    rows = []
    for img_id, doc in images:
        for token in analyzer(doc):
            if token in vocabulary:
                rows.append([img_id, vocabulary[token]])
    return np.array(rows, dtype=np.int64).reshape(-1, 2)


def clickture(dev_folder, dev_list, lite_folder, lite_list, min_df=6, stop_words="english"):
    """(vocabulary_, lite rows, dev rows) as SPEC.md's Clickture algorithm defines them."""
    dev_entries, lite_entries = read_lines(dev_list), read_lines(lite_list)
    vectorizer = fit([document(dev_folder, e) for e in dev_entries], min_df, stop_words)

    def images(folder, entries):  # one file at a time, as the original reads them
        return ((int(e.split("/")[-1]), document(folder, e)) for e in entries)

    return (vectorizer.vocabulary_, encode(vectorizer, images(lite_folder, lite_entries)),
            encode(vectorizer, images(dev_folder, dev_entries)))


def coco(folder, splits=("train", "test"), min_df=6, stop_words="english"):
    """(vocabulary_, rows) as SPEC.md's COCO algorithm defines them."""
    with open(os.path.join(folder, "dataset.json")) as f:
        dataset = json.load(f)
    images = [(im["imgid"], document(folder, "keyword_%s/%s" % (
        im["split"], os.path.splitext(im["filename"])[0])))
        for im in dataset["images"] if im["split"] in splits]
    vectorizer = fit([doc for _, doc in images], min_df, stop_words)
    return vectorizer.vocabulary_, encode(vectorizer, images)


def range_table(rows, listed_ids):
    """[first, last] row of each image id, [-1, -1] for none, one row per id up to the max."""
    first, last = {}, {}
    for i, img_id in enumerate(rows[:, 0].tolist()):
        first.setdefault(img_id, i)
        last[img_id] = i
    table = np.full((max(listed_ids) + 1, 2), -1, dtype=np.int64)
    for img_id, i in first.items():
        table[img_id] = i, last[img_id]
    return table
