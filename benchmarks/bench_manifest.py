"""Benchmark of fingerprints and manifests at Lite scale (the generated 1M-image set of
bench_scale.py, generated first if missing):

    full run     the Clickture script with --force (median of --repeat runs), and within
                 it what the fingerprints cost: the archives' (from the directories the run
                 reads anyway), the lists' and maps' SHA-256, and the outputs' SHA-256 (read
                 back from the page cache in a thread while the run goes on)
    up to date   a rerun with nothing changed (median of --repeat), and the check alone
    verify       verify --manifest: the outputs' SHA-256 recomputed, MB a second

Usage: python benchmarks/bench_manifest.py [--lite 1000000] [--data benchmarks/data]
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

from amc_keywords import fingerprints, hashing, manifest
from amc_keywords.datasets.list_and_map import ORIGINAL_FILES
from amc_keywords.zip_reader import ZipDirectory

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "clickture", "pro_keyword_clickture.py")


def timed(command):
    began = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, check=True)
    return time.perf_counter() - began, proc.stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lite", type=int, default=1000000, help="Lite size (default: 1000000)")
    parser.add_argument("--data", default=os.path.join(ROOT, "benchmarks", "data"),
                        help="cache of generated data (default: benchmarks/data)")
    parser.add_argument("--repeat", type=int, default=3, help="runs a median is taken of")
    args = parser.parse_args()
    lite = os.path.join(args.data, f"lite{args.lite}")
    if not os.path.exists(os.path.join(lite, "keywords_lite.zip")):
        subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "bench_scale.py"),
                        "--lite", str(args.lite), "--data", args.data, "--generate-only"],
                       check=True)
    out = os.path.join(args.data, f"manifest{args.lite}")
    run = [sys.executable, SCRIPT, "--keyword-dir", lite, "--lists-dir", lite, "--out-dir", out]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; Lite {args.lite:,} images + dev")

    full = statistics.median(timed(run + ["--force"])[0] for _ in range(args.repeat))
    # The fingerprints' own work, as the run does it (directories parsed anyway, not timed).
    archives = 0.0
    for name in ("dev", "lite"):
        directory = ZipDirectory(os.path.join(lite, f"keywords_{name}.zip"))
        began = time.perf_counter()
        fingerprints.archive_fingerprint(directory.top, directory.keys, directory.table)
        archives += time.perf_counter() - began
    began = time.perf_counter()
    for name in ("dev", "lite"):
        for f in ORIGINAL_FILES[name]:
            hashing.file_sha256(os.path.join(lite, f))
    side = time.perf_counter() - began
    outputs = [os.path.join(out, f) for f in os.listdir(out) if not f.startswith("manifest_")]
    size = sum(os.path.getsize(f) for f in outputs)
    began = time.perf_counter()
    for f in outputs:
        hashing.file_sha256(f)
    hashed = time.perf_counter() - began
    print(f"full run:    {full:.2f} s; fingerprints of the inputs {archives + side:.3f} s "
          f"({(archives + side) / full:.1%} of the run: archives {archives:.3f} s, lists and "
          f"maps {side:.3f} s); SHA-256 of the {size / 1e6:.0f} MB of outputs {hashed:.2f} s "
          "of one core, in a thread beside the encoding")

    reruns = []
    for _ in range(args.repeat):
        seconds, stdout = timed(run)
        assert "up to date" in stdout, stdout
        reruns.append(seconds)
    manifest_path = os.path.join(out, "manifest_clickture_sk_6.json")
    recorded = manifest.load(manifest_path)
    planned = {role: (record["path"], record["kind"]) for role, record in
               recorded["inputs"].items()}
    began = time.perf_counter()
    # Archives only: no folder to open.
    found, _ = manifest.up_to_date(manifest_path, "clickture", recorded["options"], planned)
    check = time.perf_counter() - began
    assert found is not None
    print(f"up to date:  rerun {statistics.median(reruns):.2f} s (median of {args.repeat}, "
          f"start-up included); the check alone {check:.2f} s")

    seconds, _ = timed([sys.executable, "-m", "amc_keywords", "verify", "--manifest",
                        manifest_path])
    with open(manifest_path, encoding="utf-8") as f:
        total = sum(record["size"] for record in json.load(f)["outputs"].values())
    print(f"verify:      {seconds:.2f} s for {total / 1e6:.0f} MB of outputs: "
          f"{total / 1e6 / seconds:.0f} MB/s (start-up included)")


if __name__ == "__main__":
    main()
