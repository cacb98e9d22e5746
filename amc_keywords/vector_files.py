"""Word-vector files read as a stream: the format and the compression found from the content,
then the records of the words wanted, one block at a time.

Input
    A word-vector file (:class:`VectorFile`): word2vec binary, word2vec/fastText text (both
    with an ``N d`` header line) or GloVe text (no header); plain, gzip (read with ISA-L),
    bzip2, xz, or one member of a zip archive (``member``: which one, when it holds several).
    Which words to keep: a set of words as UTF-8 bytes, and whether a word whose lowercase
    (:func:`lowercase`) is one of them is kept too.
Output
    ``kind`` (:data:`KINDS`), ``compression``, ``dim``, ``count`` (the header's, or None) and
    :meth:`VectorFile.records`, which yields ``(word, vector)`` (bytes, float32 array of
    ``dim``) of each kept record, in file order; then ``records_read``. Memory holds one
    block and the record that straddles it, whatever the file's size; a word's bytes are
    decoded by no one here, so invalid UTF-8 costs nothing.

    What is accepted (a BOM, CRLF, blank lines, a GloVe word with spaces...) and what is
    refused: docs/formats.md and docs/cli.md. Every problem is an :class:`InputError` naming
    the file and the line or record (and its byte offset).
"""
import bz2
import lzma
import os
import re
import zipfile
import zlib
from typing import IO, Any, Callable, Container, Iterator, List, Optional, Tuple, cast

import numpy as np

from .errors import InputError, error_for, shown

