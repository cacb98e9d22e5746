"""Benchmark of ``align_vectors`` on generated word-vector files of realistic size.

Generates (once, into --data) a word2vec binary file of --records words x --dim (1,000,000 x
300: about 1.2 GB), its gzip, and a GloVe-style text file of --glove-records words (400,000)
with some words holding spaces (and, for gensim, which fails on those, the same file
without them). A vocabulary of --vocabulary lowercase words is spread through the files, a
tenth of its words present only capitalised. For each file, each in a process of its own,
it prints side by side:

    ours      align_vectors: wall time (the call; the interpreter's start and imports apart),
              peak RSS, and the peak beyond the interpreter's and the matrix's (the target:
              at most 200 MB)
    floor     reading the same bytes: cat FILE > /dev/null, or for .gz decompressing alone
              (ISA-L, the decompressor align_vectors uses)
    gensim    KeyedVectors.load_word2vec_format of the whole file: time (the call) and peak RSS
    speed-up  gensim's time / ours (the target: at least 5x); and our time a million records

Usage: python benchmarks/bench_vectors.py [--records 1000000] [--glove-records 400000]
           [--dim 300] [--vocabulary 10000] [--data benchmarks/data] [--skip-gensim]
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

from amc_keywords.sample_vectors import vector_text

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHUNK = 10_000  # records generated at a time

MEASURE = r"""
import json, sys, time
started = time.perf_counter()
kind, path, arg = sys.argv[1:4]
if kind == "ours":
    from amc_keywords import align_vectors
    import amc_keywords.vectors  # noqa: F401  (the imports, apart from the load)
    import isal.igzip_threaded, tqdm  # noqa: F401, E401  (imported by the call otherwise)
    words = json.load(open(arg))
    began = time.perf_counter()
    result = align_vectors(words, path, progress=False)
    extra = {"found": result.report.found_exact + result.report.found_by_case,
             "matrix_mb": result.matrix.nbytes / 2**20}
elif kind == "gensim":
    from gensim.models import KeyedVectors
    began = time.perf_counter()
    kv = KeyedVectors.load_word2vec_format(path, binary=arg == "binary",
                                           no_header=arg == "glove")
    extra = {"words": len(kv)}
elif kind == "floor-gz":
    from isal import igzip
    began = time.perf_counter()
    with igzip.open(path, "rb") as f:
        while f.read(1 << 20):
            pass
    extra = {}
else:  # the interpreter with numpy and the package imported: the baseline of "ours"
    import amc_keywords.vectors  # noqa: F401
    began = time.perf_counter()
    extra = {}
extra["seconds"] = time.perf_counter() - began
extra["startup"] = began - started
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forked parent across exec.
extra["peak_mb"] = next(int(line.split()[1]) for line in open("/proc/self/status")
                        if line.startswith("VmHWM:")) / 1024
