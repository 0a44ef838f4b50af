"""Put canaries into log fields: free text, JSON objects and id-like tags, remembering where each went.

Canaries drawn for one record wait in `pending` until the record is written, when `flush` gives
them their file and line, so a leak names the exact input it came from.
"""

from __future__ import annotations

from tests.hostile.canaries import KINDS, TAG_KINDS, Canary, CanaryFactory, Placement


class Planter:
    """Draws canaries for the fields of one record at a time."""

    def __init__(self, factory: CanaryFactory) -> None:
        self.factory = factory
        self.pending: list[tuple[Canary, str, str]] = []
        self._tag_turn = 0

    def one(self, fmt: str, field: str, kind: str) -> Canary:
        canary = self.factory.make(kind)
        self.pending.append((canary, fmt, field))
        return canary

    def text(self, fmt: str, field: str, kinds: tuple[str, ...] = KINDS, lead: str = "") -> str:
        """Free text with one canary of each kind, each in a short sentence with its usual context."""
        sentences = [lead] if lead else []
        for kind in kinds:
            canary = self.one(fmt, field, kind)
            tail = f", {self.factory.city_line()}" if kind == "street_address" else ""
            sentences.append(f"{canary.sentence()}{tail}.")
        return " ".join(sentences)

    def mapping(self, fmt: str, field: str, kinds: tuple[str, ...] = KINDS) -> dict[str, str]:
        """A JSON object with one canary per kind, each under the key a service would use."""
        out: dict[str, str] = {}
        for kind in kinds:
            canary = self.one(fmt, field, kind)
            out[canary.key if canary.key not in out else f"{canary.key}_2"] = canary.json_value()
        return out

    def tag(self, fmt: str, field: str, kind: str | None = None) -> str:
        """An id-like value (workload_id, client_id, user, ...); kinds rotate over the run."""
        if kind is None:
            kind = TAG_KINDS[self._tag_turn % len(TAG_KINDS)]
            self._tag_turn += 1
        return self.one(fmt, field, kind).value

    def flush(self, file: str, line: int) -> None:
        """Give the canaries of the record just written their file and line (or array element)."""
        for canary, fmt, field in self.pending:
            canary.placements.append(Placement(fmt, field, file, line))
        self.pending.clear()
