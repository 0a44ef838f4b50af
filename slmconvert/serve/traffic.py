"""Served traffic as call logs: one flywheel-style line per request (`request`, `response`,
`timestamp`, `latency_ms`, ids, and the route decision in `metadata`), in rotating `.jsonl.gz`
files that `slmconvert collect` and `iterate --logs` read.

These are raw logs (they hold what users typed): owner-only files in an owner-only directory.
A file being written ends in `.open` (collect passes it over); it is closed, renamed to
`.jsonl.gz` on rotation and shutdown, and recovered at the next start after a crash.
"""

from __future__ import annotations

import datetime as dt
import gzip
import os
import queue
import threading
import time
import zlib
from pathlib import Path
from typing import Any

import orjson

from slmconvert.util.jsonio import private_dir

OPEN_SUFFIX = ".open"
PREFIX = "served-"
FLUSH_SECONDS = 1.0


def _stamp() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")


def _stale(path: Path) -> bool:
    """An `.open` file whose writer process is gone (another live gateway's file is left alone)."""
    try:
        pid = int(path.name[: -len(".jsonl.gz" + OPEN_SUFFIX)].rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return True
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def recover(path: Path) -> Path | None:
    """Close an `.open` file left by a killed process: keep every complete line, publish it."""
    data = path.read_bytes()
    decoder, text = zlib.decompressobj(wbits=31), b""
    try:
        text = decoder.decompress(data)
    except zlib.error:
        pass
    lines = text[: text.rfind(b"\n") + 1]
    path.unlink()
    if not lines:
        return None
    final = path.with_name(path.name[: -len(OPEN_SUFFIX)])
    fd = os.open(final, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb") as out:
        out.write(lines)
    return final


class TrafficLog:
    """A background writer: requests never wait on compression or disk."""

    def __init__(self, directory: Path, rotate_seconds: float = 3600.0, rotate_bytes: int = 256 << 20) -> None:
        self.directory = private_dir(Path(directory))
        self.rotate_seconds = rotate_seconds
        self.rotate_bytes = rotate_bytes
        self.written = 0
        self.files: list[Path] = []
        stale = [f for f in sorted(self.directory.glob(f"{PREFIX}*{OPEN_SUFFIX}")) if _stale(f)]
        self.recovered = [p for p in map(recover, stale) if p is not None]
        self.errors = 0
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._file: gzip.GzipFile | None = None
        self._raw: Any = None
        self._path: Path | None = None
        self._opened = 0.0
        self._bytes = 0
        self._thread = threading.Thread(target=self._run, name="slmconvert-traffic-log", daemon=True)
        self._thread.start()

    def write(self, line: dict[str, Any]) -> None:
        self._queue.put(line)

    def close(self, timeout: float | None = 30.0) -> None:
        """Write what is queued, close and publish the current file."""
        self._queue.put(None)
        self._thread.join(timeout)

    # -- writer thread ------------------------------------------------------------------------
    def _open(self) -> None:
        name = f"{PREFIX}{_stamp()}-{os.getpid()}.jsonl.gz{OPEN_SUFFIX}"
        self._path = self.directory / name
        fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._raw = os.fdopen(fd, "wb")
        self._file = gzip.GzipFile(fileobj=self._raw, mode="wb", compresslevel=6)
        self._opened, self._bytes = time.monotonic(), 0

    def _finish(self) -> None:
        if self._file is None or self._path is None:
            return
        self._file.close()
        self._raw.close()
        final = self._path.with_name(self._path.name[: -len(OPEN_SUFFIX)])
        os.replace(self._path, final)
        self.files.append(final)
        self._file = self._raw = self._path = None

    def _append(self, line: dict[str, Any]) -> None:
        if self._file is not None and (self._bytes >= self.rotate_bytes
                                       or time.monotonic() - self._opened >= self.rotate_seconds):
            self._finish()
        if self._file is None:
            self._open()
        data = orjson.dumps(line, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n"
        self._file.write(data)  # type: ignore[union-attr]
        self._bytes += len(data)
        self.written += 1

    def _run(self) -> None:
        dirty = False
        while True:
            try:
                line = self._queue.get(timeout=FLUSH_SECONDS)
            except queue.Empty:
                if dirty and self._file is not None:  # a crash loses at most about a second
                    self._file.flush(zlib.Z_SYNC_FLUSH)
                    self._raw.flush()
                    dirty = False
                if self._file is not None and time.monotonic() - self._opened >= self.rotate_seconds:
                    self._finish()
                continue
            if line is None:
                self._finish()
                return
            try:
                self._append(line)
                dirty = True
            except OSError:  # disk full or gone: count it (metrics) and keep serving
                self.errors += 1
