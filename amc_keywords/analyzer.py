"""The analyzer: keyword lists to tokens and word ids, as scikit-learn's CountVectorizer does.

Input
    A keyword list (``["golden retriever", "Dog", ...]``), the stop-word setting and, to
    encode, the vocabulary's words.
Output
    Tokens: ``CountVectorizer(stop_words=...).build_analyzer()(" ".join(keywords))``; word
    ids: ``[vocabulary_[t] for t in tokens if t in vocabulary_]``, in token order.

:class:`KeywordEncoder` analyses each distinct keyword once: the analyzer's tokens never span
the joining space (its lowercasing, token pattern ``\\b\\w\\w+\\b`` and stop-word filter all
act within a keyword), so the tokens of the joined document are the tokens of each keyword in
turn. The analyzer runs from its settings (:func:`analyzer_settings`, read from the installed
scikit-learn's source as data), so a run never imports scikit-learn, which takes seconds. The
tests check both equalities on hard cases (unicode, case, punctuation, stop words).
"""
import ast
import functools
import importlib.metadata
import importlib.util
import os
import re
from array import array
from itertools import chain, compress, repeat
from operator import is_, not_

import numpy as np

# Joins tokens in the packed text workers send for fitting; no token (a run of \\w) holds it.
TOKEN_SEP = "\x1f"
STOP_WORDS = ("english", "none")


def sklearn_version():
    """The installed scikit-learn's version (``sklearn.__version__``), from its package
    metadata: no import."""
    try:
        return importlib.metadata.version("scikit-learn")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree
        import sklearn
        return sklearn.__version__


def make_vectorizer(min_df=6, stop_words="english"):
    """The CountVectorizer of the original scripts (``stop_words="none"`` keeps every word)."""
    from sklearn.feature_extraction.text import CountVectorizer  # only where a fit needs it
    return CountVectorizer(min_df=min_df, stop_words=None if stop_words == "none" else stop_words)


@functools.lru_cache(maxsize=None)
def analyzer_settings(stop_words="english"):
    """``(lowercase, token pattern, stop words)`` of ``make_vectorizer(stop_words=...)``'s
    analyzer: plain data that :func:`plain_analyzer` turns back into the same analyzer.

    Read from the installed scikit-learn without importing it (:func:`settings_in_source`):
    the import takes seconds, and a run would wait for it before its first image. Where its
    source is not as expected, from an imported CountVectorizer. Raises AssertionError if
    the vectorizer's analyzer were ever more than these three settings (accent stripping, a
    custom preprocessor or tokenizer, n-grams).
    """
    found = settings_in_source(_sklearn_folder(), stop_words)
    if found is not None:
        return found
    vectorizer = make_vectorizer(1, stop_words)
    if (vectorizer.analyzer, vectorizer.preprocessor, vectorizer.tokenizer,
            vectorizer.strip_accents, tuple(vectorizer.ngram_range)) != _PLAIN:
        raise AssertionError("CountVectorizer's analyzer is not lowercase + token pattern + "
                             "stop words")
    stop = vectorizer.get_stop_words()
    return (bool(vectorizer.lowercase), vectorizer.token_pattern,
            None if stop is None else frozenset(stop))


# CountVectorizer's analyzer defaults that make it lowercase + token pattern + stop words.
_PLAIN = ("word", None, None, None, (1, 1))


def _sklearn_folder():
    spec = importlib.util.find_spec("sklearn")  # finds the package; imports nothing
    locations = spec.submodule_search_locations if spec is not None else None
    return locations[0] if locations else None


