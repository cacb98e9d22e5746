"""Benchmark of the training side at Lite scale: the loader, batches, a DataLoader, export.

Runs the toolkit once on the generated 1M-image Lite set of bench_scale.py (generated first
if missing), then measures on its Lite rows:

    open       load_keywords (memory-mapped): median of 5 opens, ms
    padded     kw.padded(batch) for batches of 256 random images: images a second, one core
    bag        kw.bag(batch), the same
    loader     torch DataLoader(kw.ids, batch_size=256, num_workers=2, collate_fn=kw.collate)
               over the whole set: images a second, and each worker's peak private memory
               (RssAnon: beyond the shared pages of the files); skipped without torch
    export     amc-keywords export --format parquet: seconds, against reading the rows once
               (np.load and a sum), and its peak RSS; skipped without pyarrow

Usage: python benchmarks/bench_training.py [--lite 1000000] [--data benchmarks/data]
"""
import argparse
import importlib.util
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

from amc_keywords import load_keywords
from amc_keywords.datasets.list_and_map import ORIGINAL_FILES

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "clickture", "pro_keyword_clickture.py")
ROWS = "img_keyword_ind_clickture_lite_sk_6_sparse.npy"


def outputs_of(data, n_lite):
    """The toolkit's outputs for the generated set (made once, then reused)."""
    lite = os.path.join(data, f"lite{n_lite}")
    if not os.path.exists(os.path.join(lite, "keywords_lite.zip")):
        subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "bench_scale.py"),
                        "--lite", str(n_lite), "--data", data, "--generate-only"], check=True)
    out = os.path.join(data, f"training{n_lite}")
    if not os.path.exists(os.path.join(out, ROWS)):
        subprocess.run([sys.executable, SCRIPT, "--keyword-dir", lite, "--lists-dir", lite,
                        "--out-dir", out, "--quiet"], check=True, stdout=subprocess.DEVNULL)
    assert all(os.path.exists(os.path.join(lite, f)) for f in ORIGINAL_FILES["lite"])
    return os.path.join(out, ROWS)


def per_second(function, batches, seconds=3.0):
    """Images a second of ``function(batch)`` over the batches, for about ``seconds``."""
    done, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        for batch in batches:
            function(batch)
            done += len(batch)
    return done / (time.perf_counter() - began)


def rss_anon_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    return 0


def worker_peak(loader):
    """Images and seconds of one pass over a DataLoader, and its workers' peak RssAnon (MB)."""
    peaks = {}
    began = time.perf_counter()
    images = 0
    iterator = iter(loader)
    for i, batch in enumerate(iterator):
        images += len(batch[0])
        if i % 50 == 0:
            for worker in iterator._workers:
                peaks[worker.pid] = max(peaks.get(worker.pid, 0), rss_anon_kb(worker.pid))
    return images, time.perf_counter() - began, max(peaks.values()) / 1024


def data_loader(path):
    try:
        from torch.utils.data import DataLoader
    except ImportError:
        return "skipped (torch is not installed)"
    kw = load_keywords(path)
    images, seconds, peak = worker_peak(DataLoader(
        kw.ids, batch_size=256, shuffle=True, num_workers=2, collate_fn=kw.collate,
        multiprocessing_context="spawn"))
    # The same workers over a plain list: what a worker holds without this package (torch,
    # numpy), to tell the loader's own part.
    _, _, baseline = worker_peak(DataLoader(
        list(range(256 * 400)), batch_size=256, num_workers=2, collate_fn=_plain_batch,
        multiprocessing_context="spawn"))
    return (f"{images / seconds:,.0f} images/s over {images:,} images; workers' peak private "
            f"memory (RssAnon) {peak:.0f} MB, of which {baseline:.0f} MB is a worker's own "
            f"(torch imported, a plain list for dataset): {peak - baseline:.0f} MB for the "
            "loader")


def _plain_batch(items):
    return (items,)


def export(path, folder):
    if importlib.util.find_spec("pyarrow") is None:
        return "skipped (pyarrow is not installed)"
    began = time.perf_counter()
    rows = np.load(path)
    int(rows[:, 1].sum())
    read_once = time.perf_counter() - began
    del rows
    target = os.path.join(folder, "lite.parquet")
    code = ("import sys, time; from amc_keywords.export import export_parquet\n"
            "t = time.perf_counter(); export_parquet(sys.argv[1], sys.argv[2])\n"
            "print(time.perf_counter() - t)\n"
            "print(peak[0], peak[1])\n")
    # Peak RSS, and the private part of it at that point (RssAnon): the rest is pages of the
    # rows file mapped (page cache shared with every process, given back under pressure).
    code = ("import threading, time\n"
            "peak = [0, 0]\n"
            "def watch():\n"
            "    while True:\n"
            "        f = {l.split(':')[0]: int(l.split()[1]) for l in open('/proc/self/status')"
            " if l.startswith(('VmRSS', 'RssAnon'))}\n"
            "        peak[0] = max(peak[0], f['VmRSS']); peak[1] = max(peak[1], f['RssAnon'])\n"
            "        time.sleep(0.01)\n"
            "threading.Thread(target=watch, daemon=True).start()\n") + code
    out = subprocess.run([sys.executable, "-c", code, path, target], capture_output=True,
                         text=True, check=True).stdout.split()
    seconds, peak_mb, private_mb = float(out[0]), int(out[1]) / 1024, int(out[2]) / 1024
    size = os.path.getsize(target) / 1e6
    os.remove(target)
    return (f"{seconds:.2f} s ({seconds / read_once:.2f}x the {read_once:.2f} s of reading the "
            f"rows once), peak RSS {peak_mb:.0f} MB of which private (RssAnon) {private_mb:.0f}"
            f" MB (the rest: the rows file's pages, mapped), file {size:.0f} MB")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lite", type=int, default=1000000, help="Lite size (default: 1000000)")
    parser.add_argument("--data", default=os.path.join(ROOT, "benchmarks", "data"),
                        help="cache of generated data (default: benchmarks/data)")
    args = parser.parse_args()
    path = outputs_of(args.data, args.lite)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; {path}")
    opens = []
    for _ in range(5):
        began = time.perf_counter()
        kw = load_keywords(path)
        opens.append(time.perf_counter() - began)
    print(f"open:    {statistics.median(opens) * 1000:.1f} ms (median of 5); {kw.n_rows:,} rows, "
          f"{kw.n_images:,} images")
    rng = np.random.default_rng(0)
    batches = [rng.choice(kw.ids, 256) for _ in range(200)]
    print(f"padded:  {per_second(kw.padded, batches):,.0f} images/s (batches of 256, one core)")
    print(f"bag:     {per_second(kw.bag, batches):,.0f} images/s (batches of 256, one core)")
    print(f"loader:  {data_loader(path)}")
    print(f"export:  {export(path, os.path.dirname(path))}")


if __name__ == "__main__":
    main()
