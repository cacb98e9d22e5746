"""The analyzer: keyword lists to tokens and word ids, as scikit-learn's CountVectorizer does.

Input
    A keyword list (``["golden retriever", "Dog", ...]``), the stop-word setting and, to
    encode, the vocabulary's words.
Output
    Tokens: ``CountVectorizer(stop_words=...).build_analyzer()(" ".join(keywords))``; word
    ids: ``[vocabulary_[t] for t in tokens if t in vocabulary_]``, in token order.

:class:`KeywordEncoder` analyses each distinct keyword once: the analyzer's tokens never span
the joining space (its lowercasing, token pattern ``\\b\\w\\w+\\b`` and stop-word filter all
act within a keyword; :class:`AnalyzerSettings` checks it), so the tokens of the joined
document are the tokens of each keyword in turn. The analyzer runs from its settings, a
checked copy of scikit-learn's defaults, so a run never imports scikit-learn, which takes
seconds. The tests check both equalities on hard cases (unicode, case, punctuation, stop
words), and the copy against the installed scikit-learn.
"""
import functools
import re
from array import array
from dataclasses import dataclass
from itertools import chain, compress, repeat
from operator import is_, not_

import numpy as np

from .errors import check_choice
from .tables import ragged_positions, run_sums

# Joins tokens in the packed text workers send for fitting; no token (a run of \\w) holds it.
TOKEN_SEP = "\x1f"
STOP_WORDS = ("english", "none")


# The checked copy of scikit-learn's CountVectorizer defaults (see above; compared with the
# installed scikit-learn in tests/test_equivalence.py). With the other defaults (analyzer="word",
# no preprocessor, tokenizer or accent stripping, ngram_range=(1, 1)), the analyzer is these
# three settings alone: lowercase, the token pattern and the stop words.
LOWERCASE = True
TOKEN_PATTERN = r"(?u)\b\w\w+\b"
ENGLISH_STOP_WORDS = frozenset("""
a about above across after afterwards again against all almost alone along already also
although always am among amongst amoungst amount an and another any anyhow anyone anything
anyway anywhere are around as at back be became because become becomes becoming been before
beforehand behind being below beside besides between beyond bill both bottom but by call can
cannot cant co con could couldnt cry de describe detail do done down due during each eg eight
either eleven else elsewhere empty enough etc even ever every everyone everything everywhere
except few fifteen fifty fill find fire first five for former formerly forty found four from
front full further get give go had has hasnt have he hence her here hereafter hereby herein
hereupon hers herself him himself his how however hundred i ie if in inc indeed interest into
is it its itself keep last latter latterly least less ltd made many may me meanwhile might mill
mine more moreover most mostly move much must my myself name namely neither never nevertheless
next nine no nobody none noone nor not nothing now nowhere of off often on once one only onto
or other others otherwise our ours ourselves out over own part per perhaps please put rather re
same see seem seemed seeming seems serious several she should show side since sincere six sixty
so some somehow someone something sometime sometimes somewhere still such system take ten than
that the their them themselves then thence there thereafter thereby therefore therein thereupon
these they thick thin third this those though three through throughout thru thus to together
too top toward towards twelve twenty two un under until up upon us very via was we well were
what whatever when whence whenever where whereafter whereas whereby wherein whereupon wherever
whether which while whither who whoever whole whom whose why will with within without would yet
you your yours yourself yourselves""".split())


def make_vectorizer(min_df=6, stop_words="english"):
    """The CountVectorizer of the original scripts (``stop_words="none"`` keeps every word)."""
    from sklearn.feature_extraction.text import CountVectorizer  # only where a fit needs it
    return CountVectorizer(min_df=min_df, stop_words=None if stop_words == "none" else stop_words)


