"""Which images a set holds, in which order: Clickture list files and COCO's dataset.json.

Input
    list file       ``clickture-dev.lst`` / ``clickture-lite.lst``: one entry per line, the
                    keyword file's path inside the archive's top folder without ``.json``; the
                    image id is ``int()`` of its last ``/`` component (ASCII digits only). A
                    Git LFS pointer in its place counts as no list.
    dataset.json    COCO's Karpathy split file: ``{"images": [{"split": ..., "filename": ...,
                    "imgid": ...}, ...]}``; other fields are ignored.
    id map          ``(ids, names)`` from :func:`amc_keywords.idmap.read_id_map`, to join.
Output
    :class:`Entries`: each image's keyword file key, image id and (where known) its name, in
    output order. Every problem is an :class:`InputError` naming the file and entry.
"""
import os
from dataclasses import dataclass
from typing import List

import msgspec
import numpy as np

from .byte_arrays import find_sorted, gather_strings
from .errors import InputError
from .lfs import is_lfs_pointer

COCO_SPLITS = ("train", "restval", "val", "test")


@dataclass
class Entries:
    """The images of one set, in output order.

    keys : numpy ``S`` array
        The keyword file of each image: its path inside the source, without ``.json``.
    ids : numpy int64 array
        The image id of each entry.
    origin : str
        Where the order came from, for messages (a list file, a map, an archive).
    names : numpy ``S`` array or None
        The image's original name (Clickture map, COCO filename) where known.
    """

    keys: np.ndarray
    ids: np.ndarray
    origin: str
    names: np.ndarray = None

    def __len__(self):
        return len(self.ids)


def first_repeat(sorted_values):
    """Index ``i`` of the first value equal to the next one in a sorted array, or None."""
    repeats = np.flatnonzero(sorted_values[1:] == sorted_values[:-1])
    return int(repeats[0]) if len(repeats) else None


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
    keys = np.char.strip(gather_strings(data, starts, ends - starts))
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
    i = first_repeat(entries.ids[order])
    if i is not None:
        first, second = order[i], order[i + 1]
        raise InputError(
            f"{where}: image id {entries.ids[first]} is listed twice (entry "
            f"'{entries.keys[first].decode('utf-8', 'replace')}' at position {first + 1} and "
            f"'{entries.keys[second].decode('utf-8', 'replace')}' at position {second + 1}); "
            "remove the repeated entry")


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


# --------------------------------------------------------------------------------------------
# COCO's dataset.json


class _CocoImage(msgspec.Struct, gc=False):
    split: str
    filename: str
    imgid: int


class _CocoDataset(msgspec.Struct, gc=False):
    images: List[_CocoImage]


# Decodes only the three fields of each image and skips the captions without building them:
# far faster and smaller than the json module on the 143 MB Karpathy file (see README).
_decode_coco = msgspec.json.Decoder(_CocoDataset).decode


def coco_key(split, filename):
    """Key of an image's keyword file in keywords_coco: ``keyword_<split>/<filename stem>``."""
    return f"keyword_{split}/{os.path.splitext(filename)[0]}"


def read_coco_images(raw, where, splits):
    """Entries of COCO's ``dataset.json`` (bytes) whose split is in ``splits``, in file order."""
    try:
        if not raw.isascii():
            raw.decode("utf-8")  # msgspec does not check the fields it skips; json would
        images = _decode_coco(raw).images
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        _refuse_coco(raw, where)  # the json module names what is wrong
        raise  # not reached: _refuse_coco raises
    keys, ids, names = [], [], []
    for image in images:
        if image.split in splits:
            keys.append(coco_key(image.split, image.filename).encode("utf-8"))
            ids.append(image.imgid)
            names.append(image.filename.encode("utf-8"))
    if not ids:
        raise InputError(f"{where}: no image has a split in {', '.join(splits)}")
    if not all(0 <= i < 2 ** 63 for i in (min(ids), max(ids))):
        i = next(i for i, image in enumerate(images) if not 0 <= image.imgid < 2 ** 63)
        raise InputError(f"{where}: images[{i}]: \"imgid\" is {images[i].imgid}, expected a "
                         "non-negative 64-bit integer")
    entries = Entries(np.array(keys, dtype=bytes), np.array(ids, np.int64), where,
                      np.array(names, dtype=bytes))
    check_unique_ids(entries, where)
    return entries


def _refuse_coco(raw, where):
    """Raise the InputError that says why ``dataset.json`` is not the Karpathy split file."""
    import json
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(f"{where}: not UTF-8 (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: not valid JSON ({exc})") from None
    except RecursionError:
        raise InputError(f"{where}: JSON nested too deeply to parse") from None
    except ValueError as exc:  # an integer beyond Python's conversion limit
        raise InputError(f"{where}: not readable JSON ({str(exc)[:80]})") from None
    images = data.get("images") if isinstance(data, dict) else None
    if not isinstance(images, list):
        raise InputError(f"{where}: expected an object with an \"images\" list (the Karpathy "
                         "split file)")
    for i, image in enumerate(images):
        for name, kind in (("split", str), ("filename", str), ("imgid", int)):
            value = image.get(name) if isinstance(image, dict) else None
            if not isinstance(value, kind) or isinstance(value, bool):
                raise InputError(f"{where}: images[{i}]: missing or invalid \"{name}\" "
                                 f"(expected {kind.__name__})")
    raise InputError(f"{where}: not readable as the Karpathy split file")
