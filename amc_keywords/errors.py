"""Errors a user can act on, and the command-line wrapper that reports them.

Input:  any callable ``main(argv)`` of the package's scripts and commands.
Output: its exit status; an :class:`InputError` (bad input, bad option) becomes one line on
        stderr (``error: <where>: <what is wrong>``) and exit status 2, Ctrl-C becomes
        ``interrupted`` and status 130. ``--debug`` anywhere on the command line shows the
        traceback instead.
"""
import argparse
import os
import signal
import sys

INTERRUPTED = "interrupted: earlier outputs are unchanged"


class InputError(Exception):
    """Bad input or option: the message names the file (and entry) and what is wrong."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a bad option is one line (an InputError), not a usage block; the
    description (a script's docstring) is shown as written."""

    def __init__(self, **kwargs):
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(**kwargs)

    def error(self, message):
        raise InputError(f"{self.prog}: {message} (see --help)")


def quiet_interrupt_during_startup():
    """Ctrl-C while the heavy libraries import: the one-line message, not a traceback.

    :func:`run_cli` puts Python's own handler back once the script's ``main`` starts.
    """
    def handler(signum, frame):
        print(INTERRUPTED, file=sys.stderr)
        os._exit(130)
    signal.signal(signal.SIGINT, handler)


def run_cli(main, argv=None):
    """Run ``main(argv)`` and turn errors into one line on stderr and an exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return main([a for a in argv if a != "--debug"]) or 0
    except InputError as exc:
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if debug:
            raise
        print(INTERRUPTED, file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except OSError as exc:  # a file we cannot read or write: one line, not a traceback
        if debug:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    except MemoryError:
        print("error: out of memory", file=sys.stderr)
        return 1
