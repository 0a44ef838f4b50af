"""Counts for audit.json and the stage summary: never a value, only how many of what, where."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Audit:
    """Running totals over one curate run."""

    records: int = 0
    kept: int = 0
    records_with_entities: int = 0
    entities: Counter = field(default_factory=Counter)  # entity type -> occurrences
    by_field: Counter = field(default_factory=Counter)  # field kind -> occurrences
    by_entity_field: Counter = field(default_factory=Counter)  # "TYPE/kind" -> occurrences
    filtered: Counter = field(default_factory=Counter)  # reason -> records
    seconds: float = 0.0

    def add(self, counts: Counter, reason: str | None) -> None:
        """Account for one record's entity counts and its fate."""
        self.records += 1
        if reason is None:
            self.kept += 1
        else:
            self.filtered[reason] += 1
        if counts:
            self.records_with_entities += 1
        for (entity, kind), n in counts.items():
            self.entities[entity] += n
            self.by_field[kind] += n
            self.by_entity_field[f"{entity}/{kind}"] += n

    def to_dict(self, analyzer_stats: dict[str, int] | None = None) -> dict[str, Any]:
        """JSON-able counts (sorted, so the file is stable)."""
        rate = self.records / self.seconds if self.seconds > 0 else None
        return {
            "records": self.records,
            "kept": self.kept,
            "filtered": sum(self.filtered.values()),
            "filtered_by_reason": dict(sorted(self.filtered.items())),
            "records_with_entities": self.records_with_entities,
            "entities_by_type": dict(sorted(self.entities.items())),
            "entities_by_field": dict(sorted(self.by_field.items())),
            "entities_by_type_and_field": dict(sorted(self.by_entity_field.items())),
            "entities_total": sum(self.entities.values()),
            "analyzer": dict(sorted((analyzer_stats or {}).items())),
            "seconds": round(self.seconds, 3),
            "records_per_second": round(rate, 2) if rate else None,
        }