@dataclass(frozen=True)
class AnalyzerSettings:
    """What the analyzer does, as one checked value: lowercase, find the token pattern, drop
    the stop words (``"english"``: scikit-learn's, ``"none"``: none). Recorded by
    its ``stop_words`` name in the vocabulary file and the manifest.

    Checked where it is made: no token may span the space that joins an image's keywords,
    nor hold :data:`TOKEN_SEP`, or the per-keyword cache of :class:`KeywordEncoder` (and the
    packed tokens of a fit) would give other rows than the joined document. Made once per
    stop-word setting by :func:`analyzer_settings`.
    """

    lowercase: bool = LOWERCASE
    token_pattern: str = TOKEN_PATTERN
    stop_words: str = "english"

    def __post_init__(self):
        check_choice("stop_words", self.stop_words, STOP_WORDS)
        findall = re.compile(self.token_pattern).findall
        for probe in ("ab cd", "ab  cd", f"ab{TOKEN_SEP}cd", "a b", f"a{TOKEN_SEP}b"):
            if any(" " in token or TOKEN_SEP in token for token in findall(probe)):
                raise ValueError(f"token pattern {self.token_pattern!r} finds tokens that "
                                 "span a space or the token separator")

    @property
    def stop_set(self):
        """The stop words as a frozenset, or None."""
        return ENGLISH_STOP_WORDS if self.stop_words == "english" else None


@functools.lru_cache(maxsize=None)
def analyzer_settings(stop_words="english"):
    """The :class:`AnalyzerSettings` of ``make_vectorizer(stop_words=...)``'s analyzer."""
    return AnalyzerSettings(stop_words=stop_words)


def analyzer_of_each(analyzer):
    """The analyzer of :class:`AnalyzerSettings` (``analyzer``), as sklearn's ``_analyze``
    applies it to a ``str`` document (lowercase, ``findall`` of the token pattern, drop the
    stop words), on a list of documents at once: their token lists, each step mapped over
    all of them."""
    lowercase, stop_words = analyzer.lowercase, analyzer.stop_set
    findall = re.compile(analyzer.token_pattern).findall

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


def known_word_ids(index, token_lists):
    """``(word ids, counts)`` of documents' token lists: the word ids (int64, in token order)
    of the tokens in ``index`` (:func:`word_index`), the others dropped, and how many each
    document has. The one look-up of tokens in a vocabulary."""
    tokens = list(chain.from_iterable(token_lists))
    found = np.fromiter(map(index.get, tokens, repeat(-1)), np.int64, len(tokens))
    known = found >= 0
    if len(token_lists) == 1:  # one document (Vocabulary.encode): its count is all of them
        return found[known], np.array([np.count_nonzero(known)], np.int64)
    per_document = np.fromiter(map(len, token_lists), np.int64, len(token_lists))
    return found[known], run_sums(known, per_document)


class KeywordEncoder:
    """Word ids of keyword lists, equal to the analyzer on each list's space-joined document.

    Each distinct keyword is analysed once (:meth:`learn`) and given a number; its word ids
    are kept in one flat array, so a whole chunk of images is encoded with a few numpy
    operations (:meth:`encode_lists`) rather than a Python loop over every keyword.
    """

    CACHE_LIMIT = 1 << 20  # distinct keywords kept; auto-tagger vocabularies are far smaller

    def __init__(self, words, analyzer):
        self.analyze_each = analyzer_of_each(analyzer)  # analyzer: AnalyzerSettings
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
        ids, lengths = known_word_ids(self.ids, token_lists)
        starts = len(self._word_ids) + np.cumsum(lengths) - lengths
        first = len(self.number)
        self.number.update(zip(keywords, range(first, first + len(keywords))))
        self.token_text.update(zip(keywords, map(TOKEN_SEP.join, token_lists)))
        self._starts.frombytes(starts.astype(np.int64).tobytes())
        self._lengths.frombytes(lengths.astype(np.int64).tobytes())
        self._n_tokens.extend(map(len, token_lists))
        self._word_ids.frombytes(ids.astype(np.int32).tobytes())

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
        # Keyword k's word ids are word_ids[starts[k]:starts[k] + id_lengths[k]].
        per_keyword = id_lengths[numbers]
        ids = word_ids[ragged_positions(starts[numbers], per_keyword)]
        counts = run_sums(per_keyword, lengths).astype(np.int32)
        return counts, ids, int(n_tokens[numbers].sum())
