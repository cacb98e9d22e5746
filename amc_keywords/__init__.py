"""AMC keyword preprocessing: keyword archives of Clickture and MSCOCO to ``[img_id, word_id]``
rows, as in "AMC: Attention guided Multi-modal Correlation Learning for Image Search"
(Chen et al., CVPR 2017).

Modules, in pipeline order: :mod:`~amc_keywords.sources` (archives, lists, maps),
:mod:`~amc_keywords.vocabulary`, :mod:`~amc_keywords.encoding` (with
:mod:`~amc_keywords.workers`, the worker processes), :mod:`~amc_keywords.outputs` (writing and
loading); :mod:`~amc_keywords.pipeline` runs them for the two dataset scripts;
:mod:`~amc_keywords.report` and ``python -m amc_keywords`` check and describe outputs;
:mod:`~amc_keywords.sample` makes synthetic data in the real formats.
"""
from .errors import InputError

__all__ = ["InputError", "Keywords", "load_keywords"]
__version__ = "1.0.0"


def __getattr__(name):
    # Imported on first use: the scripts import amc_keywords.errors first, before the heavy
    # scikit-learn import, so that Ctrl-C during start-up is already handled.
    if name in ("Keywords", "load_keywords"):
        from . import outputs
        return getattr(outputs, name)
    raise AttributeError(f"module 'amc_keywords' has no attribute {name!r}")
