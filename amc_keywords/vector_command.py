"""The ``vectors`` command: its options (made into a
:class:`~amc_keywords.settings.VectorOptions`, which the Python API takes too), and its one
call of :func:`~amc_keywords.vectors.align_vectors`.

Input
    ``amc-keywords vectors VOCABULARY_OR_ROWS VECTORS_FILE [options]`` (the parsed options).
Output
    The matrix and its sidecar written (:mod:`amc_keywords.vectors`), and the report's text,
    which the command line prints.
"""
import argparse

from .errors import InputError
from .run_options import in_option_terms
from .settings import MISSING_POLICIES, VectorOptions


def add_vectors_command(commands: "argparse._SubParsersAction[argparse.ArgumentParser]"
                        ) -> None:
    """The ``vectors`` subcommand and its options."""
    sub = commands.add_parser(
        "vectors", help="pretrained word vectors aligned to the word ids",
        description="Write the (V + 1) x d float32 matrix whose row i is word id i's vector in\n"
        "a word2vec (binary or text), fastText or GloVe file (plain, .gz, .bz2, .xz or in a\n"
        ".zip; the format is found from the content), row V zero (the padding index), and a\n"
        "JSON sidecar; print what was found. docs/cli.md says more, docs/formats.md\n"
        "describes both files.")
    sub.add_argument("vocabulary", metavar="VOCABULARY_OR_ROWS",
                     help="a vocabulary file, or a rows file (its vocabulary beside it; its "
                          "rows weigh the coverage)")
    sub.add_argument("vectors_file", metavar="VECTORS_FILE", help="the word-vector file")
    sub.add_argument("-o", "--output", default=None, metavar="PATH.npy",
                     help="where to write the matrix (default: beside the vocabulary, "
                          "vectors_<dataset>_sk_<k>_<vectors file's name>.npy); the sidecar "
                          "goes beside it as .json")
    sub.add_argument("--member", default=None,
                     help="the file to read inside a zip that holds several")
    sub.add_argument("--exact", action="store_true",
                     help="match words exactly (default: a word not found as it is takes "
                          "the first case variant in the file, e.g. 'Paris' for 'paris')")
    sub.add_argument("--missing", choices=MISSING_POLICIES, default="zero",
                     help="the vector of a word the file lacks: zeros, or random draws with "
                          "the found vectors' mean and deviation (default: %(default)s)")
    sub.add_argument("--seed", type=seed_option, default=0,
                     help="the seed of --missing random (default: %(default)s)")
    sub.add_argument("--same-dim-as", default=None, metavar="MATRIX.npy",
                     help="refuse vectors whose dimension differs from this matrix's, "
                          "aligned earlier")
    progress = sub.add_mutually_exclusive_group()
    progress.add_argument("--progress", dest="progress", action="store_true", default=None,
                          help="show a progress bar (default: when stderr is a terminal)")
    progress.add_argument("--no-progress", dest="progress", action="store_false")


def seed_option(text: str) -> int:
    """``--seed``: an integer 0 or more (numpy's generators take no negative seed)."""
    try:
        seed = int(text)
    except ValueError:
        seed = -1
    if seed < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected an integer 0 or more")
    return seed


def run_vectors(args: argparse.Namespace) -> str:
    """Align, write, and return the report's text with the files written."""
    from .vectors import align_vectors  # numpy: once the command runs
    options = VectorOptions(member=args.member, exact=args.exact, missing=args.missing,
                            seed=args.seed, same_dim_as=args.same_dim_as,
                            progress=args.progress)
    try:
        aligned = align_vectors(args.vocabulary, args.vectors_file, options)
        matrix, sidecar = aligned.write(args.output)
    except InputError as exc:  # named as the options, not the API's parameters
        exc.args = (in_option_terms(str(exc)),)
        raise
    rows, dim = aligned.matrix.shape
    return (f"{aligned.report.text()}\nwrote {matrix} ({rows:,} x {dim} float32, missing "
            f"words: {options.missing}) and {sidecar}")
