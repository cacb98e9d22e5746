"""What runs that are gone left in an output folder: the toolkit's temporaries, named after
their run's owner record, and the record itself.

Input
    An output folder, and whether the caller holds its lock
    (:class:`~amc_keywords.folder_lock.FolderLock`).
Output
    The temporaries (``.amc-keywords-<run>-*.tmp``) and records
    (``.amc-keywords-run-<run>.lock``: process id and start time) of runs of this user whose
    process has ended, removed; any other file is left alone. Every run does this, whether
    it writes or finds its outputs up to date.
"""
import os
from stat import S_ISREG

from .folder_lock import RUN_RECORD_PREFIX

PREFIX = ".amc-keywords-"  # every temporary file and folder the toolkit makes


def remove_stale(folder, locked=False):
    """Remove the temporaries of the toolkit's runs in ``folder`` that are gone: those named
    after an owner record of this user whose process has ended (or is another process now).
    ``locked``: the caller holds the folder's lock, which every run holds for as long as its
    record exists; a record that cannot be read then belongs to a run that died before it
    wrote it, and is removed too."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        if not (name.startswith(RUN_RECORD_PREFIX) and name.endswith(".lock")):
            continue
        record = os.path.join(folder, name)
        try:
            stat = os.lstat(record)
            if not S_ISREG(stat.st_mode) or stat.st_uid != os.getuid():
                continue
            with open(record) as f:
                text = f.read(100)
        except OSError:
            continue
        try:
            pid, start = text.split()
            if start_time(int(pid)) == start:
                continue  # its run is still going
        except ValueError:
            if not locked:
                continue
        remove_run_files(folder, name[len(RUN_RECORD_PREFIX):-len(".lock")], names)
        remove_quietly(record)


def remove_quietly(path):
    """Remove a file, if it can be."""
    try:
        os.remove(path)
    except OSError:
        pass


def remove_run_files(folder, run, names):
    """Remove the temporaries of run ``run`` among ``names`` (files of ``folder``) that are
    this user's."""
    for name in names:
        if name.startswith(f"{PREFIX}{run}-") and name.endswith(".tmp"):
            try:
                if os.lstat(os.path.join(folder, name)).st_uid == os.getuid():
                    os.remove(os.path.join(folder, name))
            except OSError:
                pass


def start_time(pid):
    """When process ``pid`` started (clock ticks since boot, from /proc), "alive" where that
    cannot be read but the process exists, or "gone"."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return "gone"
    except PermissionError:
        return "alive"
    return "alive"
