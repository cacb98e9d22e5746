"""The manifest: the record of what a run read, with which options, and what it wrote.

Input
    A run's options, its inputs' records (:mod:`amc_keywords.fingerprints`) and its outputs
    once written (:func:`amc_keywords.writing.output_record`).
Output
    The manifest ``manifest_<dataset>_sk_<min_df>.json``, moved into place with the
    outputs (its keys: docs/formats.md#manifest); JSON with sorted keys, so two manifests
    diff as text. :func:`up_to_date` says whether a rerun has anything to do;
    :func:`verify_manifest` and :func:`compare_manifests` are the ``verify --manifest`` and
    ``compare`` commands.
"""
import json
import os
import platform
from typing import Any, Dict, Optional, Tuple

import numpy as np

from .errors import InputError, escaped, quoted, shown
from .fingerprints import current_fingerprint
from .hashing import file_sha256
from .json_files import JSONFileError, load_json
from .safe_paths import unsafe_reason
from .version import __version__
from .vocabulary import sklearn_version

__all__ = ["FORMAT", "build", "compare_manifests", "dumps", "load", "up_to_date",
           "verify_manifest"]

FORMAT = "amc-keywords-manifest/1"
MAX_MANIFEST = 64 << 20  # a manifest is a few kilobytes: reading is bounded all the same


def build(dataset, options, inputs, outputs, summary):
    """The manifest of a run (``outputs``: ``{file name: writing.output_record(...)}``)."""
    versions = {"python": platform.python_version(), "numpy": np.__version__,
                "scikit-learn": sklearn_version()}
    return {"format": FORMAT, "dataset": dataset, "toolkit": __version__, "options": options,
            "versions": versions, "inputs": inputs, "outputs": outputs,
            "summary": summary}


