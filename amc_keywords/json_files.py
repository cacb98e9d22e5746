"""JSON read from files (keyword files, ``dataset.json``, vocabulary files, manifests): one
place that turns what is wrong with one into a line a user can act on.

Input
    A file's bytes and where they came from (a path, or an archive member).
Output
    The parsed value, as ``json.loads(raw.decode("utf-8"))`` gives it, with a UTF-8
    byte-order mark (which Notepad and PowerShell 5 write) read as if absent. Otherwise a
    :class:`JSONFileError` (an :class:`~amc_keywords.errors.InputError`) naming the place and
    saying, in the user's words, what is wrong: another encoding (UTF-16 or UTF-32, found by
    its byte-order mark or its NUL bytes; Latin-1 or Windows-1252, found by a byte that is
    not UTF-8) with "save it as UTF-8", or where the JSON is broken (line and column, no
    character offsets or codec names). ``reason`` holds the message without the place, for
    callers that say what the file should have been.
"""
from __future__ import annotations

import json
import sys
from typing import Any

from .errors import InputError

UTF8_BOM = b"\xef\xbb\xbf"
# Byte-order marks of the encodings a text editor may save in instead of UTF-8; UTF-32's
# first, as UTF-32-LE's begins with UTF-16-LE's.
_OTHER_BOMS = ((b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"),
               (b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16"))
SAVE_AS_UTF8 = "save it as UTF-8 (in an editor's Save As, or iconv -t UTF-8)"
# json's messages, in the words of someone who edits the file.
_JSON_MESSAGES = {
    "Expecting value": "expected a value",
    "Extra data": "more text after the end of the JSON value",
    "Expecting property name enclosed in double quotes": "expected a name in double quotes",
    "Expecting ',' delimiter": "expected ',' (or the closing bracket)",
    "Expecting ':' delimiter": "expected ':' after a name",
    "Unterminated string starting at": "a string that is never closed",
    "Invalid control character at": "a tab, newline or other control character inside a "
                                     "string (write it as \\t, \\n, ...)",
    "Invalid \\escape": "a backslash that starts no valid escape (write \\\\ for one)",
    "Invalid \\uXXXX escape": "a \\u escape without four hexadecimal digits",
}


class JSONFileError(InputError):
    """A file that is not UTF-8 JSON; ``reason`` is the message without the place."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where, self.reason = where, reason

    def __reduce__(self) -> Any:  # raised in worker processes: it travels back pickled
        return type(self), (self.where, self.reason)


def without_bom(raw: bytes) -> bytes:
    """``raw`` without a leading UTF-8 byte-order mark (copied only when there is one)."""
    return raw[len(UTF8_BOM):] if raw.startswith(UTF8_BOM) else raw


def json_error_reason(exc: json.JSONDecodeError) -> str:
    """What a JSONDecodeError says, with its line and column, in the user's words."""
    message = _JSON_MESSAGES.get(exc.msg, exc.msg[:1].lower() + exc.msg[1:])
    if exc.msg == "Expecting value" and not exc.doc.strip():
        return "empty: no JSON in it"
    return f"not valid JSON (line {exc.lineno}, column {exc.colno}: {message})"


def parse_json(raw: bytes, where: str) -> Any:
    """``json.loads`` of a file's bytes, a UTF-8 byte-order mark read as absent; a
    :class:`JSONFileError` naming ``where`` says what is wrong."""
    raw = without_bom(raw)
    for bom, encoding in _OTHER_BOMS:
        if raw.startswith(bom):
            raise JSONFileError(where, f"{encoding} text (it begins with a {encoding} byte-order "
                                       f"mark), not UTF-8: {SAVE_AS_UTF8}")
    if b"\0" in raw[:64]:
        raise JSONFileError(where, "not UTF-8 text: it holds NUL bytes (UTF-16 or UTF-32 text, "
                                   f"or not text at all): {SAVE_AS_UTF8}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JSONFileError(where, f"not UTF-8 (byte 0x{raw[exc.start]:02x} at offset "
                                   f"{exc.start}: Latin-1 or Windows-1252 text?): "
                                   f"{SAVE_AS_UTF8}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise JSONFileError(where, json_error_reason(exc)) from None
    except RecursionError:
        raise JSONFileError(where, "JSON nested too deeply to parse") from None
    except ValueError:  # an integer beyond Python's conversion limit
        digits = getattr(sys, "get_int_max_str_digits", lambda: 0)()
        raise JSONFileError(where, f"not readable JSON: a number of more than {digits} "
                                   "digits") from None


def load_json(path: str) -> Any:
    """:func:`parse_json` of the file at ``path`` (an OSError as the file system gave it)."""
    with open(path, "rb") as f:
        return parse_json(f.read(), path)
