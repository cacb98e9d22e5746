"""Reading the inputs: keyword archives or folders, list files, id maps and COCO's dataset.json.

Inputs
    keyword archive   ``keyword/keywords_<set>.zip``: one JSON file per image, with or without
                      a top folder; ``__MACOSX/``, ``._*`` and directory entries are ignored;
                      Zip64 is supported; members are stored or deflated.
    keyword folder    ``keyword/keywords_<set>/``: the same files unzipped (used when present).
    keyword file      a JSON object; the image's keywords are ``["tagging"]["keywords"]``, a list
                      of strings. Other fields are ignored.
    list file         one entry per line: the keyword file's path inside the archive's top
                      folder, without ``.json``; the image id is ``int()`` of its last ``/``
                      component (ASCII digits only). A Git LFS pointer counts as no list.
    id map            a Python 2 pickle of ``{image name: image id}``, read without running any
                      code from the file.
    dataset.json      COCO's Karpathy split file: ``{"images": [{"split", "filename", "imgid"}]}``.

Outputs
    :class:`Entries` (list entries, image ids and names), a *source* (:class:`ZipSource` or
    :class:`FolderSource`) whose :meth:`plan` says where each entry's keyword file is (a
    :class:`Plan`, written to a file and read back a chunk at a time), small picklable
    *payloads* made from a chunk of the plan, and :func:`keyword_lists`, which a worker calls
    to get each image's keywords.
    Every problem is an :class:`~amc_keywords.errors.InputError` naming the file and entry.
"""
import contextlib
import io
import json
import os
import pickle
import shutil
import struct
import sys
import threading
import zlib
from array import array
from dataclasses import dataclass

import msgspec
import numpy as np
from isal import isal_zlib

from .errors import InputError

LFS_POINTER_PREFIX = b"version https://git-lfs"
KEYWORD_SUFFIX = ".json"
COCO_SPLITS = ("train", "restval", "val", "test")

# --------------------------------------------------------------------------------------------
# List files and id maps


@dataclass
class Entries:
    """The images of one set, in output order.

    keys : numpy ``S`` array
        The keyword file of each image: its path inside the source, without ``.json``.
    ids : numpy int64 array
        The image id of each entry.
    names : numpy ``S`` array or None
        The image's original name (Clickture map, COCO filename) where known.
    origin : str
        Where the order came from, for messages (a list file, a map, an archive).
    """

    keys: np.ndarray
    ids: np.ndarray
    origin: str
    names: np.ndarray = None

    def __len__(self):
        return len(self.ids)


class Plan:
    """Where each image of a set is read from, in output order: a structured array with fields
    ``key`` (``S``), ``id`` (int64) and, for a zip archive, ``member`` (offset, sizes, CRC and
    method of the image's member).

    The plan of a set is built in a worker process and written to a ``.npy`` file
    (:func:`make_plan`); the main process reads it a chunk at a time (:meth:`read`), so that
    it holds no per-image array however many images there are.
    """

    def __init__(self, array=None, path=None):
        self.array, self.path = array, path
        if path is not None:
            with open(path, "rb") as f:
                version = np.lib.format.read_magic(f)
                header = (np.lib.format.read_array_header_1_0 if version == (1, 0) else
                          np.lib.format.read_array_header_2_0)
                (length,), _, self.dtype = header(f)
                self.offset = f.tell()
            self.length = length
        else:
            self.dtype, self.length = array.dtype, len(array)

    def __len__(self):
        return self.length

    def read(self, start, stop):
        """Entries ``start`` to ``stop`` (a fresh array)."""
        if self.array is not None:
            return self.array[start:stop].copy()
        stop = min(stop, self.length)
        with open(self.path, "rb") as f:
            return np.fromfile(f, self.dtype, max(stop - start, 0),
                               offset=self.offset + start * self.dtype.itemsize)

    def chunks(self, size):
        """Consecutive chunks of ``size`` entries."""
        for start in range(0, self.length, size):
            yield self.read(start, start + size)



PLAN_BLOCK = 1 << 16  # entries planned at a time: bounds the temporary arrays


def make_plan(entries, members_of=None, path=None):
    """The :class:`Plan` of ``entries``, built a block at a time and, with ``path``, written
    there rather than kept in memory.

    ``members_of(keys)`` gives the zip member rows of a block of keys and the indices of the
    keys that have none (None for a folder, whose files are checked as they are read).
    Returns ``(plan, missing, first_missing)``: how many entries have no member, and the
    first of them.
    """
    fields = [("key", entries.keys.dtype), ("id", "<i8")]
    if members_of is not None:
        fields.append(("member", _MEMBER))
    dtype = np.dtype(fields)
    blocks, missing, first_missing = [], 0, None
    out = open(path, "wb") if path else None
    try:
        if out:
            np.lib.format.write_array_header_1_0(out, {
                "descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False,
                "shape": (len(entries),)})
        for start in range(0, len(entries), PLAN_BLOCK):
            keys = entries.keys[start:start + PLAN_BLOCK]
            block = np.empty(len(keys), dtype)
            block["key"], block["id"] = keys, entries.ids[start:start + PLAN_BLOCK]
            if members_of is not None:
                block["member"], absent = members_of(keys)
                if len(absent) and first_missing is None:
                    first_missing = keys[absent[0]]
                missing += len(absent)
            if out:
                out.write(block.tobytes())
            else:
                blocks.append(block)
    finally:
        if out:
            out.close()
    plan = Plan(path=path) if path else Plan(np.concatenate(blocks) if blocks else
                                             np.empty(0, dtype))
    return plan, missing, first_missing


def is_lfs_pointer(path):
    """True when ``path`` is a Git LFS pointer file instead of the real content."""
    with open(path, "rb") as f:
        return f.read(len(LFS_POINTER_PREFIX)) == LFS_POINTER_PREFIX


def image_id_of(key, where):
    """Image id of a list entry or keyword file name: ``int()`` of its last path component."""
    last = key.rsplit(b"/", 1)[-1]
    # bytes.isdigit() is ASCII-only: "+1", " 1", "1_0" and "١" are refused, as in Python 2.
    if not last.isdigit() or int(last) >= 2 ** 63:
        shown = key.decode("utf-8", "replace")
        raise InputError(f"{where}: entry '{shown}': its last path component is not an integer "
                         "image id (expected digits such as '00048500')")
    return int(last)