def dumps(manifest):
    return json.dumps(manifest, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def load(path, dataset=None):
    """Read a manifest; an InputError names the file when it is not one (of ``dataset``)."""
    try:
        if os.path.exists(path) and not os.path.isfile(path):
            raise InputError(f"{path}: not a regular file, where a manifest is expected")
        if os.path.getsize(path) > MAX_MANIFEST:
            raise InputError(f"{path}: {os.path.getsize(path)} bytes: too large for a manifest "
                             f"(at most {MAX_MANIFEST}); not a manifest this toolkit writes")
        data = load_json(path)
    except FileNotFoundError:
        raise InputError(f"{path}: not found") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from None
    except JSONFileError as exc:
        raise InputError(f"{path}: not a manifest: {exc.reason}") from None
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


def up_to_date(path: str, dataset: str, options: Dict[str, Any],
               planned: Dict[str, Tuple[str, str]]) -> Tuple[Optional[Dict[str, Any]],
                                                              Optional[str]]:
    """Whether the run recorded in the manifest at ``path`` is what a run with these options
    and inputs (``planned``: ``{role: (path, kind)}``) would produce, its outputs untouched
    since, as far as can be told without opening a set: a folder input's fingerprint is
    left to the caller, since it needs the set's order.
    Returns ``(manifest or None, notice or None)``: the manifest when up to date; a notice
    when the manifest is broken (the run then goes on as if it were absent)."""
    if not os.path.exists(path):
        return None, None
    try:
        manifest = load(path, dataset)
        changed = _changed_output(manifest, path)
        if changed is not None:
            return None, (f"notice: {changed}: does not match {os.path.basename(path)} (changed "
                          "since, or a run was stopped while moving its files into place); "
                          "running again")
        return (manifest if _matches(manifest, options, planned) else None), None
    except InputError as exc:
        return None, f"notice: {exc}; running as if there were none"
    except (AttributeError, TypeError, KeyError, ValueError):
        return None, f"notice: {path}: not a manifest of this toolkit (a record is not what " \
            "it writes); running as if there were none"


def _changed_output(manifest: Dict[str, Any], path: str) -> Optional[str]:
    """The first output the manifest records that is not the recorded one (or that is gone),
    or None (:func:`recorded_differs`)."""
    folder = os.path.dirname(path)
    for name, record in sorted(manifest["outputs"].items()):
        output = os.path.join(folder, name)
        try:
            if recorded_differs(output, record):
                return output
        except OSError:
            return output
    return None


def recorded_differs(path: str, record: Dict[str, Any]) -> bool:
    """Whether the file at ``path`` is not the one a manifest ``record`` describes: the same
    size and modification time vouch for it; with the same size, its SHA-256 decides. (A
    copy keeps its bytes; so does the names table a run with another min_df writes again
    into the same folder, which would otherwise make each run undo the other's.) OSError
    when the file cannot be looked at."""
    stat = os.stat(path)
    if (record.get("size"), record.get("mtime_ns")) == (stat.st_size, stat.st_mtime_ns):
        return False
    return record.get("size") != stat.st_size or file_sha256(path) != record.get("sha256")


def _matches(manifest: Dict[str, Any], options: Dict[str, Any],
             planned: Dict[str, Tuple[str, str]]) -> bool:
    # A member input (COCO's dataset.json) is covered by its archive's fingerprint.
    recorded = {role: record for role, record in manifest["inputs"].items()
                if isinstance(record, dict) and record.get("kind") != "member"}
    if manifest["options"] != options or manifest.get("toolkit") != __version__ or \
            set(recorded) != set(planned):
        return False
    for role, (input_path, kind) in planned.items():
        record = recorded[role]
        if (record.get("path"), record.get("kind")) != (input_path, kind):
            return False
    for role, (input_path, kind) in planned.items():
        if kind == "folder":
            continue
        try:
            now = current_fingerprint(input_path, kind)
        except (InputError, OSError):
            return False  # the run itself says what is wrong with the input
        if now != recorded[role].get("fingerprint"):
            return False
    return True


def verify_manifest(path):
    """Recompute each output's SHA-256; return the lines that say which differ (empty when
    every output is as recorded). Only regular files inside the manifest's folder are read,
    by the names a run writes (no folder part); any other name or record, a link leading out
    of the folder or a file that is not regular is an InputError; a file whose size is not
    the recorded one differs without being read."""
    manifest = load(path)
    folder = os.path.dirname(path)
    real_folder = os.path.realpath(folder or ".")
    problems = []
    for name, record in sorted(manifest["outputs"].items()):
        where = f"{path}: output {quoted(name)}"
        if not isinstance(record, dict):
            raise InputError(f"{where}: its record is {shown(record)}, expected an object "
                             "(sha256, size, ...): not a manifest this toolkit writes")
        reason = unsafe_reason(name.encode("utf-8", "surrogateescape")) or (
            "holds a folder part" if "/" in name else None)
        if reason:
            raise InputError(f"{where}: the name {reason}; a manifest names files in its own "
                             "folder, and nothing else is read")
        output = os.path.join(folder, name)
        if not os.path.lexists(output):
            problems.append(f"{output}: missing (the manifest records it)")
            continue
        real = os.path.realpath(output)
        if os.path.dirname(real) != real_folder:
            raise InputError(f"{output}: a link to {real}, outside the manifest's folder; "
                             "nothing outside it is read")
        if not os.path.isfile(real):
            raise InputError(f"{output}: not a regular file; only regular files are read")
        if isinstance(record.get("size"), int) and os.path.getsize(real) != record["size"]:
            problems.append(f"{output}: differs from the manifest (size)")
        elif file_sha256(real) != record.get("sha256"):
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
            if fields:  # each side on its own: one may be absent
                left, right = (_fields(side, fields) for side in (left, right))
            if left != right:
                lines.append(f"{section} {key}: {_brief(left)} / {_brief(right)}")
    if a.get("toolkit") != b.get("toolkit"):
        lines.append(f"toolkit: {a.get('toolkit')} / {b.get('toolkit')}")
    return lines


def _fields(record, fields):
    return {f: record.get(f) for f in fields} if isinstance(record, dict) else record


def _brief(value):
    if value is None:
        return "(absent)"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_brief(v)}" for k, v in value.items())
    text = str(value)
    return text[:16] if len(text) == 64 else escaped(text)  # a SHA-256: its first 16 digits
