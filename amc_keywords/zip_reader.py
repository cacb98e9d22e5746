"""Zip archives of keyword files, read in place: the central directory and the members.

Input
    A zip archive (``keywords_<set>.zip``): stored or deflated members, with or without a top
    folder, with ``__MACOSX/``, ``._*`` and directory entries (ignored), Zip64, data
    descriptors, an archive comment or data prepended to it (a self-extractor).
Output
    :class:`ZipDirectory`: the keyword files' keys (path inside the top folder, without
    ``.json``) and a compact member table (offset, sizes, CRC, method), parsed vectorised
    into numpy arrays rather than one zipfile ZipInfo object a member (docs/performance.md);
    :func:`read_members` yields the inflated, CRC-checked bytes of members;
    A damaged archive is an :class:`InputError` naming it (and the member).

Defences against a crafted archive, each one enough on its own: members whose path would
leave their folder are set aside (the rule of :mod:`amc_keywords.safe_paths`); each member's
data lies in a range of the file of its own, before the central directory; its local header
names it; it may declare at most a keyword file's size; its inflation stops at the size it
declares, however far its stream would inflate; its bytes have the size and CRC-32 it
declares.
"""
import os
import struct
import zlib
from array import array
from typing import Iterator, NoReturn, Tuple, Type, cast

import numpy as np
from isal import isal_zlib

from .byte_arrays import field, gather_strings, strip_prefix, strip_suffix
from .errors import InputError, escaped
from .keyword_files import (
    KEYWORD_SUFFIX,
    MAX_KEYWORD_FILE,
    keyword_file_mask,
    member_location,
)
from .safe_paths import suspects, unsafe_reason

_EOCD = struct.Struct("<4s4H2LH")
_EOCD64_LOCATOR = struct.Struct("<4sLQL")
_EOCD64 = struct.Struct("<4sQ2H2L4Q")
_LOCAL = struct.Struct("<4s2B4HL2L2H")
MEMBER = np.dtype([("offset", "<i8"), ("csize", "<i8"), ("usize", "<i8"), ("crc", "<u4"),
                    ("method", "<u2")])
DIRECTORY_BLOCK = 4 << 20  # bytes of the central directory parsed at a time


