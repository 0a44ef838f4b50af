"""Text encodings and binary data at the head of a log file.

Every parser downstream reads UTF-8 bytes. Files in UTF-16 or UTF-32 (marked by a byte-order
mark, or starting with `{` / `[` in those encodings) are re-encoded as UTF-8 while streaming, so
Windows tools' output is read, not called binary. A file is binary only when its head holds
control bytes that no log has and not one line that starts like JSON; a stray NUL byte in a text
log is left to the parser, which rejects that one line.
"""

from __future__ import annotations

import codecs
import io

UTF8_BOM = b"\xef\xbb\xbf"
# Longest marks first: the UTF-32 LE mark starts with the UTF-16 LE one.
_MARKS = (
    (b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"),
)
_UNMARKED = (
    (b"{\x00\x00\x00", "utf-32-le"), (b"[\x00\x00\x00", "utf-32-le"),
    (b"\x00\x00\x00{", "utf-32-be"), (b"\x00\x00\x00[", "utf-32-be"),
    (b"{\x00", "utf-16-le"), (b"[\x00", "utf-16-le"), (b"\x00{", "utf-16-be"), (b"\x00[", "utf-16-be"),
)
# Bytes below 0x20 that JSON text never holds raw (tab, newline and carriage return are whitespace).
_CONTROL = bytes(b for b in range(0x20) if b not in b"\t\n\r")
_JSON_START = (b"{", b"[")


def detect(head: bytes) -> tuple[str | None, int]:
    """(encoding to re-encode from, or None for UTF-8; bytes of byte-order mark to skip)."""
    for mark, name in _MARKS:
        if head.startswith(mark):
            return name, len(mark)
    if head.startswith(UTF8_BOM):
        return None, len(UTF8_BOM)
    for start, name in _UNMARKED:
        if head.startswith(start):
            return name, 0
    return None, 0


def looks_binary(head: bytes) -> bool:
    """Control bytes, and no line of the head that starts like a JSON record.

    A head of NUL bytes only (a log rotated with copytruncate leaves such a hole) is read on:
    the lines after the hole are good records.
    """
    if len(head.translate(None, _CONTROL)) == len(head) or not head.strip(b"\x00"):
        return False
    return not any(line.lstrip(b" \t\r\x00").startswith(_JSON_START) for line in head.split(b"\n"))


class Utf8Recoder(io.RawIOBase):
    """A UTF-16/32 byte stream read as UTF-8 bytes, chunk by chunk.

    Undecodable units come out as backslash escapes (`\\xd8\\x00`), which no JSON parser accepts:
    the line that holds one is rejected with its line number, and the rest of the file is read.
    """

    def __init__(self, source: io.BufferedIOBase, encoding: str, chunk: int) -> None:
        super().__init__()
        self._source = source
        self._chunk = chunk
        self._decoder = codecs.getincrementaldecoder(encoding)(errors="backslashreplace")
        self._pending = b""
        self._at = 0
        self._eof = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # noqa: ANN001 - io's writable buffer protocol
        while self._at >= len(self._pending) and not self._eof:
            data = self._source.read(self._chunk)
            self._eof = not data
            self._pending = self._decoder.decode(data, final=self._eof).encode("utf-8", "surrogatepass")
            self._at = 0
        n = min(len(buffer), len(self._pending) - self._at)
        buffer[:n] = self._pending[self._at:self._at + n]
        self._at += n
        return n


def recoded(stream: io.BufferedIOBase, encoding: str, chunk: int) -> io.BufferedReader:
    """`stream` (positioned after its byte-order mark) as a buffered UTF-8 byte stream."""
    return io.BufferedReader(Utf8Recoder(stream, encoding, chunk), chunk)
