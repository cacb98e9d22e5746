"""Which images a set holds, in which order: Clickture list files and Karpathy's dataset.json.

Input
    list file       ``clickture-dev.lst`` / ``clickture-lite.lst``: one entry per line, read
                    as the original script's ``line.strip()`` reads it (the format:
                    docs/formats.md#clickture-list-files; what is refused:
                    docs/safety.md#bad-input).
    dataset.json    COCO's Karpathy split file: ``{"images": [{"split": ..., "filename": ...,
                    "imgid": ...}, ...]}``; other fields are ignored.
    id map          ``(ids, names)`` from :func:`amc_keywords.idmap.read_id_map`, to join.
Output
    :class:`Entries`: each image's keyword file key, image id and (where known) its name, in
    output order. Every problem is an :class:`InputError` naming the file and entry.

Every maker of :class:`Entries` checks the rules of :mod:`amc_keywords.entry_checks` (image
ids within reason, keys inside the folder) before anything is sized or read.
"""
import os
from typing import TYPE_CHECKING, List, NoReturn, Optional, Sequence, Tuple, Union

import msgspec
import numpy as np

from .byte_arrays import find_sorted, gather_strings
from .entry_checks import (
    MAX_ENTRY_BYTES,
    Entries,
    Where,
    check_keys,
    check_largest_id,
    first_repeat,
)
from .errors import InputError, quoted
from .json_files import parse_json, without_bom
from .keyword_files import unzipped_hint
from .lfs import side_file_present

if TYPE_CHECKING:
    from .sources import FolderSource, ZipSource
    Source = Union[FolderSource, ZipSource]


# What Python 2's str.strip() and bytes.strip() strip: ASCII whitespace, spelled out so that
# the result does not depend on numpy's own definition.
WHITESPACE = b" \t\n\r\x0b\x0c"



def image_id_of(key: bytes, where: str) -> int:
    """Image id of a list entry or keyword file name: ``int()`` of its last path component."""
    last = key.rsplit(b"/", 1)[-1]
    # bytes.isdigit() is ASCII-only: "+1", " 1", "1_0" and "١" are refused, as in Python 2.
    if not last.isdigit() or int(last) >= 2 ** 63:
        raise InputError(f"{where}: entry {quoted(bytes(key))}: its last path component is "
                         "not an integer image id (expected digits such as '00048500')")
    return int(last)


# --------------------------------------------------------------------------------------------
# List files


def _listtext_of(data: bytes, path: str) -> bytes:
    """The list's bytes without a UTF-8 byte-order mark; refuse a file that is not text."""
    data = without_bom(data)
    expected = "expected one keyword file name per line, UTF-8 text"
    nul = data.find(b"\0")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise InputError(f"{path}: line {line}: a NUL byte: not a text file ({expected})")
    if not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise InputError(f"{path}: line {line}: byte {exc.start + 1} is not UTF-8: not a "
                             f"text file ({expected})") from None
    return data


_LINE_BLOCK = 1 << 16  # lines gathered at a time: bounds the padded temporary arrays


def _lines_stripped(data: bytes, path: str) -> np.ndarray:
    """The list's lines, blanks stripped (an ``S`` array, as wide as the longest entry):
    gathered a block of lines at a time, and a line longer than :data:`MAX_ENTRY_BYTES`
    stripped alone or refused first, so that no line's length sets the memory taken."""
    # Vectorised: a million lines without a Python object each.
    newlines = np.flatnonzero(np.frombuffer(data, np.uint8) == 10)
    starts = np.concatenate(([0], newlines + 1))
    lengths = np.concatenate((newlines, [len(data)])) - starts
    del newlines
    for i in np.flatnonzero(lengths > MAX_ENTRY_BYTES):
        line = data[starts[i]:starts[i] + lengths[i]]
        entry = line.strip(WHITESPACE)
        if b"\r" in entry:
            raise InputError(f"{path}: line {i + 1} holds a carriage return: the list has old "
                             "Mac (CR) line ends; expected LF or CRLF")
        if len(entry) > MAX_ENTRY_BYTES:
            raise InputError(f"{path}: line {i + 1}: an entry of {len(entry):,} bytes "
                             f"({quoted(entry)}), longer than a keyword file's path may be "
                             f"({MAX_ENTRY_BYTES} bytes); expected one keyword file name per "
                             "line")
        starts[i] += len(line) - len(line.lstrip(WHITESPACE))
        lengths[i] = len(entry)
    blocks = []
    for at in range(0, len(starts), _LINE_BLOCK):
        block = np.char.strip(gather_strings(data, starts[at:at + _LINE_BLOCK],
                                             lengths[at:at + _LINE_BLOCK]), WHITESPACE)
        blocks.append(block.astype(f"S{max(int(np.char.str_len(block).max()), 1)}"))
    return np.concatenate(blocks)


