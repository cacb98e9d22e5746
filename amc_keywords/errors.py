"""The exceptions a user can act on, and how their messages show untrusted values.

Input
    Problems found while reading or writing. Output: an :class:`InputError` (or one of its
    subclasses) whose ``str()`` is one line naming the file (and entry), what is wrong and
    what was expected. The command line (:mod:`amc_keywords.cli`) prints it as ``error:
    <message>`` and exits with its :attr:`~InputError.exit_status`:

    =====  ==========================================================================
    0      success
    1      a check found a difference (``verify``, ``compare``): :class:`CheckFailed`
    2      bad input or usage: :class:`InputError`
    3      the system: disk full, permission denied, a worker killed, out of memory:
           :class:`SystemLimit`
    130    interrupted (Ctrl-C); 143 SIGTERM, 129 SIGHUP (128 + the signal's number,
           :mod:`amc_keywords.stop_signals`)
    =====  ==========================================================================

Any other exception is a bug in the toolkit.
"""
import reprlib

SUCCESS, DIFFERENCE, BAD_INPUT, SYSTEM, INTERRUPTED = 0, 1, 2, 3, 130


class InputError(Exception):
    """Bad input or option: the message names the file (and entry) and what is wrong."""

    exit_status = BAD_INPUT


class CheckFailed(InputError):
    """A check (``verify``) found that an output set is not what it should be."""

    exit_status = DIFFERENCE


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
