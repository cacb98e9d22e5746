"""Writing a run's outputs safely: every file or none.

Input
    A run's files as its steps make them (the rows streamed by :class:`RowWriter`), each
    under a temporary name.
Output
    The files in place in the dataset folder, under the names of :mod:`amc_keywords.filenames`
    and in the formats of docs/formats.md#outputs, and each one's record for the manifest.

Every file is written to a temporary name in the same folder and moved into place with
``os.replace`` only when the whole run has succeeded, and the folder is synced after: an
error or an interruption, ``kill -9`` included, leaves earlier outputs byte-identical.
Temporary files of a killed run are removed by the next run
(:mod:`amc_keywords.stale_runs`). A full disk is an
:class:`~amc_keywords.errors.SystemLimit` naming the folder.
"""
import contextlib
import errno
import json
import os
import tempfile
import threading

import numpy as np

from . import stop_signals
from .errors import InputError, SystemLimit, error_for
from .folder_lock import RUN_RECORD_PREFIX, FolderLock
from .hashing import file_sha256
from .npy_files import npy_header
from .stale_runs import PREFIX, remove_quietly, remove_run_files, remove_stale, start_time

HEADER_SIZE = 128  # np.save's header for an (N, 2) int64 array, for any N below 10**40
# A write that fails for want of room: one line naming the folder, not a traceback.
NO_ROOM = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


class RowWriter:
    """Streams ``(n, 2)`` int64 rows to a ``.npy`` file whose header is written last."""

    def __init__(self, path):
        self.path = path
        self.rows = 0
        self.file = open_temporary(path)
        self.file.write(b"\0" * HEADER_SIZE)

    def write(self, rows):
        self.file.write(memoryview(np.ascontiguousarray(rows, dtype="<i8")).cast("B"))
        self.rows += len(rows)

    def close(self):
        self.file.seek(0)
        np.lib.format.write_array_header_1_0(
            self.file, {"descr": "<i8", "fortran_order": False, "shape": (self.rows, 2)})
        if self.file.tell() != HEADER_SIZE:
            raise AssertionError("npy header size changed")
        self.file.close()


def open_temporary(path, mode="wb"):
    """Open a temporary that :class:`OutputSet` made (``tempfile.mkstemp``: ours alone) for
    writing, refusing to follow a symlink put in its place since."""
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0))
    return os.fdopen(fd, mode, **({"encoding": "utf-8"} if "b" not in mode else {}))


class OutputSet:
    """All files of one run, written under temporary names and moved into place together.

    Temporaries are made with ``tempfile.mkstemp`` in the output folder (a name no one else
    can choose, opened without following links), named ``.amc-keywords-<run>-<name>.<random>
    .tmp``; the run's owner record ``.amc-keywords-run-<run>.lock`` marks them as the
    toolkit's, for a later run to remove once this one is gone (:mod:`.stale_runs`).
    """

    def __init__(self, folder, wait=True):
        self.folder = folder
        self.pending = {}  # final path -> temporary path
        self.scratch_files = []  # working files of the run, removed at the end
        self.syncing = {}  # temporary path -> thread hashing and syncing it (see sync_soon)
        self.lock = None
        self.record = ""
        try:
            os.makedirs(folder, exist_ok=True)
            # One run at a time writes here: taken before the first file, released in close.
            self.lock = FolderLock(folder, wait)
            # Held: a signal between making the record and noting its name would leave it.
            with stop_signals.held():
                fd, self.record = tempfile.mkstemp(prefix=RUN_RECORD_PREFIX, suffix=".lock",
                                                   dir=folder)
                with os.fdopen(fd, "w") as f:
                    f.write(f"{os.getpid()} {start_time(os.getpid())}\n")
            self.run = os.path.basename(self.record)[len(RUN_RECORD_PREFIX):-len(".lock")]
            remove_stale(folder, locked=True)
        except BaseException as exc:
            if self.record:  # not left behind (made but not written, on a full disk, no
                remove_quietly(self.record)  # later run could tell whether its run is alive)
            if self.lock is not None:
                self.lock.release()
            if not isinstance(exc, OSError):
                raise
            a_file = _file_on_the_way(folder)
            if a_file is not None:  # bad input (2), however deep in the path
                which = "" if a_file == os.path.abspath(folder) else f"{a_file} "
                raise InputError(f"{folder}: {which}is a file, not a folder; choose another "
                                 "output folder with out_dir=") from None
            raise error_for(exc)(f"{folder}: the output folder cannot be written "
                                 f"({exc.strerror}); choose another with out_dir=") from None

    def _temp(self, name):
        fd, path = tempfile.mkstemp(prefix=f"{PREFIX}{self.run}-{name}.", suffix=".tmp",
                                    dir=self.folder)
        os.close(fd)
        return path

    def path(self, name):
        """A temporary path for output ``name``; it becomes ``name`` at :meth:`commit`."""
        final = os.path.join(self.folder, name)
        with stop_signals.held():  # a signal between making and noting it would leave it
            self.pending[final] = self._temp(name)
        return self.pending[final]

    def scratch(self, name):
        """A temporary path for a working file of the run, removed when the run ends."""
        with stop_signals.held():  # as in path()
            path = self._temp(name)
            self.scratch_files.append(path)
        return path

    def save_array(self, name, array):
        with open_temporary(self.path(name)) as f:
            np.save(f, array, allow_pickle=False)

    def save_text(self, name, text):
        with open_temporary(self.path(name), "w") as f:
            f.write(text)

    def save_json(self, name, obj):
        with open_temporary(self.path(name), "w") as f:
            json.dump(obj, f, ensure_ascii=False, indent=0)
            f.write("\n")

    def sync_soon(self, temp):
        """Start hashing a finished file and writing it to disk now, in a thread, rather than
        at the end: a Lite rows file is hundreds of MB, and the disk writes it (and the
        manifest's SHA-256 is computed) while the run goes on."""
        done = {}
        thread = threading.Thread(target=_hash_and_sync, args=(temp, done), daemon=True)
        thread.start()
        self.syncing[temp] = (thread, done)

    def _finished(self, temp):
        """``{"sha256": ...}`` of a pending file, hashed and on disk (raises its error)."""
        if temp not in self.syncing:
            self.sync_soon(temp)
        thread, done = self.syncing[temp]
        thread.join()
        if "error" in done:
            raise done["error"]
        return done

    def records(self):
        """The manifest's record of each pending output: ``{file name: {"sha256", "size",
        "mtime_ns"[, "dtype", "shape"]}}``; every pending file is on disk after this."""
        for temp in self.pending.values():  # all hashed and synced in parallel
            if temp not in self.syncing:
                self.sync_soon(temp)
        return {os.path.basename(final): output_record(temp, self._finished(temp)["sha256"],
                                                     final.endswith(".npy"))
                for final, temp in self.pending.items()}

    def commit(self, last=None):
        """Move every pending file into place, ``last`` (the manifest) after all the others:
        a crash between two renames leaves files that do not match the folder's manifest,
        which the next run and ``verify --manifest`` notice."""
        # Every file on disk before any is moved into place: a crash leaves old or new files.
        for temp in self.pending.values():
            self._finished(temp)
        order = sorted(self.pending.items(), key=lambda item: os.path.basename(item[0]) == last)
        # A Ctrl-C here waits for the last rename: only a killed process or a crashed machine
        # can stop the renames part-way.
        with stop_signals.held():
            for final, temp in order:  # readable as np.save's files are
                _publish(temp, final)
        _fsync_folder(self.folder)  # the renames themselves on disk
        written = list(self.pending)
        self.pending = {}
        self.abort()
        return written

    def abort(self):
        for temp in [*self.pending.values(), *self.scratch_files]:
            remove_quietly(temp)
        self.pending, self.scratch_files, self.syncing = {}, [], {}

    def close(self):
        """Drop what is left of the run (nothing after a commit) and its owner record; also
        a temporary that a Ctrl-C kept from being registered (made, not yet noted)."""
        self.abort()
        try:
            remove_run_files(self.folder, self.run, os.listdir(self.folder))
        except OSError:
            pass
        remove_quietly(self.record)
        self.lock.release()

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        self.close()  # after commit() nothing is pending; on an error, drop the temporaries
        if isinstance(value, OSError) and value.errno in NO_ROOM:
            raise SystemLimit(f"{self.folder}: cannot write the outputs ({value.strerror}); "
                             "free some space or choose another folder with out_dir=; "
                             "earlier outputs are unchanged") from None


