"""Stream raw records out of log files (plain or gzip, UTF-8/16/32), line by line.

Memory is bounded by the longest line (capped by `max_line_bytes`), never by the file. Problems
the reader itself sees (a file it cannot open or that fails mid-read, binary files, truncated
gzip, oversized lines, truncated JSON arrays) come out as units with a `problem`, so the caller
records them as rejects (file, line, reason) and carries on with the next file.
"""

from __future__ import annotations

import errno
import gzip
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from slmconvert.collect import encoding
from slmconvert.collect.inputs import LOG_SUFFIXES, file_size, resolve_inputs, scan_inputs
from slmconvert.collect.jsonscan import split_json_stream

__all__ = ["LOG_SUFFIXES", "LogFile", "Unit", "resolve_inputs", "scan_inputs"]

GZIP_MAGIC = b"\x1f\x8b"
READ_CHUNK = 1 << 20
SNIFF_BYTES = 1 << 16
GZIP_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error)
FILE_LEVEL = 0  # the `line` of a problem with the whole file rather than one of its lines


@dataclass(slots=True)
class Unit:
    """One raw record: its bytes, the line it starts on, and a reader problem if any."""

    line: int
    data: bytes
    problem: tuple[str, str] | None = None  # (reason, detail)
    index: int | None = None  # element index inside a JSON-array file


def describe(exc: OSError) -> str:
    """An OS error in words, with its errno name (`Permission denied (EACCES)`)."""
    name = errno.errorcode.get(exc.errno or 0)
    words = exc.strerror or str(exc) or type(exc).__name__
    return f"{words} ({name})" if name else words


class LogFile:
    """One input file; `units()` streams its records, `position` is compressed bytes consumed."""

    def __init__(self, path: Path, max_line_bytes: int) -> None:
        self.path = path
        self.name = str(path)
        self.max_line_bytes = max_line_bytes
        self.size = file_size(path)
        self.compressed = False
        self._raw: io.BufferedReader | None = None

    @property
    def position(self) -> int:
        """Bytes of the file on disk read so far (for progress bars)."""
        try:
            return self._raw.tell() if self._raw is not None else 0
        except (ValueError, OSError):
            return self.size

    def units(self) -> Iterator[Unit]:
        """Every record of the file, with problems (I/O errors included) as units instead of exceptions."""
        try:
            raw = open(self.path, "rb", buffering=READ_CHUNK)
        except OSError as exc:
            gone = " (removed after it was listed?)" if isinstance(exc, FileNotFoundError) else ""
            yield Unit(FILE_LEVEL, b"", ("unreadable file", f"cannot open: {describe(exc)}{gone}"))
            return
        with raw:
            self._raw = raw
            try:
                stream, head = self._text_stream(raw)
            except GZIP_ERRORS as exc:
                yield Unit(FILE_LEVEL, b"", ("corrupt gzip", f"cannot decompress: {exc}"))
                return
            except OSError as exc:
                yield Unit(FILE_LEVEL, b"", ("read error", f"cannot read the start: {describe(exc)}"))
                return
            if encoding.looks_binary(head):
                yield Unit(FILE_LEVEL, head[:500], ("binary file", "control bytes and no JSON record in the first "
                                                                  f"{SNIFF_BYTES // 1024} KiB"))
                return
            if _is_json_document(head):
                last = yield from self._document_units(stream)
            else:
                last = yield from self._line_units(stream)
            if last is not None:
                yield from self._shrunk(raw, last)
            self._raw = None

    def _text_stream(self, raw: io.BufferedReader) -> tuple[io.BufferedIOBase, bytes]:
        """The decompressed stream as UTF-8 bytes (after any byte-order mark) and its head."""
        self.compressed = raw.read(2) == GZIP_MAGIC
        raw.seek(0)
        # GzipFile keeps its own small buffer: wrapping it in a bigger BufferedReader would
        # lose the lines decoded just before a truncation, inside the same big read.
        stream = gzip.GzipFile(fileobj=raw) if self.compressed else raw
        head = stream.peek(SNIFF_BYTES)[:SNIFF_BYTES]
        source, mark = encoding.detect(head)
        if mark:
            stream.read(mark)
        if source is None:
            return stream, head[mark:]
        stream = encoding.recoded(stream, source, READ_CHUNK)
        return stream, stream.peek(SNIFF_BYTES)[:SNIFF_BYTES]

    def _shrunk(self, raw: io.BufferedReader, last: int) -> Iterator[Unit]:
        """A plain file that ends before the size it had when listed lost its tail under us."""
        if self.compressed:
            return  # a cut gzip stream already says "truncated gzip"
        try:
            read = raw.tell()
        except OSError:
            return
        if read < self.size:
            yield Unit(last + 1, b"", ("file shrank while reading",
                                       f"{self.size} bytes when listed, only {read} could be read"))

    def _line_units(self, stream: io.BufferedIOBase) -> Iterator[Unit]:
        """Lines as units; returns the number of the last line read, None after a stream failure."""
        limit = self.max_line_bytes
        readline = stream.readline
        line_no = 0
        while True:
            try:
                line = readline(limit + 1)
            except GZIP_ERRORS as exc:
                yield Unit(line_no + 1, b"", ("truncated gzip", f"stream ends early after line {line_no}: {exc}"))
                return None
            except OSError as exc:
                yield Unit(line_no + 1, b"", ("read error", f"{describe(exc)} after line {line_no}"))
                return None
            if not line:
                return line_no
            line_no += 1
            if len(line) > limit and line[-1:] != b"\n":
                excerpt = line[:500]
                try:
                    while (rest := readline(READ_CHUNK)) and rest[-1:] != b"\n":
                        pass
                except GZIP_ERRORS:
                    pass
                except OSError as exc:
                    yield Unit(line_no, excerpt, ("read error", f"{describe(exc)} inside an over-long line"))
                    return None
                yield Unit(line_no, excerpt, ("line too long", f"longer than {limit} bytes (max_line_mb)"))
                continue
            yield Unit(line_no, line)

    def _document_units(self, stream: io.BufferedIOBase) -> Iterator[Unit]:
        """Elements of a JSON array / pretty-printed objects; returns the last line, None after a failure."""
        failure: list[tuple[str, str]] = []

        def chunks() -> Iterator[bytes]:
            # read1: one read of the source at most, so a failing read loses no bytes read before it
            while True:
                try:
                    chunk = stream.read1(READ_CHUNK)
                except GZIP_ERRORS as exc:
                    failure.append(("truncated gzip", f"stream ends early: {exc}"))
                    return
                except OSError as exc:
                    failure.append(("read error", describe(exc)))
                    return
                if not chunk:
                    return
                yield chunk

        last = 1
        for piece in split_json_stream(chunks(), self.max_line_bytes):
            last = piece.line
            problem = ("truncated JSON", piece.problem) if piece.problem else None
            if piece.problem and piece.problem.startswith("record longer"):
                problem = ("line too long", piece.problem)
            yield Unit(piece.line, piece.data, problem, piece.index)
        if failure:
            yield Unit(last, b"", failure[0])
            return None
        return last


def _is_json_document(head: bytes) -> bool:
    """A JSON array file, or pretty-printed objects (first line is a lone "{")."""
    text = head.lstrip()
    if text.startswith(b"["):
        return True
    first = text.split(b"\n", 1)[0].strip()
    return first == b"{"
