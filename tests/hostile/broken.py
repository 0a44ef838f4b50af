"""Broken inputs: truncated JSON, binary garbage, UTF-16 with a BOM, a NUL byte line, an empty file,
JSON arrays (one cut short), gzip files (one valid, one corrupt, one truncated).

Each builder returns the file's bytes and an `Expect`: how its input units are to be accounted for.
"""

from __future__ import annotations

import gzip
import json
import random
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field


@dataclass
class Expect:
    """How collect must account for one input file.

    lines: units are lines (of the decoded text); every one is a record, a reject, a counted
    duplicate or blank. array: units are the elements of a JSON array (`elements` of them).
    opaque: nothing readable; at least one reject must name the file. must_reject: a reject
    naming the file is required (besides per-unit accounting). lines_checked: how many leading
    lines are held to per-line accounting (all when None).
    """

    name: str
    unit: str  # "lines" | "array" | "opaque" | "empty"
    text: bytes = b""  # decoded content, for "lines"
    elements: int = 0
    must_reject: bool = False
    lines_checked: int | None = None
    duplicates: int = 0  # exact duplicate lines this file holds on purpose
    notes: list[str] = field(default_factory=list)


def jsonl(records: list) -> bytes:
    return b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in records)


def truncated_lines(records: Iterable[dict], cut: float = 0.6) -> Iterator[bytes]:
    """Each record's JSON cut at `cut` of its length (no closing brace): what a crashed writer leaves."""
    for record in records:
        raw = json.dumps(record).encode()
        yield raw[: int(len(raw) * cut)]


def utf16_file(records: list[dict]) -> tuple[bytes, Expect]:
    text = jsonl(records)
    data = text.decode().encode("utf-16")  # with a BOM, little-endian here
    return data, Expect("utf16_bom.jsonl", "lines", text=text)


def nul_line_file(records: list[dict]) -> tuple[bytes, Expect]:
    """Valid lines with a NUL-laden garbage line near the start (line 2)."""
    lines = [json.dumps(r).encode() for r in records]
    lines.insert(1, b'{"request": \x00\x00\x00 garbage \x00}')
    data = b"\n".join(lines) + b"\n"
    return data, Expect("nul_line.jsonl", "lines", text=data)


def garbage_file(seed: int) -> tuple[bytes, Expect]:
    rng = random.Random(f"garbage:{seed}")
    data = bytes(rng.randrange(256) for _ in range(4096))
    return data, Expect("garbage.log", "opaque", must_reject=True)


def empty_file() -> tuple[bytes, Expect]:
    return b"", Expect("empty.jsonl", "empty")


def gzip_file(name: str, records: list[dict]) -> tuple[bytes, Expect]:
    text = jsonl(records)
    return gzip.compress(text, mtime=0), Expect(name, "lines", text=text)


def corrupt_gzip(seed: int) -> tuple[bytes, Expect]:
    rng = random.Random(f"corrupt-gz:{seed}")
    data = b"\x1f\x8b\x08\x00" + bytes(rng.randrange(256) for _ in range(2048))
    return data, Expect("corrupt.jsonl.gz", "opaque", must_reject=True)


def truncated_gzip(records: list[dict]) -> tuple[bytes, Expect]:
    """A gzip stream cut at 70 %: the complete lines before the cut must still be collected."""
    text = jsonl(records)
    whole = gzip.compress(text, mtime=0)
    data = whole[: int(len(whole) * 0.7)]
    recovered = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data)
    complete = recovered.count(b"\n")
    return data, Expect("truncated.jsonl.gz", "lines", text=recovered, must_reject=True, lines_checked=complete)


def json_array_file(name: str, elements: list[dict]) -> tuple[bytes, Expect]:
    """`llm logs --json` output: one pretty-printed JSON array."""
    data = json.dumps(elements, indent=2, ensure_ascii=False).encode()
    return data, Expect(name, "array", elements=len(elements))


def truncated_array_file(elements: list[dict]) -> tuple[bytes, Expect]:
    """A JSON array cut inside its last element: the elements before it are whole."""
    data = json.dumps(elements, indent=2).encode()
    last = data.rfind(b"\n  {")
    cut = data[: last + (len(data) - last) // 2]
    return cut, Expect("truncated_array.json", "array", elements=len(elements), must_reject=True)
