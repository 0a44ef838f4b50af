"""Scrubbing whole records: analyse every unit of a chunk of records at once, add key hints and
in-record propagation, settle overlaps, and write consistent replacements back.

Fails closed: a record any of whose texts could not be analysed comes back with an error and no
scrubbed content, and the caller filters it.
"""

from __future__ import annotations

import copy
import hashlib
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import orjson
import regex as re

from slmconvert.curate.analyzer import PiiAnalyzer
from slmconvert.curate.fields import RecordFields, Unit
from slmconvert.curate.hints import hint_spans, suppressed_entities
from slmconvert.curate.params import CurateParams
from slmconvert.curate.recognizers.names import NOT_NAMES
from slmconvert.curate.spans import Span, priority, resolve_overlaps
from slmconvert.curate.surrogates import Pseudonymiser, RecordReplacer

_MIN_PROPAGATE = 3
_CACHED_HINT_CHARS = 200
_NUMBERS = re.compile(r"\d+")
_SPACES = re.compile(r"\s+")


@dataclass
class ScrubResult:
    """One record after scrubbing: the scrubbed copy, entity counts, and its near-duplicate key.

    On failure `record` is None, `error` names the exception type (or "analyzer_failed" when the
    analyzer reported a failed text) and `exception` keeps it for the audit's first-error line.
    """

    record: dict[str, Any] | None
    counts: Counter = field(default_factory=Counter)  # (entity, field kind) -> occurrences
    request_key: str | None = None
    error: str | None = None
    exception: BaseException | None = None
    dropped: Counter = field(default_factory=Counter)  # field path -> values dropped


def _failed(exc: BaseException | None, label: str | None = None) -> ScrubResult:
    return ScrubResult(None, error=label or type(exc).__name__, exception=exc)


# Keys and the short values under them repeat across calls (tool schemas above all): cache the hint
# look-ups, which are pure functions of their arguments.
_suppressed = lru_cache(maxsize=8192)(suppressed_entities)


@lru_cache(maxsize=65536)
def _short_hints(text: str, key: str) -> tuple[Span, ...]:
    return tuple(hint_spans(text, key))


def _hints(text: str, key: str) -> tuple[Span, ...] | list[Span]:
    return _short_hints(text, key) if len(text) <= _CACHED_HINT_CHARS else hint_spans(text, key)


def _copy(record: dict[str, Any]) -> dict[str, Any]:
    try:
        return orjson.loads(orjson.dumps(record))
    except (TypeError, orjson.JSONEncodeError):
        return copy.deepcopy(record)


def _splice(text: str, spans: list[Span], make) -> str:
    out, pos = [], 0
    for span in spans:
        out.append(text[pos:span.start])
        out.append(make(span, text[span.start:span.end]))
        pos = span.end
    out.append(text[pos:])
    return "".join(out)


def _bounded(text: str, start: int, end: int) -> bool:
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    return not (before.isalnum() or before == "_") and not (after.isalnum() or after == "_")