print(json.dumps(extra))
"""


def measure(kind, path, arg=""):
    proc = subprocess.run([sys.executable, "-c", MEASURE, kind, path, arg], check=True,
                          capture_output=True, text=True, env={**os.environ,
                                                               "PYTHONPATH": ROOT})
    return json.loads(proc.stdout.strip().splitlines()[-1])


def cat_seconds(path):
    began = time.perf_counter()
    with open(os.devnull, "wb") as null:
        subprocess.run(["cat", path], stdout=null, check=True)
    return time.perf_counter() - began


def word_list(n_records, n_vocabulary):
    """The file's words (bytes, in file order) and the vocabulary (lowercase str): every
    k-th word of the file is a vocabulary word, a tenth of them capitalised in the file."""
    step = max(1, n_records // n_vocabulary)
    words = [b"w%07d" % i for i in range(n_records)]
    vocabulary = []
    for n, i in enumerate(range(0, n_records, step)[:n_vocabulary]):
        word = f"word{n:05d}"
        vocabulary.append(word)
        words[i] = (word.capitalize() if n % 10 == 0 else word).encode()
    return words, sorted(vocabulary)


def generate(data, n_records, n_glove, dim, n_vocabulary):
    """The files, made once: ``{name: path}`` and the vocabulary's file."""
    os.makedirs(data, exist_ok=True)
    tag = f"{n_records}x{dim}"
    paths = {"binary": os.path.join(data, f"vectors{tag}.bin"),
             "binary.gz": os.path.join(data, f"vectors{tag}.bin.gz"),
             "glove": os.path.join(data, f"glove{n_glove}x{dim}.txt"),
             "glove without spaced words": os.path.join(data, f"glove{n_glove}x{dim}.plain.txt"),
             "vocabulary": os.path.join(data, f"vocabulary{n_records}-{n_vocabulary}.json")}
    words, vocabulary = word_list(n_records, n_vocabulary)
    with open(paths["vocabulary"], "w") as f:
        json.dump(vocabulary, f)
    rng = np.random.default_rng(0)
    if not os.path.exists(paths["binary"]):
        print(f"generating {paths['binary']} ...", file=sys.stderr)
        with open(paths["binary"] + ".part", "wb") as f:
            f.write(b"%d %d\n" % (n_records, dim))
            for start in range(0, n_records, CHUNK):
                vectors = rng.standard_normal((min(CHUNK, n_records - start), dim), np.float32)
                f.write(b"".join(w + b" " + v.tobytes() + b"\n" for w, v in
                                 zip(words[start:start + CHUNK], vectors)))
        os.replace(paths["binary"] + ".part", paths["binary"])
    if not os.path.exists(paths["binary.gz"]):
        print(f"generating {paths['binary.gz']} ...", file=sys.stderr)
        from isal import igzip
        with open(paths["binary"], "rb") as source, \
                igzip.open(paths["binary.gz"] + ".part", "wb", compresslevel=1) as target:
            while True:
                block = source.read(1 << 22)
                if not block:
                    break
                target.write(block)
        os.replace(paths["binary.gz"] + ".part", paths["binary.gz"])
    glove_words, _ = word_list(n_glove, n_vocabulary)
    for name, spaced in (("glove", True), ("glove without spaced words", False)):
        if os.path.exists(paths[name]):
            continue
        print(f"generating {paths[name]} ...", file=sys.stderr)
        rng = np.random.default_rng(1)
        with open(paths[name] + ".part", "wb") as f:
            for start in range(0, n_glove, CHUNK):
                part = glove_words[start:start + CHUNK]
                grid = rng.integers(-2048, 2049, (len(part), dim)) / 1024
                lines = []
                for i, (word, vector) in enumerate(zip(part, grid)):
                    if i % 97 == 5:  # about 1% of words hold spaces, as in GloVe 840B
                        if not spaced:
                            continue
                        word = b"w . " + word
                    lines.append(word + b" " + vector_text(vector) + b"\n")
                f.write(b"".join(lines))
        os.replace(paths[name] + ".part", paths[name])
    return paths


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--glove-records", type=int, default=400_000)
    parser.add_argument("--dim", type=int, default=300)
    parser.add_argument("--vocabulary", type=int, default=10_000)
    parser.add_argument("--data", default=os.path.join(ROOT, "benchmarks", "data"))
    parser.add_argument("--skip-gensim", action="store_true")
    args = parser.parse_args(argv)
    paths = generate(args.data, args.records, args.glove_records, args.dim, args.vocabulary)
    baseline = measure("baseline", "")
    print(f"records {args.records:,} (GloVe {args.glove_records:,}) x {args.dim}, vocabulary "
          f"{args.vocabulary:,}; the interpreter with the package: {baseline['peak_mb']:.0f} "
          f"MB, started in {baseline['startup']:.2f} s")
    print(f"{'file':<28}{'MB':>8}{'ours s':>9}{'peak MB':>9}{'beyond':>8}{'floor s':>9}"
          f"{'gensim s':>10}{'peak MB':>9}{'x':>6}{'s/M rec':>9}")
    for name, records, gensim_path, gensim_kind in (
            ("binary", args.records, paths["binary"], "binary"),
            ("binary.gz", args.records, paths["binary.gz"], "binary"),
            ("glove", args.glove_records, paths["glove without spaced words"], "glove")):
        path = paths[name]
        # The floor first: it also brings the file into the page cache for both readers.
        floor = measure("floor-gz", path)["seconds"] if name.endswith(".gz") else \
            cat_seconds(path)
        cat_seconds(gensim_path)
        ours = measure("ours", path, paths["vocabulary"])
        beyond = ours["peak_mb"] - baseline["peak_mb"] - ours["matrix_mb"]
        gensim = {"seconds": float("nan"), "peak_mb": float("nan")}
        if not args.skip_gensim:
            gensim = measure("gensim", gensim_path, gensim_kind)
        print(f"{os.path.basename(path):<28}{os.path.getsize(path) / 2**20:>8.0f}"
              f"{ours['seconds']:>9.2f}{ours['peak_mb']:>9.0f}{beyond:>8.0f}{floor:>9.2f}"
              f"{gensim['seconds']:>10.2f}{gensim['peak_mb']:>9.0f}"
              f"{gensim['seconds'] / ours['seconds']:>6.1f}"
              f"{ours['seconds'] / records * 1e6:>9.2f}")
    print("MB: the file; ours: align_vectors; beyond: our peak less the interpreter's and the "
          "matrix's; floor: cat, or ISA-L alone for .gz; gensim: the whole file (GloVe: "
          "without its spaced words, which it fails on); x: gensim's time / ours; s/M rec: "
          "ours a million records")


if __name__ == "__main__":
    main()
