"""The command line: ``amc-keywords`` (also ``python -m amc_keywords``) and the two dataset
scripts.

Input:  the command line: a dataset command (one per dataset), ``verify``, ``compare``,
``stats``, ``show``, ``export`` or ``vectors`` (:func:`build_parser`; docs/cli.md).
Output: the command's work and its exit status (:data:`EXIT_STATUSES`, the same for every
command and both scripts); an error is one line on stderr (``error: <where>: <what is
wrong>``); Ctrl-C is ``interrupted: earlier outputs are unchanged`` (SIGTERM ``terminated:
...``, SIGHUP ``hung up: ...``; exit status 128 + the signal's number). ``--debug``
anywhere on the command line shows the traceback instead.

The default folders (a script's clone's, else the current folder's):
docs/cli.md#default-folders.
"""
import argparse
import json
import os
import sys
from importlib import import_module

from . import log, stop_signals, workers
from .datasets import DATASETS
from .errors import DIFFERENCE, SUCCESS, SYSTEM, InputError, error_for
from .log import configure_cli
from .run_options import add_dataset_options, positive_int, run_dataset
from .vector_command import add_vectors_command, run_vectors
from .version import __version__

EXIT_STATUSES = """exit status: 0 success; 1 a check found a difference (verify, compare); 2 bad
input or usage; 3 the system (disk full, permission denied, a worker killed, out of memory);
130 interrupted (Ctrl-C), 143 terminated (SIGTERM), 129 hung up (SIGHUP)"""

# The top-level --help, for users (the module docstring above is for developers).
DESCRIPTION = """Turn the AMC keyword archives (Microsoft Clickture, MSCOCO; Flickr30k and Flickr8k
in the same layout as MSCOCO's) into [img_id, word_id] rows that training code loads with numpy."""
EPILOG = """Start here: amc-keywords clickture --sample  (runs on the small sample shipped inside
the package, and says where it wrote). 'amc-keywords COMMAND --help' gives a command's options.
Documentation: README.md and docs/ in the project's repository (docs/cli.md: every command)."""


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
    """Ctrl-C, SIGTERM or SIGHUP while the heavy libraries import: the one-line message, not a
    traceback (nothing is written yet). :func:`run_cli` installs the run's handler once the
    command starts."""
    def handler(signum, frame):
        print(stop_signals.line(signum), file=sys.stderr)
        os._exit(stop_signals.exit_status(signum))
    stop_signals.install(handler)


def run_cli(main, argv=None):
    """Run ``main(argv)`` and turn errors into one line on stderr and an exit status.

    Ctrl-C, SIGTERM and SIGHUP raise :class:`~amc_keywords.stop_signals.Stopped` in the main
    process: every clean-up runs (temporaries and run records removed, workers ended), then
    one line and ``128 + the signal's number``. A second signal meanwhile is only noted; one
    after the command is done, ignored."""
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    stop_signals.install(stop_signals.stop)
    log.guard_stdout()
    try:
        status = report_errors(main, [a for a in argv if a != "--debug"], debug)
        stop_signals.ignore_until_exit()  # the interpreter's exit is not cut short
        return status if status != SUCCESS else stdout_written()
    except KeyboardInterrupt as exc:  # one that came as the command ended
        stop_signals.ignore_until_exit()
        if debug:
            raise
        return exit_status_of(exc)


def stdout_written():
    """0 when all the command meant for stdout was written; else one line and 3 (stdout on a
    full device, or closed): what it would have shown is lost, though its files are written.
    """
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except BrokenPipeError:  # the reader went away (``| head``): as for any command
        return SYSTEM
    if not log.stdout_lost:
        return SUCCESS
    print(f"error: standard output cannot be written ({log.stdout_lost[0]}): what the "
          "command printed there is lost (the files it wrote are complete)", file=sys.stderr)
    return SYSTEM


