"""The datasets the toolkit knows, each a description: the one place a dataset is named.

Input
    A dataset's name (``"clickture"``, ``"coco"``, ``"flickr30k"``, ``"flickr8k"``).
Output
    Its :class:`~amc_keywords.datasets.description.Dataset`, from :data:`DATASETS` (in the
    command line's order) or :func:`dataset`. A description says what differs between
    datasets (what it holds: :mod:`~amc_keywords.datasets.description`). Two kinds are
    written: a list and an id map per set (:mod:`~amc_keywords.datasets.list_and_map`,
    Clickture's) and Karpathy's ``dataset.json`` (:mod:`~amc_keywords.datasets.karpathy`,
    COCO's and Flickr's).

A dataset in Karpathy's layout takes one line below (and a sample to test it on); nothing
outside this package names a dataset. Importing this package imports no numpy: the command
line builds its parser from it before the heavy imports.
"""
from typing import Dict

from ..errors import InputError
from .description import Dataset
from .karpathy import Karpathy
from .list_and_map import CLICKTURE

COCO_SPLITS = ("train", "restval", "val", "test")
FLICKR_SPLITS = ("train", "val", "test")

COCO = Karpathy("coco", "MSCOCO (Karpathy splits)", "mscoco", index="dataset.json",
                splits=COCO_SPLITS)
FLICKR30K = Karpathy("flickr30k", "Flickr30k (Karpathy splits)", "flickr30k",
                     index="dataset_flickr30k.json", splits=FLICKR_SPLITS)
FLICKR8K = Karpathy("flickr8k", "Flickr8k (Karpathy splits)", "flickr8k",
                    index="dataset_flickr8k.json", splits=FLICKR_SPLITS)

DATASETS: Dict[str, Dataset] = {d.name: d for d in (CLICKTURE, COCO, FLICKR30K, FLICKR8K)}


def dataset(name: str) -> Dataset:
    """The description of the dataset ``name``; an InputError naming the known ones else."""
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        raise InputError(f"dataset={name!r}: not one the toolkit knows (expected one of "
                         f"{', '.join(map(repr, DATASETS))})") from None


__all__ = ["DATASETS", "Dataset", "dataset"]
