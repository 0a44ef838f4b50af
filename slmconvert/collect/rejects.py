"""rejects.jsonl: every input record that could not become a call, with where and why.

`line` is where the record starts (0: the whole file, e.g. it could not be opened); records of a
JSON array also carry `element`, their 0-based position in the array, since a minified array
puts every element on line 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import orjson

REJECTS_FILE = "rejects.jsonl"
EXCERPT_CHARS = 500
EXAMPLES_PER_REASON = 5


@dataclass(slots=True)
class Reject:
    """One rejected input record."""

    file: str
    line: int
    format_guess: str
    reason: str
    detail: str
    excerpt: str
    index: int | None = None

    def row(self) -> dict:
        row = {
            "file": self.file, "line": self.line, "format_guess": self.format_guess,
            "reason": self.reason, "detail": self.detail, "excerpt": self.excerpt,
        }
        if self.index is not None:
            row["element"] = self.index
        return row

    def at(self) -> str:
        """Where, for people: `file:line`, plus the array element when there is one."""
        where = f"{self.file}:{self.line}"
        return where if self.index is None else f"{where} (element {self.index})"


def excerpt(data: bytes) -> str:
    """At most EXCERPT_CHARS characters of the raw input, undecodable bytes replaced."""
    return data[: EXCERPT_CHARS * 4].decode("utf-8", "replace")[:EXCERPT_CHARS].rstrip("\r\n")


class RejectLog:
    """Streams rejects to rejects.jsonl and keeps per-reason counts with a few examples."""

    def __init__(self, out_dir: Path) -> None:
        self.path = out_dir / REJECTS_FILE
        self._handle = open(self.path, "wb")
        self.count = 0
        self.by_reason: dict[str, dict] = {}

    def add(self, reject: Reject) -> None:
        self._handle.write(orjson.dumps(reject.row()) + b"\n")
        self.count += 1
        group = self.by_reason.setdefault(reject.reason, {"reason": reject.reason, "count": 0, "examples": []})
        group["count"] += 1
        if len(group["examples"]) < EXAMPLES_PER_REASON:
            group["examples"].append({"at": reject.at(), "detail": reject.detail[:200]})

    def close(self) -> None:
        self._handle.close()

    def summary(self) -> list[dict]:
        """Reasons, most frequent first, each with its count and first examples (file:line)."""
        return sorted(self.by_reason.values(), key=lambda g: (-g["count"], g["reason"]))
