"""Synthetic word-vector files in the real formats, for the tests, the documentation's
examples and the benchmark.

Input
    Records ``(word bytes, float32 vector)`` in file order, the format, and how the file is
    dressed: a header count that lies, CRLF line ends, a BOM, trailing spaces (fastText), no
    newline after binary vectors, a compression, a zip's other members.
Output
    The file, written with :func:`write_vectors`; :func:`synthetic_records` makes records
    (values on a grid of 1/1024, so that text and binary files hold the same numbers);
    :func:`glove_like_zip` a zip laid out like glove.6B.zip for a vocabulary.
"""
import bz2
import itertools
import lzma
import os
import zipfile
from typing import Any, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np

Record = Tuple[bytes, np.ndarray]
GRID = 1024  # values are multiples of 1/GRID: exact in float32 and in short decimals
_TEXT = [b"%g" % (q / GRID) for q in range(-4 * GRID, 4 * GRID + 1)]


def synthetic_records(words: Iterable[bytes], dim: int, seed: int = 0) -> List[Record]:
    """One record per word, its vector drawn (seeded) on the grid, within [-4, 4]."""
    words = list(words)
    rng = np.random.default_rng(seed)
    values = rng.integers(-4 * GRID, 4 * GRID + 1, (len(words), dim)) / GRID
    return list(zip(words, values.astype(np.float32)))


def vector_text(vector: np.ndarray) -> bytes:
    """The numbers of a vector on the grid, as a text file holds them."""
    return b" ".join([_TEXT[q] for q in (np.asarray(vector) * GRID).astype(int) + 4 * GRID])


def _text(records: Iterable[Record], header: Optional[bytes], line_end: bytes,
          trailing: bytes) -> Iterator[bytes]:
    if header is not None:
        yield header + line_end
    for word, vector in records:
        yield word + b" " + vector_text(vector) + trailing + line_end


def _binary(records: Iterable[Record], header: bytes, newline: bool) -> Iterator[bytes]:
    yield header + b"\n"
    end = b"\n" if newline else b""
    for word, vector in records:
        yield word + b" " + np.asarray(vector, "<f4").tobytes() + end


def write_vectors(path: str, records: Sequence[Record], kind: str = "word2vec binary", *,
                  count: Optional[int] = None, dim: Optional[int] = None, crlf: bool = False,
                  bom: bool = False, trailing_space: bool = False, newline: bool = True,
                  compression: str = "none", member: Optional[str] = None,
                  other_members: Sequence[str] = (), cut: int = 0) -> str:
    """Write ``records`` as ``kind`` (``word2vec binary``, ``word2vec text``, ``GloVe
    text``) to ``path``: ``count``/``dim`` the header's (default: the truth); ``cut``: bytes
    dropped from the end (a file cut short); ``compression``: ``none``, ``gzip``, ``bzip2``,
    ``xz`` or ``zip`` (the file is ``member``, beside empty ``other_members``). Returns
    ``path``."""
    dim = dim if dim is not None else (len(records[0][1]) if records else 1)
    header = b"%d %d" % (len(records) if count is None else count, dim)
    if kind == "word2vec binary":
        pieces: Iterable[bytes] = _binary(records, header, newline)
    else:
        pieces = _text(records, header if kind == "word2vec text" else None,
                       b"\r\n" if crlf else b"\n", b" " if trailing_space else b"")
    if bom:
        pieces = itertools.chain([b"\xef\xbb\xbf"], pieces)
    if cut or compression == "zip":
        data = b"".join(pieces)
        pieces = [data[:len(data) - cut]]
    if compression == "zip":
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for name in other_members:
                archive.writestr(name, b"")
            archive.writestr(member or os.path.basename(path)[:-4] + ".txt", b"".join(pieces))
        return path
    opener: Any = {"none": open, "bzip2": bz2.open, "xz": lzma.open}.get(compression)
    if opener is None:  # gzip
        from isal import igzip
        opener = igzip.open
    with opener(path, "wb") as f:
        f.writelines(pieces)
    return path


def glove_like_zip(path: str, words: Sequence[str]) -> str:
    """A zip laid out like glove.6B.zip, one member a dimension (``glove.6B.<d>d.txt``, 50
    and 100), holding vectors for most of ``words`` (a tenth missing, a tenth capitalised, as
    in a cased file) among words of no vocabulary: what the documentation's examples read."""
    rng = np.random.default_rng(0)
    chosen = [word.capitalize() if rng.random() < 0.1 else word for word in words
              if rng.random() >= 0.1] + ["the-other", "unrelated"]
    order = [chosen[i].encode("utf-8") for i in rng.permutation(len(chosen))]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for dim in (50, 100):
            archive.writestr(f"glove.6B.{dim}d.txt", b"".join(
                word + b" " + vector_text(vector) + b"\n"
                for word, vector in synthetic_records(order, dim, seed=dim)))
    return path
