"""The command line: ``amc-keywords`` (also ``python -m amc_keywords``) and the two dataset
scripts.

    amc-keywords clickture [options]      encode Clickture (as clickture/pro_keyword_clickture.py)
    amc-keywords coco [options]           encode MSCOCO (as mscoco/pro_keyword_mscoco.py)
    amc-keywords verify PATH...           check output sets; exit 0 with a one-line summary each
    amc-keywords verify --manifest FILE   recompute each output's SHA-256 against a manifest
    amc-keywords compare MANIFEST MANIFEST  whether two runs produced the same dataset
    amc-keywords stats PATH               figures a user checks before training
    amc-keywords show PATH IMG_ID         an image's keywords as words (and its name)
    amc-keywords export PATH OUT --format parquet [--words]   one row per image (pyarrow)
    amc-keywords --version

Input:  the command line. Output: the command's work and its exit status (:data:`EXIT_STATUSES`,
the same for every command and both scripts); an error is one line on stderr (``error:
<where>: <what is wrong>``); Ctrl-C is ``interrupted: earlier outputs are unchanged``.
``--debug`` anywhere on the command line shows the traceback instead.

Installed, the default folders are those under the current folder (``./keyword``,
``./clickture``, ``./mscoco``, as in a clone); the dataset scripts use their clone's folders,
wherever they are run from.
"""
import argparse
import json
import os
import signal
import stat
import sys
from importlib import import_module

from . import __version__, workers
from .errors import DIFFERENCE, SUCCESS, SYSTEM, InputError, error_for
from .errors import INTERRUPTED as INTERRUPTED_STATUS
from .log import configure_cli