def read_list(path):
    """Read a Clickture list file into :class:`Entries`; None if it is missing or an LFS pointer.
    """
    if not os.path.isfile(path) or is_lfs_pointer(path):
        return None
    with open(path, "rb") as f:
        data = f.read()
    # Vectorised: a million lines without a Python object each.
    newlines = np.flatnonzero(np.frombuffer(data, np.uint8) == 10)
    starts = np.concatenate(([0], newlines + 1))
    ends = np.concatenate((newlines, [len(data)]))
    keys = np.char.strip(_gather_strings(data, starts, ends - starts))
    del data, newlines, starts, ends
    line_numbers = np.flatnonzero(keys != b"") + 1
    keys = keys[line_numbers - 1]
    if not len(keys):
        raise InputError(f"{path}: the list is empty (expected one keyword file name per line)")
    entries = Entries(keys, image_ids(keys, lambda i: f"{path}: line {line_numbers[i]}"), path)
    check_unique_ids(entries, path)
    return entries


def strip_top(entries, top):
    """Drop a leading ``top/`` (an archive's top folder) from the entries' keys, so that lists
    written either relative to the folder or to the archive root match."""
    if top and entries is not None:
        prefix = top.encode() + b"/"
        prefixed = np.flatnonzero(np.char.startswith(entries.keys, prefix))
        if len(prefixed):
            keys = entries.keys.astype(object)
            keys[prefixed] = [k[len(prefix):] for k in keys[prefixed]]
            entries.keys = keys.astype(bytes)
    return entries


def image_ids(keys, where):
    """Image ids of keys (``int()`` of the last path component); ``where(i)`` names entry i."""
    ids = np.empty(len(keys), np.int64)
    plain = np.char.isdigit(keys)  # ASCII digits only, as bytes.isdigit()
    for i in np.flatnonzero(~plain):  # entries with a folder prefix, or bad ones: one by one
        ids[i] = image_id_of(keys[i], where(i))
    try:
        ids[plain] = keys[plain].astype(np.int64)  # the common case, vectorised
    except (ValueError, OverflowError):
        i = next(i for i in np.flatnonzero(plain) if int(keys[i]) >= 2 ** 63)
        raise InputError(f"{where(i)}: entry '{keys[i].decode()}': the image id is too "
                         "large") from None
    return ids


def check_unique_ids(entries, where):
    """An image listed twice would double its rows and break the range table: refuse it."""
    order = np.argsort(entries.ids, kind="stable")
    sorted_ids = entries.ids[order]
    dup = np.flatnonzero(sorted_ids[1:] == sorted_ids[:-1])
    if len(dup):
        first, second = order[dup[0]], order[dup[0] + 1]
        raise InputError(
            f"{where}: image id {sorted_ids[dup[0]]} is listed twice (entry "
            f"'{entries.keys[first].decode('utf-8', 'replace')}' at position {first + 1} and "
            f"'{entries.keys[second].decode('utf-8', 'replace')}' at position {second + 1}); "
            "remove the repeated entry")


class _DictOnlyUnpickler(pickle.Unpickler):
    """Unpickler that builds plain containers, strings and numbers, and nothing else.

    A ``{name: id}`` dict needs no global at all, so every ``find_class`` is refused: a pickle
    that asks for a class or function (the way pickles run code) is rejected before any of it
    is imported or called.
    """

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"it asks for '{module}.{name}', and only a plain "
                                     "{name: id} dict is allowed")

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("it uses persistent ids, and only a plain {name: id} "
                                     "dict is allowed")


def _text(value):
    # Python 2 str keys arrive as bytes (encoding="bytes"); names are ASCII in practice.
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value.decode("latin-1")
    return value


def _names_array(names):
    """UTF-8 ``S`` array of map names (Python 2 byte strings, or unicode)."""
    if all(type(n) is bytes for n in names):
        try:
            b"".join(names).decode("utf-8")  # UTF-8 already (names are ASCII in practice)
            return np.array(names, dtype=bytes)
        except UnicodeDecodeError:
            pass
    return np.array([_text(n).encode("utf-8") for n in names], dtype=bytes)


def read_id_map(path):
    """Read a Clickture id map (Python 2 pickle of ``{image name: id}``) without running code.

    Returns ``(ids, names)``: int64 ids sorted ascending and the matching names as an ``S``
    array (UTF-8), or None when the file is missing or an LFS pointer.
    """
    if not os.path.isfile(path) or is_lfs_pointer(path):
        return None
    with open(path, "rb") as f:
        data = f.read()
    fast = _read_py2_dict(data)
    if fast is not None:
        names, ids = fast
    else:
        names, ids = _unpickle_map(data, path)
    if np.any(ids < 0):
        i = int(np.flatnonzero(ids < 0)[0])
        raise InputError(f"{path}: entry {_text(names[i])!r}: {ids[i]}: expected a string "
                         "name and a non-negative integer id")
    order = np.argsort(ids, kind="stable")
    ids, names = ids[order], names[order]
    dup = np.flatnonzero(ids[1:] == ids[:-1])
    if len(dup):
        i = dup[0]
        raise InputError(f"{path}: id {ids[i]} is given to two names ('{names[i].decode()}' and "
                         f"'{names[i + 1].decode()}'); each image needs its own id")
    return ids, names


def _unpickle_map(data, path):
    """``(names, ids)`` of any pickled ``{name: id}`` dict, through the refusing unpickler."""
    try:
        mapping = _DictOnlyUnpickler(io.BytesIO(data), encoding="bytes").load()
    except InputError:
        raise
    except Exception as exc:  # any failure to parse: truncated, not a pickle, refused global
        raise InputError(f"{path}: not a readable {{image name: id}} pickle: {exc}") from None
    if not isinstance(mapping, dict) or not mapping:
        raise InputError(f"{path}: expected a non-empty {{image name: id}} dict, found "
                         f"{type(mapping).__name__}" + (" (empty)" if mapping == {} else ""))
    names, ids = list(mapping), list(mapping.values())
    del mapping
    if not set(map(type, ids)) <= {int} or not set(map(type, names)) <= {bytes, str}:
        i = next(i for i, (n, v) in enumerate(zip(names, ids))
                 if type(v) is not int or type(n) not in (bytes, str))
        raise InputError(f"{path}: entry {_text(names[i])!r}: {ids[i]!r}: expected a string "
                         "name and a non-negative integer id")
    try:
        ids = np.array(ids, dtype=np.int64)
    except OverflowError:
        raise InputError(f"{path}: an id does not fit in 64 bits") from None
    return _names_array(names), ids


