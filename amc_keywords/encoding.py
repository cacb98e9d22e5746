"""Encoding: images' keyword files to rows ``[img_id, word_id]``, in parallel and streaming.

Input
    A source and the :class:`~amc_keywords.plans.Plan` of one set (its images in output
    order and where each keyword file is; see :mod:`amc_keywords.sources`), and the
    vocabulary's words.
Output
    :func:`encode` feeds a row writer chunk by chunk (rows in list order; within an image, in
    token order), fills the set's range table and returns :class:`EncodeCounts`;
    :func:`token_lists` yields each image's analyzer tokens for fitting the vocabulary.

Work is cut into chunks of consecutive entries; up to ``2 * jobs`` chunks are in flight and
results are taken in submission order, so output is the same for any ``--jobs`` and memory
stays flat however many images there are. ``jobs=1`` runs in this process.
"""
import collections
import sys
import time
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from . import workers
from .analyzer import TOKEN_SEP, KeywordEncoder
from .keyword_files import bad_keyword
from .log import logger
from .sources import keyword_lists, payload_location
from .tables import fill_ranges

# Separates images in the packed token text (see TOKEN_SEP): a chunk's tokens travel to the
# main process as one string, far cheaper to pass than a list per image.
IMAGE_SEP = "\x1e"

CHUNK = 2048  # images a task: large enough to amortise pickling, small enough to stream

_encoder = None


def _set_encoder(words, analyzer):
    global _encoder
    _encoder = KeywordEncoder(words, analyzer)


def _checked(method, payload):
    """``(method(lists), facts)`` of the payload's keyword lists and (for a folder) the
    facts of its files for the fingerprint; when a list holds a non-string, the error naming
    its image."""
    lists, facts = keyword_lists(payload)
    try:
        return method(lists), facts
    except TypeError:
        wheres = (payload_location(payload, i) for i in range(len(lists)))
        error = next(filter(None, map(bad_keyword, lists, wheres)), None)
        if error is None:
            raise
        raise error from None


def _encode_chunk(payload):
    """Rows of one chunk: per-image row counts, word ids, the number of tokens seen, and the
    facts of a folder's files (None for an archive)."""
    _encoder.trim()
    (counts, word_ids, tokens), facts = _checked(_encoder.encode_lists, payload)
    return counts, word_ids, tokens, facts


def _tokens_chunk(payload):
    """Each image's analyzer tokens (for fitting the vocabulary), packed into one string, and
    the facts of a folder's files."""
    _encoder.trim()
    texts, facts = _checked(_encoder.token_texts, payload)
    return IMAGE_SEP.join(texts), len(texts), facts


def _run(source, plan, func, initargs, jobs, label, progress):
    """``(chunk, func(payload))`` for the chunks of ``plan``, in order, with a progress bar."""
    pending = collections.deque()  # chunks sent and not yet answered, oldest first

    def payloads():
        for chunk in plan.chunks(CHUNK):
            pending.append(chunk)
            yield source.payload(chunk)

    with _bar(plan, label, progress) as bar:
        for result in _results(payloads(), func, initargs, jobs):
            chunk = pending.popleft()
            bar.update(len(chunk))
            yield chunk, result


def _bar(plan, label, progress):
    """A progress bar in images (and images/s) on stderr: ``progress`` True, False, or None
    (on when stderr is a terminal)."""
    return tqdm(total=len(plan), desc=label, unit="img", unit_scale=True, file=sys.stderr,
                disable=None if progress is None else not progress, leave=False, smoothing=0.1)


def _results(payloads, func, initargs, jobs):
    """``func(payload)`` for each payload, in order: here, or in ``jobs`` workers."""
    if jobs == 1:
        _set_encoder(*initargs)
        yield from map(func, payloads)
        return
    with workers.pool(jobs, _set_encoder, initargs) as pool:
        pending = []
        for payload in payloads:
            pending.append(workers.submit(pool, func, payload))
            if len(pending) >= 2 * jobs:
                yield workers.result(pending.pop(0))
        while pending:
            yield workers.result(pending.pop(0))


def token_lists(source, plan, analyzer, jobs, label="reading", progress=None,
                fingerprint=None):
    """Each image's tokens by ``analyzer`` (an AnalyzerSettings) of ``" ".join(keywords)``,
    in plan order; a folder's files go to ``fingerprint`` (a FolderFingerprint)."""
    for chunk, (packed, n, facts) in _run(source, plan, _tokens_chunk,
                                          (None, analyzer), jobs, label,
                                          progress):
        if fingerprint is not None and facts is not None:
            fingerprint.add(chunk["key"], facts)
        for image in packed.split(IMAGE_SEP) if n else ():
            yield image.split(TOKEN_SEP) if image else []


@dataclass
class EncodeCounts:
    """What one set's encoding counted: rows per image and tokens before the vocabulary."""
    counts: np.ndarray
    tokens: int

    @property
    def rows(self):
        return int(self.counts.sum())


def encode(source, plan, words, analyzer, writer, ranges, jobs, label="encoding",
           progress=None, fingerprint=None):
    """Encode the images of ``plan`` with ``analyzer`` (an AnalyzerSettings) and the
    vocabulary's ``words``: hand each chunk's rows to ``writer.write(rows)`` and
    enter each image's ``[first, last]`` rows into the range table ``ranges``; a folder's
    files go to ``fingerprint`` (a FolderFingerprint), when given. The first and the last
    chunk are marked in the debug log (``-v``): what comes before the first and after the
    last is the run's fixed cost."""
    encoded = _run(source, plan, _encode_chunk, (words, analyzer), jobs, label, progress)
    counts = np.empty(len(plan), np.int32)
    tokens = 0
    done = rows_done = 0
    started = time.perf_counter()
    for chunk, (chunk_counts, word_ids, n_tokens, facts) in encoded:
        if fingerprint is not None and facts is not None:
            fingerprint.add(chunk["key"], facts)
        n = len(chunk_counts)
        counts[done:done + n] = chunk_counts
        rows = np.empty((len(word_ids), 2), np.int64)
        rows[:, 0] = np.repeat(chunk["id"], chunk_counts)
        rows[:, 1] = word_ids
        writer.write(rows)
        fill_ranges(ranges, chunk["id"], chunk_counts, rows_done)
        tokens += n_tokens
        if not done:
            logger.debug("time: %s: first chunk encoded, %.2f s after the set's start", label,
                         time.perf_counter() - started)
        done += n
        rows_done += len(rows)
    logger.debug("time: %s: last chunk encoded, %.2f s after the set's start", label,
                 time.perf_counter() - started)
    if done != len(plan):  # cannot happen unless a worker lost a chunk
        raise RuntimeError(f"internal error: encoded {done} of {len(plan)} images")
    return EncodeCounts(counts, tokens)
