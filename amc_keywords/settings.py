"""The settings of one run, in one frozen object built once by the API and passed down.

Input
    The keyword-only parameters of :func:`amc_keywords.prepare_clickture` and
    :func:`amc_keywords.prepare_coco` (the command line builds them from its options).
Output
    :class:`RunSettings`, read by every step of a run; :meth:`RunSettings.manifest_options`
    is the part a manifest records, which decides whether a rerun is up to date.
"""
from __future__ import annotations

import numbers
import operator
import os
from dataclasses import dataclass, field
from typing import Any, Dict, Literal, Mapping, Optional, Sequence, Tuple

from .errors import InputError, shown
from .filenames import ORIGINAL_FILES, SideFiles

COCO_SPLITS = ("train", "restval", "val", "test")
Layout = Literal["default", "original"]
LAYOUTS: Tuple[Layout, ...] = ("default", "original")
StopWords = Literal["english", "none"]
VocabFrom = Literal["dev", "lite", "both"]
# The Clickture sets each --vocab-from value fits the vocabulary on.
VOCAB_FROM: Mapping[str, Tuple[str, ...]] = {"dev": ("dev",), "lite": ("lite",),
                                             "both": ("lite", "dev")}


@dataclass(frozen=True)
class RunSettings:
    """Everything a run is told; each field is documented once, here.

    Parameters
    ----------
    dataset : {"clickture", "coco"}
    keyword_dir : str
        Folder holding the keyword archives ``keywords_<set>.zip`` (or their unzipped
        folders ``keywords_<set>/``, read instead when present).
    out_dir : str
        Folder for the outputs (made if missing).
    lists_dir : str or None, default=None
        Clickture: folder holding the list and map files named in ``side_files``.
    side_files : mapping, default=ORIGINAL_FILES
        Clickture: ``{set name: (list file name, map file name)}``.
    min_df : int, default=6
        Keep words found in at least this many images (the ``6`` of the output names).
    stop_words : {"english", "none"}, default="english"
        ``"english"`` drops scikit-learn's English stop words; ``"none"`` keeps every word.
    vocab_from : {"dev", "lite", "both"}, default="dev"
        Clickture: the images the vocabulary is fitted on (dev, as in the original).
    splits : tuple of str, default=("train", "test")
        COCO: the splits of ``dataset.json`` to encode (``train``, ``restval``, ``val``,
        ``test``); the vocabulary is fitted on the same images.
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
        ``"original"`` writes the original scripts' files instead of the default set: the
        rows as ``img_keyword_rec_*.npy``, their range table (quirks included) under the
        original README's names, and the pickled CountVectorizer.
    jobs : int, default=1
        Worker processes; the outputs are the same for any value.
    progress : bool or None, default=None
        Progress bars on stderr: ``None`` shows them when stderr is a terminal.
    wait : bool, default=True
        When another run is writing in ``out_dir``: wait for it to end (saying so), or,
        with False, refuse at once. Runs into one folder never mix their files.
    """

    dataset: str
    keyword_dir: str
    out_dir: str
    lists_dir: Optional[str] = None
    side_files: SideFiles = field(default_factory=lambda: ORIGINAL_FILES)
    min_df: int = 6
    stop_words: StopWords = "english"
    vocab_from: VocabFrom = "dev"
    splits: Tuple[str, ...] = ("train", "test")
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
        _check_choice("dataset", self.dataset, ("clickture", "coco"))
        _check_choice("stop_words", self.stop_words, ("english", "none"))
        _check_choice("vocab_from", self.vocab_from, tuple(VOCAB_FROM))
        _check_choice("layout", self.layout, LAYOUTS)
        for name in ("min_df", "jobs"):
            if getattr(self, name) < 1:
                raise InputError(f"{name}={getattr(self, name)!r}: expected a positive integer")
        if not isinstance(self.splits, tuple) or not self.splits or \
                any(s not in COCO_SPLITS for s in self.splits):
            raise InputError(f"splits={shown(self.splits)}: expected a non-empty tuple of "
                             f"{', '.join(COCO_SPLITS)}")
        if self.dataset == "clickture":
            if self.lists_dir is None:
                raise InputError("lists_dir=None: Clickture needs the folder holding the "
                                 ".lst and .pkl files")
            missing = [name for name in ("lite", "dev") if name not in self.side_files]
            if missing:
                raise InputError(f"side_files has no entry for {', '.join(missing)}: expected "
                                 "{set name: (list file name, map file name)} for lite and "
                                 "dev")

    @property
    def names_tables(self) -> bool:
        """Whether the names tables are outputs (the original layout has none)."""
        return self.layout == "default"

    @property
    def vocabulary_source(self) -> str:
        """Which images the vocabulary is fitted on, as the vocabulary file records it
        (``"dev"``, ``"train,test"``)."""
        return self.vocab_from if self.dataset == "clickture" else ",".join(self.splits)

    def manifest_options(self) -> Dict[str, Any]:
        """The options a manifest records: a rerun with other values is not up to date."""
        options: Dict[str, Any] = {"min_df": self.min_df, "stop_words": self.stop_words,
                                   "strict_fingerprint": self.strict_fingerprint,
                                   "original_layout": self.layout == "original"}
        if self.dataset == "clickture":
            options["vocab_from"] = self.vocab_from
            options["side_files"] = {name: list(files)
                                     for name, files in self.side_files.items()}
        else:
            options["splits"] = list(self.splits)
        return options


