"""Analyzer results kept across curate runs, so the weekly loop only analyses new texts.

`iterate --logs` appends a week of calls and curates the whole union again; without this store
every run would push all earlier weeks through spaCy and Presidio once more. The store maps the
analyzer's text digest to the spans found in that text. It lives in the workspace cache, in one
SQLite file named by a fingerprint of everything that decides the spans (curate's params but for
speed knobs, the source of slmconvert's curate package, Presidio, spaCy and the spaCy pipeline),
so a change to any of them starts a fresh store. It holds digests, offsets, entity types and
scores, never text.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

import orjson

from slmconvert.curate.params import CurateParams
from slmconvert.curate.spans import Span

SPEED_ONLY_PARAMS = frozenset({"chunk_records", "nlp_batch_size", "n_process", "cache_size", "span_store"})
SQLITE_MAX_VARIABLES = 500


def store_fingerprint(params: CurateParams) -> str:
    """What decides the analyzer's spans, hashed."""
    digest = hashlib.sha256()
    relevant = {k: v for k, v in params.model_dump(mode="json").items() if k not in SPEED_ONLY_PARAMS}
    digest.update(orjson.dumps(relevant, option=orjson.OPT_SORT_KEYS))
    package = Path(__file__).parent
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    for dist in ("presidio-analyzer", "spacy", params.spacy_model.replace("_", "-")):
        try:
            digest.update(f"{dist}={metadata.version(dist)}".encode())
        except metadata.PackageNotFoundError:  # a pipeline given as a directory path
            digest.update(dist.encode())
    return digest.hexdigest()[:16]


class SpanStore:
    """digest -> spans, in SQLite (each batch of puts is one transaction: a killed run loses nothing).

    A cache, never a source of truth: a store that cannot be read or written (a damaged file, a full
    disk) is dropped for the rest of the run, and the analyzer simply analyses everything.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.failed: str | None = None
        self._db: sqlite3.Connection | None = None
        try:
            self._db = self._open(path)
        except sqlite3.Error:
            path.unlink(missing_ok=True)  # damaged: start again
            try:
                self._db = self._open(path)
            except sqlite3.Error as exc:
                self.failed = f"{type(exc).__name__}: {exc}"

    @staticmethod
    def _open(path: Path) -> sqlite3.Connection:
        db = sqlite3.connect(path)
        db.execute("CREATE TABLE IF NOT EXISTS spans (key BLOB PRIMARY KEY, spans BLOB NOT NULL)")
        db.execute("SELECT count(*) FROM spans LIMIT 1").fetchone()
        db.commit()
        return db

    def get_many(self, keys: Iterable[bytes]) -> dict[bytes, tuple[Span, ...]]:
        """The stored spans of those keys that are in the store."""
        wanted = list(keys)
        found: dict[bytes, tuple[Span, ...]] = {}
        if self._db is None:
            return found
        try:
            for start in range(0, len(wanted), SQLITE_MAX_VARIABLES):
                chunk = wanted[start:start + SQLITE_MAX_VARIABLES]
                query = f"SELECT key, spans FROM spans WHERE key IN ({','.join('?' * len(chunk))})"
                for key, blob in self._db.execute(query, chunk):
                    found[bytes(key)] = tuple(Span(*span) for span in orjson.loads(blob))
        except (sqlite3.Error, orjson.JSONDecodeError, TypeError) as exc:
            self._drop(exc)
            return {}
        return found

    def put_many(self, items: Iterable[tuple[bytes, tuple[Span, ...]]]) -> None:
        """Store spans (one transaction)."""
        rows = [(key, orjson.dumps([list(span) for span in spans])) for key, spans in items]
        if not rows or self._db is None:
            return
        try:
            with self._db:
                self._db.executemany("INSERT OR REPLACE INTO spans (key, spans) VALUES (?, ?)", rows)
        except sqlite3.Error as exc:
            self._drop(exc)

    def _drop(self, exc: Exception) -> None:
        self.failed = f"{type(exc).__name__}: {exc}"
        self.close()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def open_store(directory: Path, params: CurateParams) -> SpanStore:
    """The store for these params in `directory`; stores of other fingerprints are removed."""
    name = f"spans-{store_fingerprint(params)}.sqlite"
    if directory.is_dir():
        for stale in directory.glob("spans-*.sqlite*"):
            if not stale.name.startswith(name):
                stale.unlink(missing_ok=True)
    return SpanStore(directory / name)
