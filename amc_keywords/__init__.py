"""AMC keyword preprocessing: keyword archives of Clickture and MSCOCO to ``[img_id, word_id]``
rows, as in "AMC: Attention guided Multi-modal Correlation Learning for Image Search"
(Chen et al., CVPR 2017).

For training code: :func:`load_keywords` (see :mod:`amc_keywords.loader`) and
:class:`Vocabulary`. The command line is :mod:`amc_keywords.cli` (``amc-keywords``); the
dataset recipes are in :mod:`amc_keywords.datasets`; README.md lists every module.
"""
from .errors import InputError

__all__ = ["InputError", "Keywords", "Vocabulary", "load_keywords"]
__version__ = "1.1.0"


def __getattr__(name):
    # Imported on first use: the command line imports this package first, before numpy and
    # scikit-learn, so that Ctrl-C during start-up is already handled.
    if name in ("Keywords", "load_keywords"):
        from . import loader
        return getattr(loader, name)
    if name == "Vocabulary":
        from .vocabulary import Vocabulary
        return Vocabulary
    raise AttributeError(f"module 'amc_keywords' has no attribute {name!r}")
