"""Sources of keyword files: an archive read in place, or an unzipped folder.

Input
    ``keyword/keywords_<set>.zip`` (read in place, :class:`ZipSource`) or the unzipped
    ``keyword/keywords_<set>/`` folder (:class:`FolderSource`, used when present), and a set's
    :class:`~amc_keywords.entry_checks.Entries`.
Output
    The set's :class:`~amc_keywords.plans.Plan` (each image's key, id and, for a zip, archive
    member, in output order); small picklable *payloads* made from a chunk of the plan; and
    :func:`keyword_lists`, which a worker calls on a payload to get each image's keywords.
    Every problem is an :class:`InputError` naming file and entry.

An unzipped folder is used only when it holds what the archive would give
(:func:`check_unzipped`). No key leading out of the folder is ever opened
(:func:`amc_keywords.entry_checks.check_keys`).
"""
import contextlib
import os
from typing import Iterator, Optional, Union

import numpy as np

from .byte_arrays import find_sorted, hash_keys
from .entry_checks import Entries, check_keys, first_repeat
from .errors import InputError, escaped, quoted
from .extract import extract_archive
from .fingerprints import file_facts
from .folder_files import FolderFiles
from .keyword_files import (
    KEYWORD_SUFFIX,
    keyword_file_mask,
    keyword_file_path,
    parse_keyword_files,
    unzipped_hint,
)
from .log import logger
from .plans import Plan, make_plan
from .safe_paths import unsafe_reason
from .zip_reader import ZipDirectory, read_members


class FolderSource:
    """Keyword files in a folder: ``<root>/<key>.json``."""

    kind = "folder"

    def __init__(self, root):
        self.path = root
        self.top = ""
        self.strict = False  # fingerprint the files by content too (the run sets it)
        self.files = FolderFiles(root)

    def display(self, key: bytes) -> str:
        return keyword_file_path(self.path, key)

    def all_keys(self):
        # As bytes: a file name that is not UTF-8 is the key it is, never text.
        names = []
        root = os.fsencode(self.path)
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d != b"__MACOSX")
            rel = os.path.relpath(folder, root)
            rel = b"" if rel == b"." else rel.replace(os.fsencode(os.sep), b"/") + b"/"
            names.extend(rel + f for f in files)
        names = np.array(names, dtype=bytes)
        return np.array([n[:-len(KEYWORD_SUFFIX)] for n in names[keyword_file_mask(names)]],
                        dtype=bytes)

    def plan(self, entries: Entries, path: Optional[str] = None) -> Plan:
        """The :class:`Plan` of ``entries`` (in ``path`` when given); a folder's files are
        checked as they are read. Keys leading out of the folder are refused here too, for
        entries not made by :mod:`amc_keywords.lists` (which checks them as it makes them)."""
        check_keys(entries.keys, lambda i: f"{entries.origin}: position {i + 1}")
        return make_plan(entries, None, path)[0]

    def read_soon(self):
        """Nothing to read ahead: a folder's files are read one by one."""

    def forget_directory(self):
        """Nothing to drop: a folder source keeps no directory in memory."""

    def payload(self, chunk):
        return ("folder", self.path, chunk["key"].copy(), self.strict)

    def has(self, key: bytes) -> bool:
        """Whether ``<key>.json`` is in the folder (never, for a key that leads out of it)."""
        return unsafe_reason(key) is None and os.path.isfile(
            os.path.join(os.fsencode(self.path), key + KEYWORD_SUFFIX.encode()))

    def read(self, key: bytes) -> Optional[bytes]:
        """Raw bytes of ``<key>.json`` (a dataset's index file, named by its description), or
        None when absent; anything but a regular file inside the folder of at most
        :data:`MAX_SINGLE_FILE` bytes is refused (:class:`FolderFiles`)."""
        found = self.files.read(key, MAX_SINGLE_FILE)
        return None if found is None else found[1]


MAX_SINGLE_FILE = 16 << 30  # a file read whole, as COCO's dataset.json (~150 MB)


