"""AMC keyword preprocessing: keyword archives of Clickture, MSCOCO and Flickr to
``[img_id, word_id]`` rows, as in "AMC: Attention guided Multi-modal Correlation Learning
for Image Search" (Chen et al., CVPR 2017).

The public API:

:func:`prepare`, :func:`prepare_clickture`, :func:`prepare_coco`
    Run the pipeline on a dataset; return a :class:`PrepareResult` (:mod:`amc_keywords.api`).
:func:`load_keywords`, :class:`Keywords`
    Open an output set in training code (:mod:`amc_keywords.loader`).
:class:`Vocabulary`
    The fitted words and the analyzer (:mod:`amc_keywords.vocabulary`).
:func:`sample_inputs`
    The inputs of the sample shipped in the package, as parameters of ``prepare_*``.
:func:`align_vectors`
    Pretrained word vectors (word2vec, fastText, GloVe) as a matrix of the word ids
    (:mod:`amc_keywords.vectors`); ``Keywords.vectors`` reads it back.
:class:`InputError`
    Bad input: ``str()`` is one line naming the file and what is wrong.

Messages go to the ``amc_keywords`` logger. The command line is :mod:`amc_keywords.cli`
(``amc-keywords``); docs/architecture.md maps every module.
"""
from typing import TYPE_CHECKING, Any

from .errors import InputError
from .version import __version__ as __version__  # the one version (pyproject.toml reads it)

__all__ = ["InputError", "Keywords", "PrepareResult", "SetFigures", "Vocabulary",
           "align_vectors", "load_keywords", "prepare", "prepare_clickture", "prepare_coco",
           "sample_inputs"]

if TYPE_CHECKING:  # what IDEs and type checkers see; at run time, imported on first use
    from .api import prepare, prepare_clickture, prepare_coco
    from .loader import Keywords, load_keywords
    from .pipeline import SetFigures
    from .recipes import PrepareResult
    from .sample import sample_inputs
    from .vectors import align_vectors
    from .vocabulary import Vocabulary

_LAZY = {"prepare": "api", "prepare_clickture": "api", "prepare_coco": "api",
         "Keywords": "loader", "load_keywords": "loader", "SetFigures": "pipeline",
         "PrepareResult": "recipes", "Vocabulary": "vocabulary", "sample_inputs": "sample",
         "align_vectors": "vectors"}


def __getattr__(name: str) -> Any:
    # Imported on first use: the command line imports this package first, before numpy and
    # scikit-learn, so that Ctrl-C during start-up is already handled.
    if name in _LAZY:
        from importlib import import_module
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'amc_keywords' has no attribute {name!r}")


def __dir__() -> list:
    return sorted([*globals(), *_LAZY])
