"""Economics (the paper's section 7): what moving clusters to SLMs saves, and what it costs in quality.

Cost model, stated in the report: every call of a promoted cluster is first served by the SLM
(priced per token at the configured serving price, with the SLM's own token counts measured on
the test sample when known, else the logged LLM counts); the escalated share is then also paid
at its logged LLM cost. Only the share a promoted cluster's SLM keeps (its coverage at its
threshold, by calls and by logged cost of its held-out test calls) counts as moved. Calls of other
clusters, noise and curate-filtered calls stay on the LLM. Quality is agreement with the LLM:
escalated calls get the LLM's answer, so they agree.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

NOISE = -1


@dataclass
class Traffic:
    """Logged LLM traffic of one bucket of calls (a cluster, noise, or filtered calls)."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    cost_known: int = 0
    latencies_ms: list[float] = field(default_factory=list, repr=False)

    def add(self, record: dict[str, Any]) -> None:
        """Count one call record (normalised or curated)."""
        usage = record.get("usage") or {}
        self.calls += 1
        self.prompt_tokens += int(usage.get("prompt_tokens") or 0)
        self.completion_tokens += int(usage.get("completion_tokens") or 0)
        if record.get("cost_usd") is not None:
            self.cost_usd += float(record["cost_usd"])
            self.cost_known += 1
        if record.get("latency_ms") is not None:
            self.latencies_ms.append(float(record["latency_ms"]))

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def median_latency_ms(self) -> float | None:
        return statistics.median(self.latencies_ms) if self.latencies_ms else None

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k != "latencies_ms"}
        out["median_latency_ms"] = self.median_latency_ms
        return out


def traffic_by_bucket(records: Iterable[dict[str, Any]], cluster_of: dict[str, int]) -> dict[int | str, Traffic]:
    """Traffic per cluster id; calls without a cluster go to -1 (noise) or "filtered" (curate)."""
    buckets: dict[int | str, Traffic] = {}
    for record in records:
        if record.get("status", "kept") != "kept":
            key: int | str = "filtered"
        else:
            key = cluster_of.get(record["call_id"], NOISE)
        buckets.setdefault(key, Traffic()).add(record)
    return buckets


@dataclass(frozen=True)
class Prices:
    """SLM serving price (USD per 1M tokens)."""

    slm_input_per_1m: float
    slm_output_per_1m: float

    def slm_cost(self, prompt_tokens: float, completion_tokens: float) -> float:
        return (prompt_tokens * self.slm_input_per_1m + completion_tokens * self.slm_output_per_1m) / 1e6


@dataclass(frozen=True)
class ServingPlan:
    """One cluster's measured serving behaviour (from the test-split replay)."""

    cluster_id: int
    promoted: bool
    escalation_rate: float = 0.0
    served_quality: float = 1.0  # agreement with the LLM after escalation
    slm_prompt_tokens_per_call: float | None = None
    slm_completion_tokens_per_call: float | None = None
    slm_latency_ms: float | None = None
    kept_cost_share: float | None = None  # logged LLM cost share of the calls the SLM keeps (None: by calls)


def _slm_cost(plan: ServingPlan, traffic: Traffic, prices: Prices) -> float:
    per_prompt = plan.slm_prompt_tokens_per_call
    per_completion = plan.slm_completion_tokens_per_call
    prompt = per_prompt * traffic.calls if per_prompt is not None else traffic.prompt_tokens
    completion = per_completion * traffic.calls if per_completion is not None else traffic.completion_tokens
    return prices.slm_cost(prompt, completion)


def project(traffic: dict[int | str, Traffic], plans: dict[int, ServingPlan], prices: Prices) -> dict[str, Any]:
    """Shares of calls / tokens / cost moved, cost before and after, and quality, overall and per cluster."""
    total = Traffic()
    for t in traffic.values():
        total.calls += t.calls
        total.prompt_tokens += t.prompt_tokens
        total.completion_tokens += t.completion_tokens
        total.cost_usd += t.cost_usd
        total.cost_known += t.cost_known
    moved_calls = moved_tokens = moved_cost = slm_cost = escalated_cost = 0.0
    weighted_quality = 0.0
    per_cluster = []
    for key, t in sorted(traffic.items(), key=lambda kv: str(kv[0])):
        plan = plans.get(key) if isinstance(key, int) else None
        if plan is None or not plan.promoted:
            weighted_quality += t.calls
            continue
        kept = 1.0 - plan.escalation_rate
        kept_cost = plan.kept_cost_share if plan.kept_cost_share is not None else kept
        cluster_slm = _slm_cost(plan, t, prices)
        moved_calls += kept * t.calls
        moved_tokens += kept * t.tokens
        moved_cost += kept_cost * t.cost_usd
        slm_cost += cluster_slm
        escalated_cost += (1.0 - kept_cost) * t.cost_usd
        weighted_quality += plan.served_quality * t.calls
        per_cluster.append({
            "cluster_id": key, "calls": t.calls, "calls_moved": kept * t.calls,
            "llm_cost_usd": t.cost_usd, "slm_cost_usd": cluster_slm,
            "llm_cost_moved_usd": kept_cost * t.cost_usd,
            "cost_after_usd": cluster_slm + (1.0 - kept_cost) * t.cost_usd,
            "llm_median_latency_ms": t.median_latency_ms, "slm_latency_ms": plan.slm_latency_ms,
        })
    after = total.cost_usd - moved_cost + slm_cost
    return {
        "total_calls": total.calls,
        "total_tokens": total.tokens,
        "cost_known_calls": total.cost_known,
        "llm_cost_usd": total.cost_usd,
        "share_calls_moved": _share(moved_calls, total.calls),
        "share_tokens_moved": _share(moved_tokens, total.tokens),
        "share_cost_moved": _share(moved_cost, total.cost_usd),
        "calls_moved": moved_calls,
        "slm_cost_usd": slm_cost,
        "escalated_llm_cost_usd": escalated_cost,
        "cost_after_usd": after,
        "cost_cut": _share(total.cost_usd - after, total.cost_usd),
        "quality_vs_llm": _share(weighted_quality, total.calls),
        "per_cluster": per_cluster,
        "prices": asdict(prices),
    }


def _share(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def cost_quality_curve(
    plans_at: Callable[[float], dict[int, ServingPlan]],
    traffic: dict[int | str, Traffic],
    prices: Prices,
    targets: Iterable[float],
) -> list[dict[str, Any]]:
    """Projected cost cut and quality for each promotion target (`plans_at(target)`: every cluster
    re-decided at that target, with its threshold and coverage)."""
    curve = []
    for t in targets:
        plans = plans_at(float(t))
        projected = project(traffic, plans, prices)
        curve.append({
            "threshold": round(float(t), 4),
            "promoted": sorted(cid for cid, p in plans.items() if p.promoted),
            "cost_cut": projected["cost_cut"],
            "share_calls_moved": projected["share_calls_moved"],
            "share_cost_moved": projected["share_cost_moved"],
            "quality_vs_llm": projected["quality_vs_llm"],
        })
    return curve


DEFAULT_CURVE_THRESHOLDS = tuple(round(0.5 + 0.01 * i, 2) for i in range(50))
