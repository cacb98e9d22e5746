"""Two kinds of synthetic Clickture keyword data for the benchmarks, in the real formats.

    tags      (realistic) what an auto-tagger gives: each image's keywords are distinct
              tags drawn from one fixed vocabulary of 30,000 tags, Zipf-distributed (the
              tag of rank r with weight 1/r; everyday words such as "dog" and "sky" rank
              first). 15% of the tags are two-word phrases; a few contain stop words
              ("top of the hill", 1.5%), capitals ("New Kadoro", 0.7%), punctuation
              ("rock'n'roll", 0.4%) or non-ASCII letters ("café", 0.4%). 10 to 42 tags an
              image (uniform, 26 on average). Dev and Lite draw from the same distribution.
    composed  (adversarial) keywords composed afresh for each image: 10 to 42 keywords, of
              which 0 to 2 (one on average) are phrases of 2 or 3 words drawn uniformly from
              a 50,000-word pool, almost never seen before; the others are single words of
              that pool, Zipf-distributed. The number of distinct keywords grows with the set:
              about one new keyword an image.

Every file is as :mod:`amc_keywords.sample` writes it (``write_zip`` with its junk entries,
a shuffled list, a Python 2 pickle id map, the names of ``ORIGINAL_FILES``); keyword files
are ``{"id": "...", "tagging": {"keywords": [...], "scores": [...]}}``, written with string
formatting (valid JSON, UTF-8), several times faster than json.dumps. Generation is seeded
(the tag vocabulary and word pool with seed 0, dev with 1, Lite with 2) and cached:

    <data>/<kind>/dev<N>/            keywords_dev.zip, clickture-dev.lst, img_id_map_dev.pkl
    <data>/<kind>/lite<N>/           keywords_lite.zip and its list and map, and links to dev
    <data>/<kind>/lite<N>-folders/   both archives unzipped, links to the lists and maps

Each folder holds ``kind.json`` (written last: what it holds, the distinct keywords, the
generator's version); a folder without it, or of another version, is made again. Run alone:

    python benchmarks/keyword_kinds.py --kind both --lite 20000 --dev 5000
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import time

import numpy as np

from amc_keywords import sample
from amc_keywords.datasets.list_and_map import ORIGINAL_FILES

KINDS = ("tags", "composed")
VERSION = 2  # of the generator: cached data of another version is made again
PER_IMAGE = (10, 42)
TAGS, POOL = 30000, 50000
BLOCK = 8192  # images drawn at a time
STOP = ["the", "of", "and", "in", "on", "with", "at", "a"]
ACCENTED = {"a": "á", "e": "é", "i": "ï", "o": "ö", "u": "ü"}


def made_up_words(n, rng, avoid=()):
    """``n`` distinct made-up lowercase words of 2 to 4 syllables (none of ``avoid``)."""
    syllables = [c + v for c in "bcdfghjklmnprstvz" for v in "aeiou"] + \
        ["shi", "tor", "qua", "ren", "dal", "mon", "ber", "lin"]
    words, avoid = {}, set(avoid)
    while len(words) < n:
        word = "".join(rng.choice(syllables) for _ in range(rng.choice((2, 2, 3, 3, 4))))
        if word not in avoid:
            words[word] = None
    return list(words)


def _english_stop_words():
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
    return ENGLISH_STOP_WORDS


def tag_vocabulary(n=TAGS):
    """The ``tags`` kind's vocabulary, most frequent first (see the module docstring)."""
    rng = random.Random(0)
    n_special = [int(n * share) for share in (0.015, 0.007, 0.004, 0.004)]
    n_phrases = int(n * 0.15)
    single = [w for w in sample.WORDS if len(w) > 1]
    single = list(dict.fromkeys(single + made_up_words(
        n - n_phrases - sum(n_special) - len(single), rng, single + list(_english_stop_words()))))
    tags = dict.fromkeys(single)
    pick = single.__getitem__

    def add(count, make):
        target = len(tags) + count
        while len(tags) < target:
            tags.setdefault(make(), None)
    add(n_phrases, lambda: f"{pick(rng.randrange(len(single)))} "
                           f"{pick(rng.randrange(len(single)))}")
    add(n_special[0], lambda: rng.choice((
        f"the {rng.choice(single)}", f"{rng.choice(single)} of the {rng.choice(single)}",
        f"{rng.choice(single)} and {rng.choice(single)}", f"on the {rng.choice(single)}",
        f"{rng.choice(single)} in {rng.choice(STOP)} {rng.choice(single)}")))
    add(n_special[1], lambda: rng.choice((rng.choice(single).title(), rng.choice(single).upper(),
                                          f"New {rng.choice(single).title()}")))
    add(n_special[2], lambda: rng.choice((
        f"{rng.choice(single)}-{rng.choice(single)}", f"{rng.choice(single)}'s",
        f"{rng.choice(single)}'n'{rng.choice(single)}", f"{rng.choice(single)}!",
        f"{rng.choice(single)}.{rng.choice(single)}")))

    def accented():
        word = rng.choice(single)
        return "".join(ACCENTED.get(c, c) if rng.random() < 0.5 else c for c in word) + \
            rng.choice(("", "", "ß", " café"))
    add(n_special[3], accented)
    tags = list(tags)[:n]
    head, tail = tags[:len(sample.WORDS) // 2], tags[len(sample.WORDS) // 2:]
    rng.shuffle(tail)  # everyday words are the most frequent; the rest in any order
    return head + tail


def _quoted(strings):
    return [json.dumps(s, ensure_ascii=False) for s in strings]


def _zipf(n):
    return np.cumsum(1.0 / np.arange(1, n + 1))


class _Maker:
    """Keyword files of one kind: ``documents(n, seed)`` yields ``(name, bytes)`` pairs and
    counts the distinct keywords in ``self.distinct``."""

    def __init__(self, kind):
        self.kind = kind
        words = tag_vocabulary() if kind == "tags" else made_up_words(
            POOL, random.Random(0), _english_stop_words())
        self.words, self.quoted = words, _quoted(words)
        self.cum = _zipf(len(words))
        self.scores = [f"0.{i:03d}" for i in range(1000)]

    def documents(self, n, seed):
        rng = np.random.default_rng(seed)
        seen, phrases, cum, quoted = set(), set(), self.cum, self.quoted
        words, scores = self.words, self.scores
        for start in range(0, n, BLOCK):
            b = min(BLOCK, n - start)
            counts = rng.integers(PER_IMAGE[0], PER_IMAGE[1] + 1, b).tolist()
            draws = np.searchsorted(cum, rng.random((b, 64)) * cum[-1]).tolist()
            score_draws = rng.integers(0, 1000, (b, PER_IMAGE[1])).tolist()
            if self.kind == "composed":
                n_phrases = rng.integers(0, 3, b).tolist()
                lengths = rng.integers(2, 4, (b, 2)).tolist()
                phrase_words = rng.integers(0, len(self.words), (b, 2, 3)).tolist()
            for i in range(b):
                n_keywords = counts[i]
                picks = list(dict.fromkeys(draws[i]))[:n_keywords]  # a tag at most once
                keywords = [quoted[k] for k in picks]
                if self.kind == "composed":  # the first few keywords become phrases
                    for p in range(n_phrases[i]):
                        phrase = " ".join([words[k] for k in phrase_words[i][p][:lengths[i][p]]])
                        phrases.add(phrase)
                        keywords[p] = f'"{phrase}"'
                    picks = picks[n_phrases[i]:]
                seen.update(picks)
                image_id = f"{start + i:08d}"
                chosen = ", ".join([scores[k] for k in score_draws[i][:len(keywords)]])
                doc = (f'{{"id": "{image_id}", "tagging": {{"keywords": '
                       f'[{", ".join(keywords)}], "scores": [{chosen}]}}}}')
                yield f"{image_id}.json", doc.encode("utf-8")
            self.distinct = len(seen) + len(phrases)


def _write_set(folder, maker, name, n, seed):
    """One set: ``keywords_<name>.zip``, its shuffled list and its id map (as
    :func:`amc_keywords.sample.make_clickture_set` writes them), then ``kind.json``."""
    if os.path.exists(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    start = time.perf_counter()
    sample.write_zip(os.path.join(folder, f"keywords_{name}.zip"), maker.documents(n, seed),
                     f"keywords_{name}", junk=True)
    entries = [f"{i:08d}" for i in range(n)]
    random.Random(seed).shuffle(entries)
    list_name, map_name = ORIGINAL_FILES[name]
    with open(os.path.join(folder, list_name), "w") as f:
        f.write("".join(e + "\n" for e in entries))
    prefix = "img" if name == "dev" else "lite_img"
    with open(os.path.join(folder, map_name), "wb") as f:
        f.write(sample.py2_pickle({f"{prefix}{i}": i for i in range(n)}))
    info = {"kind": maker.kind, "set": name, "images": n, "distinct keywords": maker.distinct,
            "seconds": round(time.perf_counter() - start, 1), "version": VERSION}
    with open(os.path.join(folder, "kind.json"), "w") as f:
        json.dump(info, f)


def info(folder):
    """The ``kind.json`` of a generated folder, or None when it is missing or stale."""
    try:
        with open(os.path.join(folder, "kind.json")) as f:
            found = json.load(f)
    except (OSError, ValueError):
        return None
    return found if found.get("version") == VERSION else None


def generate(data, kind, n_lite, n_dev):
    """Generate (or find cached) the data of one kind and size: returns ``(lite folder,
    folders twin)``; ``data`` is the cache (benchmarks/data)."""
    top = os.path.join(data, kind)
    dev, lite = os.path.join(top, f"dev{n_dev}"), os.path.join(top, f"lite{n_lite}")
    folders = lite + "-folders"
    maker = None
    for folder, name, n, seed in ((dev, "dev", n_dev, 1), (lite, "lite", n_lite, 2)):
        if info(folder) is None:
            print(f"generating {n} {kind} {name} images in {folder} ...", flush=True)
            maker = maker or _Maker(kind)
            _write_set(folder, maker, name, n, seed)
            if name == "lite" and os.path.exists(folders):
                shutil.rmtree(folders)  # the twin of older data
            print(f"  {info(folder)['seconds']} s, {maker.distinct} distinct keywords",
                  flush=True)
    for f in ("keywords_dev.zip", *ORIGINAL_FILES["dev"]):
        if not os.path.lexists(os.path.join(lite, f)):
            os.symlink(os.path.join(dev, f), os.path.join(lite, f))
    if not os.path.isdir(folders):
        print(f"unzipping into {folders} ...", flush=True)
        tmp = folders + ".tmp"
        if os.path.exists(tmp):
            shutil.rmtree(tmp)
        os.makedirs(tmp)
        for name in ("dev", "lite"):
            subprocess.run(["unzip", "-q", os.path.join(lite, f"keywords_{name}.zip"), "-d",
                            tmp], check=True)
        for f in (*ORIGINAL_FILES["dev"], *ORIGINAL_FILES["lite"]):
            os.symlink(os.path.join(lite, f), os.path.join(tmp, f))
        os.rename(tmp, folders)
    return lite, folders


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kind", choices=(*KINDS, "both"), default="both",
                        help="which kind of data to generate (default: both)")
    parser.add_argument("--lite", type=int, nargs="+", default=[20000],
                        help="Lite sizes (default: 20000)")
    parser.add_argument("--dev", type=int, default=79665, help="dev size (default: 79665)")
    parser.add_argument("--data", default=os.path.join(os.path.dirname(
        os.path.abspath(__file__)), "data"), help="cache of generated data "
                                                  "(default: benchmarks/data)")
    args = parser.parse_args()
    for kind in KINDS if args.kind == "both" else (args.kind,):
        for n_lite in args.lite:
            lite, _ = generate(args.data, kind, n_lite, args.dev)
            print(kind, info(lite))


if __name__ == "__main__":
    main()
