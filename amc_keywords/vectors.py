"""Pretrained word vectors aligned to a vocabulary: the matrix whose row ``i`` is word id
``i``'s vector, the report a user checks, and the sidecar that says what the matrix is.

Input
    A vocabulary (in any form :func:`align_vectors` takes), a word-vector file (read by
    :mod:`amc_keywords.vector_files`) and :class:`VectorOptions`.
Output
    :func:`align_vectors` gives :class:`AlignedVectors`: ``matrix``, float32 ``(V + 1, d)``,
    row ``V`` zero (the padding index of ``nn.Embedding(V + 1, d, padding_idx=V)``), and
    ``report`` (:class:`VectorReport`). :meth:`AlignedVectors.write` writes the matrix
    (``.npy``) and its sidecar (``.json``), each atomically; the sidecar's format, and
    reading a matrix back, are :mod:`amc_keywords.vectors_matrix`'s.

Matching (an exact match wins, else, unless ``exact``, the first case variant in file
order) and the rows of missing words (zeros, or seeded random draws): docs/cli.md#vectors.
"""
import glob
import json
import os
import re
import sys
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .errors import InputError
from .filenames import parse_rows_name
from .keywords import Keywords
from .loader import load_keywords
from .log import logger
from .npy_files import npy_header
from .settings import VectorOptions
from .vector_files import VectorFile, lowercase
from .vectors_matrix import FORMAT, sidecar_of, words_digest
from .vocabulary import Vocabulary
from .writing import replaced_whole

TOP_MISSING = 20
COUNT_CHUNK = 1 << 20  # rows counted at a time
COMPRESSED = (".gz", ".bz2", ".xz", ".zip")
VocabularySource = Union[str, "os.PathLike[str]", Vocabulary, Keywords, Sequence[str]]
_MISSING, _BY_CASE, _EXACT = 0, 1, 2


@dataclass(frozen=True)
class VectorReport:
    """What was found: the vectors file's description (``source``, as the sidecar has it),
    the words found exactly and by case, the missing ones, and (where the set's rows were
    counted) the share of rows covered."""

    source: Dict[str, Any]
    words: int
    found_exact: int
    found_by_case: int
    rows: Optional[int]  # the rows counted (None: no rows file known)
    rows_covered: Optional[int]
    rows_files: List[str]
    top_missing: List[Tuple[str, Optional[int]]]  # (word, rows of it) most frequent first

    @property
    def missing(self) -> int:
        return self.words - self.found_exact - self.found_by_case

    def figures(self) -> Dict[str, Any]:
        return {"words": self.words, "found_exact": self.found_exact,
                "found_by_case": self.found_by_case, "missing": self.missing,
                "rows": self.rows, "rows_covered": self.rows_covered,
                "rows_files": self.rows_files,
                "top_missing": dict(self.top_missing)}

    def text(self) -> str:
        """The report as the command prints it."""
        source = self.source
        where = f"{source['file']}:{source['member']}" if source["member"] else source["file"]
        count = "" if source["count"] is None else f"{source['count']:,} words, "
        lines = [f"{where}: {source['format']}"
                 f"{'' if source['compression'] == 'none' else ', ' + source['compression']}"
                 f", {count}dimension {source['dim']}, {source['records']:,} records read",
                 f"found: {self.found_exact + self.found_by_case:,} of {self.words:,} words "
                 f"({self.found_exact:,} exact, {self.found_by_case:,} by case)",
                 f"missing: {self.missing:,} words"]
        if self.rows is not None and self.rows_covered is not None:
            share = self.rows_covered / self.rows if self.rows else 1.0
            lines.append(f"rows with a vector: {share:.2%} ({self.rows_covered:,} of "
                         f"{self.rows:,} rows of {', '.join(self.rows_files)})")
        else:
            lines.append("rows with a vector: not known (no rows file beside the vocabulary)")
        if self.top_missing:
            shown = ", ".join(word if n is None else f"{word} ({n:,})"
                              for word, n in self.top_missing)
            lines.append(f"most frequent missing words: {shown}" if self.rows is not None
                         else f"first missing words: {shown}")
        return "\n".join(lines)