# Opcodes of a {str: int} dict as Python 2's cPickle writes it at protocol 2.
_MARK, _SETITEMS, _SETITEM, _STOP = 0x28, 0x75, 0x73, 0x2E
_SHORT_BINSTRING, _BINPUT, _LONG_BINPUT = 0x55, 0x71, 0x72
_BININT1, _BININT2, _BININT = 0x4B, 0x4D, 0x4A


def _read_py2_dict(data):
    """``(names, ids)`` of a pickle laid out exactly as Python 2's cPickle writes a ``{str:
    int}`` dict at protocol 2 with ASCII names, or None for anything else (the unpickler then
    decides). The same result as unpickling, in a fraction of the memory: no Python object
    per entry.

    Layout: ``PROTO 2, EMPTY_DICT, [BINPUT]``, then batches ``MARK, (key, value)..., SETITEMS``
    (a batch of one: ``key, value, SETITEM``), then ``STOP``; a key is ``SHORT_BINSTRING``
    (maybe followed by a ``BINPUT``), a value ``BININT1``, ``BININT2`` or ``BININT``.
    """
    if data[:3] != b"\x80\x02}":
        return None
    pos = {_BINPUT: 5, _LONG_BINPUT: 8}.get(data[3:4][0] if len(data) > 3 else None, 3)
    items = array("q")  # where each (key, value) starts; decoded below, vectorised
    append = items.append
    # Bytes to skip for the opcode after a key (a memo put) and for a value (0: not an int).
    memo_skip, value_width = bytearray(256), bytearray(256)
    memo_skip[_BINPUT], memo_skip[_LONG_BINPUT] = 2, 5
    value_width[_BININT1], value_width[_BININT2], value_width[_BININT] = 2, 3, 5
    in_batch = False
    try:
        while True:
            op = data[pos]
            if op == _SHORT_BINSTRING:
                append(pos)
                pos += 2 + data[pos + 1]
                pos += memo_skip[data[pos]]
                width = value_width[data[pos]]
                if not width:
                    return None
                pos += width
                if not in_batch:  # a lone item ends with SETITEM
                    if data[pos] != _SETITEM:
                        return None
                    pos += 1
            elif op == _MARK and not in_batch:
                in_batch = True
                pos += 1
            elif op == _SETITEMS and in_batch:
                in_batch = False
                pos += 1
            elif op == _STOP and not in_batch and pos + 1 == len(data):
                break
            else:
                return None
    except IndexError:  # truncated
        return None
    if not items:
        return None
    names, ids = _decode_items(data, np.frombuffer(items, np.int64))
    if (names.view(np.uint8) >= 0x80).any() or (np.char.str_len(names) == 0).any():
        return None  # non-ASCII or empty names: the unpickler's path decides
    # A name given twice keeps its last id in a dict: rare enough to leave to the unpickler.
    hashes = np.sort(hash_keys(names))
    if (hashes[1:] == hashes[:-1]).any():
        return None
    return names, ids


def _decode_items(data, items, block=1 << 16):
    """Names and ids of the dict items starting at ``items`` (checked by the walk above),
    ``block`` items at a time to bound the temporary arrays."""
    buf = np.frombuffer(data, np.uint8)
    names = np.empty(len(items), dtype=f"S{max(int(buf[items + 1].max()), 1)}")
    ids = np.empty(len(items), np.int64)
    for start in range(0, len(items), block):
        part = items[start:start + block]
        lengths = buf[part + 1].astype(np.int64)
        names[start:start + block] = _gather_strings(data, part + 2, lengths)
        value_at = part + 2 + lengths
        memo = buf[value_at]
        value_at += np.where(memo == _BINPUT, 2, np.where(memo == _LONG_BINPUT, 5, 0))
        op = buf[value_at]
        for code, width, kind in ((_BININT1, 1, "<u1"), (_BININT2, 2, "<u2"),
                                  (_BININT, 4, "<i4")):
            at = np.flatnonzero(op == code)
            ids[start + at] = _field(buf, value_at[at] + 1, width).view(kind)
    return names, ids


def find_sorted(sorted_values, values):
    """Where each of ``values`` is in ``sorted_values``, and the indices of those not there."""
    # Searched in sorted order: each search starts where the last ended, and memory is read
    # in order (2x faster than in a random order, as a shuffled list's ids are).
    order = np.argsort(values, kind="stable")
    pos = np.empty(len(values), np.int64)
    pos[order] = np.searchsorted(sorted_values, values[order])
    np.minimum(pos, max(len(sorted_values) - 1, 0), out=pos)
    return pos, np.flatnonzero(sorted_values[pos] != values)


def attach_names(entries, id_map, where):
    """Check every entry's id against the map and attach the image names (None: no map)."""
    if id_map is None:
        return entries
    map_ids, map_names = id_map
    pos, missing = find_sorted(map_ids, entries.ids)
    if len(missing):
        i = missing[0]
        raise InputError(f"{where}: image id {entries.ids[i]} (entry "
                         f"'{entries.keys[i].decode('utf-8', 'replace')}') is not in the id map; "
                         f"{len(missing)} listed image(s) are missing from it: check that the "
                         "list and the map are of the same set")
    entries.names = map_names[pos]
    return entries


def entries_from_map(id_map, source):
    """The image set of a map, ordered by id, with keys found in the source by image id."""
    ids, names = id_map
    return Entries(keys_by_id(source, ids), ids.copy(), "the id map, ordered by id", names)


def entries_from_source(source):
    """Every keyword file of a source, ordered by image id (the fallback without list or map)."""
    keys = source.all_keys()
    ids = image_ids(keys, lambda i: source.path)
    order = np.argsort(ids, kind="stable")
    entries = Entries(keys[order], ids[order], f"{source.path}, ordered by image id")
    check_unique_ids(entries, source.path)
    return entries