class ZipSource:
    """Keyword files read in place from a zip archive (see :class:`ZipDirectory`): workers
    read any member with two ``pread`` calls."""

    kind = "zip"

    def __init__(self, path):
        self.path = path
        directory = ZipDirectory(path)
        self.top, self.keys, self.table = directory.top, directory.keys, directory.table
        self.order = self.sorted = None  # the search index, made when first needed
        self._next = 0  # where the last block of a plan ended (see _members)
        # Archives are usually written in name order: then no name is there twice, and a
        # list in the same order needs no search at all. Otherwise index now, to find
        # repeated names before any work starts.
        if len(self.keys) > 1 and not (self.keys[1:] > self.keys[:-1]).all():
            self._index()

    def _index(self):
        """Make the search index: keys in the order of a hash of theirs (numeric sorting and
        search, much faster than on strings); keys and table stay in archive order, so that
        no copy of the table is made."""
        if self.order is not None:
            return
        hashes = hash_keys(self.keys)
        self.order = np.argsort(hashes, kind="stable")
        self.sorted = hashes[self.order]
        del hashes
        if (self.sorted[1:] == self.sorted[:-1]).any():
            # A key twice, or two keys with one hash (about one archive in 10**7): search the
            # strings instead, and look for repeated keys among them.
            self.order, self.sorted = np.argsort(self.keys, kind="stable"), None
            ordered = self.keys[self.order]
            i = first_repeat(ordered)
            if i is not None:
                raise InputError(f"{self.path}: '{self.display(ordered[i])}' is in the "
                                 "archive twice; which one to use is ambiguous")

    def display(self, key):
        return (escaped(self.top) + "/" if self.top else "") + escaped(bytes(key)) + \
            KEYWORD_SUFFIX

    def all_keys(self):
        return self.keys

    def plan(self, entries, path=None):
        """The :class:`Plan` of ``entries`` (in ``path`` when given), with each one's member;
        an InputError names the first entry that has no keyword file in the archive."""
        plan, missing, key = make_plan(entries, self._members, path)
        if missing:
            raise InputError(f"{self.path}: no keyword file '{self.display(key)}' for entry "
                             f"{quoted(bytes(key))} of {entries.origin} "
                             f"({missing} of {len(entries)} entries have none); check that "
                             "the list and the archive are of the same set")
        return plan

    def _members(self, keys):
        """Member rows of ``keys`` (a block of a plan), and the indices of the keys the archive
        does not hold."""
        # A list in archive order (as Lite's usually is): the keys follow on from the last
        # block's, which one comparison confirms.
        start, stop = self._next, self._next + len(keys)
        if stop <= len(self.keys) and (self.keys[start:stop] == keys).all():
            self._next = stop
            return self.table[start:stop], np.empty(0, np.int64)
        pos = self._find(keys)
        self._next = int(pos[-1]) + 1 if len(pos) else 0
        return self.table[pos], np.flatnonzero(self.keys[pos] != keys)

    def read_soon(self):
        """Ask the kernel to read the whole archive into the page cache, in the background:
        a list's order is not the archive's, so the members are read later at random places,
        which from a cold cache would be a disk seek each. Only advice: never an error."""
        with contextlib.suppress(AttributeError, OSError):  # no posix_fadvise: no advice
            fd = os.open(self.path, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_WILLNEED)
            finally:
                os.close(fd)

    def forget_directory(self):
        """Drop the directory arrays once the plan is made: the source then pickles small."""
        self.keys = self.table = self.order = self.sorted = None

    def payload(self, chunk):
        return ("zip", self.path, self.top, chunk["key"].copy(), chunk["member"].copy())

    def _find(self, keys):
        """Index where each key is, or would be (check ``self.keys[i] == key``)."""
        self._index()
        if self.sorted is None:
            return self.order[find_sorted(self.keys[self.order], keys)[0]]
        return self.order[find_sorted(self.sorted, hash_keys(keys))[0]]

    def has(self, key):
        return self.keys[self._find(np.array([key]))[0]] == key

    def read(self, key):
        """Raw bytes of ``<key>.json`` (e.g. COCO's dataset.json), or None when absent."""
        i = self._find(np.array([key]))[0]
        if self.keys[i] != key:
            return None
        return next(read_members(self.path, self.top, self.keys[i:i + 1],
                                 self.table[i:i + 1], limit=MAX_SINGLE_FILE))


def _holds_keyword_file(folder: str, besides: Optional[str]) -> bool:
    """Whether ``folder`` holds a keyword file (``*.json``, not ``besides`` at its top, nor
    under ``__MACOSX/`` or a ``._`` file), looking only as far as the first one: a complete
    folder answers at once, however many files it holds."""
    pending = [folder]
    while pending:
        current = pending.pop()
        subfolders, files = [], []
        with os.scandir(current) as listing:
            for entry in listing:
                if entry.is_dir(follow_symlinks=False):  # a linked folder may loop
                    if entry.name != "__MACOSX":
                        subfolders.append(entry.path)
                elif not (current == folder and entry.name == besides):
                    files.append(entry.name.encode("utf-8", "surrogateescape"))
        if files and keyword_file_mask(np.array(files, dtype=bytes)).any():
            return True
        pending.extend(sorted(subfolders, reverse=True))
    return False