def read_list(path: str) -> Optional[Entries]:
    """Read a Clickture list file into :class:`Entries`; None if it is missing or an LFS pointer.
    """
    if not side_file_present(path, "the list file"):
        return None
    with open(path, "rb") as f:
        data = _listtext_of(f.read(), path)
    keys = _lines_stripped(data, path)
    del data
    line_numbers = np.flatnonzero(keys != b"") + 1
    keys = keys[line_numbers - 1]
    if not len(keys):
        raise InputError(f"{path}: the list is empty (expected one keyword file name per line)")

    def where(i: int) -> str:
        return f"{path}: line {line_numbers[i]}"

    def entry(i: int) -> str:
        return f"{where(i)}: entry {quoted(bytes(keys[i]))}"

    carriage = np.flatnonzero(np.char.find(keys, b"\r") >= 0)
    if len(carriage):
        i = int(carriage[0])
        raise InputError(f"{where(i)}: entry {quoted(bytes(keys[i]))} holds a carriage return: "
                         "the list has old Mac (CR) line ends; expected LF or CRLF")
    check_keys(keys, where)
    entries = Entries(keys, image_ids(keys, where), path)
    check_unique_ids(entries, path)
    check_largest_id(entries.ids, entry)
    return entries


def strip_top(entries: Entries, top: str) -> Entries:
    """Drop a leading ``top/`` (an archive's top folder) from the entries' keys, so that lists
    written either relative to the folder or to the archive root match."""
    if top:
        prefix = top.encode("utf-8", "surrogateescape") + b"/"
        prefixed = np.flatnonzero(np.char.startswith(entries.keys, prefix))
        if len(prefixed):
            keys = entries.keys.astype(object)
            keys[prefixed] = [k[len(prefix):] for k in keys[prefixed]]
            entries.keys = keys.astype(bytes)
    return entries


def image_ids(keys: np.ndarray, where: Where) -> np.ndarray:
    """Image ids of keys (``int()`` of the last path component); ``where(i)`` names entry i."""
    ids = np.empty(len(keys), np.int64)
    plain = np.char.isdigit(keys)  # ASCII digits only, as bytes.isdigit()
    for bad in np.flatnonzero(~plain):  # with a folder prefix, or bad ones: one by one
        ids[bad] = image_id_of(keys[bad], where(int(bad)))
    try:
        ids[plain] = keys[plain].astype(np.int64)  # the common case, vectorised
    except (ValueError, OverflowError):
        i = next(int(j) for j in np.flatnonzero(plain) if int(keys[j]) >= 2 ** 63)
        raise InputError(f"{where(i)}: entry {quoted(bytes(keys[i]))}: the image id is too "
                         "large") from None
    return ids


def check_unique_ids(entries: Entries, where: str) -> None:
    """An image listed twice would double its rows and break the range table: refuse it."""
    order = np.argsort(entries.ids, kind="stable")
    i = first_repeat(entries.ids[order])
    if i is not None:
        first, second = order[i], order[i + 1]
        raise InputError(
            f"{where}: image id {entries.ids[first]} is listed twice (entry "
            f"{quoted(bytes(entries.keys[first]))} at position {first + 1} and "
            f"{quoted(bytes(entries.keys[second]))} at position {second + 1}); "
            "remove the repeated entry")


def attach_names(entries: Entries, id_map: Optional[Tuple[np.ndarray, np.ndarray]],
                 where: str) -> Entries:
    """Check every entry's id against the map and attach the image names (None: no map)."""
    if id_map is None:
        return entries
    map_ids, map_names = id_map
    pos, missing = find_sorted(map_ids, entries.ids)
    if len(missing):
        i = missing[0]
        raise InputError(f"{where}: image id {entries.ids[i]} (entry "
                         f"{quoted(bytes(entries.keys[i]))}) is not in the id map; "
                         f"{len(missing)} listed image(s) are missing from it: check that the "
                         "list and the map are of the same set")
    entries.names = map_names[pos]
    return entries


def entries_from_map(id_map: Tuple[np.ndarray, np.ndarray], source: "Source",
                     map_path: str = "the id map") -> Entries:
    """The image set of a map, ordered by id, with keys found in the source by image id
    (``map_path`` names the map in messages)."""
    ids, names = id_map
    check_largest_id(ids, lambda i: f"{map_path}: image {quoted(bytes(names[i]))}")
    keys = keys_by_id(source, ids)
    check_keys(keys, lambda i: f"{source.path}: {source.display(keys[i])} (image "
                               f"{quoted(bytes(names[i]))} of {map_path})")
    return Entries(keys, ids.copy(), "the id map, ordered by id", names)


def _no_keyword_file(source: "Source") -> InputError:
    return InputError(f"{source.path}: holds no keyword file (*.json)"
                      f"{unzipped_hint(source.kind)}")


