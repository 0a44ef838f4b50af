"""Join OpenAI Batch API input and output lines by custom_id across all input files.

The half that arrives first waits in an on-disk SQLite spool (not in memory), so joining a
multi-GB batch keeps memory flat. Pairs match first-come first-served per custom_id; halves
still waiting at the end are unmatched and become rejects.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from slmconvert.collect.formats.openai_batch import INPUT, OUTPUT


@dataclass(slots=True)
class Half:
    """One waiting batch line."""

    kind: str
    custom_id: str
    file: str
    line: int
    data: bytes


class BatchJoiner:
    """Pairs batch halves; `offer()` returns the partner when one is waiting."""

    def __init__(self, spool: Path) -> None:
        self.spool = spool
        self._db: sqlite3.Connection | None = None
        self.joined = 0

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = sqlite3.connect(self.spool)
            self._db.executescript(
                "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
                "CREATE TABLE pending (seq INTEGER PRIMARY KEY, kind TEXT, custom_id TEXT, file TEXT, line INT, data BLOB);"
                "CREATE INDEX pending_key ON pending (custom_id, kind, seq);"
            )
        return self._db

    def offer(self, half: Half) -> Half | None:
        """Match a half with its waiting partner (returned), or park it until one arrives."""
        db = self._conn()
        other = OUTPUT if half.kind == INPUT else INPUT
        row = db.execute(
            "SELECT seq, file, line, data FROM pending WHERE custom_id = ? AND kind = ? ORDER BY seq LIMIT 1",
            (half.custom_id, other),
        ).fetchone()
        if row is None:
            db.execute(
                "INSERT INTO pending (kind, custom_id, file, line, data) VALUES (?, ?, ?, ?, ?)",
                (half.kind, half.custom_id, half.file, half.line, half.data),
            )
            return None
        db.execute("DELETE FROM pending WHERE seq = ?", (row[0],))
        self.joined += 1
        return Half(other, half.custom_id, row[1], row[2], bytes(row[3]))

    def leftovers(self) -> Iterator[Half]:
        """Halves that never found a partner, in arrival order."""
        if self._db is None:
            return
        for kind, custom_id, file, line, data in self._db.execute(
            "SELECT kind, custom_id, file, line, data FROM pending ORDER BY seq"
        ):
            yield Half(kind, custom_id, file, line, bytes(data))

    def close(self) -> None:
        """Drop the spool."""
        if self._db is not None:
            self._db.close()
            self._db = None
        self.spool.unlink(missing_ok=True)
