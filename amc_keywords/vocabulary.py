"""The vocabulary: fitted as scikit-learn's CountVectorizer fits it, stored as readable JSON.

Input
    One token list per image (the analyzer's tokens of its keywords, see
    :mod:`amc_keywords.analyzer`) and ``min_df``.
Output
    :class:`Vocabulary`; word id = ``CountVectorizer(min_df=...).vocabulary_[word]``, which is
    the word's rank in sorted order. On disk, ``vocabulary_<dataset>_sk_<min_df>.json`` (its
    keys: docs/formats.md#vocabulary), ``words[word_id] == word``. A later run reuses the
    file only when min_df, stop words, source, the ids digest (:func:`ids_digest`) and the
    input fingerprints all match.
"""
import collections
import hashlib
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
)

import numpy as np

from .analyzer import (
    analyzer_of_each,
    analyzer_settings,
    known_word_ids,
    make_vectorizer,
    word_index,
)
from .errors import InputError, quoted, shown
from .json_files import JSONFileError, load_json

FORMAT = "amc-keywords-vocabulary/1"


def ids_digest(id_chunks: Iterable[np.ndarray]) -> str:
    """The ids digest of an image set: SHA-256 of its image ids in order (int64,
    little-endian), given as consecutive chunks."""
    digest = hashlib.sha256()
    for ids in id_chunks:
        digest.update(np.ascontiguousarray(ids, dtype="<i8").tobytes())
    return digest.hexdigest()


def sklearn_version() -> str:
    """The installed scikit-learn's version, from its package metadata (no import): the
    scikit-learn whose CountVectorizer a vocabulary equals, as its file and a manifest record."""
    import importlib.metadata
    try:
        return importlib.metadata.version("scikit-learn")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree
        import sklearn
        return str(sklearn.__version__)