def settings_in_source(folder, stop_words):
    """:func:`analyzer_settings` as the scikit-learn source in ``folder`` states them, read
    as data (parsed, never run): the literal defaults of ``CountVectorizer.__init__`` and
    the literal ``ENGLISH_STOP_WORDS``; None when the source does not state them so."""
    try:
        defaults = _literal_defaults(os.path.join(folder, "feature_extraction", "text.py"),
                                     "CountVectorizer")
        if tuple(defaults.get(k, "?") for k in ("analyzer", "preprocessor", "tokenizer",
                                                  "strip_accents", "ngram_range")) != _PLAIN:
            return None
        lowercase, pattern = defaults["lowercase"], defaults["token_pattern"]
        if not isinstance(lowercase, bool) or not isinstance(pattern, str):
            return None
        if stop_words == "none":
            return lowercase, pattern, None
        words = _literal_frozenset(os.path.join(folder, "feature_extraction",
                                                "_stop_words.py"), "ENGLISH_STOP_WORDS")
        return (lowercase, pattern, words) if words is not None else None
    except (OSError, SyntaxError, ValueError, TypeError, KeyError, UnicodeDecodeError):
        return None


def _parse(path):
    with open(path, "rb") as f:
        return ast.parse(f.read(), path)


def _literal_defaults(path, class_name):
    """``{parameter: default}`` of the class's ``__init__`` keyword-only parameters whose
    defaults are literals."""
    for node in _parse(path).body:
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                    found = {}
                    for arg, default in zip(item.args.kwonlyargs, item.args.kw_defaults):
                        try:
                            found[arg.arg] = ast.literal_eval(default)
                        except ValueError:
                            pass  # not a literal (e.g. dtype=np.int64): not needed
                    return found
    return {}


def _literal_frozenset(path, name):
    """The value of ``name = frozenset([<literal strings>])`` at the module's top level."""
    for node in _parse(path).body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] \
                == [name]:
            call = node.value
            if isinstance(call, ast.Call) and getattr(call.func, "id", None) == "frozenset" \
                    and len(call.args) == 1 and not call.keywords:
                words = ast.literal_eval(call.args[0])
                if all(isinstance(w, str) for w in words):
                    return frozenset(words)
    return None


def plain_analyzer(settings):
    """The analyzer of :func:`analyzer_settings`, as sklearn's ``_analyze`` applies it to a
    ``str`` document: lowercase, ``findall`` of the token pattern, drop the stop words."""
    analyze_each = analyzer_of_each(settings)
    return lambda document: analyze_each([document])[0]


def analyzer_of_each(settings):
    """:func:`plain_analyzer` of a list of documents (strings) at once: their token lists,
    each step mapped over all of them."""
    lowercase, pattern, stop_words = settings
    findall = re.compile(pattern).findall

    def analyze_each(documents):
        token_lists = list(map(findall, map(str.lower, documents) if lowercase else documents))
        if stop_words is not None:
            # Most keywords hold no stop word: only those that do are filtered, one by one.
            for i in compress(range(len(token_lists)),
                              map(not_, map(stop_words.isdisjoint, token_lists))):
                token_lists[i] = [token for token in token_lists[i] if token not in stop_words]
        return token_lists
    return analyze_each


def word_index(words):
    """``{word: word_id}`` of a vocabulary's words (``words[word_id] == word``)."""
    return {word: i for i, word in enumerate(words)}


