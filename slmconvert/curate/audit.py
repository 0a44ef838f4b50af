"""Counts for audit.json and the stage summary: never a value, only how many of what, where."""

from __future__ import annotations

import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import regex as re

from slmconvert.curate.fields import DROPPED_FIELDS, SCANNED_FIELDS

# In an error message only plain lowercase words survive (the first may be capitalised); any other
# token (quoted literals, numbers, names, addresses, tokens) may be a record value and is masked.
_PLAIN_WORD = re.compile(r"[a-z]{1,15}[.,;:!?]?")
_MAX_MESSAGE = 160


def describe_error(exc: BaseException | None) -> str:
    """Type, place and gist of an exception with anything value-like masked (never a record value)."""
    if exc is None:
        return "the analyzer reported a failed text (no exception kept)"
    where = ""
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        last = frames[-1]
        where = f" in {last.name} ({Path(last.filename).name}:{last.lineno})"
    text = exc.args[0] if len(exc.args) == 1 and isinstance(exc.args[0], str) else str(exc)  # KeyError quotes
    words = text.split()
    message = " ".join(w if _PLAIN_WORD.fullmatch(w[:1].lower() + w[1:] if i == 0 else w) else "…"
                       for i, w in enumerate(words))[:_MAX_MESSAGE]
    return f"{type(exc).__name__}{where}" + (f": {message}" if message.strip() else "")


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
    scrub_errors: Counter = field(default_factory=Counter)  # error type -> records
    first_scrub_error: str | None = None
    dropped: Counter = field(default_factory=Counter)  # field path -> values dropped
    seconds: float = 0.0

    def add_error(self, error: str, exc: BaseException | None) -> None:
        """Account for one record that could not be scrubbed (it is filtered as scrub_error)."""
        self.add(Counter(), "scrub_error")
        self.scrub_errors[error] += 1
        if self.first_scrub_error is None:
            self.first_scrub_error = describe_error(exc)

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
            "scrub_errors": sum(self.scrub_errors.values()),
            "scrub_errors_by_type": dict(sorted(self.scrub_errors.items())),
            "first_scrub_error": self.first_scrub_error,
            "fields_scanned": list(SCANNED_FIELDS),
            "fields_dropped": list(DROPPED_FIELDS),
            "dropped_values_by_field": dict(sorted(self.dropped.items())),
            "analyzer": dict(sorted((analyzer_stats or {}).items())),
            "seconds": round(self.seconds, 3),
            "records_per_second": round(rate, 2) if rate else None,
        }
