"""Encoding: images' keyword files to rows ``[img_id, word_id]``, in parallel and streaming.

Input
    A source (see :mod:`amc_keywords.sources`), the :class:`~amc_keywords.sources.Entries` of
    one set in output order, and the vocabulary's words.
Output
    :func:`encode` feeds a row writer chunk by chunk (rows in list order; within an image, in
    token order) and returns :class:`EncodeStats`; :func:`token_lists` yields each image's
    analyzer tokens for fitting the vocabulary.

Work is cut into chunks of consecutive entries; up to ``2 * jobs`` chunks are in flight and
results are taken in submission order, so output is the same for any ``--jobs`` and memory
stays flat however many images there are. ``jobs=1`` runs in this process.
"""
import contextlib
import multiprocessing
import os
import select
import signal
import sys
import threading
import time
from array import array
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from .errors import InputError
from .sources import bad_keyword, parse_keywords, read_payload
from .vocabulary import KeywordEncoder

CHUNK = 2048  # images a task: large enough to amortise pickling, small enough to stream

_encoder = None


def _set_encoder(words, stop_words):
    global _encoder
    _encoder = KeywordEncoder(words, stop_words)


def _context():
    """Workers start from a small server process that has imported this package once (fast
    to start, and they do not inherit the main process's memory); plain fork elsewhere."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["amc_keywords.encoding"])
        return context
    return multiprocessing.get_context()


def start_workers_early():
    """Start the worker server now, so its imports overlap with the main process's work."""
    if _context().get_start_method() == "forkserver":
        from multiprocessing import forkserver
        # Started with Ctrl-C ignored (inherited through exec): a Ctrl-C during their start-up
        # must reach only the main process, which reports it in one line.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            forkserver.ensure_running()
        finally:
            signal.signal(signal.SIGINT, previous)


def run_in_workers(calls, jobs):
    """``[func(*args) for func, *args in calls]``, each in a worker process, in parallel.

    For memory: reading a million-entry map or zip directory needs several times the memory
    of its result for a moment; in a short-lived worker that peak leaves with the worker.
    """
    if jobs == 1:
        return [func(*args) for func, *args in calls]
    # A fresh process for each call: memory a worker freed is not returned to the system, so
    # two calls in one worker would add up their peaks.
    with _pool(min(jobs, len(calls)), (None, None), one_task_each=True) as pool:
        futures = [_submit(pool, *call) for call in calls]
        return [_result(future) for future in futures]


@contextlib.contextmanager
def _pool(jobs, initargs, one_task_each=False):
    """A worker pool that is always shut down whole, even when Ctrl-C comes mid-way.

    Starting or stopping workers interrupted half-way would leave one running past the main
    process, printing a traceback of its own: Ctrl-C is held while the pool changes, and
    acted on right after.
    """
    options = dict(mp_context=_context(), initializer=_init_worker,
                   initargs=(*initargs, os.getpid()))
    if one_task_each and sys.version_info >= (3, 11):
        pool = ProcessPoolExecutor(jobs, max_tasks_per_child=1, **options)
    else:
        pool = ProcessPoolExecutor(jobs, **options)
    try:
        yield pool
    finally:
        with _interrupt_held():
            pool.shutdown(wait=True, cancel_futures=True)


@contextlib.contextmanager
def _interrupt_held():
    """Ctrl-C during the block is noted and raised at its end (a signal mask would not do:
    the pool's own threads would take the signal instead)."""
    received = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            raise KeyboardInterrupt


def _submit(pool, func, *args):
    with _interrupt_held():  # submitting may start a worker
        return pool.submit(func, *args)


def _init_worker(words, stop_words, main_pid):
    if stop_words is not None:
        _set_encoder(words, stop_words)
    # Ctrl-C reaches the whole process group; only the main process should act on it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Die with the main process, even on kill -9, instead of lingering: a worker's parent is
    # the worker server, and the pipes it holds never report the main process gone.
    threading.Thread(target=_exit_with, args=(main_pid,), daemon=True).start()


def _exit_with(pid):
    try:
        fd = os.pidfd_open(pid)  # Linux: readable once the process has exited
    except (AttributeError, OSError):
        fd = None
    while True:
        if fd is not None:
            select.select([fd], [], [])
        else:
            time.sleep(0.5)
            try:
                os.kill(pid, 0)
                continue
            except PermissionError:
                continue
            except OSError:
                pass
        os._exit(1)


def _keywords_of(payload):
    for where, raw in read_payload(payload):
        yield where, parse_keywords(raw, where)