class Vocabulary:
    """Words in id order plus the parameters they were fitted with.

    ``vocabulary[word_id]`` is a word, ``len(vocabulary)`` the number of words, iteration goes
    in id order and :meth:`word_id` translates back.

    Parameters
    ----------
    words : list of str
        ``words[word_id]``; sorted, as CountVectorizer numbers them.
    min_df : int, default=6
    stop_words : {"english", "none"}, default="english"
    source : str, default=""
        Which images the vocabulary was fitted on (e.g. ``"dev"``, ``"train,test"``): the
        file's ``"source"`` (a run's ``vocabulary_from``; not a keyword source).
    images : int, default=0
        How many images (documents) it was fitted on.
    ids_digest : str, default=""
        :func:`ids_digest` of those images' ids (``"fingerprint"`` in the file).
    sklearn_version : str, default=""
        The scikit-learn version that fitted it.
    inputs : dict, default=None
        Input fingerprint of each input it was fitted from (keyword archive or folder,
        list), by role (``"dev keywords"``, ``"dev list"``): a rerun refits when one differs.
    """

    def __init__(self, words: Iterable[str], min_df: int = 6, stop_words: str = "english",
                 source: str = "", images: int = 0, ids_digest: str = "",
                 sklearn_version: str = "",
                 inputs: Optional[Mapping[str, Optional[str]]] = None) -> None:
        self.words: List[str] = list(words)
        self.min_df, self.stop_words, self.source = min_df, stop_words, source
        self.images, self.ids_digest, self.sklearn_version = images, ids_digest, sklearn_version
        self.inputs: Dict[str, Optional[str]] = dict(inputs or {})
        self.file: Optional[str] = None  # the file it was read from, if any
        self._index: Optional[Dict[str, int]] = None
        self._analyze_each: Optional[Callable[[List[str]], List[List[str]]]] = None

    def __len__(self) -> int:
        return len(self.words)

    def __getitem__(self, word_id: int) -> str:
        return self.words[word_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self.words)

    def _word_index(self) -> Dict[str, int]:
        if self._index is None:
            self._index = word_index(self.words)
        return self._index

    def word_id(self, word: str) -> int:
        """The id of ``word``; KeyError when it is not in the vocabulary."""
        try:
            return self._word_index()[word]
        except KeyError:
            raise KeyError(f"{word!r} is not in the vocabulary") from None

    @property
    def analyzer(self) -> Any:
        """The :class:`~amc_keywords.analyzer.AnalyzerSettings` its words were fitted with."""
        return analyzer_settings(self.stop_words)

    def encode(self, keywords: Sequence[str]) -> np.ndarray:
        """The word ids the pipeline writes for an image with these keywords: an int64 array,
        in token order, repeats kept, words outside the vocabulary dropped.

        ``keywords`` is a list of strings as a keyword file holds them (``["tagging"]
        ["keywords"]``, e.g. ``["golden retriever", "Dog"]``); the analyzer is the fitted
        one's (lowercase, token pattern, this vocabulary's stop words). TypeError names the
        first value that is not a string.
        """
        return self._word_ids([keywords])[0]

    def encode_many(self, keyword_lists: Iterable[Sequence[str]]) -> List[np.ndarray]:
        """:meth:`encode` of each keyword list: a list of int64 arrays. The lists are
        analysed together, and their tokens looked up as the pipeline's encoder does
        (:func:`~amc_keywords.analyzer.known_word_ids`)."""
        keyword_lists = list(keyword_lists)
        word_ids, counts = self._word_ids(keyword_lists)
        return np.split(word_ids, np.cumsum(counts)[:-1]) if keyword_lists else []

    def _word_ids(self, keyword_lists: List[Sequence[str]]) -> Tuple[np.ndarray, np.ndarray]:
        """The word ids of all the lists, one after the other, and how many each has."""
        for keywords in keyword_lists:
            if not isinstance(keywords, (list, tuple)):
                raise TypeError(f"keywords: expected a list of strings (as [\"tagging\"]"
                                f"[\"keywords\"] holds them), got {type(keywords).__name__}")
            for i, keyword in enumerate(keywords):
                if not isinstance(keyword, str):
                    raise TypeError(f"keywords[{i}]: expected a string, got "
                                    f"{type(keyword).__name__}")
        if self._analyze_each is None:
            self._analyze_each = analyzer_of_each(self.analyzer)
        token_lists = self._analyze_each([" ".join(k) for k in keyword_lists])
        word_ids, counts = known_word_ids(self._word_index(), token_lists)
        return word_ids, counts

    def __getstate__(self) -> Dict[str, Any]:
        return {**self.__dict__, "_index": None, "_analyze_each": None}  # rebuilt on use

    def fitted_vectorizer(self) -> Any:
        """A ``CountVectorizer(min_df, stop_words)`` as if fitted: its ``vocabulary_`` is
        this vocabulary (what the original scripts pickled)."""
        vectorizer = make_vectorizer(self.min_df, self.stop_words)
        vectorizer.vocabulary_ = dict(self._word_index())
        vectorizer.fixed_vocabulary_ = False
        return vectorizer

    def to_vectorizer(self) -> Any:
        """A ``CountVectorizer`` fixed to this vocabulary (same analyzer, same word ids): its
        ``transform`` of images' documents (``" ".join(keywords)``) is their rows' count
        matrix, as ``Keywords.matrix`` gives it."""
        vectorizer = make_vectorizer(self.min_df or 1, self.stop_words)
        vectorizer.set_params(vocabulary=dict(self._word_index()))
        return vectorizer

    def matches(self, min_df: int, stop_words: str, vocabulary_from: str,
                ids_digest: str) -> bool:
        """Whether it was fitted with these parameters on the images of this ids digest."""
        return (self.min_df, self.stop_words, self.source, self.ids_digest) == \
            (min_df, stop_words, vocabulary_from, ids_digest)

    def to_json(self) -> Dict[str, Any]:
        return {"format": FORMAT, "min_df": self.min_df, "stop_words": self.stop_words,
                "source": self.source, "images": self.images, "fingerprint": self.ids_digest,
                "inputs": self.inputs, "sklearn_version": self.sklearn_version,
                "words": self.words}

    @classmethod
    def load(cls, path: str) -> "Vocabulary":
        """Read a vocabulary file; an InputError names the file when it is not one."""
        try:
            data = load_json(path)
        except JSONFileError as exc:
            raise InputError(f"{path}: not a vocabulary file: {exc.reason}; delete it or use "
                             "refit=True") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT or \
                not isinstance(data.get("words"), list):
            raise InputError(f"{path}: not a vocabulary file (expected format {FORMAT!r}); "
                             "delete it or use refit=True")
        _check_fitted(data, path)
        inputs = data.get("inputs")
        vocabulary = cls(data["words"], data.get("min_df", 0), data.get("stop_words", ""),
                         data.get("source", ""), data.get("images", 0),
                         data.get("fingerprint", ""), data.get("sklearn_version", ""),
                         inputs if isinstance(inputs, dict) else {})
        vocabulary.file = path
        return vocabulary