@dataclass
class AlignedVectors:
    """The matrix (float32, ``(V + 1, d)``), its report, and what it was made with."""

    matrix: np.ndarray
    report: VectorReport
    vocabulary: Vocabulary
    options: VectorOptions
    vectors_file: str

    def default_path(self) -> str:
        """Beside the vocabulary file, named after it and after the vectors file:
        ``vectors_<dataset>_sk_<k>_<vectors file's stem>.npy``."""
        if self.vocabulary.file is None:
            raise InputError("the vocabulary has no file to write beside: give output=")
        folder, name = os.path.split(self.vocabulary.file)
        stem = re.sub(r"^vocabulary_", "", os.path.splitext(name)[0])
        vectors_stem = vectors_file_stem(self.vectors_file, self.report.source["member"])
        return os.path.join(folder, f"vectors_{stem}_{vectors_stem}.npy")

    def write(self, output: Optional[str] = None) -> Tuple[str, str]:
        """Write the matrix (``output``, default :meth:`default_path`) and its sidecar
        (the same name, ``.json``), each to a temporary moved into place; return both
        paths."""
        path = os.fspath(output) if output is not None else self.default_path()
        if not path.endswith(".npy"):
            raise InputError(f"{path}: the matrix is a .npy file: give a name ending in .npy")
        sidecar_path = sidecar_of(path)
        if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
            raise InputError(f"{path}: cannot be written (no folder "
                             f"{os.path.dirname(path) or '.'}); choose another place")
        # The matrix is moved into place first: a sidecar never describes a matrix that is
        # not there (and a matrix with the sidecar of another vocabulary is refused).
        with replaced_whole(sidecar_path) as side_temp, replaced_whole(path) as matrix_temp:
            with open(matrix_temp, "wb") as f:
                np.save(f, self.matrix, allow_pickle=False)
            with open(side_temp, "w", encoding="utf-8") as f:
                json.dump(self.sidecar(os.path.basename(path)), f, indent=1,
                          ensure_ascii=False)
                f.write("\n")
        logger.debug("wrote %s (%d x %d float32) and %s", path, *self.matrix.shape,
                     os.path.basename(sidecar_path))
        return path, sidecar_path

    def sidecar(self, matrix_name: str) -> Dict[str, Any]:
        vocabulary = self.vocabulary
        return {"format": FORMAT, "matrix": matrix_name, "shape": list(self.matrix.shape),
                "dtype": "float32", "padding_row": len(vocabulary), "source": self.report.source,
                "vocabulary": {"file": os.path.basename(vocabulary.file or ""),
                               "words": len(vocabulary), "fingerprint": vocabulary.ids_digest,
                               "words_sha256": words_digest(vocabulary.words)},
                "missing": self.options.missing, "seed": self.options.seed,
                "exact": self.options.exact, "coverage": self.report.figures()}


def vectors_file_stem(path: str, member: Optional[str]) -> str:
    """``glove.6B.50d`` of ``glove.6B.zip`` member ``glove.6B.50d.txt``; ``GoogleNews-
    vectors-negative300`` of ``GoogleNews-vectors-negative300.bin.gz``."""
    name = os.path.basename(member or path)
    while name.endswith(COMPRESSED):
        name = os.path.splitext(name)[0]
    if name.endswith((".txt", ".vec", ".bin")):
        name = os.path.splitext(name)[0]
    return re.sub(r"[^\w.+-]", "_", name) or "vectors"


def align_vectors(vocabulary: VocabularySource, path: Union[str, "os.PathLike[str]"],
                  options: Optional[VectorOptions] = None, **option: Any) -> AlignedVectors:
    """The matrix of ``path``'s vectors for ``vocabulary``'s word ids (see the module).

    ``vocabulary``: a rows file (its vocabulary beside it, checked to be of its run; its
    rows weigh the coverage), a vocabulary file (the rows files of its run beside it, if
    any, weigh it), a loaded ``Keywords``, a ``Vocabulary`` or a word list. ``options`` or
    its fields as keywords (``missing="random"``, ``seed=1``, ``exact=True``, ``member=``,
    ``same_dim_as=``, ``progress=``). Nothing is written: see :meth:`AlignedVectors.write`.
    """
    options = options or VectorOptions(**option)
    words, counts, rows_files = _vocabulary_and_counts(vocabulary)
    path = os.fspath(path)
    ids = {word.encode("utf-8"): i for i, word in enumerate(words.words)}
    if len(ids) != len(words):
        twice = next(w for i, w in enumerate(words.words) if ids[w.encode("utf-8")] != i)
        raise InputError(f"{words.file or 'the vocabulary'}: {twice!r} is in it twice: a word "
                         "id is one word's")
    bar = _bar(options.progress)
    try:
        with VectorFile(path, options.member) as vector_file:
            _check_dim(vector_file, options.same_dim_as)
            bar.reset(total=vector_file.size)
            vector_file.progress = lambda done: bar.update(done - bar.n)
            matrix = np.zeros((len(words) + 1, vector_file.dim), np.float32)
            state = _fill(matrix, ids, vector_file, options.exact)
            stat = os.stat(path)
            description = {"file": os.path.basename(path), "member": vector_file.member,
                           "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
                           "format": vector_file.kind,
                           "compression": vector_file.compression,
                           "count": vector_file.count,
                           "dim": vector_file.dim, "records": vector_file.records_read}
    finally:
        bar.close()
    missing = np.flatnonzero(state == _MISSING)
    if options.missing == "random" and len(missing):
        _draw_missing(matrix, state, missing, options.seed, vector_file.name)
    found = state != _MISSING
    top = missing if counts is None else \
        missing[np.argsort(-counts[missing], kind="stable")]
    report = VectorReport(
        description, len(words), int((state == _EXACT).sum()), int((state == _BY_CASE).sum()),
        None if counts is None else int(counts.sum()),
        None if counts is None else int(counts[found].sum()), rows_files,
        [(words[int(i)], None if counts is None else int(counts[i]))
         for i in top[:TOP_MISSING]])
    return AlignedVectors(matrix, report, words, options, path)