def _encode_chunk(payload):
    """Rows of one chunk: per-image row counts, word ids, and the number of tokens seen."""
    _encoder.trim()
    encode = _encoder.encode
    counts, word_ids = array("i"), array("i")
    n_tokens = 0
    for where, keywords in _keywords_of(payload):
        before = len(word_ids)
        try:
            ids, n = encode(keywords)
            word_ids.extend(ids)
        except (TypeError, AttributeError, ValueError):
            raise bad_keyword(keywords, where) from None
        n_tokens += n
        counts.append(len(word_ids) - before)
    return np.frombuffer(counts, np.int32), np.frombuffer(word_ids, np.int32), n_tokens


# Separators that no token can hold (tokens are runs of \w characters): a chunk's tokens
# travel to the main process as one string, far cheaper to pass than a list per image.
TOKEN_SEP, IMAGE_SEP = "\x1f", "\x1e"


def _tokens_chunk(payload):
    """Each image's analyzer tokens (for fitting the vocabulary), packed into one string."""
    _encoder.trim()
    packed = []
    for where, keywords in _keywords_of(payload):
        try:
            packed.append(TOKEN_SEP.join(_encoder.tokens(keywords)))
        except (TypeError, AttributeError, ValueError):
            raise bad_keyword(keywords, where) from None
    return IMAGE_SEP.join(packed), len(packed)


def _run(source, entries, located, func, initargs, jobs, label, quiet):
    """Results of ``func`` over the chunks of ``entries``, in order, with a progress bar.

    ``located`` is what ``source.locate(entries)`` returned (done early, to fail fast).
    """
    starts = range(0, len(entries), CHUNK)
    payloads = (source.payload(entries.keys, located, s, min(s + CHUNK, len(entries)))
                for s in starts)
    bar = tqdm(total=len(entries), desc=label, unit="img", unit_scale=True, file=sys.stderr,
               disable=True if quiet else None, leave=False, smoothing=0.1)
    with bar:
        if jobs == 1:
            _set_encoder(*initargs)
            for payload in payloads:
                result = func(payload)
                bar.update(min(CHUNK, len(entries) - bar.n))
                yield result
            return
        with _pool(jobs, initargs) as pool:
            pending = []
            for payload in payloads:
                pending.append(_submit(pool, func, payload))
                if len(pending) >= 2 * jobs:
                    yield _take(pending, bar, len(entries))
            while pending:
                yield _take(pending, bar, len(entries))


def _take(pending, bar, total):
    result = _result(pending.pop(0))
    bar.update(min(CHUNK, total - bar.n))
    return result


def _result(future):
    try:
        return future.result()
    except BrokenProcessPool:
        raise InputError("a worker process died (out of memory, or killed); earlier outputs "
                         "are unchanged; try again with fewer --jobs") from None


def default_jobs():
    """All cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return os.cpu_count() or 1


def token_lists(source, entries, located, stop_words, jobs, label="reading", quiet=False):
    """Each image's analyzer tokens (of ``" ".join(keywords)``), in entry order."""
    for packed, n in _run(source, entries, located, _tokens_chunk, (None, stop_words), jobs,
                          label, quiet):
        for image in packed.split(IMAGE_SEP) if n else ():
            yield image.split(TOKEN_SEP) if image else []


@dataclass
class EncodeStats:
    """What one set's encoding saw: row counts per image and tokens before the vocabulary."""
    counts: np.ndarray
    tokens: int

    @property
    def rows(self):
        return int(self.counts.sum())


def encode(source, entries, located, words, stop_words, writer, jobs, label="encoding",
           quiet=False):
    """Encode ``entries`` and hand each chunk's rows to ``writer.write(rows)``."""
    counts = np.empty(len(entries), np.int32)
    tokens = 0
    done = 0
    for chunk_counts, word_ids, n_tokens in _run(source, entries, located, _encode_chunk,
                                                 (words, stop_words), jobs, label, quiet):
        n = len(chunk_counts)
        counts[done:done + n] = chunk_counts
        rows = np.empty((len(word_ids), 2), np.int64)
        rows[:, 0] = np.repeat(entries.ids[done:done + n], chunk_counts)
        rows[:, 1] = word_ids
        writer.write(rows)
        tokens += n_tokens
        done += n
    if done != len(entries):  # cannot happen unless a worker lost a chunk
        raise InputError(f"internal error: encoded {done} of {len(entries)} images")
    return EncodeStats(counts, tokens)
