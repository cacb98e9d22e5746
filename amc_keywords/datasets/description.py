"""What a dataset is: :class:`Dataset`, the description each kind of dataset fills in.

Input
    A run's keyword folder and the dataset's own options (a frozen dataclass of
    :attr:`Dataset.options_type`), from its :class:`~amc_keywords.settings.RunSettings`.
Output
    What a run needs to know of the dataset: its image sets (those encoded, those fitted on,
    those opened), an opener per set (run in a worker process), the inputs a run reads (for
    the up-to-date check), the folders it needs, its options as a manifest records them, its
    command-line options, the original layout's vectorizer file and, for ``verify``, the keys
    of given images.
"""
from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, fields
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    ClassVar,
    Dict,
    List,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
)

from ..errors import InputError, shown
from ..filenames import archive_name

if TYPE_CHECKING:
    import numpy as np

    from ..entry_checks import Entries
    from ..fingerprints import SetInputs

Planned = Dict[str, Tuple[str, str]]  # {input role: (path, kind)}


class OpenedSet(NamedTuple):
    """What a set's opener returns (in a worker process): its keyword source, its entries
    in output order, its notices (logged by the main process) and its input records."""
    source: Any
    entries: Entries
    notices: List[str]
    inputs: SetInputs


def comma_separated(what: str, choices: Tuple[str, ...]) -> Callable[[str], Tuple[str, ...]]:
    """argparse type: comma-separated names among ``choices`` (``what``: one, in messages)."""
    def parse(text: str) -> Tuple[str, ...]:
        names = tuple(s.strip() for s in text.split(",") if s.strip())
        unknown = [s for s in names if s not in choices]
        if unknown or not names:
            raise argparse.ArgumentTypeError(f"unknown {what} {', '.join(unknown) or text!r}; "
                                             f"expected some of {','.join(choices)}")
        return names
    return parse


@dataclass(frozen=True)
class Dataset:
    """A dataset: its name, the words the command line calls it by, the folder its outputs go
    to by default (under the clone, or the current folder) and its image sets in encoding
    order. A kind (a subclass) says how its sets are opened."""

    name: str
    title: str
    out_folder: str
    set_names: Tuple[str, ...] = ()

    options_type: ClassVar[type]
    # Whether its images carry a split (a splits table is written beside the names table).
    has_splits: ClassVar[bool] = False
    # Its option that names which of its parts a run takes (a non-empty tuple of them).
    parts_option: ClassVar[str]

    def part_names(self) -> Tuple[str, ...]:
        """The names :attr:`parts_option` may hold."""
        raise NotImplementedError

    def make_options(self, **values: Any) -> Any:
        """The dataset's own options object, checked (an InputError names a bad value);
        a TypeError for a parameter the dataset does not have."""
        known = {f.name for f in fields(self.options_type)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise TypeError(f"prepare({self.name!r}): unexpected keyword argument "
                            f"{unknown[0]!r} (the options of {self.name} are "
                            f"{', '.join(sorted(known))})")
        parts = values.get(self.parts_option)
        if isinstance(parts, Sequence) and not isinstance(parts, str):  # a list will do
            values[self.parts_option] = tuple(parts)
        options = self.options_type(**values)
        parts, allowed = getattr(options, self.parts_option), self.part_names()
        # A str would pass for a sequence of one-letter names; so would any other type.
        if not isinstance(parts, tuple) or not parts or not set(parts) <= set(allowed):
            raise InputError(f"{self.parts_option}={shown(parts)}: expected a non-empty tuple "
                             f"of {', '.join(allowed)}")
        return options

    def encoded(self, options: Any) -> Tuple[str, ...]:
        """The image sets a run encodes, in encoding order."""
        return self.set_names

    def fitted_on(self, options: Any) -> Tuple[str, ...]:
        """The image sets the vocabulary is fitted on."""
        raise NotImplementedError

    def opened(self, options: Any) -> Tuple[str, ...]:
        """The image sets a run opens: those it encodes or fits on."""
        wanted = set(self.encoded(options)) | set(self.fitted_on(options))
        return tuple(name for name in self.set_names if name in wanted)

    def vocabulary_from(self, options: Any) -> str:
        """Which images the vocabulary is fitted on, as the vocabulary file records it."""
        raise NotImplementedError

    def manifest_options(self, options: Any) -> Dict[str, Any]:
        """The dataset's options as a manifest records them."""
        raise NotImplementedError

    def open_set(self, keyword_dir: str, options: Any, set_name: str,
                 extract: bool) -> OpenedSet:
        """A set's source and entries in output order (run in a worker process; returns its
        notices rather than logging them)."""
        raise NotImplementedError

    def planned_inputs(self, keyword_dir: str, options: Any) -> Planned:
        """``{role: (path, kind)}`` of the inputs a run reads."""
        raise NotImplementedError

    def folders(self, keyword_dir: str, options: Any) -> Tuple[Tuple[str, str, str], ...]:
        """``(folder, option, what it holds)`` of each folder a run needs."""
        archives = (f"{archive_name(self.set_names[0])}.zip archive" if len(self.set_names) == 1
                    else "keywords_*.zip archives")
        return ((keyword_dir, "keyword_dir=", f"the downloaded {archives}"),)

    def must_hold(self) -> Optional[str]:
        """What an unzipped keyword folder must hold besides keyword files, if anything."""
        return None

    def vectorizer_stem(self) -> str:
        """The original layout's pickled CountVectorizer, without ``_sk_<k>.pkl``."""
        raise NotImplementedError

    def keys_of(self, source: Any, names: Any, splits: Any, ids: np.ndarray) -> np.ndarray:
        """For ``verify``: the keys of the images ``ids`` in ``source``, given the output
        set's ``names(img_id)`` and ``splits(img_id)`` (None where not known)."""
        raise NotImplementedError

    def add_options(self, parser: argparse.ArgumentParser, out_default: str) -> None:
        """The dataset's own command-line options."""

    def options_from(self, args: argparse.Namespace, sample: Optional[str]) -> Dict[str, Any]:
        """The dataset's own API parameters from its parsed options (``sample``: the shipped
        sample's folder, with ``--sample``)."""
        return {}

    def sample_options(self, folder: str) -> Dict[str, Any]:
        """The dataset's own API parameters that point a run at the sample in ``folder``."""
        return {}

    def open_keywords(self, keyword_dir: str, set_name: str, extract: bool = False) -> Any:
        """The keyword source of a set (:func:`amc_keywords.sources.open_source`)."""
        from ..sources import open_source
        return open_source(keyword_dir, archive_name(set_name), extract, self.must_hold())

    def keyword_source(self, keyword_dir: str, set_name: str) -> Tuple[str, str]:
        """``(path, kind)`` of the keyword source a run will read (see ``open_source``)."""
        folder = os.path.join(keyword_dir, archive_name(set_name))
        # Not yet extracted: the run extracts it first, and the manifest has it as a zip (or
        # a folder that is gone): not up to date either way.
        if os.path.isdir(folder):
            return folder, "folder"
        return folder + ".zip", "zip"