class Scrubber:
    """Scrubs records with one analyzer (shared cache) and one keyed pseudonymiser."""

    def __init__(self, analyzer: PiiAnalyzer, pseudonymiser: Pseudonymiser, params: CurateParams) -> None:
        self.analyzer = analyzer
        self.pseudonymiser = pseudonymiser
        self.params = params

    def scrub(self, records: list[dict[str, Any]]) -> list[ScrubResult]:
        """Scrub a chunk; unique texts across the whole chunk are analysed in one batch."""
        prepared: list[RecordFields | BaseException] = []
        for record in records:
            try:
                prepared.append(RecordFields(_copy(record), self.params.scan_metadata))
            except Exception as exc:  # noqa: BLE001 - an unreadable record must not pass through
                prepared.append(exc)
        readable = [fields for fields in prepared if isinstance(fields, RecordFields)]
        units = [(u.text, u.ner) for fields in readable for u in fields.units]
        failures: dict[int, BaseException] = {}
        try:
            found = self.analyzer.analyze(units)
        except Exception:  # noqa: BLE001 - isolate the failing records one by one
            found = {}
            for fields in readable:
                try:
                    found.update(self.analyzer.analyze([(u.text, u.ner) for u in fields.units]))
                except Exception as exc:  # noqa: BLE001
                    failures[id(fields)] = exc
        return [_failed(fields) if isinstance(fields, BaseException)
                else _failed(failures[id(fields)]) if id(fields) in failures
                else self._finish(fields, found) for fields in prepared]

    # ---- per record -------------------------------------------------------------------------
    def detect(self, fields: RecordFields, found: dict) -> list[list[Span]] | None:
        """Final non-overlapping spans per unit (analyzer + key hints + propagation); None when
        any unit's analysis failed."""
        per_unit: list[list[Span]] = []
        not_people: list[str] = []  # product/place values seen under keys that say so
        for unit in fields.units:
            spans = found.get((unit.text, unit.ner))
            if spans is None:
                return None
            spans = list(spans)
            if self.params.field_hints and unit.key:
                dropped = _suppressed(unit.key)
                if dropped:
                    spans = [s for s in spans if s.entity not in dropped]
                    if "PERSON" in dropped and "SECRET_GENERIC" not in dropped and len(unit.text) >= 3:
                        not_people.append(unit.text)
                spans.extend(_hints(unit.text, unit.key))
            per_unit.append(spans)
        if not_people:
            for unit, spans in zip(fields.units, per_unit, strict=True):
                spans[:] = [s for s in spans if s.entity != "PERSON" or s.score >= 0.9
                            or not any(unit.text[s.start:s.end] in value for value in not_people)]
        if self.params.propagate:
            self._propagate(fields.units, per_unit)
        return [resolve_overlaps(spans) if len(spans) > 1 else spans for spans in per_unit]

    def _finish(self, fields: RecordFields, found: dict) -> ScrubResult:
        try:
            per_unit = self.detect(fields, found)
            if per_unit is None:
                return _failed(getattr(self.analyzer, "first_error", None), "analyzer_failed")
            result = self._replace(fields, per_unit)
        except Exception as exc:  # noqa: BLE001 - fail closed
            return _failed(exc)
        result.dropped = fields.dropped
        return result

    def text_spans(self, text: str, kind: str = "user") -> list[Span]:
        """Spans in one message text's own coordinates (JSON leaves mapped back into the text),
        exactly as the record pipeline would find them; used to score the labelled set."""
        role = {"tool_arguments": "assistant"}.get(kind, kind)
        fields = RecordFields({"messages": [{"role": role, "content": text}]}, scan_metadata=False)
        per_unit = self.detect(fields, self.analyzer.analyze([(u.text, u.ner) for u in fields.units]))
        if per_unit is None:
            raise RuntimeError("analysis failed")
        out: list[Span] = []
        for unit, spans in zip(fields.units, per_unit, strict=True):
            if not spans:
                continue
            if unit.encoding == "json_string":
                raw = text[unit.start + 1:unit.end - 1]
                if raw != unit.text:  # escapes inside: the whole token is the span
                    out.append(spans[0]._replace(start=unit.start, end=unit.end))
                    continue
                out.extend(s._replace(start=s.start + unit.start + 1, end=s.end + unit.start + 1) for s in spans)
            else:
                out.extend(s._replace(start=s.start + unit.start, end=s.end + unit.start) for s in spans)
        return out

    def _propagate(self, units: list[Unit], per_unit: list[list[Span]]) -> None:
        """Every further occurrence of a value detected somewhere in the record is scrubbed too."""
        values: dict[str, str] = {}
        for unit, spans in zip(units, per_unit, strict=True):
            for span in spans:
                value = unit.text[span.start:span.end].strip()
                candidates = [value]
                if span.entity == "PERSON":
                    candidates += [w for w in value.split() if w[:1].isupper() and w.strip(".") not in NOT_NAMES]
                for candidate in candidates:
                    if len(candidate) < _MIN_PROPAGATE:
                        continue
                    old = values.get(candidate)
                    if old is None or priority(span.entity) > priority(old):
                        values[candidate] = span.entity
        if not values:
            return
        ordered = sorted(values, key=len, reverse=True)
        for unit, spans in zip(units, per_unit, strict=True):
            text = unit.text
            for value in ordered:
                start = text.find(value)
                while start >= 0:
                    end = start + len(value)
                    if _bounded(text, start, end):
                        spans.append(Span(start, end, values[value], 0.8))
                    start = text.find(value, end)

    def _replace(self, fields: RecordFields, per_unit: list[list[Span]]) -> ScrubResult:
        replacer = RecordReplacer(self.pseudonymiser, self.params.placeholder_style)
        counts: Counter = Counter()
        new_texts: list[str | None] = []
        masked: list[str] = []
        for unit, spans in zip(fields.units, per_unit, strict=True):
            if not spans:
                new_texts.append(None)
                if unit.request:
                    masked.append(unit.kind + ":" + unit.text)
                continue
            for span in spans:
                counts[(span.entity, unit.kind)] += 1
            new_texts.append(_splice(unit.text, spans, lambda s, v: replacer.replace(s.entity, v)))
            if unit.request:
                masked.append(unit.kind + ":" + _splice(unit.text, spans, lambda s, v: f"<{s.entity}>"))
        fields.apply(new_texts)
        return ScrubResult(fields.record, counts, request_key=_request_key(fields.record, masked))


def _request_key(record: dict[str, Any], masked: list[str]) -> str:
    """Digest of the request with entities masked, numbers zeroed and whitespace collapsed."""
    tools = sorted(str((t.get("function") or {}).get("name")) for t in record.get("tools") or [] if isinstance(t, dict))
    calls = [str(((c or {}).get("function") or {}).get("name")) for m in record.get("messages") or []
             if isinstance(m, dict) for c in m.get("tool_calls") or []]
    text = "\x1e".join(_SPACES.sub(" ", _NUMBERS.sub("0", part)).strip() for part in masked)
    payload = "\x1f".join([",".join(tools), ",".join(calls), text])
    return hashlib.blake2b(payload.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
