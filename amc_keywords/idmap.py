"""Clickture id maps: ``img_id_map_dev.pkl`` / ``img_id_map.pkl``, read without running code.

Input
    A Python 2 pickle (protocol 2, keys written as byte strings) of a dict from image name to
    image id, e.g. ``'img57159' -> 57159``; or a Git LFS pointer in its place (then no map).
Output
    ``(ids, names)``: int64 ids sorted ascending and the matching names as a UTF-8 ``S``
    array. The common layout (what cPickle writes) is walked vectorised, without a Python
    object per entry; anything else passes two layers, each of which alone refuses every way
    a pickle runs code (a global, a call, an extension code, a persistent id): a walk of its
    opcodes that admits only those of plain data (:mod:`amc_keywords.pickle_walk`), then an
    unpickler that refuses every global and persistent id (:class:`_DictOnlyUnpickler`), but
    for the one call Python 3 writes for a ``bytes`` key at protocols 0 to 2, which gives
    bytes and nothing else. Nothing is imported or called. Every problem is an
    :class:`InputError` naming the file.
"""
import io
import pickle
from array import array

import numpy as np

from .byte_arrays import field, gather_strings, hash_keys
from .entry_checks import MAX_ENTRY_BYTES, first_repeat
from .errors import InputError, quoted, shown
from .lfs import side_file_present
from .pickle_walk import BYTES_CALL, check_opcodes, in_plain_words, latin1_bytes, not_a_pickle
from .safe_paths import control_bytes

ITEM_BLOCK = 1 << 16  # map items decoded at a time by the fast path: bounds its temporaries


class _DictOnlyUnpickler(pickle.Unpickler):
    """Unpickler that builds plain containers, strings and numbers, and nothing else.

    A ``{name: id}`` dict needs no global at all, so every ``find_class`` is refused: a pickle
    that asks for a class or function (the way pickles run code) is rejected before any of it
    is imported or called.
    """

    def find_class(self, module, name):
        if f"{module} {name}" == BYTES_CALL:  # bytes, as Python 3 pickles them (protocol < 3)
            return latin1_bytes
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


def _names_array(names, path):
    """``S`` array of the map's names: a byte string (Python 2's ``str``) as the bytes it
    is, UTF-8 or not; a text name as UTF-8. A text name that UTF-8 cannot hold (a lone
    surrogate) is refused, naming it."""
    try:
        return np.array([n if type(n) is bytes else n.encode("utf-8") for n in names],
                        dtype=bytes)
    except UnicodeEncodeError as exc:  # exc.object: the name being encoded
        raise InputError(f"{path}: entry {quoted(exc.object)}: a name that UTF-8 cannot hold (it "
                         "has a lone surrogate); expected each image's name as text or bytes"
                         ) from None


def read_id_map(path):
    """Read a Clickture id map (Python 2 pickle of ``{image name: id}``) without running code.

    Returns ``(ids, names)``: int64 ids sorted ascending and the matching names as an ``S``
    array (UTF-8), or None when the file is missing or an LFS pointer.
    """
    if not side_file_present(path, "the id map"):
        return None
    with open(path, "rb") as f:
        data = f.read()
    fast = _read_py2_dict(data)
    if fast is not None:
        names, ids = fast
    else:
        names, ids = _unpickle_map(data, path)
    empty = np.flatnonzero(np.char.str_len(names) == 0)
    if len(empty):
        raise InputError(f"{path}: the image of id {ids[empty[0]]} has an empty name; each "
                         "image needs its name (the names table marks an unlisted id with an "
                         "empty one)")
    if np.any(ids < 0):
        i = int(np.flatnonzero(ids < 0)[0])
        raise InputError(f"{path}: entry {shown(_text(names[i]))}: {ids[i]}: expected a "
                         "string name and a non-negative integer id")
    order = np.argsort(ids, kind="stable")
    ids, names = ids[order], names[order]
    i = first_repeat(ids)
    if i is not None:
        raise InputError(f"{path}: id {ids[i]} is given to two names ({shown(_text(names[i]))} "
                         f"and {shown(_text(names[i + 1]))}); each image needs its own id")
    return ids, names


