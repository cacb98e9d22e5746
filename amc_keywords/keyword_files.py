"""Keyword files: one JSON object per image, whose keywords are ``["tagging"]["keywords"]``.

Input
    The raw bytes of each file (from an archive member or a file of an unzipped folder), and
    where each one is, for messages.
Output
    Each file's keyword list, exactly ``json.loads(raw.decode("utf-8"))["tagging"]
    ["keywords"]``; other fields (scores, ids) are ignored; a UTF-8 byte-order mark is read
    as absent. A file that is not UTF-8 JSON, or has no such list, is an :class:`InputError`
    naming the file (and archive member).

Also here: which archive members or files are keyword files (:func:`keyword_file_mask`), and
how a location is written in a message (:func:`location`).
"""
import os
import re
import sys

import msgspec
import numpy as np

from .errors import InputError, escaped, shown
from .json_files import parse_json

KEYWORD_SUFFIX = ".json"
MAX_KEYWORD_FILE = 16 << 20  # keyword files are a few hundred bytes; far more is a bomb


def unzipped_hint(kind: str) -> str:
    """What a message about a missing keyword file adds when its source (of ``kind``) is an
    unzipped folder: it may be one whose unzip stopped."""
    return (" (is the folder fully unzipped? finish unzipping, or remove the folder so that "
            "the archive beside it is read)" if kind == "folder" else "")


def keyword_file_path(root: str, key: bytes) -> str:
    """The path of the keyword file of ``key`` (its path inside the source, without
    ``.json``) under the folder ``root``, as a message shows it (the key escaped and cut)."""
    return os.path.join(root, escaped(bytes(key)) + KEYWORD_SUFFIX)


def keyword_file_mask(names):
    """Which names (an ``S`` array of ``/``-separated paths) are keyword files: ``*.json``,
    not under ``__MACOSX/`` and not a macOS ``._`` resource fork."""
    return (np.char.endswith(names, KEYWORD_SUFFIX.encode()) &
            ~np.char.startswith(names, b"__MACOSX/") &
            ~np.char.startswith(names, b"._") & (np.char.find(names, b"/._") < 0))


def member_location(path, top, key):
    """``archive: top/key.json``, the text that names a keyword file in a message."""
    return f"{path}: {escaped(top) + '/' if top else ''}{escaped(bytes(key))}{KEYWORD_SUFFIX}"


def location(where):
    """Text of a location: workers pass ``(archive, top, key)`` and format it only on error,
    a cost per image saved."""
    return member_location(*where) if isinstance(where, tuple) else where


class _Tagging(msgspec.Struct, gc=False):
    keywords: list[str]


class _KeywordFile(msgspec.Struct, gc=False):
    tagging: _Tagging


# Decodes only ["tagging"]["keywords"] (a list of str) and skips every other field without
# building it: several times faster than the json module (docs/performance.md), and fewer
# objects for the garbage collector to visit.
_decode_keyword_file = msgspec.json.Decoder(_KeywordFile).decode
# Python (3.11+) refuses to convert integers of more digits than this, and json with it.
_MAX_DIGITS = getattr(sys, "get_int_max_str_digits", lambda: 0)() or sys.maxsize
_LONG_NUMBER = re.compile(rb"[0-9]{%d}" % min(_MAX_DIGITS + 1, 1 << 30)).search


def parse_keyword_files(raws, where_of):
    """The keyword list of each keyword file (bytes) of ``raws``, in order, or an InputError
    naming ``where_of(i)``, the location of the i-th file.

    Each result is ``json.loads(raw.decode("utf-8"))["tagging"]["keywords"]`` when that is a
    list (a non-string keyword is left for the encoder to report). The fast path (msgspec)
    accepts only a list of strings; anything else (a keyword that is not a string, NaN, a
    lone surrogate, invalid input, ...) goes to the json module, which gives the value or
    the error the plain algorithm would.
    """
    lists = []
    # Names bound once: this loop runs once an image, a million times for Lite.
    append, decode = lists.append, _decode_keyword_file
    for raw in raws:
        try:
            # msgspec does not check the UTF-8 of fields it skips; the json module would
            # refuse the file. ASCII (the common case) is valid UTF-8 and is checked faster.
            if not raw.isascii():
                raw.decode("utf-8")
            # Nor does it refuse an integer longer than Python converts, as json does.
            if len(raw) > _MAX_DIGITS and _LONG_NUMBER(raw):
                raise ValueError("an integer json refuses")
            append(decode(raw).tagging.keywords)
        except (msgspec.DecodeError, ValueError, RecursionError):
            append(_parse_keyword_file(raw, where_of(len(lists))))
    return lists


def _parse_keyword_file(raw, where):
    """The keywords of one file by the json module, or the InputError that says what is
    wrong."""
    doc = parse_json(raw, location(where))
    tagging = doc.get("tagging") if isinstance(doc, dict) else None
    if not isinstance(tagging, dict) or "keywords" not in tagging:
        raise InputError(f"{location(where)}: no [\"tagging\"][\"keywords\"] field")
    keywords = tagging["keywords"]
    if not isinstance(keywords, list):
        raise InputError(f"{location(where)}: [\"tagging\"][\"keywords\"] is a "
                         f"{type(keywords).__name__}, expected a list of strings")
    return keywords


def bad_keyword(keywords, where):
    """The error for a keyword list that holds something other than strings."""
    for i, keyword in enumerate(keywords):
        if not isinstance(keyword, str):
            return InputError(f"{location(where)}: [\"tagging\"][\"keywords\"][{i}] is "
                              f"{shown(keyword)}, expected a string")
    return None
