"""Split a stream of JSON text into its records without loading it whole.

Handles files that are one JSON array (`llm logs --json`, exports), possibly pretty-printed
across many lines, and streams of pretty-printed objects. Elements of top-level arrays and
top-level values are yielded as raw bytes with the line they start on, so memory stays bounded
by the largest record, not the file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

_IN_STRING = re.compile(rb'[\\"\n]')
_IN_VALUE = re.compile(rb'["\[\]{},\n]')
_NON_SPACE = re.compile(rb"[^ \t\r\n,]")
_OPEN, _CLOSE = b"[{", b"]}"


@dataclass(slots=True)
class Piece:
    """One record: raw JSON bytes (an excerpt when `problem` is set), start line, element index."""

    data: bytes
    line: int
    index: int
    problem: str | None = None


class JsonSplitter:
    """Incremental splitter: feed() chunks, then finish(); each returns completed Pieces."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.line = 1
        self.depth = 0
        self.in_array = False  # inside a top-level array whose elements are the records
        self.in_string = False
        self.escape = False
        self.buf: bytearray | None = None  # the record being collected
        self.overflow = False
        self.start_line = 0
        self.start_depth = 0
        self.container = False
        self.count = 0

    def _begin(self, first: int) -> None:
        self.buf = bytearray()
        self.overflow = False
        self.start_line = self.line
        self.start_depth = self.depth
        self.container = first in _OPEN

    def _keep(self, data: bytes) -> None:
        if self.buf is None or self.overflow:
            return
        if len(self.buf) + len(data) > self.max_bytes:
            self.overflow = True
            self.buf = bytearray(self.buf[:500])
            return
        self.buf += data

    def _emit(self, out: list[Piece]) -> None:
        problem = f"record longer than {self.max_bytes} bytes" if self.overflow else None
        out.append(Piece(bytes(self.buf), self.start_line, self.count, problem))
        self.count += 1
        self.buf = None

    def feed(self, chunk: bytes) -> list[Piece]:
        """Consume the next chunk; returns the records completed within it."""
        out: list[Piece] = []
        i, n = 0, len(chunk)
        seg = 0  # start of the current record's bytes within this chunk
        while i < n:
            if self.escape:
                self.escape = False
                i += 1
                continue
            if self.in_string:
                m = _IN_STRING.search(chunk, i)
                if m is None:
                    break
                c = chunk[m.start()]
                if c == 0x5C:  # backslash: skip the escaped byte (maybe in the next chunk)
                    i = m.start() + 2
                    if i > n:
                        self.escape = True
                    continue
                if c == 0x0A:
                    self.line += 1
                else:
                    self.in_string = False
                i = m.end()
                continue
            if self.buf is None:
                m = _NON_SPACE.search(chunk, i)
                if m is None:
                    self.line += chunk.count(b"\n", i)
                    break
                self.line += chunk.count(b"\n", i, m.start())
                c = chunk[m.start()]
                i = m.start()
                if self.depth == 0 and c == 0x5B and not self.in_array:  # "[" opens a record array
                    self.in_array, self.depth, i = True, 1, i + 1
                    continue
                if self.in_array and self.depth == 1 and c == 0x5D:  # "]" closes it
                    self.in_array, self.depth, i = False, 0, i + 1
                    continue
                self._begin(c)
                seg = i
                if not self.container:
                    if c == 0x22:
                        self.in_string = True
                    i += 1
                    continue
            m = _IN_VALUE.search(chunk, i)
            if m is None:
                break
            c, at = chunk[m.start()], m.start()
            i = m.end()
            if c == 0x22:
                self.in_string = True
            elif c in _OPEN:
                self.depth += 1
            elif c in _CLOSE:
                self.depth -= 1
                if self.container and self.depth == self.start_depth:
                    self._keep(chunk[seg:i])
                    self._emit(out)
                elif self.depth < self.start_depth:  # a scalar record ended by its array's "]"
                    self._keep(chunk[seg:at])
                    self._emit(out)
                    self.in_array, self.depth = False, 0
            elif self.depth == self.start_depth and not self.container:  # "," or newline ends a scalar
                self._keep(chunk[seg:at])
                self._emit(out)
                if c == 0x0A:
                    self.line += 1
            elif c == 0x0A:
                self.line += 1
        if self.buf is not None:
            self._keep(chunk[seg:])
        return out

    def finish(self) -> list[Piece]:
        """End of input: a pending scalar is a record; an open container is a truncated one."""
        out: list[Piece] = []
        if self.buf is not None:
            if self.container or self.in_string:
                excerpt = bytes(self.buf[:500])
                out.append(Piece(excerpt, self.start_line, self.count, "JSON record truncated at end of file"))
                self.count += 1
                self.buf = None
            else:
                self._emit(out)
        elif self.in_array:
            out.append(Piece(b"", self.line, self.count, "JSON array not closed at end of file"))
        return out


def split_json_stream(chunks: Iterator[bytes], max_bytes: int) -> Iterator[Piece]:
    """Records of a JSON array / concatenated JSON stream, chunk by chunk."""
    splitter = JsonSplitter(max_bytes)
    for chunk in chunks:
        yield from splitter.feed(chunk)
    yield from splitter.finish()
