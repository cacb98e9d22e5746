"""Benchmark at Clickture-Lite scale: the toolkit, the plain implementation and `unzip -p`.

Generates synthetic Clickture data in the real formats, of two kinds (--kind; see
benchmarks/keyword_kinds.py): `tags`, realistic (an auto-tagger's 30,000 tags, Zipf), and
`composed`, adversarial (a new phrase about every image). Cached in benchmarks/data/<kind>/,
not committed. For each kind and size it runs, on the same data in the same run:

    floor     `unzip -p keywords_dev.zip; unzip -p keywords_lite.zip` to /dev/null (one core)
    toolkit   clickture/pro_keyword_clickture.py reading the zip archives (--refit)
    folders   the same script reading the unzipped folders (the original workflow)
    plain     tests/reference.py: json per file from the folders, a Python list of rows,
              then the range table (the outputs of the original script)
    -v run    the toolkit once more with -v, its output read live and each line stamped on
              arrival (seconds since the run started)
    stages    a worker's work replayed in this process (benchmarks/bench_stages.py)

and prints wall time (the median of --repeat unwatched runs, except for the plain
implementation, timed once), peak RSS of the largest process (from one more, watched,
run), and the ratios; it checks that all of them write the same rows and range tables.
Each size runs twice (--cache): with the data in the page cache (a rerun), and with the data
evicted from it (the first run after downloading or unzipping). Then the breakdown:

    steps     the -v run's `time: <step>: <seconds> s` lines
    t_first   when the line `time: encoding (lite): first chunk encoded` arrived
    t_after   from the line `time: encoding (lite): last chunk encoded` to the run's exit
    r         (t_last - t_first) / (lite images - CHUNK): wall seconds an image at full speed
    r_dev     the replayed worker CPU an image (all stages) / jobs: dev is read by the workers
              as Lite is, twice before Lite's first chunk (for the fit, then to be encoded)
    fixed     t_first + t_after - CHUNK * r - 2 * dev images * r_dev: the time that does not grow
              with the images (start-up, imports, the fit itself, the finish); CHUNK is
              amc_keywords.encoding.CHUNK, the images of the first chunk
    stages    µs per Lite image of each stage of a worker, beside its floor

and, at the end, the targets of each kind with "met" or "not met". Usage:

    python benchmarks/bench_scale.py --lite 100000 300000 1000000
    python benchmarks/bench_scale.py --lite 20000 --dev 5000 --skip-plain --cache warm
"""
import argparse
import hashlib
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import threading
import time

from bench_stages import replay, stage_lines
from keyword_kinds import KINDS, generate, info

from amc_keywords.encoding import CHUNK
from amc_keywords.workers import default_jobs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "clickture", "pro_keyword_clickture.py")
# The plain implementation makes what the toolkit makes that the original script made: the
# rows and the range table of each set (python tests/reference.py clickture ...).
PLAIN = os.path.join(ROOT, "tests", "reference.py")
# The lines of a -v run read for the breakdown (the markers may be followed by more words).
STEP = re.compile(r"time: (.+): ([0-9.]+) s$")
FIRST, LAST = ("time: encoding (lite): first chunk encoded",
               "time: encoding (lite): last chunk encoded")
# Targets (issue 20): toolkit / floor by kind, plain / toolkit, peak RSS, fixed cost, cold.
FLOOR_RATIO = {"tags": 1.0, "composed": 1.4}
PLAIN_RATIO, PEAK_MB, FIXED_S, COLD_SHARE = 10.0, 250.0, 1.0, 0.10


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


def verbose_run(cmd):
    """Run ``cmd`` (the toolkit with -v), stamping each line of its stdout and stderr with
    the seconds since it started, as it arrives: ``{"end", "steps", "first", "last",
    "quiet"}`` (``steps``: ``(step, its seconds, when its line came)``; ``first``/``last``:
    when the first and last Lite chunk were encoded, or None when the run does not log it;
    ``quiet``: from the run's last line to its exit)."""
    stamped = []
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)

    def read(stream):
        for line in stream:
            stamped.append((time.perf_counter() - start, line.strip()))
    readers = [threading.Thread(target=read, args=(s,)) for s in (proc.stdout, proc.stderr)]
    for reader in readers:
        reader.start()
    proc.wait()
    end = time.perf_counter() - start
    for reader in readers:
        reader.join()
    if proc.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}")
    stamped.sort()
    found = {"end": end, "steps": [], "first": None, "last": None,
             "quiet": end - stamped[-1][0] if stamped else end}
    for at, line in stamped:
        if line.startswith(FIRST):
            found["first"] = found["first"] or at
        elif line.startswith(LAST):
            found["last"] = at
        elif STEP.match(line):
            found["steps"].append((*STEP.match(line).groups(), at))
    return found


