"""The curate run over a stream of call records: scrub in chunks, filter, shape for SFT, count."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any

from slmconvert.curate.analyzer import PiiAnalyzer
from slmconvert.curate.audit import Audit
from slmconvert.curate.filters import Filters
from slmconvert.curate.params import CurateParams
from slmconvert.curate.scrub import Scrubber, ScrubResult
from slmconvert.curate.sft import sft_columns
from slmconvert.curate.spanstore import SpanStore
from slmconvert.curate.surrogates import Pseudonymiser

# Columns that may hold free text or values from users; dropped from records that fail to scrub.
TEXT_COLUMNS = ("messages", "output", "metadata")
JSON_COLUMNS = ("source", "messages", "tools", "tool_choice", "response_format", "output", "usage", "metadata",
                "prompt", "completion")
ADDED_COLUMNS = ("status", "reason", "prompt", "completion")


def _chunks(records: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    iterator = iter(records)
    while chunk := list(islice(iterator, size)):
        yield chunk


class Curator:
    """Turns collect's call records into curated rows; one instance per run (shared caches)."""

    def __init__(self, params: CurateParams, key: bytes, analyzer: PiiAnalyzer | None = None,
                 store: SpanStore | None = None) -> None:
        self.params = params
        self.analyzer = analyzer or PiiAnalyzer(params, store=store)
        self.scrubber = Scrubber(self.analyzer, Pseudonymiser(key), params)
        self.filters = Filters(params)
        self.audit = Audit()

    def curate(self, records: Iterable[dict[str, Any]],
               advance: Callable[[int], None] | None = None) -> Iterator[dict[str, Any]]:
        """One output row per input record, in input order."""
        for chunk in _chunks(records, self.params.chunk_records):
            started = time.perf_counter()
            results = self.scrubber.scrub(chunk)
            rows = [self._row(original, result) for original, result in zip(chunk, results, strict=True)]
            self.audit.seconds += time.perf_counter() - started
            yield from rows
            if advance is not None:
                advance(len(chunk))

    def summary(self) -> dict[str, Any]:
        """audit.json content: counts only."""
        return self.audit.to_dict(dict(self.analyzer.stats))

    def _row(self, original: dict[str, Any], result: ScrubResult) -> dict[str, Any]:
        if result.record is None:
            row = {k: (None if k in TEXT_COLUMNS else v) for k, v in original.items()}
            self.audit.add(result.counts, "scrub_error")
            row.update(status="filtered", reason="scrub_error", prompt=None, completion=None)
            return row
        row = dict(result.record)
        reason = self.filters.reason(original, result.record, result.request_key)
        self.audit.add(result.counts, reason)
        row.update(status="kept" if reason is None else "filtered", reason=reason, prompt=None, completion=None)
        if reason is None:
            row.update(sft_columns(result.record))
        return row
