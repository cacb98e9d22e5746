"""The vocabulary: fitted with scikit-learn's CountVectorizer, stored as readable JSON.

Input
    One token list per image: the tokens sklearn's analyzer (lowercase, token pattern, stop
    words ``"english"`` or none) gives for the image's document, its keywords joined by a
    space; and ``min_df``.
Output
    :class:`Vocabulary`; word id = ``CountVectorizer.vocabulary_[word]``, which is the word's
    rank in sorted order. On disk, ``vocabulary_<dataset>_sk_<min_df>.json``::

        {"format": "amc-keywords-vocabulary/1", "min_df": 6, "stop_words": "english",
         "source": "dev", "images": 79665, "fingerprint": "<sha256 of the image ids>",
         "sklearn_version": "1.5.2", "words": ["aa", "abandoned", ...]}

    ``words[word_id] == word``. A later run reuses the file only when min_df, stop words,
    source and fingerprint all match.

:class:`KeywordEncoder` turns a keyword list into word ids exactly as
``[vocabulary_[t] for t in build_analyzer()(" ".join(keywords)) if t in vocabulary_]``, but
analyses each distinct keyword once: the analyzer's tokens never span the joining space
(its lowercasing, token pattern ``\\b\\w\\w+\\b`` and stop-word filter all act within a
keyword), so the tokens of the joined document are the tokens of each keyword in turn.
The tests check this equality on hard cases (unicode, case, punctuation, stop words).
"""
import hashlib
import json
from itertools import chain

import numpy as np
import sklearn
from sklearn.feature_extraction.text import CountVectorizer

from .errors import InputError

FORMAT = "amc-keywords-vocabulary/1"
STOP_WORDS = ("english", "none")


def make_vectorizer(min_df=6, stop_words="english"):
    """The CountVectorizer of the original scripts (``stop_words="none"`` keeps every word)."""
    return CountVectorizer(min_df=min_df, stop_words=None if stop_words == "none" else stop_words)


def fingerprint(ids):
    """Identity of an image set: sha256 of its image ids in order."""
    return hashlib.sha256(np.ascontiguousarray(ids, dtype="<i8").tobytes()).hexdigest()


class Vocabulary:
    """Words in id order plus the parameters they were fitted with.

    Parameters
    ----------
    words : list of str
        ``words[word_id]``; sorted, as CountVectorizer numbers them.
    min_df : int, default=6
    stop_words : {"english", "none"}, default="english"
    source : str
        Which images the vocabulary was fitted on (e.g. ``"dev"``, ``"train,test"``).
    images : int
        How many images (documents) it was fitted on.
    fingerprint : str
        :func:`fingerprint` of those images' ids.
    """

    def __init__(self, words, min_df=6, stop_words="english", source="", images=0,
                 fingerprint="", sklearn_version=sklearn.__version__):
        self.words = list(words)
        self.ids = {w: i for i, w in enumerate(self.words)}
        self.min_df, self.stop_words, self.source = min_df, stop_words, source
        self.images, self.fingerprint, self.sklearn_version = images, fingerprint, sklearn_version

    def __len__(self):
        return len(self.words)

    def matches(self, min_df, stop_words, source, fingerprint):
        return (self.min_df, self.stop_words, self.source, self.fingerprint) == \
            (min_df, stop_words, source, fingerprint)

    def to_json(self):
        return {"format": FORMAT, "min_df": self.min_df, "stop_words": self.stop_words,
                "source": self.source, "images": self.images, "fingerprint": self.fingerprint,
                "sklearn_version": self.sklearn_version, "words": self.words}

    @classmethod
    def load(cls, path):
        """Read a vocabulary file; an InputError names the file when it is not one."""
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"{path}: not a vocabulary file ({exc}); delete it or use "
                             "--refit") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT or \
                not isinstance(data.get("words"), list):
            raise InputError(f"{path}: not a vocabulary file (expected format {FORMAT!r}); "
                             "delete it or use --refit")
        return cls(data["words"], data.get("min_df"), data.get("stop_words"),
                   data.get("source", ""), data.get("images", 0), data.get("fingerprint", ""),
                   data.get("sklearn_version", ""))


