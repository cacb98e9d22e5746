"""Synthetic keyword data in the exact formats of the AMC downloads.

Used by ``--sample`` and :func:`sample_inputs` (the copy shipped in the package,
``amc_keywords/sample_data/``), by the tests and by the benchmark. Regenerate the shipped
sample with::

    python -m amc_keywords.sample amc_keywords/sample_data

Writes, in the given folder:
    keywords_dev.zip, keywords_lite.zip   one ``<top>/<8-digit id>.json`` per image:
                                          {"id": ..., "tagging": {"keywords": [...],
                                          "scores": [...]}}
    sample-dev.lst, sample-lite.lst       entries in a shuffled order (as clickture-dev.lst)
    sample_id_map_dev.pkl, sample_id_map.pkl   Python 2 pickles (protocol 2, byte-string keys)
                                          of {image name: id}, as the original repository's
    keywords_coco.zip                     keywords_coco/dataset.json (Karpathy format) and
                                          keywords_coco/keyword_<split>/<stem>.json
    keywords_flickr30k.zip, keywords_flickr8k.zip   likewise, with dataset_<dataset>.json
Archives are byte-for-byte reproducible for a given seed (fixed timestamps).
"""
import argparse
import io
import itertools
import json
import os
import random
import struct
import zipfile
from typing import Any, Dict

from .datasets import dataset as dataset_named
from .datasets.list_and_map import ORIGINAL_FILES, SAMPLE_FILES
from .log import configure_cli, logger

# Everyday tagger vocabulary, plus phrases and stop words, so min_df and stop words matter.
WORDS = """dog cat puppy kitten animal pet grass tree sky cloud water beach sea ocean sand
sunset sunrise mountain snow road car street city building house window door table chair
food pizza cake fruit apple banana orange flower garden park bird horse cow sheep boat
train bus bicycle person man woman child girl boy baby people crowd face smile portrait
hat dress shirt shoes bag phone computer book lamp bed room kitchen bathroom sofa wall
bridge river lake forest field farm night light color red blue green yellow white black
brown pink purple gray wood stone metal glass paper plastic toy ball game sport soccer
tennis football player team game art painting drawing sign text logo icon map flag
wedding party holiday christmas birthday gift candle music guitar piano dance stage""".split()
PHRASES = ["golden retriever", "the grass", "a dog on the beach", "close up", "black and white",
           "living room", "ice cream", "hot dog", "teddy bear", "fire hydrant", "stop sign",
           "traffic light", "in the city", "of the sea", "at night"]
STOP_WORDS = ["the", "and", "a", "of", "in", "on", "with", "is", "it", "to", "be", "or"]
# Keywords that stress the analyzer: case, punctuation, unicode, digits, one-letter words.
HARD = ["Dog", "DOG", "Puppy!", "rock'n'roll", "e-mail", "C++", "x", "3d", "2017", "café",
        "Café", "naïve", "Straße", "ΑΣ Β", "ΣΑΣ", "東京 タワー", "İstanbul", "ǅemal", "ﬁsh",
        "don't", "U.S.A.", "  spaced   out  ", "tab\tand\nnewline", "", "🐶 dog", "über-cool",
        "snake_case_word", "ﾃｽﾄ", "a b c", "١٢٣", "ⅷ", "straße STRASSE"]
TIMESTAMP = (2017, 7, 21, 12, 0, 0)
MAP_PREFIX = {"dev": "img", "lite": "lite_img"}  # how each Clickture map names its images


def sample_folder():
    """The synthetic sample shipped inside the package (``amc_keywords/sample_data``)."""
    from importlib.resources import files
    return str(files("amc_keywords") / "sample_data")


def sample_inputs(dataset: str) -> Dict[str, Any]:
    """The input parameters that point a dataset's run at the sample shipped in the package:
    ``prepare_clickture(**sample_inputs("clickture"), out_dir="out")``. The sample is read in
    place (never written: do not add ``extract=True``)."""
    folder = sample_folder()
    return {"keyword_dir": folder, **dataset_named(dataset).sample_options(folder)}


