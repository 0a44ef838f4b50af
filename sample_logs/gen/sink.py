"""Deterministic, streaming writers for the log files (optionally gzip) and the truth file."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import IO

from .render import dumps


class Sink:
    """Opens each output file on first use and numbers its lines (1-based), so truth rows can point at them."""

    def __init__(self, out_dir: Path, compress: bool):
        self.out_dir, self.compress = out_dir, compress
        self._files: dict[str, tuple[IO[bytes], IO[bytes] | None]] = {}
        self.lines: dict[str, int] = {}
        self.truth = open(out_dir / "_truth.jsonl", "w", encoding="utf-8", newline="\n")

    def filename(self, stem: str) -> str:
        return f"{stem}.jsonl.gz" if self.compress else f"{stem}.jsonl"

    def _handle(self, stem: str) -> IO[bytes]:
        if stem not in self._files:
            raw = open(self.out_dir / self.filename(stem), "wb")
            if self.compress:  # no name and mtime 0 in the gzip header: same bytes on every run
                self._files[stem] = (
                    gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=raw, mtime=0),
                    raw,
                )
            else:
                self._files[stem] = (raw, None)
            self.lines[stem] = 0
        return self._files[stem][0]

    def write(self, stem: str, text: str) -> int:
        """Append one line; returns its line number."""
        self._handle(stem).write(text.encode("utf-8") + b"\n")
        self.lines[stem] += 1
        return self.lines[stem]

    def write_truth(self, row: dict) -> None:
        self.truth.write(dumps(row) + "\n")

    def close(self) -> dict[str, int]:
        for handle, raw in self._files.values():
            handle.close()
            if raw is not None:
                raw.close()
        self.truth.close()
        return {self.filename(stem): n for stem, n in self.lines.items()}
