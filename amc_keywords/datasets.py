"""The two datasets, step by step: which sets each one has, how a set is opened, and the
recipe that turns its archives into outputs.

Clickture (:func:`prepare_clickture`)
    Sets ``lite`` and ``dev``, each a keyword archive (``keywords_<set>.zip``), a list file
    giving the images in output order and an id map giving their names. The vocabulary is
    fitted on dev only (``vocab_from``), as in the original: the authors evaluate on dev and
    discard words seen only in Lite.
COCO (:func:`prepare_coco`)
    One set: the images of ``dataset.json`` (inside ``keywords_coco.zip``) whose split is in
    ``splits``, in file order; img_id is their ``imgid``. The vocabulary is fitted on the same
    images.

Both write, in ``out_dir``, the files of :mod:`amc_keywords.writing`, all moved into place
together at the end, and print a summary.
"""
import hashlib
import os

from . import pipeline
from .errors import InputError
from .filenames import ORIGINAL_FILES, archive_name
from .idmap import read_id_map
from .lists import (attach_names, entries_from_map, entries_from_source, read_coco_images,
                    read_list, strip_top)
from .manifest import file_input
from .sources import open_source
from .writing import OutputSet

CLICKTURE_SETS = ("lite", "dev")  # in the order they are encoded
VOCAB_FROM = {"dev": ("dev",), "lite": ("lite",), "both": ("lite", "dev")}


def prepare_clickture(keyword_dir, lists_dir, out_dir, min_df=6, stop_words="english",
                      vocab_from="dev", refit=False, extract=False, jobs=1, quiet=False,
                      side_files=ORIGINAL_FILES, force=False, strict_fingerprint=False,
                      original_layout=False):
    """Encode Clickture-Lite and Clickture-dev; return the summary figures of each set.

    Parameters
    ----------
    keyword_dir : str
        Folder holding ``keywords_dev.zip`` and ``keywords_lite.zip`` (or their unzipped
        folders, used when present).
    lists_dir : str
        Folder holding the list and map files named in ``side_files``.
    out_dir : str
        Folder for the outputs (made if missing).
    min_df : int, default=6
        Keep words found in at least this many images (the ``6`` of the output names).
    stop_words : {"english", "none"}, default="english"
    vocab_from : {"dev", "lite", "both"}, default="dev"
        Images the vocabulary is fitted on.
    refit : bool, default=False
        Fit the vocabulary even when a matching vocabulary file exists.
    extract : bool, default=False
        Unpack each archive next to itself first, and read the files from there.
    jobs : int, default=1
        Worker processes; the outputs are the same for any value.
    quiet : bool, default=False
        No progress bars.
    side_files : dict, default=ORIGINAL_FILES
        ``{set: (list file name, map file name)}``.
    force : bool, default=False
        Run even when the manifest shows the outputs up to date (``refit`` implies it).
    strict_fingerprint : bool, default=False
        Fingerprint an unzipped folder's files by content too (a CRC-32 each), not only by
        name, size and modification time.
    original_layout : bool, default=False
        Write the original scripts' files instead of the default set: the rows as
        ``img_keyword_rec_*.npy``, their range table (quirks included) under the README's
        names, and the pickled CountVectorizer (see :mod:`amc_keywords.filenames`).

    Returns the summary figures of each set, or None when the outputs were up to date.
    """
    _check_folder(keyword_dir, "--keyword-dir", "the downloaded keywords_*.zip archives")
    _check_folder(lists_dir, "--lists-dir", "the .lst and .pkl files")
    options = {"min_df": min_df, "stop_words": stop_words, "vocab_from": vocab_from,
               "strict_fingerprint": strict_fingerprint, "original_layout": original_layout,
               "side_files": {name: list(files) for name, files in side_files.items()}}
    # 0. Nothing to do when the manifest shows the same options and inputs, outputs untouched.
    inputs = {}
    for name in CLICKTURE_SETS:
        list_path, map_path = (os.path.join(lists_dir, f) for f in side_files[name])
        inputs.update({f"{name} keywords": _source(keyword_dir, "clickture", name, extract),
                       f"{name} list": (list_path, "list"), f"{name} map": (map_path, "map")})
    def open_set(role):  # a set whose folder the up-to-date check fingerprints
        name = role.split()[0]
        return open_clickture_set(keyword_dir, name, *(os.path.join(lists_dir, f)
                                                       for f in side_files[name]), False)
    if not (force or refit) and pipeline.up_to_date(out_dir, "clickture", min_df, options,
                                                    inputs, open_set, strict_fingerprint):
        return None
    with OutputSet(out_dir) as outputs:
        # 1. Read lists, maps and archive directories, in workers and in parallel; they write
        #    each set's plan and names table.
        openers = [(name, open_clickture_set, keyword_dir, name,
                    *(os.path.join(lists_dir, f) for f in side_files[name]), extract)
                   for name in CLICKTURE_SETS]
        with pipeline.opening(outputs, "clickture", openers, jobs, strict_fingerprint,
                              not original_layout) as opened:
            # 2. Vocabulary: CountVectorizer(min_df, stop_words) on the dev documents, while
            #    Lite is still being opened.
            vocabulary = pipeline.obtain_vocabulary(
                outputs, "clickture", [opened(name) for name in VOCAB_FROM[vocab_from]],
                vocab_from, min_df, stop_words, refit, jobs, quiet, not original_layout)
            sets = {name: opened(name) for name in CLICKTURE_SETS}
        # 3. Rows of Lite, then dev: [img_id, word_id] for each in-vocabulary token.
        summaries = [pipeline.encode_set(outputs, "clickture", name, sets[name], vocabulary,
                                         jobs, quiet, original_layout)
                     for name in CLICKTURE_SETS]
        # 4. The manifest; everything moved into place together; the figures to check.
        pipeline.finish(outputs, "clickture", sets.values(), options, summaries, vocabulary,
                        original_layout)
    return summaries