DEV_READS = 2  # dev is read for the fit, then again to be encoded, before Lite's first chunk


def fixed_cost(run, n_lite, n_dev, r_dev):
    """The fixed cost of a -v run (see the module docstring) and the line showing its terms;
    None when the run does not log its first and last chunk (or Lite is a single chunk)."""
    first, last = run["first"], run["last"]
    if first is None or last is None or n_lite <= CHUNK:
        return None, ("fixed cost: n/a (the run logs no first and last chunk of Lite)"
                      if n_lite > CHUNK else f"fixed cost: n/a (Lite within one chunk, {CHUNK})")
    r, after = (last - first) / (n_lite - CHUNK), run["end"] - last
    fixed = first + after - CHUNK * r - DEV_READS * n_dev * r_dev
    return fixed, (f"fixed cost = t_first {first:.2f} + t_after {after:.2f} - {CHUNK} * r "
                   f"{CHUNK * r:.2f} (r = {r * 1e6:.1f} µs/img) - {DEV_READS} * dev {n_dev} * "
                   f"r_dev {DEV_READS * n_dev * r_dev:.2f} (r_dev = {r_dev * 1e6:.1f} µs/img) = "
                   f"{fixed:.2f} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lite", type=int, nargs="+", default=[100000, 300000, 1000000],
                        help="Lite sizes to run (default: 100000 300000 1000000)")
    parser.add_argument("--dev", type=int, default=79665, help="dev size (default: 79665)")
    parser.add_argument("--kind", choices=(*KINDS, "both"), default="both",
                        help="kind of data: 'tags' (realistic), 'composed' (adversarial) or "
                             "both, tags first (default: both)")
    parser.add_argument("--jobs", type=int, default=None,
                        help="--jobs for the toolkit (default: its own, all cores)")
    parser.add_argument("--data", default=os.path.join(ROOT, "benchmarks", "data"),
                        help="cache of generated data (default: benchmarks/data)")
    parser.add_argument("--generate-only", action="store_true",
                        help="only generate (and cache) the data of the given kinds and sizes")
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
    parser.add_argument("--stage-sample", type=int, default=100000,
                        help="Lite images the stage breakdown replays, from the start of the "
                             "plan (default: %(default)s)")
    args = parser.parse_args()
    jobs = args.jobs or default_jobs()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, toolkit jobs {jobs}")
    header = (f"{'kind':>8} {'cache':>5} {'lite':>8} {'dev':>6} | {'floor s':>7} | "
              f"{'toolkit s':>9} {'MB':>5} {'x floor':>7} | {'folders s':>9} {'MB':>5} | "
              f"{'plain s':>7} {'MB':>6} {'speedup':>7} | outputs equal")
    lines, targets = [], []
    for kind in KINDS if args.kind == "both" else (args.kind,):
        for n_lite in args.lite:
            data, folders = generate(args.data, kind, n_lite, args.dev)
            if args.generate_only:
                continue
            dev = os.path.join(args.data, kind, f"dev{args.dev}")
            # Every file each contender reads.
            paths = [os.path.realpath(p) for p in (data, folders, dev)]
            print(f"\n== {kind}: {n_lite:,} Lite images ({info(data)['distinct keywords']:,} "
                  f"distinct keywords), {args.dev:,} dev ({info(dev)['distinct keywords']:,})",
                  header, sep="\n", flush=True)
            runs = {}
            for cache in (("warm", "cold") if args.cache == "both" else (args.cache,)):
                if cache == "warm":
                    warm(paths)  # once: every run leaves the data cached
                runs[cache] = run_size(args, kind, n_lite, data, folders,
                                       paths if cache == "cold" else ())
                lines.append(runs[cache]["line"])
                print(lines[-1], flush=True)
            out = os.path.join(args.data, kind, f"out{n_lite}")
            with open(os.path.join(out, "zip", "vocabulary_clickture_sk_6.json")) as f:
                stages = replay(data, json.load(f)["words"], args.stage_sample, jobs)
            r_dev = sum(us for us, _ in stages["stages"].values()) / jobs / 1e6
            for cache, run in runs.items():
                v = run["verbose"]
                print(f"breakdown ({cache}), from a run with -v, {v['end']:.2f} s:\n"
                      "  steps: " + ", ".join(f"{step} {s} s (done at {at:.2f})"
                                              for step, s, at in v["steps"]))
                when = [f"{v[k]:.2f} s" if v[k] is not None else "n/a" for k in ("first",
                                                                                  "last")]
                after = f"{v['end'] - v['last']:.2f} s" if v["last"] is not None else "n/a"
                run["fixed"], fixed_line = fixed_cost(v, n_lite, args.dev, r_dev)
                print(f"  time to the first encoded Lite chunk {when[0]}, to the last "
                      f"{when[1]}; after the last {after} (of which {v['quiet']:.2f} s from "
                      f"the run's last line to its exit)\n  {fixed_line}")
            print(*stage_lines(stages), sep="\n", flush=True)
            targets += target_lines(kind, n_lite, runs, args)
            if args.ctrl_c:
                print(f"Ctrl-C at {n_lite} images: " + ctrl_c_to_exit(args, kind, n_lite, data),
                      flush=True)
    if lines:
        print("\nall runs:", header, *lines, "\ntargets:",
              f"{'kind':>8} {'lite':>8}  {'target':<34} {'figure':>15}  verdict", *targets,
              sep="\n")


