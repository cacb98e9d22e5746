"""Fingerprints of a run's inputs, and the manifest that records what a run produced.

Input
    A run's inputs: keyword archives (or unzipped folders), list files, id maps,
    ``dataset.json``; its options; and its outputs once written.
Output
    Content fingerprints, at no extra read of the keyword files:
        archive   SHA-256 of its keyword members' names, CRC-32s and sizes, from the central
                  directory the toolkit reads anyway
        folder    SHA-256 of each keyword file's key, size and modification time, in the
                  set's order, taken by the workers that read the files (with
                  ``--strict-fingerprint``: and a CRC-32 of its content)
        file      SHA-256 of the file (lists, maps; COCO's ``dataset.json`` is recorded too,
                  and is covered by its archive's fingerprint)
    and the manifest ``manifest_<dataset>_sk_<min_df>.json``, moved into place with the
    outputs::

        {"format": "amc-keywords-manifest/1", "dataset": "clickture", "toolkit": "1.1.0",
         "options": {...}, "versions": {"python": ..., "numpy": ..., "scikit-learn": ...},
         "inputs": {"<role>": {"path": ..., "kind": "zip", "fingerprint": "...",
                               "images": 79665}, ...},
         "outputs": {"<file name>": {"sha256": ..., "dtype": "<i8", "shape": [N, 2],
                                     "size": ..., "mtime_ns": ...}, ...},
         "summary": [{"set": "dev", "images": ..., "rows": ..., ...}, ...]}

    JSON with sorted keys, so two manifests diff as text. :func:`up_to_date` says whether a
    rerun has anything to do; :func:`verify_manifest` and :func:`compare_manifests` are the
    ``verify --manifest`` and ``compare`` commands.
"""
import hashlib
import json
import os
import platform
import zlib

import numpy as np

from . import __version__
from .errors import InputError
from .hashing import file_sha256
from .keyword_files import KEYWORD_SUFFIX

FORMAT = "amc-keywords-manifest/1"


def manifest_name(dataset, min_df):
    return f"manifest_{dataset}_sk_{min_df}.json"


def archive_fingerprint(top, keys, table):
    """Fingerprint of a zip archive's keyword files: their names, CRC-32s and sizes, as its
    central directory gives them (``keys`` and member ``table`` of a ZipDirectory)."""
    digest = hashlib.sha256(f"zip\0{top}\0{keys.dtype.itemsize}\0".encode())
    digest.update(np.ascontiguousarray(keys).tobytes())
    for field in ("crc", "usize", "csize"):
        digest.update(np.ascontiguousarray(table[field]).astype("<i8").tobytes())
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


def file_facts(stats, raws=None):
    """``(sizes, modification times[, CRC-32s])`` of a chunk's files, from their ``stat``
    results (and their bytes, with a strict fingerprint)."""
    facts = (np.fromiter((st.st_size for st in stats), np.int64, len(stats)),
             np.fromiter((st.st_mtime_ns for st in stats), np.int64, len(stats)))
    if raws is not None:
        facts += (np.fromiter(map(zlib.crc32, raws), np.int64, len(raws)),)
    return facts


def folder_fingerprint(root, key_chunks, strict=False):
    """:class:`FolderFingerprint` of the files of ``key_chunks`` (a plan's keys, chunk by
    chunk) under ``root``, by ``stat`` (and a read of each file, with ``strict``)."""
    fingerprint = FolderFingerprint(strict)
    for keys in key_chunks:
        paths = [os.path.join(root, key.decode("utf-8", "replace") + KEYWORD_SUFFIX)
                 for key in keys.tolist()]
        try:
            stats = [os.stat(path) for path in paths]
            raws = [] if strict else None
            for path in paths if strict else ():
                with open(path, "rb") as f:
                    raws.append(f.read())
        except OSError as exc:
            raise InputError(f"{exc.filename}: {exc.strerror}: no keyword file for a list "
                             "entry; check that the list and the folder are of the same set") \
                from None
        fingerprint.add(keys, file_facts(stats, raws))
    return fingerprint.hexdigest()


def source_input(source):
    """The manifest's record of a keyword source: a ZipSource whose directory is still held
    (its fingerprint now), or a FolderSource (its fingerprint once its files are read)."""
    if source.kind == "zip":
        return {"path": source.path, "kind": "zip", "images": int(len(source.keys)),
                "fingerprint": archive_fingerprint(source.top, source.keys, source.table)}
    return {"path": source.path, "kind": "folder", "images": None, "fingerprint": None}


def file_input(path, kind, images=None):
    """The manifest's record of a list, map or ``dataset.json``; a missing file or a Git LFS
    pointer is recorded as such (its fingerprint then is that of the pointer, or None)."""
    if not os.path.isfile(path):
        return {"path": path, "kind": kind, "fingerprint": None, "images": None}
    return {"path": path, "kind": kind, "fingerprint": file_sha256(path), "images": images}


def current_fingerprint(path, kind):
    """The fingerprint the zip, list or map at ``path`` has now; None when it is gone. (A
    folder's needs its set's plan: see :func:`folder_fingerprint`.)"""
    from .zip_reader import ZipDirectory
    if kind == "zip":
        if not os.path.isfile(path):
            return None
        directory = ZipDirectory(path)
        return archive_fingerprint(directory.top, directory.keys, directory.table)
    return file_input(path, kind)["fingerprint"]


def versions():
    import sklearn
    return {"python": platform.python_version(), "numpy": np.__version__,
            "scikit-learn": sklearn.__version__}