def prepare_coco(keyword_dir, out_dir, splits=("train", "test"), min_df=6,
                 stop_words="english", refit=False, extract=False, jobs=1, quiet=False,
                 force=False, strict_fingerprint=False, original_layout=False):
    """Encode the COCO images of ``splits``; return the summary figures.

    ``splits`` are splits of ``dataset.json`` (``train``, ``restval``, ``val``, ``test``);
    ``keyword_dir`` holds ``keywords_coco.zip`` (or its unzipped folder); the other
    parameters are those of :func:`prepare_clickture`.
    """
    _check_folder(keyword_dir, "--keyword-dir", "the downloaded keywords_coco.zip archive")
    options = {"min_df": min_df, "stop_words": stop_words, "splits": list(splits),
               "strict_fingerprint": strict_fingerprint, "original_layout": original_layout}
    # 0. Nothing to do when the manifest shows the same options and inputs, outputs untouched.
    inputs = {"coco keywords": _source(keyword_dir, "coco", None, extract)}
    if inputs["coco keywords"][1] == "folder":
        inputs["coco dataset.json"] = (os.path.join(inputs["coco keywords"][0],
                                                    "dataset.json"), "file")
    if not (force or refit) and pipeline.up_to_date(
            out_dir, "coco", min_df, options, inputs,
            lambda role: open_coco_set(keyword_dir, splits, False), strict_fingerprint):
        return None
    with OutputSet(out_dir) as outputs:
        # 1. Read dataset.json and the archive directory (in a worker: dataset.json is large).
        openers = [(None, open_coco_set, keyword_dir, splits, extract)]
        with pipeline.opening(outputs, "coco", openers, jobs, strict_fingerprint,
                              not original_layout) as opened:
            coco = opened(None)
        # 2. Vocabulary: CountVectorizer(min_df, stop_words) on the same images.
        vocabulary = pipeline.obtain_vocabulary(outputs, "coco", [coco], ",".join(splits),
                                                min_df, stop_words, refit, jobs, quiet,
                                                not original_layout)
        # 3. Rows in dataset.json order.
        summaries = [pipeline.encode_set(outputs, "coco", None, coco, vocabulary, jobs, quiet,
                                         original_layout)]
        # 4. The manifest; everything moved into place together; the figures to check.
        pipeline.finish(outputs, "coco", [coco], options, summaries, vocabulary,
                        original_layout)
    return summaries


def open_clickture_set(keyword_dir, name, list_path, map_path, extract):
    """A Clickture set's source and entries: list order, else the map's ids, else the
    archive's (run in a worker process; returns its notices rather than printing them)."""
    messages = []
    # Map and list before the archive directory: the map's memory is freed before the
    # directory's is taken.
    inputs = {f"{name} list": file_input(list_path, "list"),
              f"{name} map": file_input(map_path, "map")}
    id_map = read_id_map(map_path)
    if id_map is None:
        messages.append(f"warning: {map_path}: missing or a Git LFS pointer; the list entries "
                        "stand in for image names")
    entries = read_list(list_path)
    if entries is not None:
        entries, id_map = attach_names(entries, id_map, map_path), None
    source = open_source(keyword_dir, archive_name("clickture", name), extract)
    if entries is None:
        fallback = "the id map" if id_map else "the keyword files"
        messages.append(f"notice: {list_path}: missing or a Git LFS pointer; using the images "
                        f"of {fallback}, ordered by id")
        entries = entries_from_map(id_map, source) if id_map else entries_from_source(source)
    inputs[f"{name} list"]["images"] = inputs[f"{name} map"]["images"] = len(entries)
    return source, strip_top(entries, source.top), messages, inputs


def open_coco_set(keyword_dir, splits, extract):
    """The keyword source and the images of ``splits`` in dataset.json order (run in a worker
    process: dataset.json is large, and the worker takes its memory along)."""
    source = open_source(keyword_dir, archive_name("coco", None), extract)
    raw = source.read(b"dataset")
    where = f"{source.path}: {source.display(b'dataset')}"
    if raw is None:
        raise InputError(f"{where}: not found; keywords_coco.zip holds dataset.json beside "
                         "the keyword_<split>/ folders")
    entries = read_coco_images(raw, where, splits)
    if source.kind == "folder":  # a file of its own, fingerprinted as one
        inputs = {"coco dataset.json": file_input(source.display(b"dataset"), "file")}
    else:  # a member: the archive's fingerprint covers its CRC-32 and size; recorded too
        inputs = {"coco dataset.json": {"path": f"{source.path}/{source.display(b'dataset')}",
                                        "kind": "member",
                                        "fingerprint": hashlib.sha256(raw).hexdigest()}}
    inputs["coco dataset.json"]["images"] = len(entries)
    return source, entries, [], inputs


def _source(keyword_dir, dataset, subset, extract):
    """``(path, kind)`` of the keyword source a run will read (see sources.open_source)."""
    folder = os.path.join(keyword_dir, archive_name(dataset, subset))
    # Not yet extracted: the run extracts it first, and the manifest has it as a zip (or a
    # folder that is gone): not up to date either way.
    if os.path.isdir(folder):
        return folder, "folder"
    return folder + ".zip", "zip"


def _check_folder(folder, option, holding):
    if not os.path.isdir(folder):
        raise InputError(f"{folder}: no such folder; it should hold {holding}: create it, or "
                         f"give {option}")

