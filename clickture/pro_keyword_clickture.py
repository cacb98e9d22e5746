"""Encode the Clickture keyword datasets as rows ``[img_id, word_id]`` (AMC, CVPR 2017).

Inputs (defaults; see --help):
    ../keyword/keywords_dev.zip, ../keyword/keywords_lite.zip   (or their unzipped folders)
    clickture-dev.lst, clickture-lite.lst    entries in output order (missing or a Git LFS
                                             pointer: the map's or the archive's images by id)
    img_id_map_dev.pkl, img_id_map.pkl       {image name: id}, optional

Writes, in this folder (or --out-dir), with 6 = --min-df:
    vocabulary_clickture_sk_6.json                    words by id and how they were fitted
    img_keyword_ind_clickture_lite_sk_6_sparse.npy    int64 N x 2, rows [img_id, word_id]
    img_keyword_ind_clickture_dev_sk_6_sparse.npy     int64 N x 2, rows [img_id, word_id]
    img_keyword_range_clickture_{lite,dev}_sk_6.npy   int64 (max id + 1) x 2, [first, last] row
    img_names_clickture_{lite,dev}.npy                image name of each id (UTF-8 bytes)

The vocabulary is fitted on the dev set only (--vocab-from), as in the original: the authors
evaluate on dev and discard words seen only in Lite.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from amc_keywords.errors import quiet_interrupt_during_startup  # noqa: E402

if __name__ == "__main__":  # not when workers import this script as __mp_main__
    quiet_interrupt_during_startup()  # first: Ctrl-C from here on is one line
    from amc_keywords import workers
    workers.start_early()  # the worker server imports in parallel with the imports below
from amc_keywords import pipeline  # noqa: E402
from amc_keywords.errors import ArgumentParser, run_cli  # noqa: E402
from amc_keywords.outputs import OutputSet  # noqa: E402
from amc_keywords.sample import ORIGINAL_FILES, SAMPLE_FILES  # noqa: E402
from amc_keywords.sources import (attach_names, entries_from_map, entries_from_source,  # noqa
                                  read_id_map, read_list, strip_top)

HERE = os.path.dirname(os.path.abspath(__file__))
SETS = ("lite", "dev")
VOCAB_FROM = {"dev": ("dev",), "lite": ("lite",), "both": ("lite", "dev")}


def open_set(keyword_dir, name, list_path, map_path, extract):
    """A set's source and entries: list order, else the map's ids, else the archive's (run in
    a worker process; returns its notices rather than printing them)."""
    messages = []
    # Map and list before the archive directory: the map's memory is freed before the
    # directory's is taken.
    id_map = read_id_map(map_path)
    if id_map is None:
        messages.append(f"warning: {map_path}: missing or a Git LFS pointer; the list entries "
                        "stand in for image names")
    entries = read_list(list_path)
    if entries is not None:
        entries, id_map = attach_names(entries, id_map, map_path), None
    source = pipeline.open_keyword_source(keyword_dir, f"keywords_{name}", extract)
    if entries is None:
        fallback = "the id map" if id_map else "the keyword files"
        messages.append(f"notice: {list_path}: missing or a Git LFS pointer; using the images "
                        f"of {fallback}, ordered by id")
        entries = entries_from_map(id_map, source) if id_map else entries_from_source(source)
    return source, strip_top(entries, source.top), messages


def main(argv):
    parser = ArgumentParser(description=__doc__)
    pipeline.add_common_options(parser, HERE)
    parser.add_argument("--vocab-from", choices=sorted(VOCAB_FROM), default="dev",
                        help="images the vocabulary is fitted on (default: %(default)s, as in "
                             "the original)")
    parser.add_argument("--lists-dir", default=None,
                        help="folder holding the .lst and .pkl files (default: this script's "
                             "folder; with --sample, keyword/sample/)")
    args = parser.parse_args(argv)
    keyword_dir, side_dir, out_dir = pipeline.resolve_dirs(args, HERE, "clickture")
    side_files = SAMPLE_FILES if args.sample else ORIGINAL_FILES  # list and map names

    with OutputSet(out_dir) as outputs:
        # 1. Check the output folder; read lists, maps and archive directories in workers, in
        #    parallel; they write the names tables.
        paths = {name: [os.path.join(args.lists_dir or side_dir, f) for f in side_files[name]]
                 for name in SETS}
        with pipeline.opening(outputs, "clickture", [
                (name, open_set, keyword_dir, name, *paths[name], args.extract)
                for name in SETS], args.jobs) as opened:
            # 2. Vocabulary: CountVectorizer(min_df, stop_words) on the dev documents (while
            #    Lite is still being opened).
            vocabulary = pipeline.obtain_vocabulary(
                outputs, "clickture", args, args.vocab_from,
                [opened(name) for name in VOCAB_FROM[args.vocab_from]])
            sets = {name: opened(name) for name in SETS}
        # 3. Rows of Lite, then dev; everything is moved into place at the end.
        pipeline.run(outputs, "clickture", [("lite", sets["lite"]), ("dev", sets["dev"])],
                     vocabulary, args)


if __name__ == "__main__":
    sys.exit(run_cli(main))