def _check_fitted(data: Dict[str, Any], path: str) -> None:
    """Refuse a vocabulary file that a fit cannot have written: a fit writes each word once,
    a string, in sorted order, and records the positive integer min_df it kept words with
    (a hand-edited file would otherwise give wrong words, or renumber the rows)."""
    again = "a fit writes no such file; delete it or use refit=True to fit again"
    min_df = data.get("min_df")
    if "min_df" not in data:
        raise InputError(f"{path}: records no min_df; {again}")
    if type(min_df) is not int or min_df < 1:
        raise InputError(f"{path}: min_df is {shown(min_df)}, not a positive integer; {again}")
    if not isinstance(data.get("stop_words"), str):
        raise InputError(f"{path}: stop_words is {shown(data.get('stop_words'))}, not a "
                         f"string; {again}")
    words = data["words"]
    i = next((i for i, word in enumerate(words) if type(word) is not str), None)
    if i is not None:
        raise InputError(f"{path}: words[{i}] is {shown(words[i])}, not a string; {again}")
    i = next((i for i in range(1, len(words)) if not words[i - 1] < words[i]), None)
    if i is not None:
        what = "is there twice" if words[i - 1] == words[i] else "is out of sorted order"
        raise InputError(f"{path}: words[{i}] {quoted(words[i])} {what}: a fitted vocabulary "
                         f"holds each word once, in sorted order; {again}")


def fit_vocabulary(token_lists: Iterable[List[str]], min_df: int, stop_words: str,
                   vocabulary_from: str, images: int, digest: str, where: str) -> Vocabulary:
    """Fit the vocabulary on the images' analyzer tokens (``token_lists``: an iterable of one
    token list per image, consumed once).

    The tokens are what ``make_vectorizer(min_df, stop_words).build_analyzer()`` gives for each
    image's document, computed in the worker processes (:meth:`KeywordEncoder.token_texts`).
    The words found in at least ``min_df`` images are kept, numbered in sorted order: what
    ``CountVectorizer(min_df=min_df)`` keeps and how it numbers them (its ``max_df=1.0``
    and ``max_features=None`` remove nothing; a test checks the two agree). Counting here
    rather than in CountVectorizer spares the run the import of scikit-learn, and lets the
    error for a too-high ``min_df`` name the largest value that keeps a word.
    """
    document_frequency: "collections.Counter[str]" = collections.Counter()
    count = document_frequency.update
    for tokens in token_lists:
        count(set(tokens))
    if not document_frequency:
        raise InputError(f"{where}: no keyword has a word of two or more letters that is "
                         "not a stop word; nothing to build a vocabulary from")
    largest = max(document_frequency.values())
    if largest < min_df:
        raise InputError(f"{where}: no word appears in {min_df} or more images: min_df="
                         f"{min_df} is too high (the largest value that keeps a word is "
                         f"{largest})")
    words = sorted(word for word, frequency in document_frequency.items()
                   if frequency >= min_df)
    return Vocabulary(words, min_df, stop_words, vocabulary_from, images, digest,
                      sklearn_version())