class ZipDirectory:
    """The keyword files of a zip archive: ``keys`` (``S`` array, archive order), ``table``
    (a :data:`MEMBER` row each), ``top`` (the single top folder, '' if none) and ``unsafe``
    (names of members whose path would leave the folder they unpack into: set aside, so that
    no list entry can reach them; ``--extract`` warns about them)."""

    def __init__(self, path):
        self.path = path
        try:
            with open(path, "rb") as f:
                keys, table = self._read_directory(f)
        except ValueError as exc:  # what the reader found wrong, in its words
            raise InputError(f"{path}: not a valid zip archive ({exc}); download it again") \
                from None
        except (struct.error, IndexError, OverflowError):  # a field the file cuts short
            raise InputError(f"{path}: not a valid zip archive (its central directory is "
                             "damaged: a record is cut short or points outside it); download "
                             "it again") from None
        # Only the suspects (a few, usually none) are looked at one by one.
        unsafe = [i for i in np.flatnonzero(suspects(keys)) if unsafe_reason(bytes(keys[i]))]
        self.unsafe = [keys[i].decode("utf-8", "replace") + KEYWORD_SUFFIX for i in unsafe]
        if unsafe:
            keys, table = np.delete(keys, unsafe), np.delete(table, unsafe)
        if not len(keys):
            raise InputError(f"{path}: the archive holds no .json keyword file")
        self.top = _common_top(keys)
        if self.top:
            keys = strip_prefix(keys, len(self.top.encode("utf-8", "surrogateescape")) + 1)
        self.keys, self.table = keys, table

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
        if count * 46 > cd_size:  # a record is at least 46 bytes
            raise ValueError(f"the end record claims {count} members, more than its "
                             f"{cd_size}-byte central directory can hold")
        f.seek(cd_offset + shift)
        # Read in blocks: a million-member directory is ~80 MB, and parsing it whole needs
        # several times that for a moment; block by block, memory holds only the results.
        # Member rows go straight into one table (count is the end record's): a list of parts
        # joined at the end would need twice the memory for a moment.
        parts, table, carry, left, records = [], np.empty(count, MEMBER), b"", cd_size, 0
        ends = np.empty(count, np.int64)  # where each member's data ends, at the least
        kept = 0
        while (left or carry) and records < count:
            block = carry + f.read(min(DIRECTORY_BLOCK, left))
            left -= len(block) - len(carry)
            if len(block) == len(carry) and left:
                raise ValueError("the central directory is cut short: truncated download")
            starts, end = _record_starts(block, np.frombuffer(block, np.uint8))
            if not len(starts):  # at the end only: a record is at most 196 KB, a block 4 MB
                raise ValueError("the central directory is cut short: truncated download")
            if records + len(starts) > count:
                raise ValueError(f"the central directory holds more than {count} records, "
                                 "the number its end record gives")
            keys, rows, row_ends = self._parse_records(block, starts, shift, size)
            parts.append(keys)
            table[kept:kept + len(rows)] = rows
            ends[kept:kept + len(rows)] = row_ends
            kept += len(rows)
            records += len(starts)
            carry = block[end:]
        if records != count:
            raise ValueError(f"the central directory holds {records} records, not {count}")
        keys = np.concatenate(parts) if parts else np.array([], dtype="S1")
        self._check_ranges(keys, table[:kept], ends[:kept], cd_offset + shift)
        return keys, table[:kept]

    def _check_ranges(self, keys, table, ends, directory_start):
        """Each member's local header and data lie in a range of the file of their own,
        before the central directory: a crafted archive cannot point many entries at one
        member (a zip bomb), nor a member at the directory."""
        offsets = table["offset"]
        order = None if (np.diff(offsets) >= 0).all() else np.argsort(offsets, kind="stable")
        starts, stops = (offsets, ends) if order is None else (offsets[order], ends[order])
        overlap = np.flatnonzero(stops[:-1] > starts[1:])
        beyond = np.flatnonzero(stops > directory_start)
        for found, what in ((overlap, "another member"), (beyond, "the central directory")):
            if len(found):
                i = int(found[0]) if order is None else int(order[found[0]])
                raise InputError(f"{self.path}: {escaped(bytes(keys[i]))}"
                                 f"{KEYWORD_SUFFIX}: its data overlaps {what}: a crafted or "
                                 "damaged archive; download it again")

    def _parse_records(self, cd, starts, shift, size):
        """Keys and member table of the records of one block (vectorised: a Python object per
        member would cost a ZipInfo-sized object and microseconds each)."""
        buf = np.frombuffer(cd, np.uint8)

        def at(offset, width):
            return field(buf, starts + offset, width)

        if np.any(at(0, 4) != 0x02014B50):
            raise ValueError("bad central directory record")
        flags, method, crc = at(8, 2), at(10, 2), at(16, 4)
        csize, usize = at(20, 4).astype(np.int64), at(24, 4).astype(np.int64)
        name_len, extra_len = at(28, 2).astype(np.int64), at(30, 2).astype(np.int64)
        offset = at(42, 4).astype(np.int64)
        for i in np.flatnonzero((csize == 0xFFFFFFFF) | (usize == 0xFFFFFFFF) |
                                (offset == 0xFFFFFFFF)):
            extra_at = starts[i] + 46 + name_len[i]
            usize[i], csize[i], offset[i] = _zip64_sizes(
                cd[extra_at: extra_at + extra_len[i]], usize[i], csize[i], offset[i])
        names = gather_strings(cd, starts + 46, name_len)
        stored_len = name_len.copy()  # as stored: the local header's name is as long
        width = names.dtype.itemsize
        non_ascii = (names.view(np.uint8).reshape(len(names), width) >= 0x80).any(axis=1)
        odd = np.flatnonzero(non_ascii & ((flags & 0x800) == 0))
        if len(odd):  # legacy names are cp437; re-encode the few non-ASCII ones as UTF-8
            names = names.astype(object)
            names[odd] = [n.decode("cp437").encode("utf-8") for n in names[odd]]
            name_len[odd] = [len(n) for n in names[odd]]
            names = names.astype(bytes)
        keep_idx = np.flatnonzero(keyword_file_mask(names))
        for bad, what in (((flags & 0x1) != 0, "the member is encrypted"),
                          (~np.isin(method, (0, 8)), "its compression method is not stored or "
                           "deflate; re-zip the folder")):
            if np.any(bad[keep_idx]):
                i = keep_idx[np.flatnonzero(bad[keep_idx])[0]]
                raise InputError(f"{self.path}: {escaped(bytes(names[i]))}: {what}")
        keys = strip_suffix(names[keep_idx], name_len[keep_idx], len(KEYWORD_SUFFIX))
        if len(keys):  # as wide as the longest key, not the longest name (a __MACOSX one)
            keys = keys.astype(f"S{max(int(name_len[keep_idx].max()) - len(KEYWORD_SUFFIX), 1)}")
        table = np.empty(len(keep_idx), dtype=MEMBER)
        table["offset"] = offset[keep_idx] + shift
        table["csize"] = csize[keep_idx]
        table["usize"] = usize[keep_idx]
        table["crc"] = crc[keep_idx]
        table["method"] = method[keep_idx]
        if len(table) and int((table["offset"] + table["csize"]).max()) > size:
            raise ValueError("a member lies beyond the end of the file: truncated download")
        ends = table["offset"] + 30 + stored_len[keep_idx] + table["csize"]
        return keys, table, ends


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
        lengths = (field(buf, candidates + 28, 2).astype(np.int64) +
                   field(buf, candidates + 30, 2) + field(buf, candidates + 32, 2))
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
        return top[:-1].decode("utf-8", "surrogateescape")  # bytes that are not UTF-8 kept
    return ""


HEADER_SLACK = 256  # local name + extra fields fit in this in practice: one read a member
# Inflated in one call up to this packed size: deflate expands at most ~1032x, so at most
# ~16 MiB; a larger member is inflated in bounded steps.
SMALL_MEMBER = 1 << 14
# What a damaged deflate stream raises (isal's stub declares its error an instance).
_INFLATE_ERRORS: Tuple[Type[Exception], ...] = (zlib.error, cast(Type[Exception],
                                                                  isal_zlib.error))


