"""Input fingerprints: what tells a rerun whether an input of a run has changed.

Input
    A run's inputs: keyword archives (or unzipped folders), list files, id maps,
    ``dataset.json``.
Output
    An input fingerprint of each, taken at no extra read of the keyword files (what each
    kind hashes: docs/formats.md#input-fingerprints): an archive's from the central
    directory the toolkit reads anyway, a folder's as its files are read
    (:class:`FolderFingerprint`).

    :class:`InputRecord` is the manifest's record of one input; :class:`SetInputs` holds an
    image set's records and takes its folder's fingerprint, the one that is known only once
    the set's files are read.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import zlib
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, Iterator, Optional

import numpy as np

from .errors import InputError
from .folder_files import FolderFiles
from .hashing import file_sha256
from .keyword_files import keyword_file_path
from .zip_reader import ZipDirectory


@dataclass
class InputRecord:
    """The manifest's record of one input file, archive or folder.

    ``kind`` is ``zip``, ``folder``, ``list``, ``map``, ``file`` or ``member`` (COCO's
    ``dataset.json`` inside its archive); ``fingerprint`` is None for a missing file, and
    for a folder until its files are read; ``images`` is how many images it gave the set.
    """

    path: str
    kind: str
    fingerprint: Optional[str] = None
    images: Optional[int] = None


@dataclass
class SetInputs:
    """The input records of one image set, by role: ``"<set name> keywords"``, ``"<set
    name> list"``, ``"<set name> map"``, ``"coco dataset.json"``."""

    set_name: str
    records: Dict[str, InputRecord] = field(default_factory=dict)

    def add(self, what: str, record: InputRecord) -> None:
        self.records[f"{self.set_name} {what}"] = record

    @property
    def keywords(self) -> InputRecord:
        return self.records[f"{self.set_name} keywords"]

    def folder_pending(self) -> bool:
        """Whether the keyword source is a folder whose fingerprint is still to be taken."""
        return self.keywords.kind == "folder" and self.keywords.fingerprint is None

    @contextlib.contextmanager
    def reading(self, strict: bool) -> Iterator[Optional[FolderFingerprint]]:
        """While a set's keyword files are read: a FolderFingerprint the reader feeds (None
        when the source is not a pending folder), whose digest becomes the fingerprint once
        every file has been read."""
        collector = FolderFingerprint(strict) if self.folder_pending() else None
        yield collector
        if collector is not None:
            self.keywords.fingerprint = collector.hexdigest()

    def fingerprint_by_stat(self, root: str, key_chunks: Iterable[np.ndarray],
                            strict: bool) -> None:
        """Take a pending folder's fingerprint before its files are read (by ``stat``)."""
        if self.folder_pending():
            self.keywords.fingerprint = folder_fingerprint(root, key_chunks, strict)


def archive_fingerprint(top, keys, table):
    """Fingerprint of a zip archive's keyword files: their names, CRC-32s and sizes, as its
    central directory gives them (``keys`` and member ``table`` of a ZipDirectory)."""
    digest = hashlib.sha256(f"zip\0{top}\0{keys.dtype.itemsize}\0".encode("utf-8",
                                                                         "surrogateescape"))
    digest.update(np.ascontiguousarray(keys).tobytes())
    for column in ("crc", "usize", "csize"):
        digest.update(np.ascontiguousarray(table[column]).astype("<i8").tobytes())
    return digest.hexdigest()


class FolderFingerprint:
    """Fingerprint of the keyword files a set reads from an unzipped folder, in plan order:
    each one's key, size and modification time (with ``strict``, a CRC-32 of its content).

    The workers take each file's size and time with ``fstat`` on the file they open anyway
    (:func:`file_facts`); :func:`folder_fingerprint` takes them with ``stat`` where a run
    needs the fingerprint before reading (a vocabulary to reuse, an up-to-date check). Both
    feed :meth:`add` the same chunks, so they give the same digest.
    """

    def __init__(self, strict=False):
        self.digest = hashlib.sha256(f"folder\0{int(bool(strict))}\0".encode())

    def add(self, keys, facts):
        """One chunk: its keys (``S`` array) and :func:`file_facts` of its files."""
        self.digest.update(np.ascontiguousarray(keys).tobytes())
        for column in facts:
            self.digest.update(np.asarray(column, dtype="<i8").tobytes())

    def hexdigest(self):
        return self.digest.hexdigest()


def file_facts(stat_results, raws=None):
    """``(sizes, modification times[, CRC-32s])`` of a chunk's files, from their ``stat``
    results (and their bytes, with a strict fingerprint)."""
    facts = (np.fromiter((st.st_size for st in stat_results), np.int64, len(stat_results)),
             np.fromiter((st.st_mtime_ns for st in stat_results), np.int64,
                         len(stat_results)))
    if raws is not None:
        facts += (np.fromiter(map(zlib.crc32, raws), np.int64, len(raws)),)
    return facts


def folder_fingerprint(root, key_chunks, strict=False):
    """:class:`FolderFingerprint` of the files of ``key_chunks`` (a plan's keys, chunk by
    chunk) under ``root``, by ``stat`` (and a read of each file, with ``strict``)."""
    fingerprint = FolderFingerprint(strict)
    files = FolderFiles(root)
    root_bytes = os.fsencode(root)
    for keys in key_chunks:
        stat_results, raws = [], [] if strict else None
        for key in keys.tolist():
            if strict:  # read through FolderFiles' checks
                found = files.read(key)
            else:
                try:
                    found = os.stat(os.path.join(root_bytes, key + b".json")), b""
                except FileNotFoundError:
                    found = None
                except OSError as exc:
                    raise InputError(f"{keyword_file_path(root, key)}: {exc.strerror}") \
                        from None
            if found is None:
                raise InputError(f"{keyword_file_path(root, key)}: not found: no keyword file "
                                 "for a list entry; check that the list and the folder are of "
                                 "the same set")
            stat_results.append(found[0])
            if raws is not None:
                raws.append(found[1])
        fingerprint.add(keys, file_facts(stat_results, raws))
    return fingerprint.hexdigest()


def source_record(source: Any) -> InputRecord:
    """The record of a keyword source: a ZipSource whose directory is still held (its
    fingerprint now), or a FolderSource (its fingerprint once its files are read)."""
    if source.kind == "zip":
        return InputRecord(source.path, "zip", archive_fingerprint(source.top, source.keys,
                                                                   source.table),
                           int(len(source.keys)))
    return InputRecord(source.path, "folder")


def file_record(path: str, kind: str) -> InputRecord:
    """The record of a list, map or ``dataset.json``; a missing file or a Git LFS pointer is
    recorded as such (its fingerprint then is that of the pointer, or None)."""
    return InputRecord(path, kind, file_sha256(path) if os.path.isfile(path) else None)


def current_fingerprint(path, kind):
    """The fingerprint the zip, list or map at ``path`` has now; None when it is gone. (A
    folder's needs its set's plan: see :func:`folder_fingerprint`.)"""
    if kind == "zip":
        if not os.path.isfile(path):
            return None
        directory = ZipDirectory(path)
        return archive_fingerprint(directory.top, directory.keys, directory.table)
    return file_record(path, kind).fingerprint