def _unpickle_map(data, path):
    """``(names, ids)`` of any pickled ``{name: id}`` dict, through the refusing unpickler."""
    not_a_pickle(data, path)
    check_opcodes(data, path)
    try:
        mapping = _DictOnlyUnpickler(io.BytesIO(data), encoding="bytes").load()
    except Exception as exc:  # any failure to parse: truncated, not a pickle, refused global
        raise InputError(f"{path}: not a readable {{image name: id}} pickle: "
                         f"{in_plain_words(exc)}") from None
    if not isinstance(mapping, dict) or not mapping:
        raise InputError(f"{path}: expected a non-empty {{image name: id}} dict, found "
                         f"{type(mapping).__name__}" + (" (empty)" if mapping == {} else ""))
    names, ids = list(mapping), list(mapping.values())
    del mapping
    if not set(map(type, ids)) <= {int} or not set(map(type, names)) <= {bytes, str}:
        i = next(i for i, (n, v) in enumerate(zip(names, ids))
                 if type(v) is not int or type(n) not in (bytes, str))
        raise InputError(f"{path}: entry {shown(_text(names[i]))}: {shown(ids[i])}: expected "
                         "a string name and a non-negative integer id")
    i = next((i for i, n in enumerate(names) if ("\0" if type(n) is str else b"\0") in n), None)
    if i is not None:
        raise InputError(f"{path}: entry {shown(_text(names[i]))}: a name holds a NUL byte")
    i = next((i for i, n in enumerate(names) if len(n) > MAX_ENTRY_BYTES), None)
    if i is not None:  # the names array is as wide as the longest name
        raise InputError(f"{path}: entry {shown(_text(names[i]))}: a name of {len(names[i]):,} "
                         f"characters, longer than an image's name may be ({MAX_ENTRY_BYTES})")
    try:
        ids = np.array(ids, dtype=np.int64)
    except OverflowError:
        raise InputError(f"{path}: an id does not fit in 64 bits") from None
    return _names_array(names, path), ids


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
    items = np.frombuffer(items, np.int64)
    names, ids = _decode_items(data, items)
    lengths = np.frombuffer(data, np.uint8)[items + 1]
    view = names.view(np.uint8).reshape(len(names), names.dtype.itemsize)
    if (view >= 0x80).any() or (lengths == 0).any() or control_bytes(names, 1, lengths).any():
        return None  # non-ASCII, empty or NUL-holding names: the unpickler's path decides
    # A name given twice keeps its last id in a dict: rare enough to leave to the unpickler.
    hashes = np.sort(hash_keys(names))
    if (hashes[1:] == hashes[:-1]).any():
        return None
    return names, ids


def _decode_items(data, items):
    """Names and ids of the dict items starting at ``items`` (checked by the walk above),
    :data:`ITEM_BLOCK` items at a time to bound the temporary arrays."""
    buf = np.frombuffer(data, np.uint8)
    names = np.empty(len(items), dtype=f"S{max(int(buf[items + 1].max()), 1)}")
    ids = np.empty(len(items), np.int64)
    for start in range(0, len(items), ITEM_BLOCK):
        part = items[start:start + ITEM_BLOCK]
        lengths = buf[part + 1].astype(np.int64)
        names[start:start + ITEM_BLOCK] = gather_strings(data, part + 2, lengths)
        value_at = part + 2 + lengths
        memo = buf[value_at]
        value_at += np.where(memo == _BINPUT, 2, np.where(memo == _LONG_BINPUT, 5, 0))
        op = buf[value_at]
        for code, width, kind in ((_BININT1, 1, "<u1"), (_BININT2, 2, "<u2"),
                                  (_BININT, 4, "<i4")):
            at = np.flatnonzero(op == code)
            ids[start + at] = field(buf, value_at[at] + 1, width).view(kind)
    return names, ids
