"""The Python API that runs the pipeline: :func:`prepare_clickture` and :func:`prepare_coco`.

Input
    Keyword-only parameters with the dataset scripts' defaults (each is documented once, in
    :class:`~amc_keywords.settings.RunSettings`).
Output
    The files of the run in ``out_dir`` and a frozen
    :class:`~amc_keywords.recipes.PrepareResult`: the output paths by role, the vocabulary
    size, each set's figures and whether the outputs were already up to date. Bad input is
    an :class:`~amc_keywords.errors.InputError` whose ``str()`` is one line naming the file
    and what is wrong; messages go to the ``amc_keywords`` logger, never to stdout.

Example::

    from amc_keywords import prepare_clickture
    result = prepare_clickture(keyword_dir="keyword", lists_dir="clickture",
                               out_dir="clickture")
    rows_file, dev = result.outputs["dev rows"], result.set("dev")  # dev.rows, dev.images...
"""
from __future__ import annotations

from typing import Optional, Sequence

from .filenames import ORIGINAL_FILES, SideFiles
from .recipes import CLICKTURE, COCO, PrepareResult, prepare
from .settings import Layout, RunSettings, StopWords, VocabFrom
from .workers import default_jobs


def prepare_clickture(*, keyword_dir: str, lists_dir: str, out_dir: str, min_df: int = 6,
                      stop_words: StopWords = "english", vocab_from: VocabFrom = "dev",
                      refit: bool = False, force: bool = False, extract: bool = False,
                      strict_fingerprint: bool = False, layout: Layout = "default",
                      jobs: Optional[int] = None, progress: Optional[bool] = None,
                      wait: bool = True,
                      side_files: SideFiles = ORIGINAL_FILES) -> PrepareResult:
    """Encode Clickture-Lite and Clickture-dev as rows ``[img_id, word_id]``.

    ``keyword_dir`` holds ``keywords_lite.zip`` and ``keywords_dev.zip`` (or their unzipped
    folders); ``lists_dir`` the list and map files (``side_files``); ``jobs=None`` uses the
    cores this process may use. Every parameter is described in
    :class:`~amc_keywords.settings.RunSettings`.
    """
    return prepare(CLICKTURE, RunSettings(
        "clickture", keyword_dir, out_dir, lists_dir=lists_dir, side_files=side_files,
        min_df=min_df, stop_words=stop_words, vocab_from=vocab_from, refit=refit,
        force=force, extract=extract, strict_fingerprint=strict_fingerprint, layout=layout,
        jobs=default_jobs() if jobs is None else jobs, progress=progress, wait=wait))


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
    return prepare(COCO, RunSettings(
        "coco", keyword_dir, out_dir, min_df=min_df,
        splits=splits,  # type: ignore[arg-type]  # RunSettings checks it, keeps a tuple
        stop_words=stop_words, refit=refit, force=force, extract=extract,
        strict_fingerprint=strict_fingerprint, layout=layout,
        jobs=default_jobs() if jobs is None else jobs, progress=progress, wait=wait))