# --------------------------------------------------------------------------------------------
# COCO's dataset.json


def _drop_captions(obj):
    # dataset.json is mostly captions; dropping them as each object is parsed keeps memory small.
    obj.pop("sentences", None)
    obj.pop("sentids", None)
    return obj


def read_coco_images(raw, where, splits):
    """Entries of COCO's ``dataset.json`` (bytes) whose split is in ``splits``, in file order."""
    try:
        data = json.loads(raw, object_hook=_drop_captions)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{where}: not valid JSON ({exc})") from None
    images = data.get("images") if isinstance(data, dict) else None
    if not isinstance(images, list):
        raise InputError(f"{where}: expected an object with an \"images\" list (the Karpathy "
                         "split file)")
    keys, ids, names = [], [], []
    for i, image in enumerate(images):
        fields = {}
        for field, kind in (("split", str), ("filename", str), ("imgid", int)):
            value = image.get(field) if isinstance(image, dict) else None
            if not isinstance(value, kind) or isinstance(value, bool):
                raise InputError(f"{where}: images[{i}]: missing or invalid \"{field}\" "
                                 f"(expected {kind.__name__})")
            fields[field] = value
        if fields["split"] not in splits:
            continue
        stem = os.path.splitext(fields["filename"])[0]
        keys.append(f"keyword_{fields['split']}/{stem}".encode("utf-8"))
        ids.append(fields["imgid"])
        names.append(fields["filename"].encode("utf-8"))
    if not ids:
        raise InputError(f"{where}: no image has a split in {', '.join(splits)}")
    entries = Entries(np.array(keys, dtype=bytes), np.array(ids, np.int64), where,
                      np.array(names, dtype=bytes))
    check_unique_ids(entries, where)
    return entries


# --------------------------------------------------------------------------------------------
# Keyword files


class _Tagging(msgspec.Struct, gc=False):
    keywords: list[str]


class _KeywordFile(msgspec.Struct, gc=False):
    tagging: _Tagging


# Decodes only ["tagging"]["keywords"] (a list of str) and skips every other field without
# building it: 1.5 us a file against orjson's 2.0 and the json module's 8 (measured on
# keyword files of ~640 bytes), and fewer objects for the garbage collector to visit.
_decode_keyword_file = msgspec.json.Decoder(_KeywordFile).decode


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
            append(decode(raw).tagging.keywords)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            append(_parse_keyword_file(raw, where_of(len(lists))))
    return lists


def _parse_keyword_file(raw, where):
    """The keywords of one file by the json module, or the InputError that says what is
    wrong."""
    doc = _parse_json(raw, where)
    tagging = doc.get("tagging") if isinstance(doc, dict) else None
    if not isinstance(tagging, dict) or "keywords" not in tagging:
        raise InputError(f"{location(where)}: no [\"tagging\"][\"keywords\"] field")
    keywords = tagging["keywords"]
    if not isinstance(keywords, list):
        raise InputError(f"{location(where)}: [\"tagging\"][\"keywords\"] is a "
                         f"{type(keywords).__name__}, expected a list of strings")
    return keywords


def _parse_json(raw, where):
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(f"{location(where)}: not UTF-8 (byte {exc.start}); keyword files are UTF-8 "
                         "JSON") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{location(where)}: not valid JSON (line {exc.lineno}, column {exc.colno}: "
                         f"{exc.msg})") from None
    except RecursionError:
        raise InputError(f"{location(where)}: JSON nested too deeply to parse") from None


def bad_keyword(keywords, where):
    """The error for a keyword list that holds something other than strings."""
    for i, keyword in enumerate(keywords):
        if not isinstance(keyword, str):
            return InputError(f"{location(where)}: [\"tagging\"][\"keywords\"][{i}] is "
                              f"{json.dumps(keyword)[:40]}, expected a string")
    return None


# --------------------------------------------------------------------------------------------
# Sources: a zip archive read in place, or a folder


def _keep_member(name):
    """Keyword files only: no directories, macOS resource forks or other files. (ZipSource
    applies the same rule vectorised, in ``_parse_records``.)"""
    return (name.endswith(KEYWORD_SUFFIX) and not name.startswith("__MACOSX/")
            and not name.rsplit("/", 1)[-1].startswith("._"))


