"""The list-and-map kind of dataset, and Clickture, its one description.

Clickture has the image sets ``lite`` and ``dev``, each a keyword archive
(``keywords_<set>.zip``), a list file giving the images in output order and an id map giving
their names. The vocabulary is fitted on dev only (``vocab_from``), as in the original: the
authors evaluate on dev and discard words seen only in Lite.

Input
    :class:`ClicktureOptions` in a run's settings; the list and map files in ``lists_dir``.
Output
    :data:`CLICKTURE`, the description :mod:`amc_keywords.datasets` registers.
"""
from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    Dict,
    Literal,
    Mapping,
    Optional,
    Tuple,
)

from ..errors import InputError, check_choice, checked_path, wrong_type
from .description import Dataset, OpenedSet, Planned, comma_separated

if TYPE_CHECKING:
    import numpy as np

SideFiles = Mapping[str, Tuple[str, str]]
# The list and map file of each set: as the original repository ships them, and the shipped
# sample's (named apart, so that no file under an upstream name is ever generated).
ORIGINAL_FILES: SideFiles = {"dev": ("clickture-dev.lst", "img_id_map_dev.pkl"),
                             "lite": ("clickture-lite.lst", "img_id_map.pkl")}
SAMPLE_FILES: SideFiles = {"dev": ("sample-dev.lst", "sample_id_map_dev.pkl"),
                           "lite": ("sample-lite.lst", "sample_id_map.pkl")}
VocabFrom = Literal["dev", "lite", "both"]
# The sets each --vocab-from value fits the vocabulary on.
VOCAB_FROM: Mapping[str, Tuple[str, ...]] = {"dev": ("dev",), "lite": ("lite",),
                                             "both": ("lite", "dev")}


@dataclass(frozen=True)
class ClicktureOptions:
    """Clickture's own options.

    lists_dir : str
        Folder holding the list and map files named in ``side_files``.
    side_files : mapping, default=ORIGINAL_FILES
        ``{set name: (list file name, map file name)}``.
    vocab_from : {"dev", "lite", "both"}, default="dev"
        The images the vocabulary is fitted on (dev, as in the original).
    sets : tuple of str, default=("lite", "dev")
        The image sets to encode; the vocabulary is fitted as ``vocab_from`` says whatever
        they are, and a set neither encoded nor fitted on is not read.
    """

    lists_dir: Optional[str]
    side_files: SideFiles = field(default_factory=lambda: ORIGINAL_FILES)
    vocab_from: VocabFrom = "dev"
    sets: Tuple[str, ...] = ("lite", "dev")