def _file_on_the_way(folder):
    """The path of ``folder`` or of one of its parents that exists and is not a folder, or
    None."""
    path = os.path.normpath(os.path.abspath(folder))
    while True:
        if os.path.lexists(path):
            return None if os.path.isdir(path) else os.path.normpath(path)
        parent = os.path.dirname(path)
        if parent == path:
            return None
        path = parent


def _hash_and_sync(path, done):
    """SHA-256 of ``path`` read back (from the page cache), then fsync; the digest or the
    error goes into ``done`` (so a thread can hand it over)."""
    try:
        done["sha256"] = file_sha256(path)
        with open(path, "rb") as f:
            os.fsync(f.fileno())
    except OSError as exc:
        done["error"] = exc


def output_record(path, sha256=None, array=False):
    """What a manifest records of an output file: SHA-256 (computed when not given), size,
    modification time and, for an array (``array``), its dtype and shape."""
    stat = os.stat(path)
    record = {"sha256": sha256 or file_sha256(path), "size": stat.st_size,
              "mtime_ns": stat.st_mtime_ns}
    if array:
        shape, dtype, _ = npy_header(path)
        record["dtype"], record["shape"] = dtype.str, list(shape)
    return record


@contextlib.contextmanager
def replaced_whole(final, purpose="write"):
    """A private temporary file beside ``final`` (from ``mkstemp``: a name no one else can
    choose), yielded as its path; when the block succeeds it gets the permissions a new file
    would have and is moved to ``final`` in one rename, else it is removed. Either way no one
    ever sees a part-written ``final``."""
    temp = None
    try:
        try:
            # Held: a signal between making the temporary and noting it would leave it.
            with stop_signals.held():
                fd, temp = tempfile.mkstemp(prefix=f"{PREFIX}{purpose}-", suffix=".tmp",
                                            dir=os.path.dirname(os.path.abspath(final)))
                os.close(fd)
        except OSError as exc:
            raise error_for(exc)(f"{final}: cannot be written ({exc.strerror}); choose "
                                 "another place") from None
        yield temp
        _publish(temp, final)
    except BaseException:
        if temp is not None:
            remove_quietly(temp)
        raise


def _publish(temp, final):
    """Move a finished temporary file into place, with the permissions a new file would
    have (``mkstemp`` makes it private)."""
    os.chmod(temp, 0o666 & ~umask())
    os.replace(temp, final)


def _fsync_folder(folder):
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # a folder that cannot be opened (some platforms): the renames are done anyway
    try:
        os.fsync(fd)
    except OSError:
        pass  # not supported for folders on every file system
    finally:
        os.close(fd)


def umask():
    """The process's umask (read by setting it, and set back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
