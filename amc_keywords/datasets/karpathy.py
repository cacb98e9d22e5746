"""The Karpathy kind of dataset: one image set, the images of an index file in Karpathy's
format (``dataset.json``: ``{"images": [{"split", "filename", "imgid"}, ...]}``) whose split
is in ``splits``, in file order; img_id is their ``imgid``, and an image's keyword file is
``keyword_<split>/<filename stem>.json`` beside the index, in ``keywords_<dataset>.zip``.
The vocabulary is fitted on the same images.

Input
    :class:`KarpathyOptions` in a run's settings.
Output
    :class:`Karpathy`, the kind that COCO's and Flickr's descriptions are
    (:mod:`amc_keywords.datasets` registers them).
"""
from __future__ import annotations

import argparse
import hashlib
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Dict, Optional, Tuple

from ..errors import CheckFailed, InputError
from ..filenames import archive_name
from .description import Dataset, OpenedSet, Planned, comma_separated

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class KarpathyOptions:
    """A Karpathy-layout dataset's own options.

    splits : tuple of str, default=("train", "test")
        The splits of the index file to encode; the vocabulary is fitted on the same images.
    """

    splits: Tuple[str, ...] = ("train", "test")


@dataclass(frozen=True)
class Karpathy(Dataset):
    """A dataset in Karpathy's layout: its index file's name and the splits it may hold."""

    index: str = "dataset.json"
    splits: Tuple[str, ...] = ()

    options_type: ClassVar[type] = KarpathyOptions
    has_splits: ClassVar[bool] = True
    parts_option: ClassVar[str] = "splits"

    def __post_init__(self) -> None:
        object.__setattr__(self, "set_names", (self.name,))  # one set, named as the dataset

    def part_names(self) -> Tuple[str, ...]:
        return self.splits

    def fitted_on(self, options: KarpathyOptions) -> Tuple[str, ...]:
        return self.set_names

    def vocabulary_from(self, options: KarpathyOptions) -> str:
        return ",".join(options.splits)

    def manifest_options(self, options: KarpathyOptions) -> Dict[str, Any]:
        return {"splits": list(options.splits)}

    def must_hold(self) -> Optional[str]:
        return self.index

    def open_set(self, keyword_dir: str, options: KarpathyOptions, set_name: str,
                 extract: bool) -> OpenedSet:
        """The index file is large: the worker takes its memory along."""
        from ..fingerprints import InputRecord, SetInputs, file_record
        from ..lists import read_karpathy_images
        source = self.open_keywords(keyword_dir, set_name, extract)
        key = os.path.splitext(self.index)[0].encode()
        raw = source.read(key)
        where = f"{source.path}: {source.display(key)}"
        if raw is None:
            raise InputError(f"{where}: not found; {archive_name(set_name)}.zip holds "
                             f"{self.index} beside the keyword_<split>/ folders")
        entries = read_karpathy_images(raw, where, options.splits)
        inputs = SetInputs(set_name)
        if source.kind == "folder":  # a file of its own, fingerprinted as one
            record = file_record(source.display(key), "file")
        else:  # a member: the archive's fingerprint covers its CRC-32 and size; recorded too
            record = InputRecord(f"{source.path}/{source.display(key)}", "member",
                                 hashlib.sha256(raw).hexdigest())
        record.images = len(entries)
        inputs.add(self.index, record)
        return OpenedSet(source, entries, [], inputs)

    def planned_inputs(self, keyword_dir: str, options: KarpathyOptions) -> Planned:
        keywords = self.keyword_source(keyword_dir, self.name)
        planned = {f"{self.name} keywords": keywords}
        if keywords[1] == "folder":
            planned[f"{self.name} {self.index}"] = (os.path.join(keywords[0], self.index),
                                                    "file")
        return planned

    def vectorizer_stem(self) -> str:
        return f"count_vectorizer_{self.name}_keyword"

    def keys_of(self, source: Any, names: Any, splits: Any, ids: np.ndarray) -> np.ndarray:
        """The key of each image from its name and split; without a splits table, whichever
        split's folder holds it."""
        import numpy as np

        from ..lists import karpathy_key
        keys = []
        for img_id in ids.tolist():
            filename = names(img_id) or ""
            split = splits(img_id)
            candidates = [karpathy_key(s, filename).encode("utf-8")
                          for s in ((split,) if split else self.splits)]
            key = next((k for k in candidates if source.has(k)), None)
            if key is None:
                raise CheckFailed(f"{source.path}: no keyword file for {filename}")
            keys.append(key)
        return np.array(keys, dtype=bytes)

    def add_options(self, parser: argparse.ArgumentParser, out_default: str) -> None:
        parser.add_argument("--splits", type=comma_separated("split", self.splits),
                            default=("train", "test"),
                            help=f"comma-separated splits of {self.index} to encode "
                                 "(default: train,test)")

    def options_from(self, args: argparse.Namespace, sample: Optional[str]) -> Dict[str, Any]:
        return {"splits": args.splits}