# The fields of each type; a path is given as str or os.PathLike and kept as str (results
# report paths as str), an integer as any integral number (numpy's too) and kept as int.
_PATHS = ("keyword_dir", "out_dir", "lists_dir")
_INTEGERS = ("min_df", "jobs")
_BOOLS = ("refit", "force", "extract", "strict_fingerprint", "wait", "progress")
_OPTIONAL = ("lists_dir", "progress")  # None is a value of these


def _check_types(settings: RunSettings) -> None:
    """Refuse a value of the wrong type in one line naming the parameter and the type given
    (not a TypeError from deep in ``os.path``), and store paths as str, integers as int."""
    def wrong(name: str, value: object, expected: str) -> InputError:
        return InputError(f"{name}={shown(value)}: expected {expected}, not "
                          f"{type(value).__name__}")

    for name in _PATHS:
        value = getattr(settings, name)
        if value is None and name in _OPTIONAL:
            continue
        path = os.fspath(value) if isinstance(value, (str, os.PathLike)) else None
        if not isinstance(path, str):
            raise wrong(name, value, "a path (str or os.PathLike)")
        object.__setattr__(settings, name, path)
    for name in _INTEGERS:
        value = getattr(settings, name)
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise wrong(name, value, "a positive integer")
        object.__setattr__(settings, name, operator.index(value))
    for name in _BOOLS:
        value = getattr(settings, name)
        if not isinstance(value, bool) and not (value is None and name in _OPTIONAL):
            raise wrong(name, value, "True or False" + (" or None" if name in _OPTIONAL else
                                                        ""))
    # A str would pass for a sequence of one-letter splits: refused below, as is any other
    # type but a sequence.
    if isinstance(settings.splits, Sequence) and not isinstance(settings.splits, str):
        object.__setattr__(settings, "splits", tuple(settings.splits))
    files = settings.side_files
    if not isinstance(files, Mapping) or not all(
            isinstance(pair, (tuple, list)) and len(pair) == 2 and
            all(isinstance(f, str) for f in pair) for pair in files.values()):
        raise wrong("side_files", files, "{set name: (list file name, map file name)}")


def _check_choice(name: str, value: object, choices: Tuple[str, ...]) -> None:
    if value not in choices:
        raise InputError(f"{name}={value!r}: expected one of {', '.join(map(repr, choices))}")
