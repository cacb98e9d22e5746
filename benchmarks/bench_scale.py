"""Benchmark at Clickture-Lite scale: the toolkit, the plain implementation and `unzip -p`.

Generates a synthetic Clickture set in the real formats (cached in benchmarks/data/, not
committed), then runs, on the same data in the same run:

    floor     `unzip -p keywords_dev.zip; unzip -p keywords_lite.zip` to /dev/null (one core)
    toolkit   clickture/pro_keyword_clickture.py reading the zip archives (--refit)
    folders   the same script reading the unzipped folders (the original workflow)
    plain     tests/reference.py: json per file from the folders, a Python list of rows,
              then the range table (the outputs of the original script)

and prints wall time (the median of --repeat unwatched runs, except for the plain
implementation, timed once), peak RSS of the largest process (from one more, watched,
run), and the ratios; it checks that all of them write the same rows and range tables.
Each size runs twice (--cache): with the data in the page cache (a rerun), and with the data
evicted from it (the first run after downloading or unzipping). Usage:

    python benchmarks/bench_scale.py --lite 100000 300000 1000000
"""
import argparse
import hashlib
import os
import platform
import signal
import statistics
import subprocess
import sys
import time

from amc_keywords import sample
from amc_keywords.filenames import ORIGINAL_FILES

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "clickture", "pro_keyword_clickture.py")
# The plain implementation makes what the toolkit makes that the original script made: the
# rows and the range table of each set (python tests/reference.py clickture ...).
PLAIN = os.path.join(ROOT, "tests", "reference.py")


def session_peaks(session):
    """Peak RSS (VmHWM, MB) of each live process of a session."""
    peaks = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[3]) != session:
                    continue
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        peaks[int(pid)] = int(line.split()[1]) / 1024
        except (OSError, ValueError, IndexError):
            pass
    return peaks


def measure(cmd, watch=True, **kwargs):
    """Wall seconds and peak RSS (MB) of the largest process the command starts.

    Worker processes are not all children of the command (a forkserver's workers are not
    waited for by it), so every process of the command's session is polled for its VmHWM,
    the kernel's record of its peak. (wait4's ru_maxrss is no good here: it counts the
    memory this benchmark process had when it forked the command.)
    """
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, start_new_session=True, **kwargs)
    peak = 0.0
    while True:
        pid, status, _ = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if watch:
            peak = max([peak, *session_peaks(proc.pid).values()])
        # VmHWM only grows, and every process lives far longer than this: a slow poll misses
        # nothing and takes little CPU from the two cores being measured.
        time.sleep(0.1)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return seconds, peak


def measure_median(cmd, repeat, before):
    """Median wall seconds of ``repeat`` runs (this machine is a VM: single runs vary by
    ~10%), and the peak RSS of one more run; ``before()`` sets the page cache up before each
    run, untimed. Timed runs are not watched: polling every process's /proc entries takes CPU
    from the two cores being measured."""
    seconds = []
    for _ in range(repeat):
        before()
        seconds.append(measure(cmd, watch=False)[0])
    before()
    return statistics.median(seconds), measure(cmd)[1]


def warm(paths):
    """Read every data file once, so that the run reads them from memory, as a rerun does."""
    subprocess.run(["sh", "-c", 'for p; do tar -cf - -C "$p" . | cat > /dev/null; done', "-",
                    *paths], check=True)


def evict(paths):
    """Drop the data files from the page cache, so that the run reads them from disk, as the
    first run after a download or an unzip does; Python and its libraries stay cached.

    Each file's pages go with posix_fadvise(DONTNEED) (no privilege needed); where this
    process may (root), the kernel's cache of directory entries and inodes goes too, so
    that opening a million files costs what it does on a cold machine.
    """
    if not paths:
        return
    for top in paths:
        for folder, _, files in os.walk(top):
            for name in files:
                path = os.path.join(folder, name)
                if os.path.islink(path):
                    continue
                fd = os.open(path, os.O_RDONLY)
                try:
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                finally:
                    os.close(fd)
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("2")  # 2: directory entries and inodes only, not the page cache
    except OSError:
        pass