class FolderSource:
    """Keyword files in a folder: ``<root>/<key>.json``."""

    kind = "folder"

    def __init__(self, root):
        self.path = root
        self.top = ""

    def display(self, key):
        return os.path.join(self.path, key.decode("utf-8", "replace") + KEYWORD_SUFFIX)

    def all_keys(self):
        keys = []
        for folder, dirs, files in os.walk(self.path):
            dirs[:] = sorted(d for d in dirs if d != "__MACOSX")
            rel = os.path.relpath(folder, self.path)
            rel = "" if rel == "." else rel.replace(os.sep, "/") + "/"
            keys.extend((rel + f[: -len(KEYWORD_SUFFIX)]).encode("utf-8")
                        for f in files if _keep_member(rel + f))
        return np.array(keys, dtype=bytes)

    def plan(self, entries, path=None):
        """The :class:`Plan` of ``entries`` (in ``path`` when given); a folder's files are
        checked as they are read."""
        return make_plan(entries, None, path)[0]

    def forget_directory(self):
        """Nothing to drop: a folder source keeps no directory in memory."""

    def payload(self, chunk):
        return ("folder", self.path, chunk["key"].copy())

    def has(self, key):
        return os.path.isfile(self.display(key))

    def read(self, key):
        """Raw bytes of ``<key>.json`` (e.g. COCO's dataset.json), or None when absent."""
        try:
            with open(self.display(key), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None


# Central directory record: zipfile's structCentralDir.
_CD = struct.Struct("<4s4B4HL2L5H2L")
_EOCD = struct.Struct("<4s4H2LH")
_EOCD64_LOCATOR = struct.Struct("<4sLQL")
_EOCD64 = struct.Struct("<4sQ2H2L4Q")
_LOCAL = struct.Struct("<4s2B4HL2L2H")
_MEMBER = np.dtype([("offset", "<i8"), ("csize", "<i8"), ("usize", "<i8"), ("crc", "<u4"),
                    ("method", "<u2")])


class ZipSource:
    """Keyword files read in place from a zip archive.

    The central directory is parsed once, into compact numpy arrays (about 30 bytes an image
    instead of zipfile's ~500-byte ZipInfo objects), so that a million members fit in little
    memory and workers can read any member with two ``pread`` calls.
    """

    kind = "zip"

    def __init__(self, path):
        self.path = path
        try:
            with open(path, "rb") as f:
                keys, table = self._read_directory(f)
        except (struct.error, ValueError, IndexError) as exc:
            raise InputError(f"{path}: not a valid zip archive ({exc}); download it again") \
                from None
        # Members whose path would leave the folder they unpack into can be no list entry's
        # file: set aside (--extract warns about them) so they cannot disturb the top folder.
        suspect = np.flatnonzero(np.char.startswith(keys, b"/") | np.char.startswith(keys, b"\\")
                                 | (np.char.find(keys, b"..") >= 0) |
                                 (np.char.find(keys, b":") >= 0) | (np.char.find(keys, b"//") >= 0))
        unsafe = [i for i in suspect if not _inside(keys[i].decode("utf-8", "replace"))]
        self.unsafe = [keys[i].decode("utf-8", "replace") + KEYWORD_SUFFIX for i in unsafe]
        if unsafe:
            keys, table = np.delete(keys, unsafe), np.delete(table, unsafe)
        if not len(keys):
            raise InputError(f"{path}: the archive holds no .json keyword file")
        self.top = _common_top(keys)
        if self.top:
            keys = _strip_prefix(keys, len(self.top) + 1)
        self.keys, self.table = keys, table
        self.order = self.sorted = None  # the search index, made when first needed
        self._next = 0  # where the last block of a plan ended (see _members)
        # Archives are usually written in name order: then no name is there twice, and a
        # list in the same order needs no search at all. Otherwise index now, to find
        # repeated names before any work starts.
        if len(keys) > 1 and not (keys[1:] > keys[:-1]).all():
            self._index()

    def _index(self):
        """Make the search index: keys in the order of a hash of theirs (numeric sorting and
        search, 10x faster than on strings); keys and table stay in archive order, so that
        no copy of the table is made."""
        if self.order is not None:
            return
        hashes = hash_keys(self.keys)
        self.order = np.argsort(hashes, kind="stable")
        self.sorted = hashes[self.order]
        del hashes
        if (self.sorted[1:] == self.sorted[:-1]).any():
            # A key twice, or two keys with one hash (about one archive in 10**7): search the
            # strings instead, and look for repeated keys among them.
            self.order, self.sorted = np.argsort(self.keys, kind="stable"), None
            ordered = self.keys[self.order]
            dup = np.flatnonzero(ordered[1:] == ordered[:-1])
            if len(dup):
                raise InputError(f"{self.path}: '{self.display(ordered[dup[0]])}' is in the "
                                 "archive twice; which one to use is ambiguous")

    def _read_directory(self, f):
        f.seek(0, os.SEEK_END)
        size = f.tell()
        tail_len = min(size, _EOCD.size + 65535)
        f.seek(size - tail_len)
        tail = f.read(tail_len)
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) - at < _EOCD.size:
            raise ValueError("no end-of-central-directory record: not a zip, or truncated")
        eocd_pos = size - tail_len + at
        _, _, _, _, count, cd_size, cd_offset, _ = _EOCD.unpack_from(tail, at)
        directory_end = eocd_pos
        if at >= _EOCD64_LOCATOR.size and \
                tail[at - _EOCD64_LOCATOR.size: at - _EOCD64_LOCATOR.size + 4] == b"PK\x06\x07":
            _, _, eocd64_pos, _ = _EOCD64_LOCATOR.unpack_from(tail, at - _EOCD64_LOCATOR.size)
            f.seek(eocd64_pos)
            rec = f.read(_EOCD64.size)
            if len(rec) == _EOCD64.size and rec[:4] == b"PK\x06\x06":
                (_, _, _, _, _, _, _, count, cd_size, cd_offset) = _EOCD64.unpack(rec)
                directory_end = eocd64_pos
        # Data prepended to the archive (a self-extractor) shifts every offset by this much.
        shift = directory_end - cd_size - cd_offset
        if shift < 0 or cd_size > size:
            raise ValueError("the central directory lies outside the file: truncated download")
        f.seek(cd_offset + shift)
        # Read in blocks: a million-member directory is ~80 MB, and parsing it whole needs
        # several times that for a moment; block by block, memory holds only the results.
        # Member rows go straight into one table (count is the end record's): a list of parts
        # joined at the end would need twice the memory for a moment.
        parts, table, carry, left, records = [], np.empty(count, _MEMBER), b"", cd_size, 0
        kept = 0
        while (left or carry) and records < count:
            block = carry + f.read(min(DIRECTORY_BLOCK, left))
            left -= len(block) - len(carry)
            if len(block) == len(carry) and left:
                raise ValueError("the central directory is cut short: truncated download")
            starts, end = _record_starts(block, np.frombuffer(block, np.uint8))
            if not len(starts):
                if left:  # cannot happen: a record is at most 196 KB, a block 4 MB
                    raise ValueError("a central directory record is too long")
                raise ValueError("the central directory is cut short: truncated download")
            if records + len(starts) > count:
                raise ValueError(f"the central directory holds more than {count} records, "
                                 "the number its end record gives")
            keys, rows = self._parse_records(block, starts, shift, size)
            parts.append(keys)
            table[kept:kept + len(rows)] = rows
            kept += len(rows)
            records += len(starts)
            carry = block[end:]
        if records != count:
            raise ValueError(f"the central directory holds {records} records, not {count}")
        keys = np.concatenate(parts) if parts else np.array([], dtype="S1")
        return keys, table[:kept]

    def _parse_records(self, cd, starts, shift, size):
        """Keys and member table of the records of one block (vectorised: a Python object per
        member would cost ~0.5 KB and ~3 us each)."""
        buf = np.frombuffer(cd, np.uint8)
        def field(at, width):
            return _field(buf, starts + at, width)

        if np.any(field(0, 4) != 0x02014B50):
            raise ValueError("bad central directory record")
        flags, method, crc = field(8, 2), field(10, 2), field(16, 4)
        csize, usize = field(20, 4).astype(np.int64), field(24, 4).astype(np.int64)
        name_len, extra_len = field(28, 2).astype(np.int64), field(30, 2).astype(np.int64)
        offset = field(42, 4).astype(np.int64)
        for i in np.flatnonzero((csize == 0xFFFFFFFF) | (usize == 0xFFFFFFFF) |
                                (offset == 0xFFFFFFFF)):
            extra_at = starts[i] + 46 + name_len[i]
            usize[i], csize[i], offset[i] = _zip64_sizes(
                cd[extra_at: extra_at + extra_len[i]], usize[i], csize[i], offset[i])
        names = _gather_strings(cd, starts + 46, name_len)
        width = names.dtype.itemsize
        non_ascii = (names.view(np.uint8).reshape(len(names), width) >= 0x80).any(axis=1)
        odd = np.flatnonzero(non_ascii & ((flags & 0x800) == 0))
        if len(odd):  # legacy names are cp437; re-encode the few non-ASCII ones as UTF-8
            names = names.astype(object)
            names[odd] = [n.decode("cp437").encode("utf-8") for n in names[odd]]
            name_len[odd] = [len(n) for n in names[odd]]
            names = names.astype(bytes)
        keep = (np.char.endswith(names, KEYWORD_SUFFIX.encode()) &
                ~np.char.startswith(names, b"__MACOSX/") &
                ~np.char.startswith(names, b"._") & (np.char.find(names, b"/._") < 0))
        keep_idx = np.flatnonzero(keep)
        for bad, what in (((flags & 0x1) != 0, "the member is encrypted"),
                          (~np.isin(method, (0, 8)), "its compression method is not stored or "
                           "deflate; re-zip the folder")):
            if np.any(bad[keep_idx]):
                i = keep_idx[np.flatnonzero(bad[keep_idx])[0]]
                raise InputError(f"{self.path}: {names[i].decode('utf-8', 'replace')}: {what}")
        keys = _strip_suffix(names[keep_idx], name_len[keep_idx], len(KEYWORD_SUFFIX))
        if len(keys):  # as wide as the longest key, not the longest name (a __MACOSX one)
            keys = keys.astype(f"S{max(int(name_len[keep_idx].max()) - len(KEYWORD_SUFFIX), 1)}")
        table = np.empty(len(keep_idx), dtype=_MEMBER)
        table["offset"] = offset[keep_idx] + shift
        table["csize"] = csize[keep_idx]
        table["usize"] = usize[keep_idx]
        table["crc"] = crc[keep_idx]
        table["method"] = method[keep_idx]
        if len(table) and int((table["offset"] + table["csize"]).max()) > size:
            raise ValueError("a member lies beyond the end of the file: truncated download")
        return keys, table

    def display(self, key):
        return (self.top + "/" if self.top else "") + key.decode("utf-8", "replace") + \
            KEYWORD_SUFFIX

    def all_keys(self):
        return self.keys

    def plan(self, entries, path=None):
        """The :class:`Plan` of ``entries`` (in ``path`` when given), with each one's member;
        an InputError names the first entry that has no keyword file in the archive."""
        plan, missing, key = make_plan(entries, self._members, path)
        if missing:
            raise InputError(f"{self.path}: no keyword file '{self.display(key)}' for entry "
                             f"'{key.decode('utf-8', 'replace')}' of {entries.origin} "
                             f"({missing} of {len(entries)} entries have none); check that "
                             "the list and the archive are of the same set")
        return plan

    def _members(self, keys):
        """Member rows of ``keys`` (a block of a plan), and the indices of the keys the archive
        does not hold."""
        # A list in archive order (as Lite's usually is): the keys follow on from the last
        # block's, which one comparison confirms.
        start, stop = self._next, self._next + len(keys)
        if stop <= len(self.keys) and (self.keys[start:stop] == keys).all():
            self._next = stop
            return self.table[start:stop], np.empty(0, np.int64)
        pos = self._find(keys)
        self._next = int(pos[-1]) + 1 if len(pos) else 0
        return self.table[pos], np.flatnonzero(self.keys[pos] != keys)

    def forget_directory(self):
        """Drop the directory arrays once the plan is made: the source then pickles small."""
        self.keys = self.table = self.order = self.sorted = None

    def payload(self, chunk):
        return ("zip", self.path, self.top, chunk["key"].copy(), chunk["member"].copy())

    def _find(self, keys):
        """Index where each key is, or would be (check ``self.keys[i] == key``)."""
        self._index()
        if self.sorted is None:
            return self.order[find_sorted(self.keys[self.order], keys)[0]]
        return self.order[find_sorted(self.sorted, hash_keys(keys))[0]]

    def has(self, key):
        return self.keys[self._find(np.array([key]))[0]] == key

    def read(self, key):
        """Raw bytes of ``<key>.json`` (e.g. COCO's dataset.json), or None when absent."""
        i = self._find(np.array([key]))[0]
        if self.keys[i] != key:
            return None
        return next(_read_zip_members(self.path, self.top, self.keys[i:i + 1],
                                      self.table[i:i + 1]))


