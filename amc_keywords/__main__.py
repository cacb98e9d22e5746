"""Command line for output sets: ``python -m amc_keywords <command>``.

    verify PATH... [--keyword-dir DIR]   check output sets; exit 0 with a one-line summary each
    stats PATH [--plot FILE.png] [--json] figures a user checks before training
    show PATH IMG_ID                     an image's keywords as words (and its name)

PATH is a rows file, e.g. ``clickture/img_keyword_ind_clickture_dev_sk_6_sparse.npy``.
"""
import json
import sys

from amc_keywords.errors import ArgumentParser, quiet_interrupt_during_startup, run_cli

quiet_interrupt_during_startup()

from amc_keywords import report  # noqa: E402
from amc_keywords.errors import InputError  # noqa: E402
from amc_keywords.outputs import parse_rows_name  # noqa: E402


def main(argv):
    parser = ArgumentParser(prog="python -m amc_keywords", description=__doc__)
    parser.add_argument("--debug", action="store_true",
                        help="show a traceback instead of a one-line error")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=ArgumentParser)

    verify = commands.add_parser("verify", help="check output sets for consistency",
                                 description="Check output sets: dtype and shape, word ids "
                                 "within the vocabulary, image ids within the listed ids, range "
                                 "table against the rows, vocabulary min_df against the name.")
    verify.add_argument("paths", nargs="+", metavar="PATH", help="rows files to check")
    verify.add_argument("--keyword-dir", default=None,
                        help="also re-encode a random sample of images from the archives in "
                             "this folder and compare (default: no re-encoding)")
    verify.add_argument("--samples", type=int, default=200,
                        help="images to re-encode with --keyword-dir (default: %(default)s)")

    stats = commands.add_parser("stats", help="figures of an output set",
                                description="Images, rows, vocabulary, keywords per image, "
                                "most frequent words, share of the vocabulary never used.")
    stats.add_argument("path", metavar="PATH", help="rows file")
    stats.add_argument("--plot", metavar="FILE.png", default=None,
                       help="also write a PNG: keywords-per-image histogram and word-frequency "
                            "rank plot (needs matplotlib)")
    stats.add_argument("--json", action="store_true", help="print the figures as JSON")
    stats.add_argument("--top", type=int, default=20,
                       help="how many most frequent words to list (default: %(default)s)")

    show = commands.add_parser("show", help="an image's keywords as words",
                               description="Print one image's keywords (and its name).")
    show.add_argument("path", metavar="PATH", help="rows file")
    show.add_argument("img_id", type=int, metavar="IMG_ID", help="image id")

    args = parser.parse_args(argv)
    if args.command == "verify":
        for path in args.paths:
            print(report.verify(path, args.keyword_dir, args.samples))
    elif args.command == "stats":
        keywords = report.load(args.path)
        figures = report.statistics(keywords, args.top)
        if args.json:
            print(json.dumps({k: v for k, v in figures.items() if not k.startswith("_")},
                             indent=1, ensure_ascii=False))
        else:
            print(report.format_statistics(figures))
        if args.plot:
            tag = parse_rows_name(args.path)["tag"]
            report.plot(figures, f"AMC keywords: {tag.replace('_', ' ')} "
                                 f"(min_df={keywords.min_df})", args.plot)
            print(f"wrote {args.plot}", file=sys.stderr if args.json else sys.stdout)
    else:
        keywords = report.load(args.path)
        try:
            words = keywords.words(args.img_id)
        except KeyError as exc:
            raise InputError(exc.args[0]) from None  # it names the file already
        name = keywords.image_name(args.img_id)
        label = f"{args.img_id} ({name})" if name else f"{args.img_id}"
        print(f"{label}: {', '.join(words) if words else '(no keywords)'}")


if __name__ == "__main__":
    sys.exit(run_cli(main))
