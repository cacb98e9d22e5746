"""The one exception a user can act on, and how its messages show untrusted values.

:class:`InputError` is raised for bad input or a bad option; its message names the file (and
entry) and what is wrong. The command line (:mod:`amc_keywords.cli`) prints it as one line,
``error: <message>``, with exit status 2. Any other exception is a bug in the toolkit.
"""
import reprlib


class InputError(Exception):
    """Bad input or option: the message names the file (and entry) and what is wrong."""


_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = _SHORT.maxlong = 40
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxtuple, _SHORT.maxdict = 2, 3, 3, 3


def shown(value: object) -> str:
    """A short repr of a value read from a file: a crafted file can hold a huge string or a
    deeply shared structure, whose whole repr would cost minutes; a few dozen characters say
    what it is."""
    return _SHORT.repr(value)
