"""Two or more versions of the toolkit timed on the same data, run after run, alternating.

A change's cost is often smaller than what a shared machine moves one run by. Timing the
versions in turn (A, B, A, B, ...) exposes both to the same load, and the median of each
shows the difference. Each version is a checkout of this repository (a git worktree, say:
`git worktree add /tmp/before <commit>`); its Clickture script runs with `PYTHONPATH` set to
the checkout, from a neutral folder, so that it and its worker processes import that
checkout's package. Each run is `pro_keyword_clickture.py --refit --quiet` on the data that
`bench_scale.py` generates, warm (a rerun) or cold (the archives and lists evicted from the
page cache before each run). It prints every run, then per version the median wall time
and the median peak RSS of the largest process (polled, as bench_scale.py does), and the
change of each version's median against the first version's. Usage:

    python benchmarks/bench_ab.py /tmp/before . --kind both --runs 4
    python benchmarks/bench_ab.py /tmp/before /tmp/after --kind tags --cache cold --runs 3
"""
import argparse
import os
import platform
import statistics
import sys
import tempfile

from bench_scale import ROOT, evict, measure
from keyword_kinds import KINDS


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkouts", nargs="+",
                        help="folders of the versions to compare (the first is the baseline)")
    parser.add_argument("--kind", choices=(*KINDS, "both"), default="both",
                        help="keywords of the generated data (default: both)")
    parser.add_argument("--lite", type=int, default=1000000,
                        help="Lite images of the generated data (default: 1000000)")
    parser.add_argument("--cache", choices=("warm", "cold"), default="warm",
                        help="the data in the page cache, or evicted before each run "
                             "(default: warm)")
    parser.add_argument("--runs", type=int, default=3,
                        help="runs of each version, alternating (default: 3)")
    parser.add_argument("--data", default=os.path.join(ROOT, "benchmarks", "data"),
                        help="where bench_scale.py put the data (default: benchmarks/data)")
    args = parser.parse_args()
    checkouts = [os.path.abspath(c) for c in args.checkouts]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    for kind in KINDS if args.kind == "both" else (args.kind,):
        data = os.path.join(args.data, kind, f"lite{args.lite}")
        if not os.path.isdir(data):
            sys.exit(f"{data}: no data; make it with: python benchmarks/bench_scale.py "
                     f"--lite {args.lite} --kind {kind} --generate-only --data {args.data}")
        cold = [os.path.join(data, name) for name in os.listdir(data)] \
            if args.cache == "cold" else []
        runs = {c: [] for c in checkouts}
        with tempfile.TemporaryDirectory() as scratch:
            for i in range(args.runs):
                for n, checkout in enumerate(checkouts):
                    evict(cold)
                    cmd = [sys.executable, os.path.join(checkout, "clickture",
                                                        "pro_keyword_clickture.py"),
                           "--keyword-dir", data, "--lists-dir", data,
                           "--out-dir", os.path.join(scratch, str(n)), "--refit", "--quiet"]
                    env = dict(os.environ, PYTHONPATH=checkout)
                    seconds, peak = measure(cmd, cwd=scratch, env=env)
                    runs[checkout].append((seconds, peak))
                    print(f"{kind} {args.cache} run {i + 1} {checkout}: {seconds:.2f} s, "
                          f"{peak:.0f} MB", flush=True)
        base = statistics.median(s for s, _ in runs[checkouts[0]])
        for checkout in checkouts:
            seconds = statistics.median(s for s, _ in runs[checkout])
            peak = statistics.median(p for _, p in runs[checkout])
            print(f"{kind} {args.cache} median {checkout}: {seconds:.2f} s "
                  f"({seconds / base - 1:+.1%}), peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main()
