"""The one recipe that runs any dataset, and what it returns.

Input
    A :class:`~amc_keywords.settings.RunSettings`, whose ``dataset`` describes the dataset
    (:mod:`amc_keywords.datasets`: its image sets, how each is opened, what the vocabulary is
    fitted on).
Output
    :func:`run` writes, in ``out_dir``, the files of :mod:`amc_keywords.writing`, all moved
    into place together at the end, and returns the run's :class:`PrepareResult`; or, when
    the manifest there shows the same settings and inputs with the outputs intact, writes
    nothing and returns the manifest's figures.
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Tuple

from . import manifest, pipeline
from .encoding import CHUNK
from .errors import InputError
from .filenames import manifest_name, original_names, output_names, vectorizer_name
from .fingerprints import folder_fingerprint
from .log import logger
from .pipeline import SetFigures
from .settings import RunSettings
from .vocabulary import Vocabulary
from .writing import OutputSet, remove_stale


@dataclass(frozen=True)
class PrepareResult:
    """What a run did (each field: docs/api.md#prepareresult): the output paths by role,
    each image set's figures in encoding order, and whether the manifest showed nothing to
    do."""
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


def run(settings: RunSettings) -> PrepareResult:
    """Run the dataset of ``settings``: the numbered steps below."""
    dataset, keyword_dir, options = settings.dataset, settings.keyword_dir, settings.options
    for folder, option, holding in dataset.folders(keyword_dir, options):
        if not os.path.isdir(folder):
            raise InputError(f"{folder}: no such folder; it should hold {holding}: create it, "
                             f"or give {option}")
    encoded, opened_sets = dataset.encoded(options), dataset.opened(options)
    openers = {name: functools.partial(dataset.open_set, keyword_dir, options, name,
                                       settings.extract) for name in opened_sets}
    # 0. Nothing to do when the manifest shows the same settings and inputs, outputs intact.
    if not (settings.force or settings.refit):
        checking = {name: functools.partial(dataset.open_set, keyword_dir, options, name, False)
                    for name in opened_sets}
        planned = dataset.planned_inputs(keyword_dir, options)
        recorded = _manifest_if_up_to_date(settings, planned, checking)
        if recorded is not None:
            return _recorded_result(settings, recorded)
    with OutputSet(settings.out_dir, settings.wait) as outputs:
        # 1. Read lists, maps and archive directories, in workers and in parallel; they write
        #    each set's plan and names table.
        with pipeline.opening(outputs, settings, openers, encoded) as opened:
            # 2. The vocabulary: CountVectorizer(min_df, stop_words) on the images it is
            #    fitted on, while the other sets are still being opened.
            fitted = [opened(name) for name in dataset.fitted_on(options)]
            vocabulary = pipeline.obtain_vocabulary(outputs, settings, fitted)
            # 3. Each set's rows: [img_id, word_id] for each in-vocabulary token. The sets
            #    fitted on first, while the others are still being opened; then the others.
            done = {s.name: pipeline.encode_set(outputs, settings, s, vocabulary)
                    for s in fitted if s.name in encoded}
            sets = [opened(name) for name in opened_sets]
        done.update((s.name, pipeline.encode_set(outputs, settings, s, vocabulary))
                    for s in sets if s.name in encoded and s.name not in done)
        figures = tuple(done[s.name] for s in sets if s.name in encoded)
        # 4. The manifest; everything moved into place together.
        written = pipeline.finish(outputs, settings, sets, figures, vocabulary)
    pipeline.log_summary(figures, vocabulary, written)
    return PrepareResult(dataset.name, settings.out_dir, False, _output_roles(settings),
                         len(vocabulary), figures)


def _output_roles(settings: RunSettings) -> Dict[str, str]:
    """``{role: path}`` of the files a run with these settings writes."""
    dataset, folder, min_df = settings.dataset, settings.out_dir, settings.min_df
    roles = {"manifest": manifest_name(dataset.name, min_df)}
    for name in dataset.encoded(settings.options):
        if settings.layout == "original":
            files = original_names(dataset.name, name, min_df)
        else:
            files = output_names(dataset.name, name, min_df, dataset.has_splits)
            roles["vocabulary"] = files.pop("vocabulary")
        roles.update({f"{name} {role}": file for role, file in files.items()})
    if settings.layout == "original":
        roles["vectorizer"] = vectorizer_name(dataset.vectorizer_stem(), min_df)
    return {role: os.path.join(folder, file) for role, file in roles.items()}


def _recorded_result(settings: RunSettings, recorded: Mapping[str, object]) -> PrepareResult:
    """The result of a run that had nothing to do: the figures its manifest records."""
    summary = recorded.get("summary")
    figures = tuple(SetFigures(s["set"], s["images"], s["rows"], s["empty"], s["tokens"],
                               tuple(s["per_image"]))
                    for s in summary) if isinstance(summary, list) else ()
    roles = _output_roles(settings)
    vocabulary_size = 0
    if "vocabulary" in roles and os.path.exists(roles["vocabulary"]):
        vocabulary_size = len(Vocabulary.load(roles["vocabulary"]))
    return PrepareResult(settings.dataset.name, settings.out_dir, True, roles,
                         vocabulary_size, figures)


def _manifest_if_up_to_date(settings: RunSettings, planned: Dict[str, Tuple[str, str]],
                            openers: Mapping[str, pipeline.Opener]) -> Optional[Dict[str, Any]]:
    """The manifest in the output folder (after saying so), when it shows that a run with
    these settings on these inputs (``planned``: ``{role: (path, kind)}``) has nothing to
    do; else None. A folder input's fingerprint needs its set's order: that set is opened
    here (``openers[set_name]``), and its files are fingerprinted by ``stat``."""
    name = manifest_name(settings.dataset.name, settings.min_df)
    recorded, notice = manifest.up_to_date(os.path.join(settings.out_dir, name),
                                           settings.dataset.name, settings.manifest_options(),
                                           planned)
    if notice:
        logger.warning(notice)
    if recorded is None:
        return None
    for role, (_, kind) in planned.items():
        if kind == "folder":
            try:
                source, entries, _, _ = openers[role.split()[0]]()
                if source.kind != "folder":
                    return None
                keys = entries.keys
                now = folder_fingerprint(
                    source.path, (keys[i:i + CHUNK] for i in range(0, len(keys), CHUNK)),
                    settings.strict_fingerprint)
            except (InputError, OSError):
                return None  # the run itself says what is wrong with the input
            if now != recorded["inputs"][role].get("fingerprint"):
                return None
    remove_stale(settings.out_dir)  # what a killed run left, as a run that writes does
    logger.info("outputs are up to date (%s); --force to run again",  # the folder in full:
                os.path.join(settings.out_dir, name))  # a --sample run's is a reused one
    return recorded