class KeywordEncoder:
    """Word ids of keyword lists, equal to the analyzer on each list's space-joined document.

    Each distinct keyword is analysed once (:meth:`learn`) and given a number; its word ids
    are kept in one flat array, so a whole chunk of images is encoded with a few numpy
    operations (:meth:`encode_lists`) rather than a Python loop over every keyword.
    """

    CACHE_LIMIT = 1 << 20  # distinct keywords kept; auto-tagger vocabularies are far smaller

    def __init__(self, words, settings):
        self.analyze_each = analyzer_of_each(settings)  # settings: analyzer_settings()
        self.ids = word_index(words) if words is not None else {}
        self._clear()

    def _clear(self):
        self.number = {}    # keyword -> its number k, in order of first sight
        self.token_text = {}  # keyword -> its analyzer tokens joined by TOKEN_SEP
        self._starts, self._lengths = array("q"), array("q")  # k -> slice of _word_ids
        self._n_tokens, self._word_ids = array("q"), array("i")
        self._views = None

    def learn(self, keywords):
        """Analyse new keywords (distinct, none of them known) and number them, in order;
        TypeError when one is not a string.

        All at once: the analyzer's steps each map over the keywords, and their word ids are
        looked up and counted with numpy, so a new keyword costs no Python loop of its own.
        """
        keywords = list(keywords)
        if not all(map(isinstance, keywords, repeat(str))):  # json gives str, numbers, ...
            raise TypeError(next(k for k in keywords if not isinstance(k, str)))
        self._views = None  # numpy views of the arrays below: they must go before a resize
        token_lists = self.analyze_each(keywords)
        n_tokens = np.fromiter(map(len, token_lists), np.int64, len(token_lists))
        tokens = list(chain.from_iterable(token_lists))
        ids = np.fromiter(map(self.ids.get, tokens, repeat(-1)), np.int64, len(tokens))
        known = ids >= 0
        # Ids per keyword: the known tokens between its first and its last token.
        known_before = np.concatenate(([0], np.cumsum(known)))
        token_bounds = np.concatenate(([0], np.cumsum(n_tokens)))
        lengths = np.diff(known_before[token_bounds])
        starts = len(self._word_ids) + known_before[token_bounds[:-1]]
        first = len(self.number)
        self.number.update(zip(keywords, range(first, first + len(keywords))))
        self.token_text.update(zip(keywords, map(TOKEN_SEP.join, token_lists)))
        self._starts.frombytes(starts.astype(np.int64).tobytes())
        self._lengths.frombytes(lengths.astype(np.int64).tobytes())
        self._n_tokens.frombytes(n_tokens.tobytes())
        self._word_ids.frombytes(ids[known].astype(np.int32).tobytes())

    def trim(self):
        """Bound the caches (called between chunks, never while lists are being encoded)."""
        if len(self.number) > self.CACHE_LIMIT:
            self._clear()

    def numbers(self, keywords):
        """int64 array of each keyword's number, learning the new ones; TypeError for a
        keyword that is not a string."""
        found = list(map(self.number.get, keywords))  # TypeError when unhashable (a list)
        try:
            return np.frombuffer(array("q", found), np.int64)  # TypeError when one is None
        except TypeError:
            pass
        # The new ones (found None): learned together, each once, in order of first sight;
        # then their places filled in, the only Python loop, over them alone.
        missing = list(compress(range(len(found)), map(is_, found, repeat(None))))
        self.learn(dict.fromkeys([keywords[i] for i in missing]))
        number = self.number
        for i in missing:
            found[i] = number[keywords[i]]
        return np.frombuffer(array("q", found), np.int64)

    def token_texts(self, keyword_lists):
        """Each list's analyzer tokens joined by TOKEN_SEP (those of its joined document)."""
        self.numbers(list(chain.from_iterable(keyword_lists)))  # learn the new keywords
        text = self.token_text.__getitem__
        return [TOKEN_SEP.join(filter(None, map(text, keywords))) for keywords in keyword_lists]

    def encode_lists(self, keyword_lists):
        """``(rows per list, word ids, analyzer tokens in all)`` of a sequence of keyword
        lists: word ids in list order, and within a list in token order."""
        lengths = np.fromiter(map(len, keyword_lists), np.int64, len(keyword_lists))
        numbers = self.numbers(list(chain.from_iterable(keyword_lists)))
        if self._views is None:
            self._views = tuple(np.frombuffer(a, t) if len(a) else np.zeros(0, t)
                                for a, t in ((self._starts, np.int64), (self._lengths, np.int64),
                                             (self._n_tokens, np.int64),
                                             (self._word_ids, np.int32)))
        starts, id_lengths, n_tokens, word_ids = self._views
        # Keyword occurrence i contributes word_ids[starts[k]:starts[k] + id_lengths[k]].
        per_keyword = id_lengths[numbers]
        ends = np.cumsum(per_keyword)
        offsets = np.repeat(starts[numbers] - (ends - per_keyword), per_keyword)
        ids = word_ids[np.arange(len(offsets)) + offsets]
        # Rows per list: the sum of its keywords' id counts.
        bounds = np.concatenate(([0], ends))[np.cumsum(lengths)]
        counts = np.diff(bounds, prepend=0).astype(np.int32)
        return counts, ids, int(n_tokens[numbers].sum())