def build(dataset, options, inputs, outputs, summary):
    """The manifest of a run (``outputs``: ``{file name: writing.file_record(...)}``)."""
    return {"format": FORMAT, "dataset": dataset, "toolkit": __version__, "options": options,
            "versions": versions(), "inputs": inputs, "outputs": outputs,
            "summary": summary}


def dumps(manifest):
    return json.dumps(manifest, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def load(path, dataset=None):
    """Read a manifest; an InputError names the file when it is not one (of ``dataset``)."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise InputError(f"{path}: not found") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from None
    except (ValueError, RecursionError) as exc:  # not UTF-8 JSON, too deep, huge integers
        why = str(exc)[:80] if isinstance(exc, ValueError) else "nested too deeply"
        raise InputError(f"{path}: not a manifest (not JSON: {why})") from None
    if not isinstance(data, dict) or not isinstance(data.get("format"), str) or \
            not data["format"].startswith("amc-keywords-manifest/"):
        raise InputError(f"{path}: not a manifest (expected format {FORMAT!r})")
    if data["format"] != FORMAT:
        raise InputError(f"{path}: manifest format {data['format'][:40]!r} is not "
                         f"{FORMAT!r}: written by a later version of the toolkit")
    for key, kind in (("dataset", str), ("options", dict), ("inputs", dict),
                      ("outputs", dict), ("versions", dict)):
        if not isinstance(data.get(key), kind):
            raise InputError(f"{path}: not a manifest (no {key!r} {kind.__name__})")
    if dataset is not None and data["dataset"] != dataset:
        raise InputError(f"{path}: a manifest of {data['dataset'][:40]!r}, not of {dataset!r}")
    return data


def up_to_date(path, dataset, options, planned, folder_now):
    """Whether the run recorded in the manifest at ``path`` is what a run with these options
    and inputs (``planned``: ``{role: (path, kind)}``) would produce, its outputs untouched
    since; ``folder_now(role)`` gives a folder input's fingerprint now. Returns ``(manifest
    or None, notice or None)``: the manifest when up to date; a notice when the manifest is
    broken (the run then goes on as if it were absent)."""
    if not os.path.exists(path):
        return None, None
    try:
        manifest = load(path, dataset)
        return (manifest if _matches(manifest, path, options, planned, folder_now) else
                None), None
    except InputError as exc:
        return None, f"notice: {exc}; running as if there were none"
    except (AttributeError, TypeError, KeyError, ValueError):
        return None, f"notice: {path}: not a manifest of this toolkit (a record is not what " \
            "it writes); running as if there were none"


def _matches(manifest, path, options, planned, folder_now):
    # A member input (COCO's dataset.json) is covered by its archive's fingerprint.
    recorded = {role: record for role, record in manifest["inputs"].items()
                if isinstance(record, dict) and record.get("kind") != "member"}
    if manifest["options"] != options or manifest.get("toolkit") != __version__ or \
            set(recorded) != set(planned):
        return False
    folder = os.path.dirname(path)
    for name, record in manifest["outputs"].items():
        try:
            stat = os.stat(os.path.join(folder, name))
        except OSError:
            return False
        if (stat.st_size, stat.st_mtime_ns) != (record.get("size"), record.get("mtime_ns")):
            return False
    for role, (input_path, kind) in planned.items():
        record = recorded[role]
        if (record.get("path"), record.get("kind")) != (input_path, kind):
            return False
    for role, (input_path, kind) in sorted(planned.items(), key=lambda item: item[1][1] ==
                                           "folder"):  # a folder's check costs most: last
        try:
            now = folder_now(role) if kind == "folder" else current_fingerprint(input_path,
                                                                                  kind)
        except (InputError, OSError):
            return False  # the run itself says what is wrong with the input
        if now != recorded[role].get("fingerprint"):
            return False
    return True


def verify_manifest(path):
    """Recompute each output's SHA-256; return the lines that say which differ (empty when
    every output is as recorded)."""
    manifest = load(path)
    folder = os.path.dirname(path)
    problems = []
    for name, record in sorted(manifest["outputs"].items()):
        output = os.path.join(folder, name)
        if not os.path.exists(output):
            problems.append(f"{output}: missing (the manifest records it)")
        elif file_sha256(output) != record.get("sha256"):
            problems.append(f"{output}: differs from the manifest (SHA-256)")
    return problems


def compare_manifests(path_a, path_b):
    """The differences between two runs, one line each (empty: the same dataset). Paths
    and modification times are not compared: two clones hold the same data at other
    places and times."""
    a, b = load(path_a), load(path_b)
    lines = []
    if a["dataset"] != b["dataset"]:
        lines.append(f"dataset: {a['dataset']} / {b['dataset']}")
    for section, fields in (("options", None), ("versions", None),
                            ("inputs", ("kind", "fingerprint", "images")),
                            ("outputs", ("sha256", "dtype", "shape"))):
        for key in sorted(set(a[section]) | set(b[section])):
            left, right = a[section].get(key), b[section].get(key)
            if fields and isinstance(left, dict) and isinstance(right, dict):
                left = {f: left.get(f) for f in fields}
                right = {f: right.get(f) for f in fields}
            if left != right:
                lines.append(f"{section} {key}: {_brief(left)} / {_brief(right)}")
    if a.get("toolkit") != b.get("toolkit"):
        lines.append(f"toolkit: {a.get('toolkit')} / {b.get('toolkit')}")
    return lines


def _brief(value):
    if value is None:
        return "(absent)"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_brief(v)}" for k, v in value.items())
    text = str(value)
    return text[:16] if len(text) == 64 else text[:60]  # a SHA-256: its first 16 digits
