"""A worker's CPU per Lite image, stage by stage, each beside its floor.

Replays, in this process, what an encoding worker does (``encoding._encode_chunk``) on the
first ``--sample`` images of the Lite plan (list order, as the toolkit plans it), in chunks
of ``encoding.CHUNK``, with the library's own functions; chunk i goes to simulated worker
i % jobs, each with its own ``KeywordEncoder`` (as each worker learns on its own):

    inflate + CRC      zip_reader.read_members (pread, header checks, inflate, CRC-32)
    JSON decode        keyword_files.parse_keyword_files
    keyword lookup     KeywordEncoder.numbers, less the time in learn
    learning           KeywordEncoder.learn (wrapped to time it): a chunk's new keywords
    rest of encoding   the rest of KeywordEncoder.encode_lists (flattening, numpy gathering)
    sending            pickle.dumps of the chunk's result tuple, as the pool sends it

Beside each stage, its floor: the same operation alone, in a tight loop, on the same data:
``isal_zlib.decompress(data, -15)`` + ``zlib.crc32`` of the member bytes already in memory;
``msgspec.json.decode`` of the same bytes with a minimal Struct (tagging.keywords only); a
dict look-up (``list(map(d.get, keywords))``) of freshly decoded copies of the same keywords
against a dict of all the keywords that worker has seen; one ``findall`` of the analyzer's
token pattern over the new keywords, joined and lowercased; ``pickle.dumps`` of the two
arrays alone. Timing ``learn`` costs a little per new keyword: measured, and subtracted from
the look-up. The vocabulary is a run's ``vocabulary_clickture_sk_6.json`` ("words"), or
without one fitted here on dev. Run alone (after bench_scale.py has run on that data):

    python benchmarks/bench_stages.py benchmarks/data/tags/lite20000 [--vocabulary FILE]
"""
import argparse
import gc
import json
import os
import pickle
import re
import struct
import time
import zlib
from itertools import chain

import msgspec
from isal import isal_zlib

from amc_keywords.analyzer import KeywordEncoder, analyzer_settings, make_vectorizer
from amc_keywords.datasets.list_and_map import ORIGINAL_FILES
from amc_keywords.encoding import CHUNK
from amc_keywords.keyword_files import parse_keyword_files
from amc_keywords.lists import read_list, strip_top
from amc_keywords.sources import ZipSource
from amc_keywords.workers import default_jobs
from amc_keywords.zip_reader import HEADER_SLACK, read_members

STAGES = ("inflate + CRC", "JSON decode", "keyword lookup", "learning new keywords",
          "rest of encoding", "sending (pickle)")
FLOORS = ("isal decompress + crc32, bytes in memory", "msgspec decode, minimal Struct",
          "dict.get of each keyword", "findall over the new keywords", None,
          "pickle.dumps of the arrays")


class _Tagging(msgspec.Struct, gc=False):
    keywords: list[str]


class _File(msgspec.Struct, gc=False):
    tagging: _Tagging


def plan_of(folder, name="lite"):
    """The set's ZipSource and plan, as the toolkit makes them (list order)."""
    source = ZipSource(os.path.join(folder, f"keywords_{name}.zip"))
    entries = strip_top(read_list(os.path.join(folder, ORIGINAL_FILES[name][0])), source.top)
    return source, source.plan(entries)


def member_bytes(path, members):
    """The compressed bytes of each member, read here (for the floor)."""
    out = []
    with open(path, "rb", buffering=0) as f:
        for offset, csize, *_ in members.tolist():
            block = os.pread(f.fileno(), 30 + HEADER_SLACK + csize, offset)
            name_len, extra_len = struct.unpack_from("<2H", block, 26)
            start = 30 + name_len + extra_len
            out.append(block[start:start + csize])
    return out


def fit_words(folder):
    """Words of CountVectorizer(min_df=6, stop_words="english") fitted on the dev set."""
    source, plan = plan_of(folder, "dev")
    chunk = plan.array
    raws = read_members(source.path, source.top, chunk["key"], chunk["member"])
    lists = parse_keyword_files(raws, lambda i: i)
    return list(make_vectorizer().fit((" ".join(k) for k in lists)).get_feature_names_out())


def _wrapper_cost():
    """Seconds a timing wrapper adds to one call (subtracted from the look-up)."""
    clock, total = time.perf_counter, [0.0]

    def bare(x):
        return x

    def wrapped(x):
        t = clock()
        r = bare(x)
        total[0] += clock() - t
        return r
    best = []
    for f in (bare, wrapped):
        t = clock()
        for i in range(200000):
            f(i)
        best.append(clock() - t)
    return max(best[1] - best[0], 0.0) / 200000