def _record_starts(cd, buf):
    """Offsets of the central directory records that lie whole in ``cd``, and where the last
    one ends.

    Vectorised: every record starts with the signature ``PK\\1\\2``, and the records chain
    (each one's lengths lead to the next). The signature bytes can also occur inside a name or
    an extra field; then the chain check fails and the records are walked one by one.
    """
    candidates = np.flatnonzero(buf[:-3] == 0x50)  # "P", then the other three bytes
    candidates = candidates[(buf[candidates + 1] == 0x4B) & (buf[candidates + 2] == 1) &
                            (buf[candidates + 3] == 2)]
    candidates = candidates[candidates + 46 <= len(cd)]
    if len(candidates) and candidates[0] == 0:
        lengths = (_field(buf, candidates + 28, 2).astype(np.int64) +
                   _field(buf, candidates + 30, 2) + _field(buf, candidates + 32, 2))
        following = candidates + 46 + lengths
        whole = following <= len(cd)
        n = int(np.argmin(whole)) if not whole.all() else len(candidates)  # leading whole ones
        if n == 0:
            return np.empty(0, np.int64), 0
        if np.array_equal(following[:n - 1], candidates[1:n]) and \
                (n == len(candidates) or following[n - 1] == candidates[n]):
            return candidates[:n].astype(np.int64), int(following[n - 1])
    starts = array("q")
    unpack = struct.Struct("<3H").unpack_from
    pos = 0
    while pos + 46 <= len(cd):
        name_len, extra_len, comment_len = unpack(cd, pos + 28)
        end = pos + 46 + name_len + extra_len + comment_len
        if end > len(cd):
            break
        starts.append(pos)
        pos = end
    return np.frombuffer(starts, np.int64), pos