class KeywordMaker:
    """Random keyword lists with a long-tailed word distribution (as a tagger's)."""

    def __init__(self, rng, hard=False):
        self.rng = rng
        # The pool and its order do not depend on the set's seed: every set of a dataset draws
        # from one tagger's word distribution, as dev and Lite do.
        pool = WORDS + PHRASES + STOP_WORDS + (HARD if hard else [])
        random.Random(0).shuffle(pool)
        # Zipf-like weights: a few words are everywhere, most are rare.
        self.pool = pool
        self.cum_weights = list(itertools.accumulate(1.0 / (rank + 1)
                                                     for rank in range(len(pool))))
        self.hard = hard

    def keywords(self):
        rng = self.rng
        if self.hard and rng.random() < 0.05:
            return []  # images the tagger found nothing for
        n = rng.randint(1, 12)
        keywords = rng.choices(self.pool, cum_weights=self.cum_weights, k=n)
        if self.hard and rng.random() < 0.2:
            keywords += keywords[: rng.randint(1, n)]  # repeated keywords
        if self.hard and rng.random() < 0.03:
            keywords = ["zzrare" + str(rng.randint(0, 10 ** 6))]  # all out of vocabulary
        return keywords

    def document(self, image_id):
        keywords = self.keywords()
        scores = [round(self.rng.random(), 3) for _ in keywords]
        doc = {"id": image_id, "tagging": {"keywords": keywords, "scores": scores}}
        ascii_only = not self.hard or self.rng.random() < 0.5
        return json.dumps(doc, ensure_ascii=ascii_only).encode("utf-8")