def report_errors(main, argv, debug=False):
    """``main(argv)``'s exit status; its errors as one line on stderr (with ``debug``: raised)."""
    try:
        return main(argv) or SUCCESS
    except BaseException as exc:
        if debug and not isinstance(exc, BrokenPipeError):
            raise
        status = exit_status_of(exc)
        if status is None:
            raise
        return status


def exit_status_of(exc):
    """Print the one line that ``exc`` stands for and return its exit status; None for a bug
    (let its traceback show). Once a stop signal came, whatever surfaces is its consequence
    (a Ctrl-C inside a C extension's import can surface as an ImportError, a worker ended by
    a SIGTERM sent to the process group as a dead worker): the signal is reported."""
    if stop_signals.received or isinstance(exc, KeyboardInterrupt):
        signum = (stop_signals.received[0] if stop_signals.received else
                  stop_signals.signal_of(exc))
        print(stop_signals.line(signum), file=sys.stderr)
        return stop_signals.exit_status(signum)
    if isinstance(exc, InputError):
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_status
    if isinstance(exc, BrokenPipeError):  # the reader of our output went away (``| head``)
        return SYSTEM
    if isinstance(exc, OSError):  # a file we cannot read or write: one line, not a traceback
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return error_for(exc).exit_status
    if isinstance(exc, MemoryError):
        print("error: out of memory", file=sys.stderr)
        return SYSTEM
    return None


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
    parser = ArgumentParser(prog="amc-keywords", description=DESCRIPTION,
                            epilog=f"{EPILOG}\n\n{EXIT_STATUSES}")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show a traceback instead of a one-line error")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=ArgumentParser,
                                     # wide enough that each command's help stays on its line
                                     title="commands", metavar="COMMAND [options]")
    base = os.curdir
    for dataset in DATASETS.values():
        what = dataset.title
        sub = commands.add_parser(dataset.name, help=f"encode {what} keywords",
                                  description=f"Encode {what} keywords as rows [img_id, "
                                  "word_id]; the formats are in docs/formats.md.")
        add_dataset_options(sub, dataset.name, base)

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
    add_vectors_command(commands)
    return parser


def command(argv):
    """Run one ``amc-keywords`` command (``argv`` without the program name)."""
    args = build_parser().parse_args(argv)
    if args.command in DATASETS:
        return run_dataset(args.command, args)
    configure_cli()
    if args.command == "vectors":
        print(run_vectors(args))
        return None
    from . import stats
    if args.command == "verify":
        return verify_all(args)
    elif args.command == "compare":
        from .manifest import compare_manifests
        differences = compare_manifests(*args.manifests)
        print("\n".join(differences) if differences else "same dataset")
        return 1 if differences else 0
    elif args.command == "stats":
        if args.plot:
            stats.pyplot()
        figures = stats.statistics(stats.open_rows_file(args.path), args.top)
        if args.json:
            print(json.dumps(figures.figures, indent=1, ensure_ascii=False))
        else:
            print(stats.format_statistics(figures))
        if args.plot:
            stats.plot(figures, args.plot)
            print(f"wrote {args.plot}", file=sys.stderr if args.json else sys.stdout)
    elif args.command == "export":
        from .export import export_parquet
        images = export_parquet(args.path, args.output, with_words=args.words)
        print(f"wrote {args.output}: {images} images")
    else:
        print(stats.show(args.path, args.img_id))


def verify_all(args):
    """``verify``: check every path (and the manifest) and say ``ok`` or what is wrong for
    each; the exit status is the worst one."""
    from . import manifest, verify
    if not args.paths and not args.manifest:
        raise InputError("verify: give rows files, --manifest MANIFEST, or both")
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
    if next((a for a in argv if not a.startswith("-")), None) in DATASETS:
        workers.start_early()  # before the heavy imports, as the scripts do
        import_module(".api", __package__)  # numpy and the rest, while Ctrl-C is quiet
    return run_cli(command, argv)