def _field(buf, positions, width):
    """Little-endian unsigned integers of ``width`` bytes at each position."""
    # A view with an integer starting at every byte (unaligned), read with one gather.
    at_every_byte = np.ndarray((max(len(buf) - width + 1, 0),), dtype=f"<u{width}", buffer=buf,
                               strides=(1,))
    return at_every_byte[positions]


def _gather_strings(data, positions, lengths, chunk=1 << 16):
    """``S`` array of the byte strings ``data[p:p + n]``, without a Python object each.

    Strings of one length are gathered together (names and list entries come in a few
    lengths), ``chunk`` at a time to bound the index arrays.
    """
    buf = np.frombuffer(data, np.uint8)
    width = max(int(lengths.max()), 1) if len(lengths) else 1
    out = np.zeros(len(positions), dtype=f"S{width}")
    view = out.view(np.uint8).reshape(len(positions), width)
    for n in np.unique(lengths):
        same = np.flatnonzero(lengths == n)
        for s in range(0, len(same), chunk):
            part = same[s:s + chunk]
            view[part, :n] = buf[positions[part, None] + np.arange(n)]
    return out


def _strip_suffix(names, lengths, n):
    """Drop the last ``n`` bytes of each name (``lengths``: byte lengths of the names)."""
    width = names.dtype.itemsize
    view = names.view(np.uint8).reshape(len(names), width).copy()
    rows = np.repeat(np.arange(len(names)), n)
    view[rows, (lengths[:, None] - n + np.arange(n)).ravel()] = 0
    return view.view(f"S{width}").ravel()


def hash_keys(keys):
    """64-bit FNV-1a hash of each key: fast numeric sorting and search for byte strings."""
    keys = np.ascontiguousarray(keys)
    width = keys.dtype.itemsize
    view = keys.view(np.uint8).reshape(len(keys), width)
    h = np.full(len(keys), 0xCBF29CE484222325, np.uint64)
    prime = np.uint64(0x100000001B3)
    with np.errstate(over="ignore"):
        for column in range(width):  # NUL padding is skipped: any array width, same hash
            byte = view[:, column]
            h = np.where(byte != 0, (h ^ byte) * prime, h)
    return h


def _zip64_sizes(extra, usize, csize, offset):
    """Sizes and offset from a Zip64 extra field, for the fields marked 0xFFFFFFFF."""
    pos = 0
    while pos + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, pos)
        if tag == 1:
            values = list(struct.unpack_from(f"<{length // 8}Q", extra, pos + 4))
            if usize == 0xFFFFFFFF:
                usize = values.pop(0)
            if csize == 0xFFFFFFFF:
                csize = values.pop(0)
            if offset == 0xFFFFFFFF:
                offset = values.pop(0)
            return usize, csize, offset
        pos += 4 + length
    raise ValueError("a Zip64 member has no Zip64 extra field")


def _common_top(keys):
    """The single top folder every keyword file sits in, or '' when there is none."""
    first = keys[0]
    if b"/" not in first:
        return ""
    top = first.split(b"/", 1)[0] + b"/"
    if np.all(np.char.startswith(keys, top)):
        return top[:-1].decode("utf-8")
    return ""


def _strip_prefix(keys, n):
    width = keys.dtype.itemsize
    if width <= n:
        return keys
    return np.ascontiguousarray(keys.view(np.uint8).reshape(len(keys), width)[:, n:]).view(
        f"S{width - n}").ravel()


def keys_by_id(source, ids):
    """Keys of the keyword files of the given image ids (for the map fallback)."""
    keys = source.all_keys()
    key_ids = image_ids(keys, lambda i: source.path)
    order = np.argsort(key_ids, kind="stable")
    pos, missing = find_sorted(key_ids[order], ids)
    if len(missing):
        raise InputError(f"{source.path}: no keyword file for image id {ids[missing[0]]} of the "
                         f"id map ({len(missing)} missing)")
    return keys[order][pos]


def open_source(keyword_dir, name):
    """The keyword source for ``name`` (e.g. ``keywords_dev``): its folder if unzipped, else
    its zip archive. An InputError says where to put the archive when neither exists."""
    folder = os.path.join(keyword_dir, name)
    archive = folder + ".zip"
    if os.path.isdir(folder):
        return FolderSource(folder)
    if os.path.isfile(archive):
        return ZipSource(archive)
    raise InputError(f"{archive}: not found (nor an unzipped {folder}/); download {name}.zip "
                     "from the AMC keyword datasets link in README.md into that folder")


@contextlib.contextmanager
def archive_read_ahead(source):
    """While the block runs, read ``source``'s archive once from start to end, in a thread,
    so that the page cache holds it before the images are read.

    A list's order is not the archive's (dev's is shuffled), so the images' members are read
    at random places; from a cold cache that is one disk seek each, where one sequential read
    costs a fraction of a second (measured at 1,000,000 Lite images, cache cold: 14.7 and
    16.0 s without it, 13.4 and 14.7 s with it). Skipped for a folder, and for an archive
    larger than half the memory available, which the page cache could not keep.
    """
    thread = None
    if source.kind == "zip" and os.path.getsize(source.path) < _available_memory() // 2:
        thread = threading.Thread(target=_read_through, args=(source.path,), daemon=True)
        thread.start()
    try:
        yield
    finally:
        if thread is not None:
            thread.join()