def check_unzipped(folder: str, name: str, required: Optional[str] = None) -> None:
    """Refuse an unzipped folder that cannot be the whole archive: no keyword file in it (or
    not the ``required`` file, a Karpathy-layout dataset's ``dataset.json``), as an unzip
    that was stopped or has not started leaves it. The message says what to do: finish
    unzipping, or remove the folder so that the archive beside it is read."""
    if required and not os.path.isfile(os.path.join(folder, required)):
        missing = f"holds no {required}"
    elif not _holds_keyword_file(folder, required):
        missing = f"holds no keyword file (*{KEYWORD_SUFFIX})"
    else:
        return
    archive = folder + ".zip"
    if os.path.isfile(archive):
        remedy = (f"finish unzipping {name}.zip into it, or remove the folder so that the "
                  f"archive beside it ({archive}) is read")
    else:
        remedy = (f"finish unzipping {name}.zip into it, or remove the folder and download "
                  f"{name}.zip into {os.path.dirname(folder) or '.'} (see README.md)")
    raise InputError(f"{folder}/: an unzipped keyword folder that {missing}: {remedy}")


def open_source(keyword_dir: str, name: str, extract: bool = False,
                must_hold: Optional[str] = None) -> Union["FolderSource", "ZipSource"]:
    """The keyword source for ``name`` (e.g. ``keywords_dev``): its folder if unzipped, else
    its zip archive, which ``extract`` unpacks into that folder first. An unzipped folder
    that holds no keyword file (or not ``must_hold``, the dataset's index file) is refused
    (:func:`check_unzipped`)."""
    folder = os.path.join(keyword_dir, name)
    archive = folder + ".zip"
    if os.path.isdir(folder):
        check_unzipped(folder, name, must_hold)
        if extract:
            logger.info("%s: already extracted; using it", folder)
        return FolderSource(folder)
    if os.path.isfile(archive):
        if not extract:
            return ZipSource(archive)
        logger.info("extracting %s ...", archive)
        return FolderSource(extract_archive(archive, folder))
    raise InputError(f"{archive}: not found (nor an unzipped {folder}/); download {name}.zip "
                     "from the AMC keyword datasets link in README.md into that folder")


# --------------------------------------------------------------------------------------------
# Reading in workers


def _read_folder_files(root: str, keys: np.ndarray, stat_results: list,
                       raws: Optional[list]) -> Iterator[bytes]:
    """Yield each file's bytes (:class:`FolderFiles`: nothing outside the folder, regular
    files of at most a keyword file's size); append its ``fstat`` to ``stat_results`` and,
    unless None, its bytes to ``raws`` (for the fingerprint: the file is open anyway)."""
    files = FolderFiles(root)
    for key in keys:
        found = files.read(key)
        if found is None:
            raise InputError(f"{keyword_file_path(root, key)}: no keyword file for list entry "
                             f"{quoted(bytes(key))}; check that the list and the folder are "
                             f"of the same set{unzipped_hint('folder')}") from None
        stat_results.append(found[0])
        if raws is not None:
            raws.append(found[1])
        yield found[1]


def payload_location(payload, i):
    """Where the i-th image of a payload is read from (see :func:`location`)."""
    if payload[0] == "zip":
        _, path, top, keys, _ = payload
        return path, top, keys[i]
    _, root, keys, _ = payload
    return keyword_file_path(root, keys[i])


def keyword_lists(payload):
    """The keyword list of each image of a payload (made by ``source.payload``), in order
    (what a worker computes), and for a folder the facts of its files for the fingerprint
    (:func:`fingerprints.file_facts`; None for an archive, fingerprinted by its directory)."""
    def where(i):
        return payload_location(payload, i)

    if payload[0] == "zip":
        return parse_keyword_files(read_members(*payload[1:]), where), None
    _, root, keys, strict = payload
    stat_results = []
    raws = [] if strict else None
    lists = parse_keyword_files(_read_folder_files(root, keys, stat_results, raws), where)
    return lists, file_facts(stat_results, raws)
