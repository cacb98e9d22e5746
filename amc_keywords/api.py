"""The Python API that runs the pipeline: :func:`prepare`, for any dataset, and its typed
wrappers :func:`prepare_clickture` and :func:`prepare_coco`.

Input
    Keyword-only parameters with the dataset scripts' defaults: those every run has
    (documented once, in :class:`~amc_keywords.settings.RunSettings`) and the dataset's own
    (in its options class, :mod:`amc_keywords.datasets`).
Output
    The files of the run in ``out_dir`` and a frozen
    :class:`~amc_keywords.recipes.PrepareResult`: the output paths by role, the vocabulary
    size, each set's figures and whether the outputs were already up to date. Bad input is
    an :class:`~amc_keywords.errors.InputError` whose ``str()`` is one line naming the file
    and what is wrong; messages go to the ``amc_keywords`` logger, never to stdout.

Examples: docs/api.md#running-the-pipeline.
"""
from __future__ import annotations

from dataclasses import fields
from typing import Any, Optional, Sequence

from .datasets import dataset as dataset_named
from .datasets.list_and_map import ORIGINAL_FILES, SideFiles, VocabFrom
from .recipes import PrepareResult, run
from .settings import Layout, RunSettings, StopWords
from .workers import default_jobs

COMMON = tuple(f.name for f in fields(RunSettings) if f.name not in ("dataset", "options"))


def prepare(dataset: str, **options: Any) -> PrepareResult:
    """Encode the keywords of ``dataset`` (``"clickture"``, ``"coco"``, ``"flickr30k"``,
    ``"flickr8k"``) as rows ``[img_id, word_id]``.

    ``options`` are keyword-only: ``keyword_dir`` and ``out_dir`` (required), the options
    every run has (:class:`~amc_keywords.settings.RunSettings`; ``jobs=None`` uses the cores
    this process may use) and the dataset's own (Clickture: ``lists_dir``, ``side_files``,
    ``vocab_from``, ``sets``; a Karpathy-layout dataset: ``splits``).
    """
    description = dataset_named(dataset)
    for required in ("keyword_dir", "out_dir"):
        if required not in options:
            raise TypeError(f"prepare({dataset!r}): missing keyword argument {required!r}")
    common = {name: options.pop(name) for name in COMMON if name in options}
    if common.get("jobs") is None:
        common["jobs"] = default_jobs()
    own = description.make_options(**options)
    return run(RunSettings(description, options=own, **common))


def prepare_clickture(*, keyword_dir: str, lists_dir: str, out_dir: str, min_df: int = 6,
                      stop_words: StopWords = "english", vocab_from: VocabFrom = "dev",
                      refit: bool = False, force: bool = False, extract: bool = False,
                      strict_fingerprint: bool = False, layout: Layout = "default",
                      jobs: Optional[int] = None, progress: Optional[bool] = None,
                      wait: bool = True, side_files: SideFiles = ORIGINAL_FILES,
                      sets: Sequence[str] = ("lite", "dev")) -> PrepareResult:
    """Encode Clickture-Lite and Clickture-dev (or the ``sets`` named) as rows ``[img_id,
    word_id]``.

    ``keyword_dir`` holds ``keywords_lite.zip`` and ``keywords_dev.zip`` (or their unzipped
    folders); ``lists_dir`` the list and map files (``side_files``); ``jobs=None`` uses the
    cores this process may use. Every parameter is described in
    :class:`~amc_keywords.settings.RunSettings` and
    :class:`~amc_keywords.datasets.list_and_map.ClicktureOptions`.
    """
    return prepare("clickture", **locals())


def prepare_coco(*, keyword_dir: str, out_dir: str, splits: Sequence[str] = ("train", "test"),
                 min_df: int = 6, stop_words: StopWords = "english", refit: bool = False,
                 force: bool = False, extract: bool = False, strict_fingerprint: bool = False,
                 layout: Layout = "default", jobs: Optional[int] = None,
                 progress: Optional[bool] = None, wait: bool = True) -> PrepareResult:
    """Encode the MSCOCO images of ``splits`` (of ``dataset.json``) as rows ``[img_id,
    word_id]``.

    ``keyword_dir`` holds ``keywords_coco.zip`` (or its unzipped folder); the other
    parameters are those of :func:`prepare_clickture`.
    """
    return prepare("coco", **locals())