def _available_memory():
    """Bytes of memory available without swapping (0 when unknown: no read-ahead)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _read_through(path, block=4 << 20):
    try:
        with open(path, "rb", buffering=0) as f:
            with contextlib.suppress(AttributeError, OSError):
                os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
            buffer = bytearray(block)
            while f.readinto(buffer):  # the GIL is released while the disk is read
                pass
    except OSError:
        pass  # only an optimisation: the reads that matter report their own errors


# --------------------------------------------------------------------------------------------
# Reading in workers

_open_files = {}


def _open_fd(path):
    """A file descriptor of ``path``, opened once a process."""
    fd = _open_files.get(path)
    if fd is None:
        fd = _open_files[path] = os.open(path, os.O_RDONLY)
    return fd


DIRECTORY_BLOCK = 4 << 20  # bytes of the central directory parsed at a time
HEADER_SLACK = 256  # local name + extra fields fit in this in practice: one read a member
SMALL_MEMBER = 1 << 16  # keyword files deflate to a few hundred bytes


def _read_zip_members(path, top, keys, table):
    """Yield the raw (inflated, CRC-checked) bytes of each member of ``table``; an error names
    the member by its key."""
    # Names bound once: this loop runs once an image, a million times for Lite.
    fd, header, names_at = _open_fd(path), _LOCAL.size, struct.Struct("<2H").unpack_from
    # ISA-L's inflate gives zlib's output 1.6x faster (4.9 -> 3.0 us a keyword file).
    pread, inflate, crc32 = os.pread, isal_zlib.decompress, zlib.crc32
    for i, (offset, csize, usize, crc, method) in enumerate(table.tolist()):
        block = pread(fd, header + HEADER_SLACK + csize, offset)
        if len(block) < header or not block.startswith(b"PK\x03\x04"):
            raise InputError(f"{_where(path, top, keys[i])}: bad local header: the archive is "
                             "damaged; download it again")
        name_len, extra_len = names_at(block, 26)
        start = header + name_len + extra_len
        data = block[start:start + csize] if start <= header + HEADER_SLACK else \
            pread(fd, csize, offset + start)
        if len(data) != csize:
            raise InputError(f"{_where(path, top, keys[i])}: cut short: the archive is "
                             "truncated; download it again")
        try:
            if method != 8:
                raw = data
            elif csize <= SMALL_MEMBER:  # at most ~1000x larger: no bound needed, and faster
                raw = inflate(data, -15)
            else:  # a large member could claim a small size and inflate without end: bound it
                raw = zlib.decompressobj(-15).decompress(data, usize + 1)
        except (zlib.error, isal_zlib.error) as exc:
            raise InputError(f"{_where(path, top, keys[i])}: cannot be decompressed ({exc}): "
                             "the archive is damaged; download it again") from None
        if len(raw) != usize or crc32(raw) != crc:
            raise InputError(f"{_where(path, top, keys[i])}: CRC check failed: the archive is "
                             "damaged; download it again")
        yield raw


def _where(path, top, key):
    return f"{path}: {top + '/' if top else ''}{key.decode('utf-8', 'replace')}{KEYWORD_SUFFIX}"


def location(where):
    """Text of a location: workers pass ``(archive, top, key)`` and format it only on error,
    a cost per image saved."""
    return _where(*where) if isinstance(where, tuple) else where


def _folder_file(root, key):
    return os.path.join(root, key.decode("utf-8", "replace") + KEYWORD_SUFFIX)


def _read_folder_files(root, keys):
    for key in keys:
        path = _folder_file(root, key)
        try:
            with open(path, "rb") as f:
                yield f.read()
        except FileNotFoundError:
            raise InputError(f"{path}: no keyword file for list entry "
                             f"'{key.decode('utf-8', 'replace')}'; check that the list and "
                             "the folder are of the same set") from None


def read_payload(payload):
    """Yield the raw bytes of each image's keyword file, for a payload made by
    ``source.payload``."""
    if payload[0] == "zip":
        return _read_zip_members(*payload[1:])
    return _read_folder_files(*payload[1:])


def payload_location(payload, i):
    """Where the i-th image of a payload is read from (see :func:`location`)."""
    if payload[0] == "zip":
        _, path, top, keys, _ = payload
        return path, top, keys[i]
    _, root, keys = payload
    return _folder_file(root, keys[i])


def keyword_lists(payload):
    """The keyword list of each image of a payload, in order (what a worker computes)."""
    return parse_keyword_files(read_payload(payload), lambda i: payload_location(payload, i))


# --------------------------------------------------------------------------------------------
# --extract: unpack an archive next to itself, safely

MAX_RATIO = 200       # keyword JSON deflates ~5-10x; far more than this is a zip bomb
MAX_TOTAL = 64 << 30  # no keyword archive comes near 64 GiB unpacked


def extract_archive(archive, target):
    """Unpack the keyword files of ``archive`` into ``target`` (the folder a source reads).

    Uses the same reader as in-place reading (CRC-checked, a million members in little
    memory). Members whose path is absolute or leaves the target are skipped with a warning;
    an archive whose declared sizes are implausible is refused before anything is written.
    Files go to a temporary folder that is renamed into place only when complete.
    """
    if os.path.isdir(target):
        print(f"{target}: already extracted; using it", file=sys.stderr)
        return target
    source = ZipSource(archive)
    total, packed = int(source.table["usize"].sum()), int(source.table["csize"].sum())
    if total > MAX_TOTAL or total > MAX_RATIO * max(packed, 1) + (1 << 20):
        raise InputError(f"{archive}: declares {total} bytes unpacked from {packed} packed: "
                         "implausible for keyword files (zip bomb?); refusing to extract")
    free = shutil.disk_usage(os.path.dirname(os.path.abspath(target))).free
    if total > free:
        raise InputError(f"{archive}: needs {total} bytes to extract, {free} are free")
    for name in source.unsafe:
        print(f"warning: {archive}: {name}: skipped, its path leaves the target folder",
              file=sys.stderr)
    tmp = f"{target}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        made = set()
        for key, raw in zip(source.keys, _read_zip_members(archive, source.top, source.keys,
                                                           source.table)):
            dest = os.path.join(tmp, key.decode("utf-8") + KEYWORD_SUFFIX)
            folder = os.path.dirname(dest)
            if folder not in made:
                os.makedirs(folder, exist_ok=True)
                made.add(folder)
            with open(dest, "wb") as out:
                out.write(raw)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _inside(name):
    """True when a member path stays inside the folder it is unpacked into."""
    parts = name.replace("\\", "/").split("/")
    return not (name.startswith(("/", "\\")) or os.path.isabs(name) or ".." in parts or
                ":" in parts[0] or "" in parts)