def _as_given(tokens):
    """CountVectorizer analyzer for documents that are already token lists."""
    return tokens


def fit_vocabulary(token_lists, min_df, stop_words, source, ids, where):
    """Fit CountVectorizer on the images' analyzer tokens; ``token_lists()`` returns an iterable
    of one token list per image.

    The tokens are what ``make_vectorizer(min_df, stop_words).build_analyzer()`` gives for each
    image's document, computed in the worker processes (:meth:`KeywordEncoder.tokens`); here
    CountVectorizer does the rest as it would (document frequencies, ``min_df``, ids in sorted
    order), consuming the lists as they arrive. When no word survives ``min_df``, the tokens
    are read a second time to name the largest ``--min-df`` that would keep one.
    """
    vectorizer = CountVectorizer(min_df=min_df, analyzer=_as_given)
    try:
        vectorizer.fit(token_lists())
    except ValueError as exc:
        # sklearn says "no terms remain" when no word reaches min_df, and "max_df corresponds
        # to < documents than min_df" when min_df exceeds the number of documents.
        if "no terms remain" in str(exc) or "max_df corresponds" in str(exc):
            counts = CountVectorizer(analyzer=_as_given).fit_transform(token_lists())
            largest = int(np.bincount(counts.indices).max())
            raise InputError(f"{where}: no word appears in {min_df} or more images: --min-df "
                             f"{min_df} is too high (the largest value that keeps a word is "
                             f"{largest})") from None
        if "empty vocabulary" in str(exc):
            raise InputError(f"{where}: no keyword has a word of two or more letters that is "
                             "not a stop word; nothing to build a vocabulary from") from None
        raise
    words = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.get)
    return Vocabulary(words, min_df, stop_words, source, len(ids), fingerprint(ids))


class KeywordEncoder:
    """Word ids of a keyword list, equal to the analyzer on the space-joined document.

    ``ids_of[keyword]`` holds the keyword's in-vocabulary word ids, ``tokens_of[keyword]`` its
    number of analyzer tokens and ``strings_of[keyword]`` the tokens themselves; :meth:`learn`
    fills them for a new keyword.
    """

    CACHE_LIMIT = 1 << 20  # distinct keywords kept; auto-tagger vocabularies are far smaller

    def __init__(self, words, stop_words):
        self.analyzer = make_vectorizer(1, stop_words).build_analyzer()
        self.ids = {w: i for i, w in enumerate(words)} if words is not None else {}
        self.ids_of, self.tokens_of, self.strings_of = {}, {}, {}

    def learn(self, keyword):
        """Analyse one keyword; TypeError when it is not a string."""
        if keyword in self.ids_of:
            return
        if not isinstance(keyword, str):  # json gives only str, numbers, lists, ...
            raise TypeError(keyword)
        tokens = self.analyzer(keyword)
        ids = self.ids
        self.ids_of[keyword] = tuple(ids[t] for t in tokens if t in ids)
        self.tokens_of[keyword] = len(tokens)
        self.strings_of[keyword] = tuple(tokens)

    def trim(self):
        """Bound the caches (called between chunks, never while a list is being encoded)."""
        if len(self.ids_of) > self.CACHE_LIMIT:
            self.ids_of.clear()
            self.tokens_of.clear()
            self.strings_of.clear()

    def tokens(self, keywords):
        """The analyzer's tokens of the space-joined keywords."""
        for keyword in keywords:
            self.learn(keyword)
        return list(chain.from_iterable(map(self.strings_of.__getitem__, keywords)))

    def encode(self, keywords):
        """``(word ids, number of analyzer tokens)`` of one image's keyword list."""
        cached = list(map(self.ids_of.get, keywords))
        if None in cached:
            for keyword in keywords:
                self.learn(keyword)
            cached = list(map(self.ids_of.__getitem__, keywords))
        return chain.from_iterable(cached), sum(map(self.tokens_of.__getitem__, keywords))
