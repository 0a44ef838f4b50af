"""Stream raw records out of log files, directories and globs (plain or gzip), line by line.

Memory is bounded by the longest line (capped by `max_line_bytes`), never by the file. Problems
the reader itself sees (binary files, truncated gzip, oversized lines, truncated JSON arrays)
come out as units with a `problem`, so the caller records them as rejects and carries on.
"""

from __future__ import annotations

import glob
import gzip
import io
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from slmconvert.collect.jsonscan import split_json_stream
from slmconvert.errors import BadInputError

LOG_SUFFIXES = (".jsonl", ".json", ".ndjson", ".log", ".txt", ".gz")
GZIP_MAGIC = b"\x1f\x8b"
BOM = b"\xef\xbb\xbf"
READ_CHUNK = 1 << 20
SNIFF_BYTES = 1 << 16
GZIP_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error)


@dataclass(slots=True)
class Unit:
    """One raw record: its bytes, the line it starts on, and a reader problem if any."""

    line: int
    data: bytes
    problem: tuple[str, str] | None = None  # (reason, detail)
    index: int | None = None  # element index inside a JSON-array file


def _is_log_file(path: Path) -> bool:
    """Log-like names found by walking a directory; `.hidden` and `_private` files are skipped."""
    name = path.name.lower()
    return not name.startswith((".", "_")) and name.endswith(LOG_SUFFIXES)


def resolve_inputs(specs: list[str]) -> list[Path]:
    """Files named by paths, directories (recursively, log-like names) and glob patterns, in order."""
    if not specs:
        raise BadInputError("no input paths given", hint="pass log files, directories or globs")
    found: list[Path] = []
    for spec in specs:
        path = Path(os.path.expanduser(spec))
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and _is_log_file(p))
            if not files:
                raise BadInputError(
                    f"directory {spec} holds no log files", hint=f"expected names ending in {', '.join(LOG_SUFFIXES)}"
                )
            found.extend(files)
        elif glob.has_magic(spec):
            matches = [Path(m) for m in sorted(glob.glob(os.path.expanduser(spec), recursive=True))]
            files = [m for m in matches if m.is_file()]
            files += [p for m in matches if m.is_dir() for p in sorted(m.rglob("*")) if p.is_file() and _is_log_file(p)]
            if not files:
                raise BadInputError(f"no files match {spec!r}", hint="check the pattern (quote it to let slmconvert expand it)")
            found.extend(files)
        else:
            raise BadInputError(f"{spec}: no such file or directory")
    unique: dict[Path, Path] = {}
    for path in found:
        unique.setdefault(path.resolve(), path)
    return list(unique.values())


class LogFile:
    """One input file; `units()` streams its records, `position` is compressed bytes consumed."""

    def __init__(self, path: Path, max_line_bytes: int) -> None:
        self.path = path
        self.name = str(path)
        self.max_line_bytes = max_line_bytes
        self.size = path.stat().st_size
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
        """Every record of the file, with problems as units instead of exceptions."""
        with open(self.path, "rb", buffering=READ_CHUNK) as raw:
            self._raw = raw
            self.compressed = raw.read(2) == GZIP_MAGIC
            raw.seek(0)
            # GzipFile keeps its own small buffer: wrapping it in a bigger BufferedReader would
            # lose the lines decoded just before a truncation, inside the same big read.
            stream = gzip.GzipFile(fileobj=raw) if self.compressed else raw
            try:
                head = stream.peek(SNIFF_BYTES)[:SNIFF_BYTES]
            except GZIP_ERRORS as exc:
                yield Unit(1, b"", ("corrupt gzip", f"cannot decompress: {exc}"))
                return
            if head.startswith(BOM):
                stream.read(len(BOM))
                head = head[len(BOM):]
            if b"\x00" in head:
                yield Unit(1, head[:500], ("binary file", "NUL bytes: not JSON Lines or JSON"))
                return
            if _is_json_document(head):
                yield from self._document_units(stream)
            else:
                yield from self._line_units(stream)
            self._raw = None

    def _line_units(self, stream: io.BufferedIOBase) -> Iterator[Unit]:
        limit = self.max_line_bytes
        readline = stream.readline
        line_no = 0
        while True:
            try:
                line = readline(limit + 1)
            except GZIP_ERRORS as exc:
                yield Unit(line_no + 1, b"", ("truncated gzip", f"stream ends early after line {line_no}: {exc}"))
                return
            if not line:
                return
            line_no += 1
            if len(line) > limit and line[-1:] != b"\n":
                excerpt = line[:500]
                try:
                    while (rest := readline(READ_CHUNK)) and rest[-1:] != b"\n":
                        pass
                except GZIP_ERRORS:
                    pass
                yield Unit(line_no, excerpt, ("line too long", f"longer than {limit} bytes (max_line_mb)"))
                continue
            yield Unit(line_no, line)

    def _document_units(self, stream: io.BufferedIOBase) -> Iterator[Unit]:
        failure: list[str] = []

        def chunks() -> Iterator[bytes]:
            while True:
                try:
                    chunk = stream.read(READ_CHUNK)
                except GZIP_ERRORS as exc:
                    failure.append(str(exc))
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
            yield Unit(last, b"", ("truncated gzip", f"stream ends early: {failure[0]}"))


def _is_json_document(head: bytes) -> bool:
    """A JSON array file, or pretty-printed objects (first line is a lone "{")."""
    text = head.lstrip()
    if text.startswith(b"["):
        return True
    first = text.split(b"\n", 1)[0].strip()
    return first == b"{"