def target_lines(kind, n_lite, runs, args):
    """The targets table's lines of one kind and size."""
    def line(target, figure, met):
        verdict = "not measured" if met is None else "met" if met else "not met"
        return f"{kind:>8} {n_lite:>8}  {target:<34} {figure:>15}  {verdict}"
    out = []
    for cache, run in runs.items():
        ratio = run["toolkit"] / run["floor"]
        out.append(line(f"toolkit / floor <= {FLOOR_RATIO[kind]}x ({cache})", f"{ratio:.2f}x",
                        ratio <= FLOOR_RATIO[kind]))
        plain = run["plain"] / run["toolkit"]
        out.append(line(f"plain / toolkit >= {PLAIN_RATIO:.0f}x ({cache})",
                        "--skip-plain" if args.skip_plain else f"{plain:.1f}x",
                        None if args.skip_plain else plain >= PLAIN_RATIO))
        peak = max(run["toolkit_mb"], run["folder_mb"])
        out.append(line(f"peak RSS <= {PEAK_MB:.0f} MB ({cache})", f"{peak:.0f} MB",
                        peak <= PEAK_MB))
        fixed = run["fixed"]
        out.append(line(f"fixed cost <= {FIXED_S} s ({cache})",
                        "n/a" if fixed is None else f"{fixed:.2f} s",
                        None if fixed is None else fixed <= FIXED_S))
    if "warm" in runs and "cold" in runs:
        share = runs["cold"]["toolkit"] / runs["warm"]["toolkit"] - 1
        out.append(line(f"cold within {COLD_SHARE:.0%} of warm", f"{share:+.0%}",
                        share <= COLD_SHARE))
    else:
        out.append(line(f"cold within {COLD_SHARE:.0%} of warm", f"--cache {args.cache}",
                        None))
    return out


def ctrl_c_to_exit(args, kind, n_lite, data):
    """Seconds from a Ctrl-C (SIGINT to the run's process group, as a terminal sends it) to
    the run's exit, sent as soon as the run says its vocabulary is fitted: Lite is then being
    read, opened and encoded by the workers at full speed."""
    out = os.path.join(args.data, kind, f"out{n_lite}", "ctrl-c")
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


def run_size(args, kind, n_lite, data, folders, cold_paths):
    """Every contender on one kind and size, each run after ``cold_paths`` are evicted from
    the page cache: a dict of the figures, with ``line``, the table's line."""

    def before():
        evict(cold_paths)
    out = os.path.join(args.data, kind, f"out{n_lite}")
    os.makedirs(out, exist_ok=True)
    floor, _ = measure_median(["sh", "-c", f"unzip -p {data}/keywords_dev.zip > /dev/null "
                                           f"&& unzip -p {data}/keywords_lite.zip > /dev/null"],
                              args.repeat, before)
    jobs = ["--jobs", str(args.jobs)] if args.jobs else []
    toolkit_cmd = [sys.executable, SCRIPT, "--keyword-dir", data, "--lists-dir", data,
                   "--out-dir", out + "/zip", "--refit", *jobs]
    toolkit, toolkit_mb = measure_median([*toolkit_cmd, "--quiet"], args.repeat, before)
    before()
    verbose = verbose_run([*toolkit_cmd, "-v"])
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
    cache = "cold" if cold_paths else "warm"
    line = (f"{kind:>8} {cache:>5} {n_lite:>8} {args.dev:>6} | {floor:>7.1f} | "
            f"{toolkit:>9.1f} {toolkit_mb:>5.0f} {toolkit / floor:>7.2f} | {folder_s:>9.1f} "
            f"{folder_mb:>5.0f} | {plain:>7.1f} {plain_mb:>6.0f} {plain / toolkit:>7.1f} | "
            f"{equal}")
    return dict(floor=floor, toolkit=toolkit, toolkit_mb=toolkit_mb, folder_mb=folder_mb,
                plain=plain, verbose=verbose, line=line)


if __name__ == "__main__":
    main()