INTERRUPTED = "interrupted: earlier outputs are unchanged"
EXIT_STATUSES = """exit status: 0 success; 1 a check found a difference (verify, compare); 2 bad
input or usage; 3 the system (disk full, permission denied, a worker killed, out of memory);
130 interrupted"""
DATASET_FOLDERS = {"clickture": "clickture", "coco": "mscoco"}  # outputs and side files


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a bad option is one line (an InputError), not a usage block; the
    description (a script's docstring) is shown as written."""

    def __init__(self, **kwargs):
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        kwargs.setdefault("epilog", EXIT_STATUSES)
        super().__init__(**kwargs)

    def error(self, message):
        raise InputError(f"{self.prog}: {message} (see --help)")


def quiet_interrupt_during_startup():
    """Ctrl-C while the heavy libraries import: the one-line message, not a traceback.

    :func:`run_cli` puts Python's own handler back once the command starts.
    """
    def handler(signum, frame):
        print(INTERRUPTED, file=sys.stderr)
        os._exit(INTERRUPTED_STATUS)
    signal.signal(signal.SIGINT, handler)


def run_cli(main, argv=None):
    """Run ``main(argv)`` and turn errors into one line on stderr and an exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    received = []

    def interrupt(signum, frame):
        received.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    try:
        return report_errors(main, [a for a in argv if a != "--debug"], debug)
    except Exception:
        # A Ctrl-C that landed inside a C extension's import can surface as another error
        # (numpy turns it into an ImportError): it is still the user's Ctrl-C.
        if not received or debug:
            raise
        print(INTERRUPTED, file=sys.stderr)
        return INTERRUPTED_STATUS


def report_errors(main, argv, debug=False):
    """``main(argv)``'s exit status; its errors as one line on stderr (with ``debug``: raised)."""
    try:
        return main(argv) or SUCCESS
    except InputError as exc:
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt:
        if debug:
            raise
        print(INTERRUPTED, file=sys.stderr)
        return INTERRUPTED_STATUS
    except BrokenPipeError:  # the reader of our output went away (``| head``)
        return SYSTEM
    except OSError as exc:  # a file we cannot read or write: one line, not a traceback
        if debug:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return error_for(exc).exit_status
    except MemoryError:
        print("error: out of memory", file=sys.stderr)
        return SYSTEM


def positive_int(text):
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def splits_option(text):
    """argparse type: comma-separated COCO splits."""
    from .settings import COCO_SPLITS
    splits = tuple(s.strip() for s in text.split(",") if s.strip())
    unknown = [s for s in splits if s not in COCO_SPLITS]
    if unknown or not splits:
        raise argparse.ArgumentTypeError(f"unknown split {', '.join(unknown) or text!r}; "
                                         f"expected some of {','.join(COCO_SPLITS)}")
    return splits


def sample_folder():
    """The synthetic sample shipped inside the package (``amc_keywords/sample_data``)."""
    from importlib.resources import files
    return str(files("amc_keywords") / "sample_data")


def sample_copy(private):
    """A copy of the shipped sample in the run's own temporary folder ``private``, for
    ``--sample --extract`` to unpack: refreshed where the package's files differ (and then
    its unpacked folder removed, to be unpacked again)."""
    import filecmp
    import shutil
    folder = os.path.join(private, "sample_data")
    os.makedirs(folder, exist_ok=True)
    shipped = sample_folder()
    for name in sorted(os.listdir(shipped)):
        source, copy = os.path.join(shipped, name), os.path.join(folder, name)
        if not os.path.isfile(source):
            continue
        if not (os.path.isfile(copy) and filecmp.cmp(source, copy, shallow=False)):
            shutil.copyfile(source, copy)
            if name.endswith(".zip"):
                shutil.rmtree(copy[:-len(".zip")], ignore_errors=True)
    return folder


def private_folder(path):
    """``path``, made if missing (mode 700); refused when it exists and is not this user's
    alone (another user could have made it first, to read or replace what is written)."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise InputError(f"{path}: cannot be made ({exc.strerror}); give --out-dir") from None
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o022:
        raise InputError(f"{path}: exists and is not a folder of yours alone (owner uid "
                         f"{info.st_uid}, mode {stat.filemode(info.st_mode)}); remove it or give "
                         "--out-dir")
    return path


def add_dataset_options(parser, dataset, base):
    """The options of ``clickture`` / ``coco``; default folders under ``base`` (the clone for
    the scripts, the current folder for ``amc-keywords``)."""
    from .analyzer import STOP_WORDS
    from .settings import VOCAB_FROM
    out_default = os.path.join(base, DATASET_FOLDERS[dataset])
    parser.add_argument("--keyword-dir", default=os.path.join(base, "keyword"),
                        help="folder holding the downloaded keywords_*.zip archives (or their "
                             "unzipped folders, used when present) (default: %(default)s)")
    parser.add_argument("--out-dir", default=None,
                        help=f"folder for the outputs (default: {out_default}; with --sample, "
                             "a folder of yours under the system's temporary directory)")
    parser.add_argument("--min-df", type=positive_int, default=6,
                        help="keep words found in at least this many images; it is the 6 of "
                             "the output names (default: %(default)s)")
    parser.add_argument("--stop-words", choices=STOP_WORDS, default="english",
                        help="'english' drops scikit-learn's English stop words, 'none' keeps "
                             "every word (default: %(default)s)")
    parser.add_argument("--refit", action="store_true",
                        help="fit the vocabulary again even when a matching vocabulary file "
                             "exists in --out-dir (implies --force)")
    parser.add_argument("--force", action="store_true",
                        help="run even when the manifest in --out-dir shows the outputs up to "
                             "date with these options and inputs")
    parser.add_argument("--strict-fingerprint", action="store_true",
                        help="fingerprint unzipped keyword folders by content (a CRC-32 of each "
                             "file), not only by name, size and modification time")
    parser.add_argument("--extract", action="store_true",
                        help="unpack each archive next to itself first (keyword/keywords_<set>/)"
                             " and read the files from there; by default archives are read in "
                             "place")
    parser.add_argument("--original-layout", action="store_true",
                        help="write the original scripts' files instead of the default set, "
                             "for code written against them: the per-image range table (with "
                             "its quirks) under the README's names, the rows as "
                             "img_keyword_rec_*.npy, and the pickled CountVectorizer")
    parser.add_argument("--sample", action="store_true",
                        help="run on the small synthetic sample shipped with the package and "
                             "write to a temporary folder (printed)")
    parser.add_argument("--jobs", type=positive_int, default=workers.default_jobs(),
                        help="worker processes; outputs are identical for any value "
                             "(default: the cores this process may use, %(default)s)")
    parser.add_argument("--no-wait", action="store_true",
                        help="when another run is writing in --out-dir, refuse at once "
                             "instead of waiting for it to end")
    parser.add_argument("--quiet", "-q", action="store_true",
                        help="errors only: no progress bars, notices or summary (bars are "
                             "also off when stderr is not a terminal)")
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="also show debug detail: the time each step took")
    parser.add_argument("--debug", action="store_true",
                        help="show a traceback instead of a one-line error")
    if dataset == "clickture":
        parser.add_argument("--vocab-from", choices=sorted(VOCAB_FROM), default="dev",
                            help="images the vocabulary is fitted on (default: %(default)s, as "
                                 "in the original)")
        parser.add_argument("--lists-dir", default=out_default,
                            help="folder holding the .lst and .pkl files (default: "
                                 "%(default)s; with --sample, the sample's folder)")
    else:
        parser.add_argument("--splits", type=splits_option, default=("train", "test"),
                            help="comma-separated splits of dataset.json to encode "
                                 "(default: train,test)")
    parser.set_defaults(out_default=out_default)


def run_dataset(dataset, args):
    """Run ``clickture`` or ``coco`` with parsed options, through the Python API."""
    import tempfile

    from . import api
    from .filenames import ORIGINAL_FILES, SAMPLE_FILES
    configure_cli(quiet=args.quiet, verbose=args.verbose)
    keyword_dir, out_dir = args.keyword_dir, args.out_dir or args.out_default
    lists_dir = getattr(args, "lists_dir", None)
    if args.sample:
        private = private_folder(os.path.join(tempfile.gettempdir(),
                                              f"amc-keywords-sample-{os.getuid()}"))
        # The package's own folder is never written: unpacked, the sample is a copy's.
        keyword_dir = lists_dir = (sample_copy(private) if args.extract else sample_folder())
        out_dir = args.out_dir or os.path.join(private, dataset)
    common = dict(keyword_dir=keyword_dir, out_dir=out_dir, min_df=args.min_df,
                  stop_words=args.stop_words, refit=args.refit, extract=args.extract,
                  jobs=args.jobs, progress=False if args.quiet else None, force=args.force,
                  wait=not args.no_wait,
                  strict_fingerprint=args.strict_fingerprint,
                  layout="original" if args.original_layout else "default")
    if dataset == "clickture":
        api.prepare_clickture(lists_dir=lists_dir, vocab_from=args.vocab_from,
                              side_files=SAMPLE_FILES if args.sample else ORIGINAL_FILES,
                              **common)
    else:
        api.prepare_coco(splits=args.splits, **common)


def run_script(dataset, description, repository):
    """What a dataset script runs: Ctrl-C made quiet, the worker server started early (its
    imports overlap with this process's), then the dataset with the clone's folders."""
    quiet_interrupt_during_startup()
    workers.start_early()
    import_module(".api", __package__)  # numpy and the rest, while Ctrl-C is quiet

    def main(argv):
        parser = ArgumentParser(description=description)
        add_dataset_options(parser, dataset, repository)
        run_dataset(dataset, parser.parse_args(argv))
    return run_cli(main)


def build_parser():
    """The ``amc-keywords`` parser with all its subcommands."""
    parser = ArgumentParser(prog="amc-keywords", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show a traceback instead of a one-line error")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=ArgumentParser)
    base = os.curdir
    for dataset, what in (("clickture", "Clickture-Lite and Clickture-dev"),
                          ("coco", "MSCOCO (Karpathy splits)")):
        sub = commands.add_parser(dataset, help=f"encode {what} keywords as [img_id, word_id] "
                                  "rows", description=f"Encode {what} keywords as rows "
                                  "[img_id, word_id]; the formats are in README.md.")
        add_dataset_options(sub, dataset, base)

    verify = commands.add_parser("verify", help="check output sets for consistency",
                                 description="Check output sets: dtype and shape, word ids "
                                 "within the vocabulary, image ids within the listed ids, range "
                                 "table against the rows, vocabulary min_df against the name.")
    verify.add_argument("paths", nargs="*", metavar="PATH", help="rows files to check")
    verify.add_argument("--manifest", default=None, metavar="MANIFEST",
                        help="also recompute each output's SHA-256 and compare it with this "
                             "run manifest (manifest_<dataset>_sk_<k>.json)")
    verify.add_argument("--keyword-dir", default=None,
                        help="also re-encode a random sample of images from the archives in "
                             "this folder and compare (default: no re-encoding)")
    verify.add_argument("--samples", type=positive_int, default=200,
                        help="images to re-encode with --keyword-dir (default: %(default)s)")

    stats = commands.add_parser("stats", help="figures of an output set",
                                description="Images, rows, vocabulary, keywords per image, "
                                "most frequent words, share of the vocabulary never used.")
    stats.add_argument("path", metavar="PATH", help="rows file")
    stats.add_argument("--plot", metavar="FILE.png", default=None,
                       help="also write a PNG: keywords-per-image histogram and word-frequency "
                            "rank plot (needs the plot extra: pip install amc-keywords[plot])")
    stats.add_argument("--json", action="store_true", help="print the figures as JSON")
    stats.add_argument("--top", type=positive_int, default=20,
                       help="how many most frequent words to list (default: %(default)s)")

    compare = commands.add_parser(
        "compare", help="whether two runs produced the same dataset",
        description="Compare two run manifests: 'same dataset' (exit 0), or the inputs, "
        "options, versions and outputs that differ, one line each (exit 1).")
    compare.add_argument("manifests", nargs=2, metavar="MANIFEST", help="manifest files")

    export = commands.add_parser(
        "export", help="write an output set as Parquet (one row per image)",
        description="Write one row per listed image: img_id (int64), name (string), word_ids "
        "(list<int32>) and, with --words, keywords (list<string>); the vocabulary goes in the "
        "file's metadata. Needs the parquet extra: pip install 'amc-keywords[parquet]'.")
    export.add_argument("path", metavar="ROWS_FILE", help="rows file (its range table, names "
                        "and vocabulary are found beside it)")
    export.add_argument("output", metavar="OUTPUT_FILE", help="the file to write")
    export.add_argument("--format", choices=("parquet",), default="parquet",
                        help="output format (default: %(default)s)")
    export.add_argument("--words", action="store_true",
                        help="also write each image's keywords as words")

    show = commands.add_parser("show", help="an image's keywords as words",
                               description="Print one image's keywords (and its name).")
    show.add_argument("path", metavar="PATH", help="rows file")
    show.add_argument("img_id", type=int, metavar="IMG_ID", help="image id")
    return parser


def command(argv):
    """Run one ``amc-keywords`` command (``argv`` without the program name)."""
    args = build_parser().parse_args(argv)
    if args.command in DATASET_FOLDERS:
        return run_dataset(args.command, args)
    configure_cli()
    from . import stats, verify
    if args.command in ("verify", "compare"):
        from . import manifest
    if args.command == "verify":
        if not args.paths and not args.manifest:
            raise InputError("verify: give rows files, --manifest MANIFEST, or both")
        return verify_all(args, verify, manifest)
    elif args.command == "compare":
        differences = manifest.compare_manifests(*args.manifests)
        print("\n".join(differences) if differences else "same dataset")
        return 1 if differences else 0
    elif args.command == "stats":
        keywords = stats.open_rows_file(args.path)
        figures = stats.statistics(keywords, args.top)
        if args.json:
            print(json.dumps(figures.figures, indent=1, ensure_ascii=False))
        else:
            print(stats.format_statistics(figures))
        if args.plot:
            stats.plot(figures, stats.plot_title(args.path, keywords), args.plot)
            print(f"wrote {args.plot}", file=sys.stderr if args.json else sys.stdout)
    elif args.command == "export":
        from .export import export_parquet
        images = export_parquet(args.path, args.output, args.words)
        print(f"wrote {args.output}: {images} images")
    else:
        print(stats.show(args.path, args.img_id))


def verify_all(args, verify, manifest):
    """``verify``: check every path (and the manifest) and say ``ok`` or what is wrong for
    each; the exit status is the worst one."""
    worst = SUCCESS
    for path in args.paths:
        try:
            print(verify.verify(path, args.keyword_dir, args.samples))
        except InputError as exc:
            print(f"error: {exc}", file=sys.stderr)
            worst = max(worst, exc.exit_status)
    if args.manifest:
        try:
            problems = manifest.verify_manifest(args.manifest)
        except InputError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return max(worst, exc.exit_status)
        for line in problems:
            print(line)
        if problems:
            return max(worst, DIFFERENCE)
        print(f"ok: {args.manifest}: every output has the SHA-256 it records")
    return worst


def main(argv=None):
    """The ``amc-keywords`` console script."""
    argv = sys.argv[1:] if argv is None else list(argv)
    quiet_interrupt_during_startup()
    if next((a for a in argv if not a.startswith("-")), None) in DATASET_FOLDERS:
        workers.start_early()  # before the heavy imports, as the scripts do
        import_module(".api", __package__)  # numpy and the rest, while Ctrl-C is quiet
    return run_cli(command, argv)
