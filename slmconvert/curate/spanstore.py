"""Analyzer results kept across curate runs, so the weekly loop only analyses new texts.

`iterate --logs` appends a week of calls and curates the whole union again; without this store
every run would push all earlier weeks through spaCy and Presidio once more. The store maps the
analyzer's text digest to the spans found in that text. It lives in the workspace cache, in one
SQLite file named by a fingerprint of everything that decides the spans (curate's params but for
speed knobs, the source of slmconvert's curate package, Presidio, spaCy and the spaCy pipeline),
so a change to any of them starts a fresh store. It holds digests, offsets, entity types and
scores, never text.

The digests are keyed (BLAKE2b with a key derived from the workspace's curate secret): a short
JSON value's plain digest is a digest of the personal data itself, which anyone could enumerate
(an SSN's last four digits, a phone number). Without the workspace's `.keys/` a stored key says
nothing. The file, its journal and its directory are owner-only.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

import orjson

from slmconvert.curate.params import CurateParams
from slmconvert.curate.spans import Span

SPEED_ONLY_PARAMS = frozenset({"chunk_records", "nlp_batch_size", "n_process", "cache_size", "span_store"})
SQLITE_MAX_VARIABLES = 500
# 2: keyed digests. Stores of schema 1 held unkeyed digests; their names no longer match, so
# open_store deletes them.
STORE_SCHEMA = 2
_KEY_PURPOSE = b"slmconvert curate span-store digests"
_KEY_ID_PURPOSE = b"slmconvert curate span-store key id"
_OWNER_ONLY_FILE = 0o600
_OWNER_ONLY_DIR = 0o700


def digest_key(secret: bytes) -> bytes:
    """The key for text digests, derived from the workspace secret for this one purpose (the raw
    secret also keys the pseudonyms, and must not be reused as is)."""
    return hashlib.blake2b(_KEY_PURPOSE, key=secret, digest_size=32).digest()


def text_digest(key: bytes, text: str, ner: bool) -> bytes:
    """Keyed digest of one analysed unit: the key of the in-run cache and of the span store."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), key=key, digest_size=16,
                           person=b"ner" if ner else b"rx").digest()


def store_fingerprint(params: CurateParams, key: bytes = b"") -> str:
    """What decides the analyzer's spans and the meaning of the stored digests (schema, key), hashed."""
    digest = hashlib.sha256()
    digest.update(f"schema={STORE_SCHEMA}".encode())
    digest.update(hashlib.blake2b(_KEY_ID_PURPOSE, key=key, digest_size=16).digest())
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

    `key` keys every digest looked up or stored here (see `text_digest`); the analyzer takes it
    from the store so that its cache and the store speak of the same digests.

    A cache, never a source of truth: a store that cannot be read or written (a damaged file, a full
    disk) is dropped for the rest of the run, and the analyzer simply analyses everything.
    """

    def __init__(self, path: Path, key: bytes) -> None:
        owner_only_dir(path.parent)
        self.path = path
        self.key = key
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
        # SQLite gives its -journal/-wal/-shm files the database file's mode, so 0600 here covers them.
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, _OWNER_ONLY_FILE))
        for existing in path.parent.glob(path.name + "*"):
            os.chmod(existing, _OWNER_ONLY_FILE)
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


def owner_only_dir(directory: Path) -> None:
    """Create `directory` if needed and make it 0700."""
    directory.mkdir(parents=True, exist_ok=True, mode=_OWNER_ONLY_DIR)
    os.chmod(directory, _OWNER_ONLY_DIR)


def open_store(directory: Path, params: CurateParams, secret: bytes) -> SpanStore:
    """The store for these params and this workspace secret in `directory`; stores of other
    fingerprints (other params, code, schema or secret) are deleted."""
    key = digest_key(secret)
    name = f"spans-{store_fingerprint(params, key)}.sqlite"
    if directory.is_dir():
        for stale in directory.glob("spans-*.sqlite*"):
            if not stale.name.startswith(name):
                stale.unlink(missing_ok=True)
    return SpanStore(directory / name, key)
