"""The vectors matrix on disk: its sidecar's format and name, the digest of the words that
ties it to a vocabulary, and the matrix read back for one (``Keywords.vectors``).

Input
    A matrix written by :meth:`amc_keywords.vectors.AlignedVectors.write` and its sidecar,
    and the vocabulary it is to serve.
Output
    :func:`load_vectors`: the matrix (float32, ``(V + 1, d)``), or a ``LoadError``.
"""
import hashlib
import os
from typing import Sequence, Union

import numpy as np

from .errors import LoadError
from .json_files import JSONFileError, load_json
from .npy_files import load_npy
from .vocabulary import Vocabulary

FORMAT = "amc-keywords-vectors/1"


def words_digest(words: Sequence[str]) -> str:
    """SHA-256 of the words in id order (UTF-8, one a line): what ties a matrix to its
    vocabulary."""
    digest = hashlib.sha256()
    for word in words:
        digest.update(word.encode("utf-8") + b"\n")
    return digest.hexdigest()


def sidecar_of(matrix_path: str) -> str:
    return os.path.splitext(matrix_path)[0] + ".json"


def load_vectors(path: Union[str, "os.PathLike[str]"], vocabulary: Vocabulary) -> np.ndarray:
    """The matrix at ``path`` (float32, ``(V + 1, d)``) for ``vocabulary``; a
    :class:`LoadError` when its sidecar says it was made for another vocabulary, or when
    either file is not what it should be."""
    path = os.fspath(path)
    sidecar_path = sidecar_of(path)
    try:
        sidecar = load_json(sidecar_path)
        made_for = sidecar["vocabulary"]
        digest, file = made_for["words_sha256"], made_for.get("file", "")
    except OSError as exc:
        raise LoadError(f"{sidecar_path}: cannot be read ({exc.strerror}): the sidecar says "
                        "which vocabulary the matrix is for; align the vectors again") from None
    except (JSONFileError, KeyError, TypeError):
        raise LoadError(f"{sidecar_path}: not the sidecar of a vectors matrix (expected "
                        f"format {FORMAT!r})") from None
    if digest != words_digest(vocabulary.words):
        raise LoadError(f"{path}: made for another vocabulary ({file}, {made_for.get('words')} "
                        f"words), not this set's ({os.path.basename(vocabulary.file or '')}, "
                        f"{len(vocabulary)} words): align the vectors again for this set")
    matrix: np.ndarray = load_npy(path, "align the vectors again to write it")
    if matrix.dtype != np.float32 or matrix.ndim != 2 or len(matrix) != len(vocabulary) + 1:
        raise LoadError(f"{path}: expected a float32 ({len(vocabulary) + 1}, d) matrix, found "
                        f"{matrix.dtype} {matrix.shape}")
    return matrix