def read_members(path: str, top: str, keys: np.ndarray, table: np.ndarray,
                 limit: int = MAX_KEYWORD_FILE) -> Iterator[bytes]:
    """Yield the raw (inflated, CRC-checked) bytes of each member of ``table``; an error names
    the member by its key. A member's local header must carry its name, and it may not
    declare, nor inflate to, more than ``limit`` bytes.

    The archive is open while the members are read: closed when the last one is yielded, or
    when the caller stops (an error, or the generator closed or dropped). A worker opens it
    once a chunk of the plan (thousands of members), so no descriptor outlives its reading.
    """
    _check_declared_sizes(path, top, keys, table, limit)
    # Names bound once: this loop runs once an image, a million times for Lite.
    header, names_at = _LOCAL.size, struct.Struct("<2H").unpack_from
    # ISA-L's inflate and CRC-32 give zlib's results, faster (docs/performance.md).
    pread, inflate, crc32 = os.pread, isal_zlib.decompress, isal_zlib.crc32
    prefix = (top + "/" if top else "").encode("utf-8", "surrogateescape")
    suffix = KEYWORD_SUFFIX.encode()
    key_list = keys.tolist()
    with open(path, "rb", buffering=0) as archive:
        fd = archive.fileno()
        for i, (offset, csize, usize, crc, method) in enumerate(table.tolist()):
            block = pread(fd, header + HEADER_SLACK + csize, offset)
            if len(block) < header or not block.startswith(b"PK\x03\x04"):
                raise InputError(f"{member_location(path, top, keys[i])}: bad local header: "
                                 "the archive is damaged; download it again")
            name_len, extra_len = names_at(block, 26)
            start = header + name_len + extra_len
            name = prefix + key_list[i] + suffix
            if block[header:header + name_len] != name and \
                    not _same_name(block, fd, offset, name):
                raise InputError(f"{member_location(path, top, keys[i])}: its local header "
                                 "names another file: a crafted or damaged archive; download "
                                 "it again")
            data = block[start:start + csize] if start <= header + HEADER_SLACK else \
                pread(fd, csize, offset + start)
            if len(data) != csize:
                raise InputError(f"{member_location(path, top, keys[i])}: cut short: the "
                                 "archive is truncated; download it again")
            try:
                if method != 8:
                    raw = data
                elif csize <= SMALL_MEMBER:  # at most ~1000x larger: no bound needed, faster
                    raw = inflate(data, -15)
                else:  # a large member could claim a small size and inflate without end
                    raw = _inflate_bounded(data, min(usize, limit), path, top, keys[i])
            except _INFLATE_ERRORS:
                raise InputError(f"{member_location(path, top, keys[i])}: cannot be "
                                 "decompressed (its compressed data is damaged): the archive "
                                 "is damaged; download it again") from None
            if len(raw) != usize or crc32(raw) != crc:
                if len(raw) > usize:
                    _refuse_bomb(path, top, keys[i], usize)
                raise InputError(f"{member_location(path, top, keys[i])}: CRC check failed: "
                                 "the archive is damaged; download it again")
            yield raw


def _check_declared_sizes(path: str, top: str, keys: np.ndarray, table: np.ndarray,
                          limit: int) -> None:
    """Refuse the first member that declares more than ``limit`` bytes unpacked (vectorised,
    before any member is read)."""
    over = np.flatnonzero(table["usize"] > limit)
    if len(over):
        i = int(over[0])
        raise InputError(f"{member_location(path, top, keys[i])}: declares "
                         f"{int(table['usize'][i])} bytes unpacked, more than a keyword file "
                         f"holds ({limit}); refusing it")


def _inflate_bounded(data: bytes, bound: int, path: str, top: str, key: bytes) -> bytes:
    """Inflate a raw deflate stream, stopping once it has given ``bound`` bytes: an
    InputError names the member if its stream holds more (a zip bomb declaring a small
    size), whatever its declared size and CRC say; the most ever held is ``bound + 1``."""
    inflater = zlib.decompressobj(-15)
    raw = inflater.decompress(data, bound + 1)  # never 0: that would mean "no limit"
    if len(raw) > bound:
        _refuse_bomb(path, top, key, bound)
    return raw


def _refuse_bomb(path: str, top: str, key: bytes, bound: int) -> NoReturn:
    raise InputError(f"{member_location(path, top, key)}: inflates to more than the {bound} "
                     "bytes it may hold: a crafted archive (zip bomb?); refusing it")


def _same_name(block, fd, offset, name):
    """Whether the local header at ``offset`` names ``name`` (the slow cases: a name longer
    than the first read, or a legacy cp437 name the directory re-encoded as UTF-8)."""
    name_len = struct.unpack_from("<H", block, 26)[0]
    local = os.pread(fd, name_len, offset + _LOCAL.size)
    if local == name:
        return True
    try:
        return local == name.decode("utf-8").encode("cp437")
    except (UnicodeDecodeError, UnicodeEncodeError):
        return False
