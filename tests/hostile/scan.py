"""Grep artifacts, caches and console output for canaries: raw bytes and decoded content alike.

Parquet may compress its pages and JSON may escape non-ASCII text, so every file is searched as
raw bytes and also as what it decodes to: Parquet cell by cell (JSON cells parsed down to their
string leaves), SQLite table by table, gzip decompressed, JSON parsed. Needles match case-
insensitively. Thousands of needles are searched in one pass per text through an index of their
first characters.
"""

from __future__ import annotations

import gzip
import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from tests.hostile.canaries import MIN_NEEDLE, Canary

SKIPPED_TOP = ("collect", ".keys")  # raw data by design, and the workspace secret


class NeedleIndex:
    """Finds which of many needles (each >= MIN_NEEDLE chars) occur in a text, case-insensitively."""

    def __init__(self, needles: Iterable[str]) -> None:
        self.width = MIN_NEEDLE
        self.by_prefix: dict[str, list[tuple[str, str]]] = {}
        for needle in set(needles):
            for form in {needle, needle.encode("utf-8").decode("latin-1")}:  # text and raw-bytes views
                low = form.lower()
                if len(low) >= self.width:
                    self.by_prefix.setdefault(low[: self.width], []).append((low, needle))

    def find(self, text: str) -> set[str]:
        low = text.lower()
        width, index = self.width, self.by_prefix
        found: set[str] = set()
        for i in range(len(low) - width + 1):
            candidates = index.get(low[i:i + width])
            if candidates:
                for needle_low, needle in candidates:
                    if low.startswith(needle_low, i):
                        found.add(needle)
        return found


def _leaves(value: Any) -> Iterator[str]:
    """Every string inside a JSON value (keys too), with JSON text inside strings parsed again."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v)
    elif isinstance(value, str):
        yield value
        stripped = value.lstrip()
        if stripped[:1] in ("{", "[", '"'):
            try:
                yield from _leaves(json.loads(value))
            except ValueError:
                pass
    elif value is not None:
        yield str(value)


def _parquet_views(path: Path) -> Iterator[tuple[str, str]]:
    table = pq.read_table(path)
    yield "schema", str(table.schema)
    for name in table.column_names:
        yield f"column {name}", "\n".join(_leaves(table.column(name).to_pylist()))


def _sqlite_views(path: Path) -> Iterator[tuple[str, str]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            cells = []
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                for cell in row:
                    cells.append(cell.decode("latin-1") if isinstance(cell, bytes) else str(cell))
            yield f"table {table}", "\n".join(cells)
    finally:
        conn.close()


def file_views(path: Path) -> Iterator[tuple[str, str]]:
    """(view, text) pairs for one file: raw bytes, then whatever it decodes to."""
    data = path.read_bytes()
    yield "bytes", data.decode("latin-1")
    try:
        if path.suffix == ".parquet":
            yield from _parquet_views(path)
        elif data.startswith(b"SQLite format 3"):
            yield from _sqlite_views(path)
        elif data.startswith(b"\x1f\x8b"):
            yield "gunzip", gzip.decompress(data).decode("utf-8", "replace")
        else:
            text = data.decode("utf-8")
            yield "utf-8", text
            if path.suffix in (".json", ".jsonl"):
                rows = [json.loads(line) for line in text.splitlines() if line.strip()] if path.suffix == ".jsonl" \
                    else [json.loads(text)]
                yield "json", "\n".join(_leaves(rows))
    except (UnicodeDecodeError, ValueError, OSError, sqlite3.Error, EOFError) as exc:
        yield "decode error", f"(could not decode: {type(exc).__name__})"


def tree_views(root: Path, skip_top: tuple[str, ...] = ()) -> Iterator[tuple[str, str]]:
    """(where, text) for every file under root, except the top-level folders in skip_top."""
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root)
        if rel.parts[0] in skip_top:
            continue
        for view, text in file_views(path):
            yield f"{root.name}/{rel.as_posix()} [{view}]", text


@dataclass(frozen=True)
class Leak:
    canary: Canary
    needle: str
    where: str

    def line(self) -> str:
        part = "exact value" if self.needle == self.canary.value else f"piece {self.needle!r}"
        placed = "; ".join(p.label() for p in self.canary.placements[:2]) or "(placement unknown)"
        return f"{self.canary.kind}: {part} of {self.canary.value[:60]!r} placed in [{placed}] found in {self.where}"


def find_leaks(canaries: list[Canary], texts: Iterable[tuple[str, str]]) -> list[Leak]:
    """Every (canary, needle, where) hit of any canary needle in the given texts."""
    owners: dict[str, list[Canary]] = {}
    for canary in canaries:
        for needle in canary.needles:
            owners.setdefault(needle, []).append(canary)
    index = NeedleIndex(owners)
    leaks = []
    for where, text in texts:
        for needle in sorted(index.find(text)):
            leaks += [Leak(c, needle, where) for c in owners[needle]]
    return leaks
