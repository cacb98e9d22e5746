"""A plain, obviously correct implementation of the algorithm, written from its statement alone.

The algorithm (the original AMC scripts', as docs/algorithm.md states it):
1. An image's document is ``" ".join(keywords)``, its keywords being the list at
   ``["tagging"]["keywords"]`` of its JSON keyword file.
2. The vocabulary is ``CountVectorizer(min_df=6, stop_words="english")`` fitted on the
   documents of Clickture-dev (Clickture), or of the train and test images (COCO); a word's id
   is ``vocabulary_[word]``.
3. For each image in list order (Clickture: the ``.lst`` order, Lite then dev; COCO:
   ``dataset.json`` order, splits train and test), for each token of
   ``build_analyzer()(document)`` in order that is in the vocabulary, the row
   ``[img_id, word_id]``; img_id is ``int()`` of the list entry's last ``/`` component
   (Clickture) or ``imgid`` (COCO). Repeated tokens give repeated rows.
4. The range table gives each image id up to the largest listed one its ``[first, last]``
   row, ``[-1, -1]`` when it has none.

It reads unzipped folders with json, fits CountVectorizer on a list of documents and appends
rows to a Python list, as the original scripts do (minus their bugs). Slow; for tests and
for the benchmark's "plain implementation" figure (``python tests/reference.py clickture
FOLDERS LISTS OUT`` writes ``rows_<set>.npy`` and ``range_<set>.npy`` into OUT).
"""
import json
import os
import sys

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer


def read_lines(path):
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def document(folder, entry):
    with open(os.path.join(folder, entry + ".json"), encoding="utf-8-sig") as f:
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
    """(vocabulary_, lite rows, dev rows) by the Clickture algorithm (module docstring)."""
    dev_entries, lite_entries = read_lines(dev_list), read_lines(lite_list)
    vectorizer = fit([document(dev_folder, e) for e in dev_entries], min_df, stop_words)

    def images(folder, entries):  # one file at a time, as the original reads them
        return ((int(e.split("/")[-1]), document(folder, e)) for e in entries)

    return (vectorizer.vocabulary_, encode(vectorizer, images(lite_folder, lite_entries)),
            encode(vectorizer, images(dev_folder, dev_entries)))


def coco(folder, splits=("train", "test"), min_df=6, stop_words="english",
         index="dataset.json"):
    """(vocabulary_, rows) by the COCO algorithm (module docstring); the same for any dataset
    in Karpathy's layout, whose index file is ``index`` (Flickr30k's: dataset_flickr30k.json)."""
    with open(os.path.join(folder, index), encoding="utf-8-sig") as f:
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


def original_range_table(rows):
    """The range table the original scripts wrote, by their own loop: it starts at image 0,
    row 0, and ends at the largest image id that has rows."""
    if not len(rows):
        return np.full((0, 2), -1, dtype=np.int64)
    cur_id, cur_start = 0, 0
    table = (-1) * np.ones((int(np.max(rows[:, 0])) + 1, 2))
    for line_id, item_id in enumerate(rows[:, 0]):
        if not item_id == cur_id:
            table[cur_id, :] = [cur_start, line_id - 1]
            cur_start = line_id
            cur_id = item_id
    table[cur_id, :] = [cur_start, len(rows[:, 0]) - 1]
    return table.astype(np.int64)


def main(folders, lists, out):
    """Clickture from ``folders/keywords_{dev,lite}`` and ``lists/clickture-{dev,lite}.lst``."""
    _, lite, dev = clickture(os.path.join(folders, "keywords_dev"),
                             os.path.join(lists, "clickture-dev.lst"),
                             os.path.join(folders, "keywords_lite"),
                             os.path.join(lists, "clickture-lite.lst"))
    for name, rows in (("lite", lite), ("dev", dev)):
        entries = read_lines(os.path.join(lists, f"clickture-{name}.lst"))
        ids = [int(e.split("/")[-1]) for e in entries]
        np.save(os.path.join(out, f"rows_{name}.npy"), rows)
        np.save(os.path.join(out, f"range_{name}.npy"), range_table(rows, ids))


if __name__ == "__main__" and sys.argv[1:2] == ["clickture"]:
    main(*sys.argv[2:5])
