"""Encode the MSCOCO keyword dataset as rows ``[img_id, word_id]`` (AMC, CVPR 2017).

Inputs (defaults; see --help):
    ../keyword/keywords_coco.zip (or its unzipped folder) holding
        dataset.json                         Karpathy split file: images with split, filename,
                                             imgid
        keyword_<split>/<filename stem>.json keywords of each image

Writes, in this folder (or --out-dir), with 6 = --min-df:
    vocabulary_coco_sk_6.json       words by id and how they were fitted
    img_keyword_ind_coco_sk_6.npy   int64 N x 2, rows [img_id, word_id], images in file order
    img_keyword_range_coco_sk_6.npy int64 (max imgid + 1) x 2, [first, last] row of each image
    img_names_coco.npy              COCO file name of each imgid (UTF-8 bytes)

Images are those of dataset.json whose split is in --splits (train and test, as in the
original); img_id is their "imgid"; the vocabulary is fitted on the same images.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from amc_keywords.errors import quiet_interrupt_during_startup  # noqa: E402

if __name__ == "__main__":  # not when workers import this script as __mp_main__
    quiet_interrupt_during_startup()  # first: Ctrl-C from here on is one line
    from amc_keywords import workers
    workers.start_early()  # the worker server imports in parallel with the imports below
from amc_keywords import pipeline  # noqa: E402
from amc_keywords.errors import ArgumentParser, InputError, run_cli  # noqa: E402
from amc_keywords.outputs import OutputSet  # noqa: E402
from amc_keywords.sources import COCO_SPLITS, read_coco_images  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def splits_option(text):
    """argparse type: comma-separated COCO splits."""
    splits = tuple(s.strip() for s in text.split(",") if s.strip())
    unknown = [s for s in splits if s not in COCO_SPLITS]
    if unknown or not splits:
        raise argparse.ArgumentTypeError(f"unknown split {', '.join(unknown) or text!r}; "
                                         f"expected some of {','.join(COCO_SPLITS)}")
    return splits


def open_coco(keyword_dir, extract, splits):
    """The keyword source and the images of ``splits`` in dataset.json order (run in a worker
    process: dataset.json is large, and the worker takes its memory along)."""
    source = pipeline.open_keyword_source(keyword_dir, "keywords_coco", extract)
    raw = source.read(b"dataset")
    where = f"{source.path}: {source.display(b'dataset')}"
    if raw is None:
        raise InputError(f"{where}: not found; keywords_coco.zip holds dataset.json beside "
                         "the keyword_<split>/ folders")
    return source, read_coco_images(raw, where, splits), []


def main(argv):
    parser = ArgumentParser(description=__doc__)
    pipeline.add_common_options(parser, HERE)
    parser.add_argument("--splits", type=splits_option, default=("train", "test"),
                        help="comma-separated splits of dataset.json to encode "
                             "(default: train,test)")
    args = parser.parse_args(argv)
    keyword_dir, _, out_dir = pipeline.resolve_dirs(args, HERE, "coco")

    # 1. Check the output folder, read dataset.json and the archive directory: fail fast.
    with OutputSet(out_dir) as outputs:
        with pipeline.opening(outputs, "coco", [
                (None, open_coco, keyword_dir, args.extract, args.splits)], args.jobs) as opened:
            coco = opened(None)
        # 2. Vocabulary: CountVectorizer(min_df, stop_words) on the same images.
        vocabulary = pipeline.obtain_vocabulary(outputs, "coco", args, ",".join(args.splits),
                                                [coco])
        # 3. Rows in dataset.json order; everything is moved into place at the end.
        pipeline.run(outputs, "coco", [(None, coco)], vocabulary, args)


if __name__ == "__main__":
    sys.exit(run_cli(main))
