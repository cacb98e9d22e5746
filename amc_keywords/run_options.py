"""The options of the dataset commands (one per dataset of :mod:`amc_keywords.datasets`, and
the two scripts), and how they become one call of the Python API.

Input
    An argparse parser to fill (:func:`add_dataset_options`), then the parsed options.
Output
    :func:`run_dataset`: the run, through :func:`amc_keywords.prepare`, after the command
    line's logging is set up;
    ``--sample`` runs on the synthetic sample shipped in the package, writing into a private
    folder under the system's temporary directory (the package itself is never written).
"""
import argparse
import os
import re
import stat

from . import workers
from .datasets import dataset as dataset_named
from .errors import InputError
from .log import configure_cli
from .sample import sample_folder


def positive_int(text):
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


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
        original, copy = os.path.join(shipped, name), os.path.join(folder, name)
        if not os.path.isfile(original):
            continue
        if not (os.path.isfile(copy) and filecmp.cmp(original, copy, shallow=False)):
            shutil.copyfile(original, copy)
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
    """The options of the command of ``dataset`` (a name); default folders under ``base``
    (the clone for the scripts, the current folder for ``amc-keywords``)."""
    from .analyzer import STOP_WORDS
    description = dataset_named(dataset)
    out_default = os.path.join(base, description.out_folder)
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
                             "its quirks) under the original README's names, the rows as "
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
    description.add_options(parser, out_default)
    parser.set_defaults(out_default=out_default)


# Library messages name a run's settings as the API's parameters (``out_dir=``, ``refit=True``);
# a dataset command shows its own options instead (and the vectors command its own).
SETTING = re.compile(r"\b(keyword_dir|lists_dir|out_dir|min_df|jobs|refit|force|wait|extract|"
                     r"vocab_from|splits|sets|strict_fingerprint|member|same_dim_as|seed)="
                     r"(True|False|[^\s,;:)]*)")


def in_option_terms(message):
    """``message`` with each ``name=value`` of a run setting written as the option."""
    def option(match):
        name, value = match.group(1), match.group(2)
        flag = "--" + name.replace("_", "-")
        if value == "True":
            return flag
        if value == "False":
            return f"--no-{name}"  # wait=False
        return f"{flag} {value}" if value else flag
    return SETTING.sub(option, message)


def run_dataset(dataset, args):
    """Run the command of ``dataset`` (a name) with parsed options, through the Python API."""
    import tempfile

    from . import api
    configure_cli(quiet=args.quiet, verbose=args.verbose)
    keyword_dir, out_dir = args.keyword_dir, args.out_dir or args.out_default
    sample = None
    if args.sample:
        private = private_folder(os.path.join(tempfile.gettempdir(),
                                              f"amc-keywords-sample-{os.getuid()}"))
        # The package's own folder is never written: unpacked, the sample is a copy's.
        keyword_dir = sample = sample_copy(private) if args.extract else sample_folder()
        out_dir = args.out_dir or os.path.join(private, dataset)
    common = dict(keyword_dir=keyword_dir, out_dir=out_dir, min_df=args.min_df,
                  stop_words=args.stop_words, refit=args.refit, extract=args.extract,
                  jobs=args.jobs, progress=False if args.quiet else None, force=args.force,
                  wait=not args.no_wait,
                  strict_fingerprint=args.strict_fingerprint,
                  layout="original" if args.original_layout else "default")
    try:
        api.prepare(dataset, **common, **dataset_named(dataset).options_from(args, sample))
    except InputError as exc:
        exc.args = (in_option_terms(str(exc)),)
        raise