def digest(path):
    """sha256 of a file, read in pieces: this process stays small (see measure)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def generate(data, n_lite, n_dev):
    """Zips, lists and maps of one size; the dev set is shared by all sizes."""
    dev = os.path.join(os.path.dirname(data), f"dev{n_dev}")
    for folder, name, n, seed in ((dev, "dev", n_dev, 1), (data, "lite", n_lite, 2)):
        if os.path.exists(os.path.join(folder, f"keywords_{name}.zip")):
            continue
        os.makedirs(folder, exist_ok=True)
        print(f"generating {n} {name} images in {folder} ...", flush=True)
        list_name, map_name = ORIGINAL_FILES[name]
        sample.make_clickture_set(folder, name, n, seed, list_name=list_name, map_name=map_name,
                                  extra_words=6000, per_image=(10, 50))
    for f in ("keywords_dev.zip", *ORIGINAL_FILES["dev"]):
        if not os.path.exists(os.path.join(data, f)):
            os.symlink(os.path.join(dev, f), os.path.join(data, f))
    folders = data + "-folders"
    if not os.path.isdir(folders):
        print(f"unzipping into {folders} ...", flush=True)
        os.makedirs(folders)
        for name in ("dev", "lite"):
            subprocess.run(["unzip", "-q", os.path.join(data, f"keywords_{name}.zip"), "-d",
                            folders], check=True)
        for f in (*ORIGINAL_FILES["dev"], *ORIGINAL_FILES["lite"]):
            os.symlink(os.path.join(data, f), os.path.join(folders, f))
    return folders


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lite", type=int, nargs="+", default=[100000, 300000, 1000000],
                        help="Lite sizes to run (default: 100000 300000 1000000)")
    parser.add_argument("--dev", type=int, default=79665, help="dev size (default: 79665)")
    parser.add_argument("--jobs", type=int, default=None,
                        help="--jobs for the toolkit (default: its own, all cores)")
    parser.add_argument("--data", default=os.path.join(ROOT, "benchmarks", "data"),
                        help="cache of generated data (default: benchmarks/data)")
    parser.add_argument("--generate-only", action="store_true",
                        help="only generate (and cache) the data of the given sizes")
    parser.add_argument("--skip-plain", action="store_true",
                        help="do not run the slow plain implementation")
    parser.add_argument("--cache", choices=("warm", "cold", "both"), default="both",
                        help="page cache before each run: 'warm' (the data read once "
                             "beforehand, as on a rerun), 'cold' (the data evicted, as on the "
                             "first run after an unzip), or a line of each (default: both)")
    parser.add_argument("--ctrl-c", action="store_true",
                        help="also time a Ctrl-C sent while Lite is being encoded, to exit")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of the floor and of the toolkit, whose median is reported "
                             "(the plain implementation runs once) (default: %(default)s)")
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    header = (f"{'cache':>5} {'lite':>8} {'dev':>6} | {'floor s':>7} | {'toolkit s':>9} "
              f"{'MB':>5} {'x floor':>7} | {'folders s':>9} {'MB':>5} | {'plain s':>7} {'MB':>6} "
              f"{'speedup':>7} | outputs equal")
    lines = []
    for n_lite in args.lite:
        data = os.path.join(args.data, f"lite{n_lite}")
        folders = generate(data, n_lite, args.dev)
        if args.generate_only:
            continue
        # Every file each contender reads (the dev data lives in a folder shared by all sizes).
        paths = [os.path.realpath(p) for p in (data, folders, os.path.join(
            args.data, f"dev{args.dev}"))]
        for cache in (("warm", "cold") if args.cache == "both" else (args.cache,)):
            if cache == "warm":
                warm(paths)  # once: every run leaves the data cached
            lines.append(f"{cache:>5} " + run_size(args, n_lite, data, folders,
                                                   paths if cache == "cold" else ()))
            print(header, *lines, sep="\n", flush=True)
        if args.ctrl_c:
            print(f"Ctrl-C at {n_lite} images: " + ctrl_c_to_exit(args, n_lite, data),
                  flush=True)


def ctrl_c_to_exit(args, n_lite, data):
    """Seconds from a Ctrl-C (SIGINT to the run's process group, as a terminal sends it) to
    the run's exit, sent as soon as the run says its vocabulary is fitted: Lite is then being
    read, opened and encoded by the workers at full speed."""
    out = os.path.join(args.data, f"out{n_lite}", "ctrl-c")
    proc = subprocess.Popen([sys.executable, SCRIPT, "--keyword-dir", data, "--lists-dir",
                             data, "--out-dir", out, "--refit"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    for line in proc.stdout:  # the observable point
        if line.startswith("vocabulary: fitted"):
            break
    sent = time.perf_counter()
    os.killpg(proc.pid, signal.SIGINT)
    _, stderr = proc.communicate()
    seconds = time.perf_counter() - sent
    said = stderr.strip().splitlines()[-1:] == ["interrupted: earlier outputs are unchanged"]
    return (f"{seconds:.2f} s to exit (status {proc.returncode}"
            f"{', interrupted: earlier outputs are unchanged' if said else ', NO LINE'})")


def run_size(args, n_lite, data, folders, cold_paths):
    """One line of the table: every contender on one size, each run after ``cold_paths``
    are evicted from the page cache."""

    def before():
        evict(cold_paths)
    out = os.path.join(args.data, f"out{n_lite}")
    os.makedirs(out, exist_ok=True)
    floor, _ = measure_median(["sh", "-c", f"unzip -p {data}/keywords_dev.zip > /dev/null "
                                           f"&& unzip -p {data}/keywords_lite.zip > /dev/null"],
                              args.repeat, before)
    jobs = ["--jobs", str(args.jobs)] if args.jobs else []
    toolkit, toolkit_mb = measure_median([sys.executable, SCRIPT, "--keyword-dir", data,
                                          "--lists-dir", data, "--out-dir", out + "/zip",
                                          "--refit", "--quiet", *jobs], args.repeat, before)
    folder_s, folder_mb = measure_median([sys.executable, SCRIPT, "--keyword-dir", folders,
                                          "--lists-dir", folders, "--out-dir", out + "/folders",
                                          "--refit", "--quiet", *jobs], args.repeat, before)

    def outputs(folder, rows, ranges):
        return [digest(os.path.join(out, folder, name.format(s)))
                for s in ("lite", "dev") for name in (rows, ranges)]

    made = outputs("zip", "img_keyword_ind_clickture_{}_sk_6_sparse.npy",
                   "img_keyword_range_clickture_{}_sk_6.npy")
    equal = "zip=folders" if made == outputs(
        "folders", "img_keyword_ind_clickture_{}_sk_6_sparse.npy",
        "img_keyword_range_clickture_{}_sk_6.npy") else "ZIP != FOLDERS"
    plain = plain_mb = float("nan")
    if not args.skip_plain:
        os.makedirs(out + "/plain", exist_ok=True)
        plain, plain_mb = measure_median([sys.executable, PLAIN, "clickture", folders, data,
                                          out + "/plain"], 1, before)
        equal += ("=plain" if outputs("plain", "rows_{}.npy", "range_{}.npy") == made
                  else " != PLAIN")
    return (f"{n_lite:>8} {args.dev:>6} | {floor:>7.1f} | {toolkit:>9.1f} {toolkit_mb:>5.0f} "
            f"{toolkit / floor:>7.2f} | {folder_s:>9.1f} {folder_mb:>5.0f} | {plain:>7.1f} "
            f"{plain_mb:>6.0f} {plain / toolkit:>7.1f} | {equal}")

if __name__ == "__main__":
    main()