def write_zip(path, members, top=None, junk=False):
    """Write ``members`` ((name, bytes) pairs) reproducibly, under ``top/`` when given.

    ``junk`` adds what real archives carry: directory entries, ``__MACOSX/`` and ``._`` files.
    """
    prefix = f"{top}/" if top else ""
    tmp = path + ".tmp"
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        if top and junk:
            zf.writestr(zipfile.ZipInfo(prefix, TIMESTAMP), b"")
        for name, data in members:
            info = zipfile.ZipInfo(prefix + name, TIMESTAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
            if junk and name.endswith("0.json"):
                zf.writestr(zipfile.ZipInfo(f"__MACOSX/{prefix}._{name}", TIMESTAMP), b"\0\5")
        if junk:
            zf.writestr(zipfile.ZipInfo(f"{prefix}._junk.json", TIMESTAMP), b"\0\5\x16\7")
            zf.writestr(zipfile.ZipInfo(f"{prefix}README.txt", TIMESTAMP), b"not a keyword file")
    os.replace(tmp, path)


def py2_pickle(mapping, memo=False):
    """The bytes Python 2's cPickle writes for a ``{str: int}`` dict at protocol 2.

    ``memo``: also memoize each key (``BINPUT``), as Python 2's pure-Python pickle module does.
    """
    out = io.BytesIO()
    out.write(b"\x80\x02}q\x01")
    items = list(mapping.items())
    for start in range(0, len(items), 1000):  # cPickle batches SETITEMS by 1000
        batch = items[start:start + 1000]
        if len(batch) > 1:
            out.write(b"(")
        for i, (name, value) in enumerate(batch):
            raw = name.encode("utf-8")
            out.write(b"U" + bytes([len(raw)]) + raw if len(raw) < 256
                      else b"T" + struct.pack("<I", len(raw)) + raw)
            if memo:
                index = 2 + start + i
                out.write(b"q" + bytes([index]) if index < 256 else
                          b"r" + struct.pack("<I", index))
            if 0 <= value < 256:
                out.write(b"K" + bytes([value]))
            elif 0 <= value < 65536:
                out.write(b"M" + struct.pack("<H", value))
            else:
                out.write(b"J" + struct.pack("<i", value))
        out.write(b"u" if len(batch) > 1 else b"s")  # a batch of one: SETITEM
    out.write(b".")
    return out.getvalue()


def make_clickture(folder, n_dev, n_lite, seed, files=ORIGINAL_FILES, **options):
    """Both Clickture sets (seeds ``seed`` and ``seed + 1``); ``options`` as for
    :func:`make_clickture_set`."""
    for offset, (name, n) in enumerate((("dev", n_dev), ("lite", n_lite))):
        make_clickture_set(str(folder), name, n, seed + offset, *files[name], **options)


def make_clickture_set(folder, name, n, seed, list_name, map_name, hard=False, prefix_every=0,
                       junk=True):
    """One Clickture set: ``keywords_<name>.zip``, its list ``list_name`` (shuffled) and its
    id map ``map_name``.

    ``prefix_every``: every k-th image's file sits in a sub-folder ``part<k>/`` and its list
    entry carries that prefix (0: none).
    """
    os.makedirs(folder, exist_ok=True)
    rng = random.Random(seed)
    maker = KeywordMaker(rng, hard)
    entries = []

    def members():
        for img_id in range(n):
            stem = f"{img_id:08d}"
            if prefix_every and img_id % prefix_every == 1:
                stem = f"part{img_id % 7}/{stem}"
            entries.append(stem)
            yield f"{stem}.json", maker.document(f"{img_id:08d}")

    write_zip(os.path.join(folder, f"keywords_{name}.zip"), members(), f"keywords_{name}", junk)
    rng.shuffle(entries)
    with open(os.path.join(folder, list_name), "w") as f:
        f.write("".join(e + "\n" for e in entries))
    prefix = MAP_PREFIX[name]
    with open(os.path.join(folder, map_name), "wb") as f:
        f.write(py2_pickle({f"{prefix}{i}": i for i in range(n)}))


def _coco_image(imgid, split):
    """An image record of COCO's dataset.json, and the id its keyword file carries."""
    cocoid = 100000 + imgid * 7
    prefix = "COCO_val2014_" if split in ("val", "test", "restval") else "COCO_train2014_"
    return {"filepath": prefix[5:-1], "sentids": [imgid * 5],
            "filename": f"{prefix}{cocoid:012d}.jpg", "imgid": imgid, "split": split,
            "cocoid": cocoid, "sentences": [{"tokens": ["a", "photo"], "raw": "A photo.",
                                             "imgid": imgid, "sentid": imgid * 5}]}, cocoid


def _flickr_image(imgid, split):
    """An image record of Flickr's dataset_flickr*.json (no id beside imgid)."""
    return {"sentids": [imgid * 5], "imgid": imgid, "sentences": [
        {"tokens": ["a", "photo"], "raw": "A photo.", "imgid": imgid, "sentid": imgid * 5}],
        "split": split, "filename": f"{1000268201 + imgid * 37}.jpg"}, imgid


def make_karpathy(folder, dataset, index, n_train, n_test, n_other, seed, hard=False,
                  others=("val", "restval"), image=_coco_image, every=False):
    """``keywords_<dataset>.zip``: the index file ``index`` (Karpathy's format) and the
    keyword files ``keyword_<split>/<stem>.json`` (every train and test image's, and half of
    the others', or with ``every`` all); ``image(imgid, split)`` gives an image's record and
    its keyword file's id."""
    rng = random.Random(seed)
    maker = KeywordMaker(rng, hard)
    splits = ["train"] * n_train + ["test"] * n_test + \
        [rng.choice(list(others)) for _ in range(n_other)]
    rng.shuffle(splits)
    images, members = [], []
    for imgid, split in enumerate(splits):
        record, doc_id = image(imgid, split)
        images.append(record)
        if every or split in ("train", "test") or rng.random() < 0.5:
            stem = os.path.splitext(record["filename"])[0]
            members.append((f"keyword_{split}/{stem}.json", maker.document(doc_id)))
    members.insert(0, (index, json.dumps({"images": images, "dataset": dataset})
                       .encode("utf-8")))
    write_zip(os.path.join(folder, f"keywords_{dataset}.zip"), members, f"keywords_{dataset}",
              junk=True)


def make_coco(folder, n_train, n_test, n_other, seed, hard=False):
    """``keywords_coco.zip``: dataset.json (Karpathy format) and the keyword files."""
    make_karpathy(folder, "coco", "dataset.json", n_train, n_test, n_other, seed, hard)


def make_flickr(folder, dataset, n_train, n_test, n_other, seed, hard=False):
    """``keywords_<dataset>.zip`` (``flickr30k``, ``flickr8k``): ``dataset_<dataset>.json``
    and the keyword files of all its images (splits train, val and test)."""
    make_karpathy(folder, dataset, f"dataset_{dataset}.json", n_train, n_test, n_other, seed,
                  hard, others=("val",), image=_flickr_image, every=True)


def make_sample(folder, seed=2017):
    """The sample shipped in amc_keywords/sample_data/: a few hundred images per set."""
    os.makedirs(folder, exist_ok=True)
    make_clickture(folder, 300, 400, seed, SAMPLE_FILES)
    make_coco(folder, 250, 100, 50, seed + 2)
    make_flickr(folder, "flickr30k", 120, 40, 20, seed + 3)
    make_flickr(folder, "flickr8k", 80, 30, 10, seed + 4)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Write the synthetic sample data.")
    parser.add_argument("folder", help="where to write it (the shipped copy: "
                                       "amc_keywords/sample_data)")
    parser.add_argument("--seed", type=int, default=2017, help="random seed (default: 2017)")
    args = parser.parse_args(argv)
    configure_cli()
    make_sample(args.folder, args.seed)
    logger.info("wrote the sample to %s", args.folder)


if __name__ == "__main__":
    main()
