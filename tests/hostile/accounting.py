"""Account for every input unit: a record in calls.parquet, a counted duplicate, a reject, or blank.

Records name their input by `source` (file, line), JSON-array elements by `metadata.array_index`,
and Batch pairs their request line by `metadata.batch_input` ("file:line"); rejects name file,
line (0 for the whole file) and, for arrays, the element index (`index` or `element`). What no record or reject names must be exactly the file's counted
duplicates in stats.json.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

from tests.hostile.broken import Expect


def _base(path: str) -> str:
    return Path(str(path)).name


@dataclass
class Collected:
    """What one collect version says about each input file."""

    lines: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))  # records + rejects
    indices: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    records: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    rejects: dict[str, list[dict]] = field(default_factory=lambda: defaultdict(list))
    bad_rejects: list[str] = field(default_factory=list)
    stats: dict = field(default_factory=dict)
    stats_text: str = ""

    @classmethod
    def read(cls, version: Path) -> Collected:
        out = cls()
        for row in pq.read_table(version / "calls.parquet", columns=["source", "metadata"]).to_pylist():
            source = json.loads(row["source"]) if isinstance(row["source"], str) else row["source"]
            meta = json.loads(row["metadata"] or "{}") if isinstance(row["metadata"], str) else (row["metadata"] or {})
            name = _base(source["file"])
            out.records[name] += 1
            out.lines[name].add(int(source["line"]))
            if meta.get("array_index") is not None:
                out.indices[name].add(int(meta["array_index"]))
            if meta.get("batch_input"):
                file, _, line = str(meta["batch_input"]).rpartition(":")
                out.lines[_base(file)].add(int(line))
        rejects = version / "rejects.jsonl"
        for raw in (rejects.read_text().splitlines() if rejects.exists() else []):
            row = json.loads(raw)
            # line 0 = the file as a whole (a file nothing could be read from)
            if not row.get("file") or not isinstance(row.get("line"), int) or row["line"] < 0 or not row.get("reason"):
                out.bad_rejects.append(f"reject without file, line and reason: {raw[:200]}")
                continue
            name = _base(row["file"])
            out.rejects[name].append(row)
            out.lines[name].add(row["line"])
            element = row.get("index", row.get("element"))
            if element is not None:
                out.indices[name].add(int(element))
        out.stats_text = (version / "stats.json").read_text()
        out.stats = json.loads(out.stats_text)
        return out

    def file_stats(self, name: str) -> dict | None:
        return next((f for f in self.stats.get("files", []) if _base(f.get("file", "")) == name), None)


def _ranges(numbers: list[int]) -> str:
    out, start = [], None
    for i, n in enumerate(numbers):
        if start is None:
            start = n
        if i + 1 == len(numbers) or numbers[i + 1] != n + 1:
            out.append(str(start) if start == n else f"{start}-{n}")
            start = None
    return ", ".join(out[:12]) + (" ..." if len(out) > 12 else "")


def problems(expect: Expect, got: Collected) -> list[str]:
    """Everything wrong with how collect accounted for one input file (empty = all accounted for)."""
    name = expect.name
    found = []
    fstats = got.file_stats(name)
    if name not in got.stats_text:
        found.append(f"{name} is not mentioned in stats.json (neither read nor listed as skipped)")
    duplicates = int((fstats or {}).get("duplicates") or 0)
    if expect.unit == "lines":
        lines = expect.text.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        count = len(lines) if expect.lines_checked is None else expect.lines_checked
        blank = {i for i, raw in enumerate(lines[:count], 1) if not raw.strip()}
        missing = [i for i in range(1, count + 1) if i not in got.lines[name] and i not in blank]
        if len(missing) != duplicates:
            found.append(f"{name}: {len(missing)} of {count} lines have no record and no reject (lines "
                         f"{_ranges(missing)}), but stats.json counts {duplicates} duplicates for the file")
    elif expect.unit == "array":
        missing = [i for i in range(expect.elements) if i not in got.indices[name]]
        if len(missing) != duplicates:
            found.append(f"{name}: JSON-array elements {_ranges(missing)} ({len(missing)} of {expect.elements}) have no "
                         f"record and no reject naming their index; stats.json counts {duplicates} duplicates")
    if duplicates < expect.duplicates:
        found.append(f"{name}: holds {expect.duplicates} exact duplicate lines, stats.json counts {duplicates}")
    if (expect.must_reject or expect.unit == "opaque") and not got.rejects[name]:
        found.append(f"{name}: unreadable input, but no reject names the file")
    if expect.unit == "opaque" and got.records[name]:
        found.append(f"{name}: garbage became {got.records[name]} records")
    return found


def totals(expects: dict[str, Expect], got: Collected) -> dict[str, int]:
    """Headline counts for the report: input units, records, duplicates, rejects."""
    units = 0
    for e in expects.values():
        if e.unit == "lines":
            units += len([x for x in e.text.split(b"\n")[: e.lines_checked or None] if x.strip()])
        elif e.unit == "array":
            units += e.elements
    return {"input_units": units, "records": sum(got.records.values()), "duplicates": int(got.stats.get("duplicates", 0)),
            "rejects": sum(len(r) for r in got.rejects.values())}