def _fill(matrix: np.ndarray, ids: Dict[bytes, int], vector_file: VectorFile,
          exact: bool) -> np.ndarray:
    """Each word's vector into its row: exact matches first, else the first case variant;
    the state of each word (missing, by case, exact) is returned."""
    state = np.zeros(len(ids), np.int8)
    for word, vector in vector_file.records(ids, by_case=not exact):
        word_id = ids.get(word)
        if word_id is not None:
            if state[word_id] != _EXACT:
                matrix[word_id], state[word_id] = vector, _EXACT
        else:
            word_id = ids[lowercase(word)]
            if state[word_id] == _MISSING:
                matrix[word_id], state[word_id] = vector, _BY_CASE
    return state


def _draw_missing(matrix: np.ndarray, state: np.ndarray, missing: np.ndarray, seed: int,
                  name: str) -> None:
    found = matrix[:-1][state != _MISSING]
    if not len(found):
        raise InputError(f"{name}: no word of the vocabulary has a vector: --missing random "
                         "has nothing to draw from (is it the right file?)")
    mean, std = found.mean(0, dtype=np.float64), found.std(0, dtype=np.float64)
    draws = np.random.default_rng(seed).normal(mean, std, (len(missing), matrix.shape[1]))
    matrix[missing] = draws.astype(np.float32)


def _check_dim(vector_file: VectorFile, earlier: Optional[str]) -> None:
    if earlier is None:
        return
    try:
        shape, _, _ = npy_header(earlier)
    except (OSError, ValueError) as exc:
        raise InputError(f"{earlier}: not a matrix aligned earlier ({exc})") from None
    if len(shape) != 2 or shape[1] != vector_file.dim:
        raise InputError(f"{vector_file.name}: vectors of dimension {vector_file.dim}, but "
                         f"{earlier} (aligned earlier) has {shape[-1] if shape else 0}: the two "
                         "do not go together")


def _vocabulary_and_counts(vocabulary: VocabularySource
                           ) -> Tuple[Vocabulary, Optional[np.ndarray], List[str]]:
    """The vocabulary, each word's rows (None when no rows file is known) and the rows
    files counted."""
    if isinstance(vocabulary, Keywords):
        return vocabulary.vocabulary, _word_counts([vocabulary]), [os.path.basename(
            vocabulary.path)]
    if isinstance(vocabulary, Vocabulary):
        return vocabulary, None, []
    if not isinstance(vocabulary, (str, os.PathLike)):
        return Vocabulary(list(vocabulary)), None, []
    path = os.fspath(vocabulary)
    if path.endswith(".npy"):
        keywords = load_keywords(path)
        return keywords.vocabulary, _word_counts([keywords]), [os.path.basename(path)]
    loaded = Vocabulary.load(path)
    match = re.fullmatch(r"vocabulary_([a-z0-9]+)_sk_(\d+)\.json", os.path.basename(path))
    if not match:
        return loaded, None, []
    beside = [p for p in sorted(glob.glob(os.path.join(
        glob.escape(os.path.dirname(path) or "."), f"img_keyword_ind_{match[1]}*.npy")))
        if _of_vocabulary(p, match[1], match[2])]
    sets = [load_keywords(p) for p in beside]  # each checked to be of this vocabulary's run
    return loaded, _word_counts(sets) if sets else None, [os.path.basename(p) for p in beside]


def _of_vocabulary(rows_path: str, dataset: str, min_df: str) -> bool:
    try:
        parts = parse_rows_name(rows_path)
    except ValueError:
        return False
    return parts["dataset"] == dataset and parts["min_df"] == min_df


def _word_counts(sets: List[Keywords]) -> np.ndarray:
    """Each word id's rows in the sets, counted a chunk of rows at a time (a set's word ids
    are never all in memory at once)."""
    size = len(sets[0].vocabulary)
    counts = np.zeros(size, np.int64)
    for kw in sets:
        for start in range(0, kw.n_rows, COUNT_CHUNK):
            counts += np.bincount(np.asarray(kw.rows[start:start + COUNT_CHUNK, 1]),
                                  minlength=size)[:size]
    return counts


def _bar(progress: Optional[bool]) -> Any:
    """A bar in bytes (and bytes/s) on stderr, shown once a read takes more than a moment."""
    from tqdm import tqdm
    return tqdm(total=0, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr,
                desc="vectors", leave=False, delay=0.5,
                disable=None if progress is None else not progress)