KINDS = ("word2vec binary", "word2vec text", "GloVe text")
BLOCK = 1 << 20  # bytes read at a time
LONGEST_RECORD = 1 << 24  # a record longer than this is not a word and its vector
LARGEST_DIM = 65536  # beyond: not a dimension but a damaged header (the matrix would not fit)
BOM = b"\xef\xbb\xbf"
HEADER = re.compile(rb"[ \t]*(\d+)[ \t]+(\d+)[ \t]*\r?")
MAGIC = ((b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"),
         (b"PK\x03\x04", "zip"), (b"PK\x05\x06", "zip"))
# What a damaged compressed stream raises, besides an OSError without errno.
DAMAGED = (EOFError, zlib.error, lzma.LZMAError, zipfile.BadZipFile, ValueError, RuntimeError,
           NotImplementedError)


class VectorFile:
    """One word-vector file, open: see the module's docstring. Use as a context manager."""

    def __init__(self, path: str, member: Optional[str] = None) -> None:
        self.path, self.name = path, path if member is None else f"{path}:{member}"
        self.kind, self.dim, self.count = KINDS[0], 0, None  # type: str, int, Optional[int]
        self.progress: Callable[[int], None] = lambda done: None  # given the bytes read so far
        try:
            self._raw: IO[bytes] = open(path, "rb")  # noqa: SIM115 (closed by close())
        except OSError as exc:
            raise error_for(exc)(f"{path}: cannot be read ({exc.strerror})") from None
        try:
            self.size = os.fstat(self._raw.fileno()).st_size
            self.compression, self.member = "none", member
            self._stream = self._open_stream(self._raw.read(6))
            self.records_read, self._offset = 0, 0
            self._head = self._read()
            self._detect()
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> "VectorFile":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        for stream in (getattr(self, "_stream", None), getattr(self, "_zip", None), self._raw):
            if stream is not None:
                stream.close()

    # -- the stream ---------------------------------------------------------------------------

    def _open_stream(self, magic: bytes) -> IO[bytes]:
        """The decompressed bytes, from the file's first bytes (not its name)."""
        self._raw.seek(0)
        self.compression = next((kind for start, kind in MAGIC if magic.startswith(start)),
                                "none")
        if self.member is not None and self.compression != "zip":
            what = "not compressed" if self.compression == "none" else \
                f"a {self.compression} file"
            raise InputError(f"{self.path}: member={self.member} names a file in a zip "
                             f"archive, and this file is {what}")
        try:
            if self.compression == "gzip":
                return _gzip_reader(self._raw)
            if self.compression == "bzip2":
                return bz2.BZ2File(self._raw)
            if self.compression == "xz":
                return lzma.LZMAFile(self._raw)
            if self.compression == "zip":
                return self._zip_member()
        except DAMAGED + (OSError,) as exc:
            self._damaged(exc)
        return self._raw

    def _zip_member(self) -> IO[bytes]:
        self._zip = zipfile.ZipFile(self._raw)
        files = [info for info in self._zip.infolist() if not info.is_dir() and
                 not info.filename.startswith("__MACOSX/") and
                 not os.path.basename(info.filename).startswith("._")]
        names = [info.filename for info in files]
        listed = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
        if self.member is None:
            if len(files) != 1:
                raise InputError(f"{self.path}: a zip of {len(files)} files ({listed}): "
                                 "choose one with member=" if files else
                                 f"{self.path}: a zip that holds no file")
            chosen = files[0]
        else:
            matches = [info for info in files if info.filename == self.member] or \
                [info for info in files if os.path.basename(info.filename) == self.member]
            if len(matches) != 1:
                raise InputError(f"{self.path}: no member {self.member!r} (it holds {listed})"
                                 if not matches else f"{self.path}: several members named "
                                 f"{self.member!r}: give the whole path")
            chosen = matches[0]
        self.member, self.name = chosen.filename, f"{self.path}:{chosen.filename}"
        self._unpacked, self.size = 0, chosen.file_size
        return self._zip.open(chosen)

    def _read(self) -> bytes:
        try:
            block = self._stream.read(BLOCK)
        except DAMAGED + (OSError,) as exc:
            self._damaged(exc)
        if self.compression == "zip":
            self._unpacked += len(block)
            self.progress(self._unpacked)
        else:
            self.progress(self._raw.tell())
        return block

    def _damaged(self, exc: BaseException) -> None:
        if isinstance(exc, OSError) and exc.errno is not None:
            raise error_for(exc)(f"{self.path}: cannot be read ({exc.strerror})") from None
        what = "cut short" if isinstance(exc, EOFError) else "damaged"
        raise InputError(f"{self.path}: not a readable {self.compression} file: {what} "
                         f"({shown(str(exc))})") from None

    # -- the format -----------------------------------------------------------------------------

    def _detect(self) -> None:
        """``kind``, ``dim``, ``count``: an ``N d`` first line is a header (binary when the
        first record is not a line of ``d`` numbers), else the first line is GloVe's."""
        head = self._head[len(BOM):] if self._head.startswith(BOM) else self._head
        self._offset = len(self._head) - len(head)
        if not head.strip():
            raise InputError(f"{self.name}: empty: no header and no vectors")
        end = head.find(b"\n")
        first = head if end < 0 else head[:end]
        header = HEADER.fullmatch(first)
        if header:
            self.count, self.dim = int(header.group(1)), int(header.group(2))
            if not 0 < self.dim <= LARGEST_DIM:
                raise InputError(f"{self.name}: line 1: the header says vectors of dimension "
                                 f"{self.dim}, expected 1 to {LARGEST_DIM}")
            self._head = head[end + 1:] if end >= 0 else b""
            self._offset += len(head) - len(self._head)
            self.kind = KINDS[1] if self._is_text_record(self._head) else KINDS[0]
            return
        fields = first.rstrip().split(b" ")
        # The numbers are the trailing fields that are numbers: a first word with spaces in
        # it (GloVe 840B has some) does not count.
        numbers = next((n for n, field in enumerate(reversed(fields[1:])) if not _numbers(
            [field])), len(fields) - 1)
        self.kind, self.count, self.dim, self._head = KINDS[2], None, numbers, head
        if not self.dim:
            raise InputError(f"{self.name}: not a word-vector file: line 1 is neither an "
                             f"'N d' header (word2vec, fastText) nor a word followed by numbers "
                             f"(GloVe): {shown(first[:60])}")

    def _is_text_record(self, body: bytes) -> bool:
        """Whether the first record is a line of a word and numbers (text) rather than a
        word and ``dim`` float32 (binary, whose bytes are never all decimal numbers); a line
        of another count of numbers than the header's is an error here, at line 2."""
        end = body.find(b"\n")
        fields = (body if end < 0 else body[:end]).rstrip().split(b" ")
        if len(fields) < 2 or not _numbers(fields[1:]):
            return False
        if len(fields) - 1 != self.dim:
            raise InputError(f"{self.name}: line 2: {len(fields) - 1} values, but the header "
                             f"says vectors of dimension {self.dim}")
        return True

    # -- the records ------------------------------------------------------------------------------

    def records(self, words: Container[bytes], by_case: bool = False
                ) -> Iterator[Tuple[bytes, np.ndarray]]:
        """``(word, vector)`` of each record whose word is one of ``words`` (or, with
        ``by_case``, whose :func:`lowercase` is), in file order."""
        def keep(word: bytes) -> bool:
            return word in words or (by_case and lowercase(word) in words)
        if self.kind == KINDS[0]:
            return self._binary_records(words, by_case)
        return self._text_records(keep if by_case else words.__contains__)

    def _text_records(self, keep: Callable[[bytes], bool]) -> Iterator[Tuple[bytes, np.ndarray]]:
        dim, pending, line_number = self.dim, self._head, 1 if self.count is not None else 0
        block: Optional[bytes] = b""
        while block is not None:
            block = self._read()
            if block:
                lines = (pending + block).split(b"\n")
                pending = lines.pop()
                if len(pending) > LONGEST_RECORD:
                    raise InputError(f"{self.name}: line {line_number + len(lines) + 1}: "
                                     f"longer than {LONGEST_RECORD} bytes: not a word-vector "
                                     "file")
            else:
                lines, block = pending.split(b"\n"), None
            self.records_read += len(lines) - lines.count(b"") - lines.count(b"\r")
            for number, line in enumerate(lines, line_number + 1):
                space = line.find(b" ")
                word = line[:space] if space >= 0 else line.rstrip()
                if not keep(word):
                    continue
                values = line.rstrip().split(b" ")[1:]
                if len(values) > dim:
                    continue  # a word with spaces in it: never a vocabulary word
                yield word, self._vector(values, f"line {number}", word)
            line_number += len(lines)
        if self.count is not None and self.records_read != self.count:
            raise InputError(f"{self.name}: the header says {self.count} words, but the file "
                             f"holds {self.records_read}: the header or the body is wrong (a "
                             "file cut short?)")

    def _vector(self, values: List[bytes], where: str, word: bytes) -> np.ndarray:
        entry = f"{self.name}: {where} (word {shown(word.decode('utf-8', 'replace'))})"
        if len(values) != self.dim:
            raise InputError(f"{entry}: {len(values)} values, but the "
                             f"{'header says' if self.count is not None else 'first line has'}"
                             f" {self.dim}")
        try:
            with np.errstate(over="ignore"):  # beyond float32: inf, refused below
                vector = np.array(values, dtype=np.float64).astype(np.float32)
        except ValueError:
            bad = next(v for v in values if not _numbers([v]))
            raise InputError(f"{entry}: {shown(bad.decode('utf-8', 'replace'))} is not a "
                             "number") from None
        return self._finite(vector, entry)

    @staticmethod
    def _finite(vector: np.ndarray, entry: str) -> np.ndarray:
        if not np.isfinite(vector).all():
            at = int(np.flatnonzero(~np.isfinite(vector))[0])
            raise InputError(f"{entry}: value {at + 1} is {vector[at]}, not a finite number")
        return vector

    def _binary_records(self, words: Container[bytes], by_case: bool
                        ) -> Iterator[Tuple[bytes, np.ndarray]]:
        # The loop every record goes through: locals only, the test of a word inlined.
        dim, size, count, done = self.dim, 4 * self.dim, self.count or 0, 0
        buffer, position, offset = self._head, 0, self._offset  # offset: buffer[0]'s
        block: Optional[bytes] = b""
        try:
            while block is not None and done < count:
                find, end = buffer.find, len(buffer)
                while done < count:
                    space = find(b" ", position)
                    if space < 0 or space + 1 + size > end:
                        break
                    word = buffer[position:space]
                    if word[:1] == b"\n":  # the newline after the previous vector
                        word = word.lstrip(b"\n")
                    if word in words or by_case and (
                            word.lower() if word.isascii() else lowercase(word)) in words:
                        self.records_read = done
                        vector = np.frombuffer(buffer, "<f4", dim, space + 1).astype(np.float32)
                        yield word, self._finite(vector, self._where(
                            word, offset + space - len(word)))
                    position = space + 1 + size
                    done += 1
                block = self._read() or None
                if len(buffer) - position > LONGEST_RECORD:
                    self.records_read = done
                    raise InputError(f"{self._where(b'', offset + position)}: no word of "
                                     f"{LONGEST_RECORD} bytes or fewer: not word2vec binary")
                buffer, offset = buffer[position:] + (block or b""), offset + position
                position = 0
        finally:
            self.records_read = done
        self._binary_end(buffer, offset, block)

    def _binary_end(self, rest: bytes, offset: int, block: Optional[bytes]) -> None:
        """After the records: the file must end with the header's count of them, with
        whitespace alone after the last (``rest``, at byte ``offset``, is what is left of the
        last block; ``block`` None when the stream has ended)."""
        if self.records_read < (self.count or 0):
            if rest.strip():
                start = offset + len(rest) - len(rest.lstrip(b"\n"))
                raise InputError(f"{self._where(b'', start)}: cut short: the file ends "
                                 "inside it (truncated?)")
            raise InputError(f"{self.name}: the header says {self.count} words, but the file "
                             f"ends after {self.records_read}")
        while not rest.strip():
            if block is None:
                return
            block = self._read() or None
            offset, rest = offset + len(rest), block or b""
        raise InputError(f"{self.name}: byte {offset + len(rest) - len(rest.lstrip())}: more "
                         f"data after the {self.count} words the header says")

    def _where(self, word: bytes, at: int) -> str:
        said = f" (word {shown(word.decode('utf-8', 'replace'))})" if word else ""
        return f"{self.name}: record {self.records_read + 1} at byte {at}{said}"


def _gzip_reader(raw: IO[bytes]) -> IO[bytes]:
    """ISA-L's gzip reader (faster than zlib's), decompressing in a thread of its own where
    this isal has one, while this thread parses (docs/performance.md)."""
    try:
        from isal import igzip_threaded
    except ImportError:  # an older isal, without it
        from isal import igzip
        return cast(IO[bytes], igzip.IGzipFile(fileobj=raw, mode="rb"))
    return cast(IO[bytes], igzip_threaded.open(raw, "rb", threads=1))


def lowercase(word: bytes) -> bytes:
    """A word's lowercase as the analyzer lowercases (``str.lower``), as UTF-8; a word that
    is not UTF-8 has none (b"", never a vocabulary word)."""
    if word.isascii():
        return word.lower()
    try:
        return word.decode("utf-8").lower().encode("utf-8")
    except UnicodeDecodeError:
        return b""


def _numbers(fields: List[bytes]) -> bool:
    try:
        np.array(fields, dtype=np.float64)
    except ValueError:
        return False
    return True
