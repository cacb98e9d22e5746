"""The exceptions a user can act on, and how their messages show untrusted values.

Input
    Problems found while reading or writing. Output: an :class:`InputError` (or one of its
    subclasses) whose ``str()`` is one line naming the file (and entry), what is wrong and
    what was expected. The command line (:mod:`amc_keywords.cli`) prints it as ``error:
    <message>`` and exits with its :attr:`~InputError.exit_status`: 2 for bad input or usage,
    1 for a :class:`CheckFailed`, 3 for a :class:`SystemLimit` (every exit status:
    :data:`amc_keywords.cli.EXIT_STATUSES`, docs/cli.md).

A parameter of the API given a value of the wrong type or outside its choices is an
InputError too, naming the parameter (:func:`wrong_type`, :func:`checked_path`,
:func:`check_choice`). Any other exception is a bug in the toolkit.
"""
import os
import reprlib
from typing import Tuple, Union

SUCCESS, DIFFERENCE, BAD_INPUT, SYSTEM = 0, 1, 2, 3


class InputError(Exception):
    """Bad input or option: the message names the file (and entry) and what is wrong."""

    exit_status = BAD_INPUT


class CheckFailed(InputError):
    """A check (``verify``) found that an output set is not what it should be."""

    exit_status = DIFFERENCE


class LoadError(InputError, ValueError):
    """An output set that cannot be loaded as it is (a file malformed, cut short, stale or of
    another run): the message names the file and what is wrong. A ValueError too, as
    :func:`~amc_keywords.loader.load_keywords` raised before."""


class SystemLimit(InputError):
    """The system refused: no room, no permission, a worker killed, no memory."""

    exit_status = SYSTEM


def error_for(exc: OSError) -> "type[InputError]":
    """The error class an OSError stands for: a path that is not there or is not a folder
    is bad input (the user named it); anything else (no room, no permission, an I/O error)
    is the system's."""
    missing = isinstance(exc, (FileNotFoundError, IsADirectoryError, NotADirectoryError))
    return InputError if missing else SystemLimit


_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = _SHORT.maxlong = 40
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxtuple, _SHORT.maxdict = 2, 3, 3, 3


def shown(value: object) -> str:
    """A short repr of a value read from a file: a crafted file can hold a huge string or a
    deeply shared structure, whose whole repr would cost minutes; a few dozen characters say
    what it is."""
    return _SHORT.repr(value)


def wrong_type(name: str, value: object, expected: str) -> InputError:
    """The error of a parameter given a value of the wrong type."""
    return InputError(f"{name}={shown(value)}: expected {expected}, not {type(value).__name__}")


def checked_path(name: str, value: object) -> str:
    """A path parameter given as str or os.PathLike, as str; else an InputError (not a
    TypeError from deep in ``os.path``)."""
    path = os.fspath(value) if isinstance(value, (str, os.PathLike)) else None
    if not isinstance(path, str):
        raise wrong_type(name, value, "a path (str or os.PathLike)")
    return path


def check_choice(name: str, value: object, choices: Tuple[str, ...]) -> None:
    if value not in choices:
        raise InputError(f"{name}={value!r}: expected one of {', '.join(map(repr, choices))}")


QUOTED_WIDTH = 60  # characters of an untrusted name or entry quoted in a message
# Control characters (C0, DEL, C1), the bidirectional overrides that reorder a terminal's
# text, and the lone surrogates that stand for bytes that are not UTF-8 (shown as those
# bytes), each escaped: quoted, such a value cannot move the cursor or hide its text.
_ESCAPES = {**{c: f"\\x{c:02x}" for c in [*range(0x20), *range(0x7f, 0xa0)]},
            **{ord("\t"): "\\t", ord("\n"): "\\n", ord("\r"): "\\r"},
            **{c: f"\\u{c:04x}" for c in [*range(0x202a, 0x202f), *range(0x2066, 0x206a),
                                           *range(0xd800, 0xdc80), *range(0xdd00, 0xe000)]},
            **{c: f"\\x{c - 0xdc00:02x}" for c in range(0xdc80, 0xdd00)}}


def quoted(value: Union[str, bytes]) -> str:
    """An untrusted name, key or entry as a message quotes it: in single quotes, bytes that
    are not UTF-8 and control characters escaped, cut to :data:`QUOTED_WIDTH` characters
    (then ``...`` and the full length follow): a crafted entry can be megabytes long or hold
    terminal escape sequences."""
    text, cut = _escaped(value)
    if not cut:
        return f"'{text}'"
    return f"'{text}...' ({len(value):,} {'bytes' if isinstance(value, bytes) else 'characters'})"


def escaped(value: Union[str, bytes], width: int = QUOTED_WIDTH) -> str:
    """:func:`quoted` without the quotes, for a key within a path (cut, it ends in ``...``);
    ``width`` characters at most, before the ``...``."""
    text, cut = _escaped(value, width)
    return text + "..." if cut else text


def _escaped(value: Union[str, bytes], width: int = QUOTED_WIDTH) -> "tuple[str, bool]":
    """The value's first ``width`` characters, escaped, and whether it was cut."""
    head = value[:width * 4]
    text = bytes(head).decode("utf-8", "surrogateescape") if isinstance(head, bytes) else head
    escaped_text = text.translate(_ESCAPES)
    if len(head) == len(value) and len(escaped_text) <= width:
        return escaped_text, False
    return escaped_text[:width], True
