"""The curate run over a stream of call records: scrub in chunks, filter, count (rows keep the
normalised call record's shape: see slmconvert.artifacts.curated)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from slmconvert.curate.analyzer import PiiAnalyzer
from slmconvert.curate.audit import Audit
from slmconvert.curate.filters import Filters
from slmconvert.curate.helpers import AnalysisHelpers
from slmconvert.curate.params import CurateParams
from slmconvert.curate.recall import recall_lowering_settings
from slmconvert.curate.scrub import Scrubber, ScrubResult
from slmconvert.curate.spanstore import SpanStore
from slmconvert.curate.surrogates import Pseudonymiser
from slmconvert.engine.base import chunks, make_engine
from slmconvert.errors import SlmError

# What a call that failed to scrub keeps: its hash and numbers (every string column is emptied).
ERROR_ROW_COLUMNS = ("call_id", "latency_ms", "cost_usd")
JSON_COLUMNS = ("source", "messages", "tools", "tool_choice", "response_format", "output", "usage", "metadata")
ADDED_COLUMNS = ("status", "reason")


def _safe(key: str, value: Any) -> bool:
    """call_id (collect's hash) or a number: nothing a person wrote."""
    return key == "call_id" or isinstance(value, (int, float)) and not isinstance(value, bool)


class ScrubBatch:
    """Engine batch function: one Scrubber per worker (its analyzer loads spaCy once).

    Returns (record, result, counters) per record: the analyzer counters of the batch ride on its
    first record (None on the others), so the driver's audit adds every worker's up."""

    def __init__(self, params: CurateParams, key: bytes) -> None:
        self.scrubber = Scrubber(PiiAnalyzer(params), Pseudonymiser(key), params)

    def __call__(self, records: list[dict[str, Any]]) -> list[tuple[dict[str, Any], ScrubResult, Counter | None]]:
        stats = self.scrubber.analyzer.stats
        before = Counter(stats)
        results = self.scrubber.scrub(records)
        delta = Counter(stats)
        delta.subtract(before)
        return [(record, result, +delta if i == 0 else None)
                for i, (record, result) in enumerate(zip(records, results, strict=True))]


class Curator:
    """Turns collect's call records into curated rows; one instance per run (shared caches)."""

    batch_fn: type = ScrubBatch  # what engine=ray workers run

    def __init__(self, params: CurateParams, key: bytes, analyzer: PiiAnalyzer | None = None,
                 store: SpanStore | None = None, log: Callable[[str], None] | None = None,
                 helpers: AnalysisHelpers | None = None) -> None:
        self.params = params
        self.key = key
        self.analyzer = analyzer or PiiAnalyzer(params, store=store, helpers=helpers)
        self.scrubber = Scrubber(self.analyzer, Pseudonymiser(key), params)
        self.filters = Filters(params)
        self.audit = Audit()
        self.engine = make_engine(params, log)

    def curate(self, records: Iterable[dict[str, Any]], advance: Callable[[int], None] | None = None,
               total: int | None = None, source: Path | None = None) -> Iterator[dict[str, Any]]:
        """One output row per input record, in input order. Raises once scrub errors pass
        max_scrub_error_rate (of `total` when given, so a broken run stops early).

        With engine=ray and `source` (the Parquet file `records` come from), Ray workers read and
        scrub it; filtering, counting and writing stay here, in the same order."""
        batches = self._scrubbed(records, source)
        while True:
            started = time.perf_counter()
            pairs = next(batches, None)
            if pairs is None:
                break
            rows = [self._row(original, result) for original, result in pairs]
            self.audit.seconds += time.perf_counter() - started
            if total is not None:
                self._check_errors(total)
            yield from rows
            if advance is not None:
                advance(len(pairs))
        if total is not None and self.audit.records != total:
            raise SlmError(f"curate accounted for {self.audit.records:,} of {total:,} calls",
                           hint="nothing was published; rerun, and report it if it repeats")
        self._check_errors(self.audit.records)

    def _scrubbed(self, records: Iterable[dict[str, Any]],
                  source: Path | None) -> Iterator[list[tuple[dict[str, Any], ScrubResult]]]:
        if self.engine.is_local or source is None:
            for chunk in chunks(records, self.params.chunk_records):
                yield list(zip(chunk, self.scrubber.scrub(chunk), strict=True))
            return
        for batch in self.engine.map_parquet(self.batch_fn, source, self.params.chunk_records, (self.params, self.key)):
            for _, _, counters in batch:
                self.analyzer.stats.update(counters or {})
            yield [(record, result) for record, result, _ in batch]

    def summary(self) -> dict[str, Any]:
        """audit.json content: counts and setting names only."""
        summary = self.audit.to_dict(dict(self.analyzer.stats))
        if not self.params.scan_metadata:  # dropped instead (listed in fields_dropped)
            summary["fields_scanned"] = [f for f in summary["fields_scanned"] if not f.startswith("metadata")]
        summary["recall_lowering_settings"] = recall_lowering_settings(self.params)
        return summary

    def _check_errors(self, total: int) -> None:
        errors = sum(self.audit.scrub_errors.values())
        limit = self.params.max_scrub_error_rate
        if errors and errors > limit * total:
            raise SlmError(
                f"curate could not scrub {errors:,} of {total:,} calls (more than curate.max_scrub_error_rate="
                f"{limit:g}); first error: {self.audit.first_scrub_error}; by type: "
                + ", ".join(f"{k}={v}" for k, v in sorted(self.audit.scrub_errors.items())),
                hint="this is a bug or a broken install (spaCy/Presidio), not a property of the logs: report it; "
                "to publish anyway with those calls filtered, raise curate.max_scrub_error_rate",
            )

    def _row(self, original: dict[str, Any], result: ScrubResult) -> dict[str, Any]:
        if result.record is None:
            row: dict[str, Any] = {k: (original[k] if k in ERROR_ROW_COLUMNS and _safe(k, original[k]) else None)
                                   for k in original}
            self.audit.add_error(result.error or "unknown", result.exception)
            row.update(status="filtered", reason="scrub_error")
            return row
        self.audit.dropped.update(result.dropped)
        row = dict(result.record)
        reason = self.filters.reason(original, result.record, result.request_key)
        self.audit.add(result.counts, reason)
        row.update(status="kept" if reason is None else "filtered", reason=reason)
        return row
