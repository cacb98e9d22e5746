"""The settings of one call of the API, in one frozen object built once and passed down.

Input
    The keyword-only parameters of :func:`amc_keywords.prepare` (the command line builds them
    from its options): those every run has, and the dataset's own, already made into its
    options object (:mod:`amc_keywords.datasets`); those of
    :func:`amc_keywords.align_vectors`.
Output
    :class:`RunSettings`, read by every step of a run; :meth:`RunSettings.manifest_options`
    is the part a manifest records, which decides whether a rerun is up to date.
    :class:`VectorOptions`, how word vectors are aligned (the ``vectors`` command's options).
"""
from __future__ import annotations

import numbers
import operator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, Literal, Optional, Tuple

from .errors import InputError, check_choice, checked_path, wrong_type

if TYPE_CHECKING:
    from .analyzer import AnalyzerSettings
    from .datasets import Dataset

Layout = Literal["default", "original"]
LAYOUTS: Tuple[Layout, ...] = ("default", "original")
StopWords = Literal["english", "none"]


@dataclass(frozen=True)
class RunSettings:
    """Everything a run is told; each field is documented once, here (the dataset's own
    options in its options class: ``ClicktureOptions``, ``KarpathyOptions``).

    Parameters
    ----------
    dataset : Dataset
        The dataset's description (:mod:`amc_keywords.datasets`).
    keyword_dir : str
        Folder holding the keyword archives ``keywords_<set>.zip`` (or their unzipped
        folders ``keywords_<set>/``, read instead when present).
    out_dir : str
        Folder for the outputs (made if missing).
    options : the dataset's options object
        Its own options, checked (``dataset.make_options``).
    min_df : int, default=6
        Keep words found in at least this many images (the ``6`` of the output names).
    stop_words : {"english", "none"}, default="english"
        ``"english"`` drops scikit-learn's English stop words; ``"none"`` keeps every word.
    refit : bool, default=False
        Fit the vocabulary even when a matching vocabulary file exists (implies ``force``).
    force : bool, default=False
        Run even when the manifest shows the outputs up to date.
    extract : bool, default=False
        Unpack each archive next to itself first (``keywords_<set>/``) and read from there.
    strict_fingerprint : bool, default=False
        Fingerprint an unzipped folder's files by content too (a CRC-32 each), not only by
        name, size and modification time.
    layout : {"default", "original"}, default="default"
        ``"original"`` writes the original scripts' files instead of the default set
        (docs/formats.md#the-original-layout).
    jobs : int, default=1
        Worker processes; the outputs are the same for any value.
    progress : bool or None, default=None
        Progress bars on stderr: ``None`` shows them when stderr is a terminal.
    wait : bool, default=True
        When another run is writing in ``out_dir``: wait for it to end (saying so), or,
        with False, refuse at once. Runs into one folder never mix their files.
    """

    dataset: Dataset
    keyword_dir: str
    out_dir: str
    options: Any
    min_df: int = 6
    stop_words: StopWords = "english"
    refit: bool = False
    force: bool = False
    extract: bool = False
    strict_fingerprint: bool = False
    layout: Layout = "default"
    jobs: int = 1
    progress: Optional[bool] = None
    wait: bool = True

    def __post_init__(self) -> None:
        _check_types(self)
        _analyzer_settings(self.stop_words)  # made and checked (stop_words) once
        check_choice("layout", self.layout, LAYOUTS)
        for name in ("min_df", "jobs"):
            if getattr(self, name) < 1:
                raise InputError(f"{name}={getattr(self, name)!r}: expected a positive integer")

    @property
    def analyzer(self) -> AnalyzerSettings:
        """The analyzer's settings, one value (made once per stop-word setting)."""
        return _analyzer_settings(self.stop_words)

    @property
    def vocabulary_from(self) -> str:
        """Which images the vocabulary is fitted on, as the vocabulary file records it
        (``"dev"``, ``"train,test"``)."""
        return self.dataset.vocabulary_from(self.options)

    def manifest_options(self) -> Dict[str, Any]:
        """The options a manifest records: a rerun with other values is not up to date."""
        return {"min_df": self.min_df, "stop_words": self.stop_words,
                "strict_fingerprint": self.strict_fingerprint,
                "original_layout": self.layout == "original",
                **self.dataset.manifest_options(self.options)}


# The fields of each type; a path is given as str or os.PathLike and kept as str (results
# report paths as str), an integer as any integral number (numpy's too) and kept as int.
_PATHS = ("keyword_dir", "out_dir")
_INTEGERS = ("min_df", "jobs")
_BOOLS = ("refit", "force", "extract", "strict_fingerprint", "wait", "progress")
_OPTIONAL = ("progress",)  # None is a value of these


def _check_types(settings: RunSettings) -> None:
    """Refuse a value of the wrong type in one line naming the parameter and the type given,
    and store paths as str, integers as int (the dataset's own options are checked by its
    description)."""
    for name in _PATHS:
        object.__setattr__(settings, name, checked_path(name, getattr(settings, name)))
    for name in _INTEGERS:
        value = getattr(settings, name)
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise wrong_type(name, value, "a positive integer")
        object.__setattr__(settings, name, operator.index(value))
    for name in _BOOLS:
        value = getattr(settings, name)
        if not isinstance(value, bool) and not (value is None and name in _OPTIONAL):
            raise wrong_type(name, value, "True or False" + (" or None" if name in _OPTIONAL
                                                             else ""))


def _analyzer_settings(stop_words: str) -> AnalyzerSettings:
    from .analyzer import analyzer_settings  # numpy: not when the command line starts
    analyzer: AnalyzerSettings = analyzer_settings(stop_words)
    return analyzer


MISSING_POLICIES = ("zero", "random")


@dataclass(frozen=True)
class VectorOptions:
    """How to align word vectors (:func:`amc_keywords.align_vectors`): ``member`` of a zip;
    ``exact``: no case fallback; ``missing``: ``zero`` or ``random`` (seeded by ``seed``);
    ``same_dim_as``: a matrix aligned earlier whose dimension this one must have;
    ``progress``: a bar on stderr (None: when it is a terminal)."""

    member: Optional[str] = None
    exact: bool = False
    missing: str = "zero"
    seed: int = 0
    same_dim_as: Optional[str] = None
    progress: Optional[bool] = None

    def __post_init__(self) -> None:
        check_choice("missing", self.missing, MISSING_POLICIES)
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise InputError(f"seed={self.seed!r}: expected an integer 0 or more")