@dataclass(frozen=True)
class ListAndMap(Dataset):
    """A dataset whose every set is an archive, a list file and an id map."""

    options_type: ClassVar[type] = ClicktureOptions
    parts_option: ClassVar[str] = "sets"
    vectorizer: str = ""  # the original layout's pickled CountVectorizer, before _sk_<k>.pkl
    files: SideFiles = field(default_factory=lambda: ORIGINAL_FILES)  # the original names

    def part_names(self) -> Tuple[str, ...]:
        return self.set_names

    def make_options(self, **values: Any) -> ClicktureOptions:
        if values.get("lists_dir") is not None:  # kept as str, as results report paths
            values["lists_dir"] = checked_path("lists_dir", values["lists_dir"])
        options = super().make_options(**values)
        check_choice("vocab_from", options.vocab_from, tuple(VOCAB_FROM))
        if options.lists_dir is None:
            raise InputError(f"lists_dir=None: {self.title} needs the folder holding the .lst "
                             "and .pkl files")
        files = options.side_files
        if not isinstance(files, Mapping) or not all(
                isinstance(pair, (tuple, list)) and len(pair) == 2 and
                all(isinstance(f, str) for f in pair) for pair in files.values()):
            raise wrong_type("side_files", files, "{set name: (list file name, map file name)}")
        missing = [name for name in self.set_names if name not in options.side_files]
        if missing:
            raise InputError(f"side_files has no entry for {', '.join(missing)}: expected "
                             "{set name: (list file name, map file name)} for "
                             f"{' and '.join(self.set_names)}")
        return options

    def encoded(self, options: ClicktureOptions) -> Tuple[str, ...]:
        return tuple(name for name in self.set_names if name in options.sets)

    def fitted_on(self, options: ClicktureOptions) -> Tuple[str, ...]:
        return VOCAB_FROM[options.vocab_from]

    def vocabulary_from(self, options: ClicktureOptions) -> str:
        return options.vocab_from

    def manifest_options(self, options: ClicktureOptions) -> Dict[str, Any]:
        recorded: Dict[str, Any] = {
            "vocab_from": options.vocab_from,
            "side_files": {name: list(files) for name, files in options.side_files.items()}}
        if options.sets != self.set_names:  # recorded when not every set is encoded
            recorded["sets"] = list(options.sets)
        return recorded

    def side_paths(self, options: Any, set_name: str) -> Tuple[str, str]:
        list_name, map_name = options.side_files[set_name]
        return (os.path.join(options.lists_dir, list_name),
                os.path.join(options.lists_dir, map_name))

    def open_set(self, keyword_dir: str, options: ClicktureOptions, set_name: str,
                 extract: bool) -> OpenedSet:
        """List order, else the map's ids, else the archive's."""
        from ..fingerprints import SetInputs, file_record
        from ..idmap import read_id_map
        from ..lfs import absence
        from ..lists import (
            attach_names,
            entries_from_map,
            entries_from_source,
            read_list,
            strip_top,
        )
        list_path, map_path = self.side_paths(options, set_name)
        notices = []
        # Map and list before the archive directory: the map's memory is freed before the
        # directory's is taken.
        inputs = SetInputs(set_name)
        inputs.add("list", file_record(list_path, "list"))
        inputs.add("map", file_record(map_path, "map"))
        id_map = read_id_map(map_path)
        if id_map is None:
            notices.append(f"warning: {map_path}: {absence(map_path)}; the list entries stand "
                           "in for image names")
        entries = read_list(list_path)
        if entries is not None:
            entries, id_map = attach_names(entries, id_map, map_path), None
        source = self.open_keywords(keyword_dir, set_name, extract)
        if entries is not None:
            # A list may name its files from the archive's root; the fallbacks below take
            # their keys from the source itself, already inside its top folder.
            entries = strip_top(entries, source.top)
        else:
            fallback = "the id map" if id_map else "the keyword files"
            notices.append(f"notice: {list_path}: {absence(list_path)}; using the images of "
                           f"{fallback}, ordered by id")
            entries = (entries_from_map(id_map, source, map_path) if id_map else
                       entries_from_source(source))
        inputs.records[f"{set_name} list"].images = len(entries)
        inputs.records[f"{set_name} map"].images = len(entries)
        return OpenedSet(source, entries, notices, inputs)

    def planned_inputs(self, keyword_dir: str, options: ClicktureOptions) -> Planned:
        planned = {}
        for name in self.opened(options):
            list_path, map_path = self.side_paths(options, name)
            planned.update({f"{name} keywords": self.keyword_source(keyword_dir, name),
                            f"{name} list": (list_path, "list"),
                            f"{name} map": (map_path, "map")})
        return planned

    def folders(self, keyword_dir: str, options: Any) -> Tuple[Tuple[str, str, str], ...]:
        return super().folders(keyword_dir, options) + (
            (options.lists_dir, "lists_dir=", "the .lst and .pkl files"),)

    def vectorizer_stem(self) -> str:
        return self.vectorizer

    def keys_of(self, source: Any, names: Any, splits: Any, ids: np.ndarray) -> np.ndarray:
        from ..lists import keys_by_id
        return keys_by_id(source, ids)

    def add_options(self, parser: argparse.ArgumentParser, out_default: str) -> None:
        parser.add_argument("--vocab-from", choices=sorted(VOCAB_FROM), default="dev",
                            help="images the vocabulary is fitted on (default: %(default)s, as "
                                 "in the original)")
        parser.add_argument("--sets", type=comma_separated("set", self.set_names),
                            default=self.set_names,
                            help="comma-separated image sets to encode; the vocabulary is "
                                 "fitted as --vocab-from says, and a set neither encoded nor "
                                 "fitted on need not be there (default: "
                                 f"{','.join(self.set_names)})")
        parser.add_argument("--lists-dir", default=out_default,
                            help="folder holding the .lst and .pkl files (default: "
                                 "%(default)s; with --sample, the sample's folder)")

    def options_from(self, args: argparse.Namespace, sample: Optional[str]) -> Dict[str, Any]:
        return {"lists_dir": args.lists_dir, "vocab_from": args.vocab_from, "sets": args.sets,
                "side_files": self.files, **(self.sample_options(sample) if sample else {})}

    def sample_options(self, folder: str) -> Dict[str, Any]:
        return {"lists_dir": folder, "side_files": SAMPLE_FILES}


CLICKTURE = ListAndMap("clickture", "Clickture-Lite and Clickture-dev", "clickture",
                       ("lite", "dev"), vectorizer="count_vectorizer_clickture_dev")