def replay(folder, words, sample=100000, jobs=None):
    """Replay a worker's work on the first ``sample`` Lite images: ``{"stages": {stage:
    (µs per image, floor µs per image or None)}, "images": n, "learned": k, "jobs": j}``."""
    jobs = jobs or default_jobs()
    source, plan = plan_of(folder)
    settings = analyzer_settings("english")
    findall = re.compile(settings.token_pattern).findall
    decode = msgspec.json.Decoder(_File).decode
    clock = time.perf_counter
    spent = dict.fromkeys(STAGES, 0.0)
    floor = dict.fromkeys(STAGES, 0.0)
    workers = []
    for _ in range(jobs):
        encoder = KeywordEncoder(words, settings)
        timing = {"learn": 0.0, "numbers": 0.0, "calls": 0, "learned": 0, "new": []}

        def learn(keywords, _learn=encoder.learn, timing=timing):
            keywords = list(keywords)  # a chunk's new keywords, learned in one call
            t = clock()
            k = _learn(keywords)
            timing["learn"] += clock() - t
            timing["calls"] += 1
            timing["new"].extend(keywords)
            timing["learned"] += len(keywords)
            return k

        def numbers(keywords, _numbers=encoder.numbers, timing=timing):
            t = clock()
            r = _numbers(keywords)
            timing["numbers"] += clock() - t
            return r
        encoder.learn, encoder.numbers = learn, numbers
        workers.append((encoder, timing, {}))
    images = 0
    gc.collect()
    gc.freeze()  # as a worker does after its start
    for i, start in enumerate(range(0, min(sample, len(plan)), CHUNK)):
        encoder, timing, seen = workers[i % jobs]
        chunk = plan.array[start:min(start + CHUNK, sample)]
        keys, members = chunk["key"].copy(), chunk["member"].copy()
        images += len(chunk)
        compressed = member_bytes(source.path, members)
        # The worker's stages, one after the other on this chunk.
        t0 = clock()
        raws = list(read_members(source.path, source.top, keys, members))
        t1 = clock()
        lists = parse_keyword_files(raws, lambda i: i)
        t2 = clock()
        encoder.trim()
        learn_before, numbers_before, calls_before = (timing["learn"], timing["numbers"],
                                                      timing["calls"])
        timing["new"] = []
        counts, ids, tokens = encoder.encode_lists(lists)
        t3 = clock()
        pickle.dumps((counts, ids, tokens, None))
        t4 = clock()
        learned = timing["learn"] - learn_before
        looked_up = timing["numbers"] - numbers_before - learned - \
            (timing["calls"] - calls_before) * _WRAPPER
        spent["inflate + CRC"] += t1 - t0
        spent["JSON decode"] += t2 - t1
        spent["keyword lookup"] += looked_up
        spent["learning new keywords"] += learned
        spent["rest of encoding"] += t3 - t2 - (timing["numbers"] - numbers_before)
        spent["sending (pickle)"] += t4 - t3
        # The floors, on the same data.
        t0 = clock()
        for data in compressed:
            zlib.crc32(isal_zlib.decompress(data, -15))
        t1 = clock()
        decoded = list(map(decode, raws))
        t2 = clock()
        flat = list(chain.from_iterable(d.tagging.keywords for d in decoded))
        t3 = clock()
        list(map(seen.get, flat))
        t4 = clock()
        seen.update(dict.fromkeys(flat))
        new = " ".join(timing["new"])
        t5 = clock()
        findall(new.lower())
        t6 = clock()
        pickle.dumps((counts, ids))
        t7 = clock()
        for stage, seconds in zip(STAGES, (t1 - t0, t2 - t1, t4 - t3, t6 - t5, 0.0, t7 - t6)):
            floor[stage] += seconds
    gc.unfreeze()
    per = 1e6 / max(images, 1)
    return {"stages": {s: (spent[s] * per, floor[s] * per if FLOORS[i] else None)
                       for i, s in enumerate(STAGES)},
            "images": images, "jobs": jobs,
            "learned": sum(timing["learned"] for _, timing, _ in workers)}


_WRAPPER = _wrapper_cost()


def stage_lines(result):
    """The stage table of :func:`replay`'s result, as lines."""
    lines = [f"worker CPU per Lite image, replayed on {result['images']:,} images "
             f"({result['jobs']} simulated worker{'s' if result['jobs'] > 1 else ''}, each "
             f"learning on its own: {result['learned']:,} keywords learned):",
             f"  {'stage':<22} {'µs/img':>7} {'floor':>7} {'ratio':>6}  floor is"]
    total = floor_total = 0.0
    for (stage, (us, floor)), what in zip(result["stages"].items(), FLOORS):
        total += us
        floor_total += floor or 0.0
        shown, ratio = (f"{floor:.2f}", f"{us / floor:.2f}x") if floor else ("n/a", "n/a")
        lines.append(f"  {stage:<22} {us:>7.2f} {shown:>7} {ratio:>6}  {what or '(no floor)'}")
    lines.append(f"  {'total':<22} {total:>7.2f} {floor_total:>7.2f} "
                 f"{total / floor_total if floor_total else 0:>5.2f}x  (floors of the stages "
                 "that have one)")
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", help="a generated Lite folder (keywords_lite.zip, "
                                       "clickture-lite.lst; dev beside them)")
    parser.add_argument("--vocabulary", help="a run's vocabulary_clickture_sk_6.json "
                                             "(default: fitted here on the folder's dev set)")
    parser.add_argument("--sample", type=int, default=100000,
                        help="Lite images replayed, from the start of the plan "
                             "(default: %(default)s)")
    parser.add_argument("--jobs", type=int, default=None,
                        help="workers simulated, each with its own keyword cache (default: "
                             "the toolkit's, all cores)")
    args = parser.parse_args()
    if args.vocabulary:
        with open(args.vocabulary) as f:
            words = json.load(f)["words"]
    else:
        words = fit_words(args.folder)
    print(*stage_lines(replay(args.folder, words, args.sample, args.jobs)), sep="\n")


if __name__ == "__main__":
    main()