def entries_from_source(source: "Source") -> Entries:
    """Every keyword file of a source, ordered by image id (the fallback without list or map)."""
    keys = source.all_keys()
    if not len(keys):
        raise _no_keyword_file(source)

    def where(i: int) -> str:
        return f"{source.path}: {source.display(keys[i])}"

    check_keys(keys, where)
    ids = image_ids(keys, lambda i: source.path)
    order = np.argsort(ids, kind="stable")
    keys = keys[order]
    entries = Entries(keys, ids[order], f"{source.path}, ordered by image id")
    check_unique_ids(entries, source.path)
    check_largest_id(entries.ids, where)  # where(i) names keys[i]: the file, the entry
    return entries


def keys_by_id(source: "Source", ids: np.ndarray) -> np.ndarray:
    """Keys of the keyword files of the given image ids (for the map fallback)."""
    keys = source.all_keys()
    if not len(keys):
        raise _no_keyword_file(source)
    key_ids = image_ids(keys, lambda i: source.path)
    order = np.argsort(key_ids, kind="stable")
    pos, missing = find_sorted(key_ids[order], ids)
    if len(missing):
        raise InputError(f"{source.path}: no keyword file for image id {ids[missing[0]]} of the "
                         f"id map ({len(missing)} missing){unzipped_hint(source.kind)}")
    return keys[order][pos]


# --------------------------------------------------------------------------------------------
# Karpathy's dataset.json (COCO's, Flickr's)


class _KarpathyImage(msgspec.Struct, gc=False):
    split: str
    filename: str
    imgid: int


class _KarpathyIndex(msgspec.Struct, gc=False):
    images: List[_KarpathyImage]


# Decodes only the three fields of each image and skips the captions without building them:
# far faster and smaller than the json module on the 143 MB Karpathy file (docs/performance.md).
_decode_karpathy = msgspec.json.Decoder(_KarpathyIndex).decode


def karpathy_key(split: str, filename: str) -> str:
    """Key of an image's keyword file in Karpathy's layout: ``keyword_<split>/<filename
    stem>``."""
    return f"keyword_{split}/{os.path.splitext(filename)[0]}"


def read_karpathy_images(raw: bytes, where: str, splits: Sequence[str]) -> Entries:
    """Entries of a Karpathy ``dataset.json`` (bytes) whose split is in ``splits``, in file
    order, with their names and splits."""
    raw = without_bom(raw)  # as a Windows editor may write it
    try:
        if not raw.isascii():
            raw.decode("utf-8")  # msgspec does not check the fields it skips; json would
        images = _decode_karpathy(raw).images
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        _refuse_karpathy(raw, where)  # the json module names what is wrong
    keys, ids, names, positions, kept_splits = [], [], [], [], []
    for position, image in enumerate(images):
        if image.split in splits:
            if "\0" in image.filename:  # numpy byte strings would drop a trailing one
                raise InputError(f"{where}: images[{position}]: \"filename\" "
                                 f"{quoted(image.filename)} holds a NUL byte")
            if len(image.filename) > MAX_ENTRY_BYTES:  # the arrays are as wide as the longest
                raise InputError(f"{where}: images[{position}]: \"filename\" "
                                 f"{quoted(image.filename)}: longer than a file name may be "
                                 f"({MAX_ENTRY_BYTES} characters)")
            keys.append(karpathy_key(image.split, image.filename).encode("utf-8"))
            kept_splits.append(image.split.encode("utf-8"))
            ids.append(image.imgid)
            names.append(image.filename.encode("utf-8"))
            positions.append(position)
    if not ids:
        raise InputError(f"{where}: no image has a split in {', '.join(splits)}")
    if not all(0 <= i < 2 ** 63 for i in (min(ids), max(ids))):
        i = next(i for i, image in enumerate(images) if not 0 <= image.imgid < 2 ** 63)
        raise InputError(f"{where}: images[{i}]: \"imgid\" is {images[i].imgid}, expected a "
                         "non-negative 64-bit integer")
    filenames = np.array(names, dtype=bytes)
    entries = Entries(np.array(keys, dtype=bytes), np.array(ids, np.int64), where, filenames,
                      np.array(kept_splits, dtype=bytes))
    del keys, ids, names, kept_splits

    def entry(i: int) -> str:
        return f"{where}: images[{positions[i]}]: \"filename\""

    check_keys(filenames, entry)  # as the user wrote it; a key made of a safe one is safe
    check_unique_ids(entries, where)
    check_largest_id(entries.ids, lambda i: f"{where}: images[{positions[i]}] "
                                      f"({quoted(bytes(filenames[i]))}): \"imgid\"")
    return entries


def _refuse_karpathy(raw: bytes, where: str) -> NoReturn:
    """Raise the InputError that says why ``dataset.json`` is not the Karpathy split file."""
    data = parse_json(raw, where)
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
