"""Counters behind stats.json and the collect summary: per file, format, model, workload, tool."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

TOP_N = 20
NO_TOOL = "(text answer)"
UNKNOWN = "(unknown)"


@dataclass
class FileStats:
    """What one input file produced."""

    file: str
    bytes: int
    compressed: bool = False
    lines: int = 0
    blank: int = 0
    calls: int = 0
    duplicates: int = 0
    rejects: int = 0
    batch_paired: int = 0
    formats: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict:
        return {
            "file": self.file, "bytes": self.bytes, "compressed": self.compressed, "lines": self.lines,
            "blank_lines": self.blank, "calls": self.calls, "duplicates": self.duplicates,
            "rejects": self.rejects, "batch_paired": self.batch_paired, "formats": dict(sorted(self.formats.items())),
        }


@dataclass
class ModelStats:
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    priced_calls: int = 0
    priced_as: str | None = None  # the price-table entry the name resolved to (our word, not the log's)


class CollectStats:
    """Aggregates over the records written to calls.parquet (new and carried over)."""

    def __init__(self) -> None:
        self.files: list[FileStats] = []
        self.formats: Counter = Counter()
        self.models: dict[str, ModelStats] = {}
        self.workloads: Counter = Counter()
        self.tools: Counter = Counter()
        self.unpriced: Counter = Counter()
        self.calls = 0
        self.carried = 0
        self.duplicates = 0
        self.without_usage = 0
        self.error_responses = 0

    def add_call(
        self,
        model: str | None,
        usage: dict | None,
        cost_usd: float | None,
        workload_id: str | None,
        tools: list[str],
        finish_reason: str | None,
        priced_as: str | None,
        carried: bool = False,
    ) -> None:
        """Count one written record (priced_as: the price-table entry of its model, None when unpriced)."""
        self.calls += 1
        self.carried += carried
        model = model or UNKNOWN
        stats = self.models.get(model)
        if stats is None:
            stats = self.models[model] = ModelStats(priced_as=priced_as)
        stats.calls += 1
        prompt, completion = (usage or {}).get("prompt_tokens"), (usage or {}).get("completion_tokens")
        if prompt is None and completion is None:
            self.without_usage += 1
        stats.prompt_tokens += prompt or 0
        stats.completion_tokens += completion or 0
        if cost_usd is not None:
            stats.cost_usd += cost_usd
            stats.priced_calls += 1
        if priced_as is None:
            self.unpriced[model] += 1
        self.workloads[workload_id or UNKNOWN] += 1
        for name in set(tools) if tools else (NO_TOOL,):
            self.tools[name] += 1
        if finish_reason == "error":
            self.error_responses += 1

    def summary(self) -> dict:
        """JSON-able aggregates (the body of stats.json)."""
        models = sorted(self.models.items(), key=lambda kv: (-kv[1].calls, kv[0]))
        prompt = sum(m.prompt_tokens for m in self.models.values())
        completion = sum(m.completion_tokens for m in self.models.values())
        return {
            "calls": self.calls,
            "new_calls": self.calls - self.carried,
            "carried_calls": self.carried,
            "duplicates": self.duplicates,
            "error_responses": self.error_responses,
            "files": [f.as_dict() for f in self.files],
            "formats": dict(sorted(self.formats.items())),
            "by_model": [
                {
                    "model": name, "calls": m.calls, "prompt_tokens": m.prompt_tokens,
                    "completion_tokens": m.completion_tokens,
                    "cost_usd": round(m.cost_usd, 6) if m.priced_calls else None, "priced_calls": m.priced_calls,
                    "priced_as": m.priced_as,
                }
                for name, m in models
            ],
            "by_workload": _top(self.workloads, "workload_id"),
            "workload_count": len(self.workloads),
            "by_tool": _top(self.tools, "tool"),
            "tool_count": len(self.tools),
            "tokens": {"prompt": prompt, "completion": completion, "calls_without_usage": self.without_usage},
            "cost_usd": round(sum(m.cost_usd for m in self.models.values()), 6),
            "priced_calls": sum(m.priced_calls for m in self.models.values()),
            "unknown_price_models": _top(self.unpriced, "model", limit=None),
        }


def _top(counter: Counter, key: str, limit: int | None = TOP_N) -> list[dict]:
    items = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = items if limit is None else items[:limit]
    rows = [{key: name, "calls": n} for name, n in shown]
    if limit is not None and len(items) > limit:
        rows.append({key: f"({len(items) - limit} more)", "calls": sum(n for _, n in items[limit:])})
    return rows
