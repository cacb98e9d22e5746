"""The two datasets, each a small description, and the one recipe that runs either.

Clickture (:data:`CLICKTURE`)
    Image sets ``lite`` and ``dev``, each a keyword archive (``keywords_<set>.zip``), a list
    file giving the images in output order and an id map giving their names. The vocabulary
    is fitted on dev only (``vocab_from``), as in the original: the authors evaluate on dev
    and discard words seen only in Lite.
COCO (:data:`COCO`)
    One image set, ``coco``: the images of ``dataset.json`` (inside ``keywords_coco.zip``)
    whose split is in ``splits``, in file order; img_id is their ``imgid``. The vocabulary is
    fitted on the same images.

Input
    A :class:`~amc_keywords.settings.RunSettings`.
Output
    :func:`prepare` writes, in ``out_dir``, the files of :mod:`amc_keywords.writing`, all
    moved into place together at the end, and returns the run's :class:`PrepareResult`.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import os
from dataclasses import dataclass
from typing import Callable, Dict, Mapping, Tuple

from . import pipeline
from .errors import InputError
from .filenames import archive_name, manifest_name, original_names, output_names
from .fingerprints import InputRecord, SetInputs, file_record
from .idmap import read_id_map
from .lfs import absence
from .lists import (
    attach_names,
    entries_from_map,
    entries_from_source,
    read_coco_images,
    read_list,
    strip_top,
)
from .pipeline import OpenedSet, SetFigures
from .settings import VOCAB_FROM, RunSettings
from .sources import open_source
from .writing import OutputSet


@dataclass(frozen=True)
class PrepareResult:
    """What a run did: see :func:`amc_keywords.prepare_clickture`.

    ``outputs`` maps each output's role (``"vocabulary"``, ``"manifest"``, ``"<set> rows"``,
    ``"<set> ranges"``, ``"<set> names"``, ``"vectorizer"``) to its path; ``sets`` holds the
    figures of each image set, in encoding order; ``up_to_date`` is True when the manifest
    showed nothing to do (nothing was written then, and the figures are the manifest's).
    """
    dataset: str
    out_dir: str
    up_to_date: bool
    outputs: Mapping[str, str]
    vocabulary_size: int
    sets: Tuple[SetFigures, ...]

    def set(self, name: str) -> SetFigures:
        """The figures of the image set ``name`` (``"lite"``, ``"dev"``, ``"coco"``)."""
        for figures in self.sets:
            if figures.name == name:
                return figures
        raise KeyError(f"{name!r}: no such image set in this run (it has "
                       f"{', '.join(f.name for f in self.sets)})")


@dataclass(frozen=True)
class Dataset:
    """How a dataset differs from the other: its image sets, how each is opened, which are
    fitted on, and which input files a run reads (for the up-to-date check)."""
    name: str
    set_names: Tuple[str, ...]  # in encoding order
    fitted_on: Callable[[RunSettings], Tuple[str, ...]]
    open_set: Callable[[RunSettings, str, bool], OpenedSet]  # (settings, set name, extract)
    planned_inputs: Callable[[RunSettings], Dict[str, Tuple[str, str]]]
    folders: Callable[[RunSettings], Tuple[Tuple[str, str, str], ...]]  # path, option, holding


def prepare(dataset: Dataset, settings: RunSettings) -> PrepareResult:
    """Run ``dataset``'s recipe with ``settings``: the numbered steps below."""
    for folder, option, holding in dataset.folders(settings):
        _check_folder(folder, option, holding)
    openers = {name: functools.partial(dataset.open_set, settings, name, settings.extract)
               for name in dataset.set_names}
    # 0. Nothing to do when the manifest shows the same settings and inputs, outputs intact.
    if not (settings.force or settings.refit):
        checking = {name: functools.partial(dataset.open_set, settings, name, False)
                    for name in dataset.set_names}
        recorded = pipeline.up_to_date(settings, dataset.planned_inputs(settings), checking)
        if recorded is not None:
            return _recorded_result(settings, dataset, recorded)
    with OutputSet(settings.out_dir, settings.wait) as outputs, \
            contextlib.ExitStack() as stack:
        # 1. Read lists, maps and archive directories, in workers and in parallel; they write
        #    each set's plan and names table.
        with pipeline.opening(outputs, settings, openers) as opened:
            # 2. The vocabulary: CountVectorizer(min_df, stop_words) on the images it is
            #    fitted on, while the other sets are still being opened.
            fitted = [opened(name) for name in dataset.fitted_on(settings)]
            vocabulary = pipeline.obtain_vocabulary(outputs, settings, fitted)
            # 3. Each set's rows: [img_id, word_id] for each in-vocabulary token. A set
            #    fitted on is encoded from the tokens kept from the fit, from now on, in a
            #    thread; the others once opened, by the workers.
            meanwhile = stack.enter_context(pipeline.kept_sets_encoded_meanwhile(
                outputs, settings, fitted, vocabulary, dataset.set_names))
            sets = [opened(name) for name in dataset.set_names]
        figures = pipeline.encode_sets(outputs, settings, sets, vocabulary, meanwhile)
        # 4. The manifest; everything moved into place together.
        written = pipeline.finish(outputs, settings, sets, figures, vocabulary)
    pipeline.log_summary(figures, vocabulary, written)
    return PrepareResult(settings.dataset, settings.out_dir, False,
                         _output_roles(settings, dataset), len(vocabulary), figures)


def _output_roles(settings: RunSettings, dataset: Dataset) -> Dict[str, str]:
    """``{role: path}`` of the files a run with these settings writes."""
    folder, min_df = settings.out_dir, settings.min_df
    roles = {"manifest": manifest_name(dataset.name, min_df)}
    for name in dataset.set_names:
        if settings.layout == "original":
            files = original_names(dataset.name, name, min_df)
            files.pop("vectorizer")
        else:
            files = output_names(dataset.name, name, min_df)
            roles["vocabulary"] = files.pop("vocabulary")
        roles.update({f"{name} {role}": file for role, file in files.items()})
    if settings.layout == "original":
        fitted_on = "dev" if dataset.name == "clickture" else dataset.name
        roles["vectorizer"] = original_names(dataset.name, fitted_on, min_df)["vectorizer"]
    return {role: os.path.join(folder, file) for role, file in roles.items()}


def _recorded_result(settings: RunSettings, dataset: Dataset,
                     recorded: Mapping[str, object]) -> PrepareResult:
    """The result of a run that had nothing to do: the figures its manifest records."""
    summary = recorded.get("summary")
    figures = tuple(SetFigures(s["set"], s["images"], s["rows"], s["empty"], s["tokens"],
                               tuple(s["per_image"]))
                    for s in summary) if isinstance(summary, list) else ()
    roles = _output_roles(settings, dataset)
    vocabulary_size = 0
    if "vocabulary" in roles and os.path.exists(roles["vocabulary"]):
        from .vocabulary import Vocabulary
        vocabulary_size = len(Vocabulary.load(roles["vocabulary"]))
    return PrepareResult(settings.dataset, settings.out_dir, True, roles, vocabulary_size,
                         figures)


# --------------------------------------------------------------------------------------------
# Clickture


def open_clickture_set(settings: RunSettings, set_name: str, extract: bool) -> OpenedSet:
    """A Clickture set's source and entries: list order, else the map's ids, else the
    archive's (run in a worker process; returns its notices rather than logging them)."""
    assert settings.lists_dir is not None
    list_path, map_path = (os.path.join(settings.lists_dir, f)
                           for f in settings.side_files[set_name])
    notices = []
    # Map and list before the archive directory: the map's memory is freed before the
    # directory's is taken.
    inputs = SetInputs(set_name)
    inputs.add("list", file_record(list_path, "list"))
    inputs.add("map", file_record(map_path, "map"))
    id_map = read_id_map(map_path)
    if id_map is None:
        notices.append(f"warning: {map_path}: {absence(map_path)}; the list entries stand in "
                       "for image names")
    entries = read_list(list_path)
    if entries is not None:
        entries, id_map = attach_names(entries, id_map, map_path), None
    source = open_source(settings.keyword_dir, archive_name(set_name), extract)
    if entries is None:
        fallback = "the id map" if id_map else "the keyword files"
        notices.append(f"notice: {list_path}: {absence(list_path)}; using the images of "
                       f"{fallback}, ordered by id")
        entries = (entries_from_map(id_map, source, map_path) if id_map else
                   entries_from_source(source))
    inputs.records[f"{set_name} list"].images = len(entries)
    inputs.records[f"{set_name} map"].images = len(entries)
    return OpenedSet(source, strip_top(entries, source.top), notices, inputs)


def _clickture_inputs(settings: RunSettings) -> Dict[str, Tuple[str, str]]:
    assert settings.lists_dir is not None
    planned = {}
    for name in CLICKTURE.set_names:
        list_path, map_path = (os.path.join(settings.lists_dir, f)
                               for f in settings.side_files[name])
        planned.update({f"{name} keywords": _keyword_source(settings, name),
                        f"{name} list": (list_path, "list"), f"{name} map": (map_path, "map")})
    return planned


CLICKTURE = Dataset(
    name="clickture", set_names=("lite", "dev"),
    fitted_on=lambda settings: VOCAB_FROM[settings.vocab_from],
    open_set=open_clickture_set, planned_inputs=_clickture_inputs,
    folders=lambda s: ((s.keyword_dir, "keyword_dir=",
                        "the downloaded keywords_*.zip archives"),
                       (s.lists_dir or "", "lists_dir=", "the .lst and .pkl files")))


# --------------------------------------------------------------------------------------------
# COCO


def open_coco_set(settings: RunSettings, set_name: str, extract: bool) -> OpenedSet:
    """The keyword source and the images of ``splits`` in dataset.json order (run in a worker
    process: dataset.json is large, and the worker takes its memory along)."""
    source = open_source(settings.keyword_dir, archive_name(set_name), extract)
    raw = source.read(b"dataset")
    where = f"{source.path}: {source.display(b'dataset')}"
    if raw is None:
        raise InputError(f"{where}: not found; keywords_coco.zip holds dataset.json beside "
                         "the keyword_<split>/ folders")
    entries = read_coco_images(raw, where, settings.splits)
    inputs = SetInputs(set_name)
    if source.kind == "folder":  # a file of its own, fingerprinted as one
        record = file_record(source.display(b"dataset"), "file")
    else:  # a member: the archive's fingerprint covers its CRC-32 and size; recorded too
        record = InputRecord(f"{source.path}/{source.display(b'dataset')}", "member",
                             hashlib.sha256(raw).hexdigest())
    record.images = len(entries)
    inputs.add("dataset.json", record)
    return OpenedSet(source, entries, [], inputs)


def _coco_inputs(settings: RunSettings) -> Dict[str, Tuple[str, str]]:
    planned = {"coco keywords": _keyword_source(settings, "coco")}
    if planned["coco keywords"][1] == "folder":
        planned["coco dataset.json"] = (os.path.join(planned["coco keywords"][0],
                                                     "dataset.json"), "file")
    return planned


COCO = Dataset(
    name="coco", set_names=("coco",), fitted_on=lambda settings: ("coco",),
    open_set=open_coco_set, planned_inputs=_coco_inputs,
    folders=lambda s: ((s.keyword_dir, "keyword_dir=",
                        "the downloaded keywords_coco.zip archive"),))

DATASETS: Dict[str, Dataset] = {"clickture": CLICKTURE, "coco": COCO}


def _keyword_source(settings: RunSettings, set_name: str) -> Tuple[str, str]:
    """``(path, kind)`` of the keyword source a run will read (see sources.open_source)."""
    folder = os.path.join(settings.keyword_dir, archive_name(set_name))
    # Not yet extracted: the run extracts it first, and the manifest has it as a zip (or a
    # folder that is gone): not up to date either way.
    if os.path.isdir(folder):
        return folder, "folder"
    return folder + ".zip", "zip"


def _check_folder(folder: str, option: str, holding: str) -> None:
    if not os.path.isdir(folder):
        raise InputError(f"{folder}: no such folder; it should hold {holding}: create it, or "
                         f"give {option}")

