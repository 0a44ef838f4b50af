"""Offline replay: run held-out logged calls through the router and compare with what the LLM said.

Gives, overall and per cluster, the share of calls the SLMs take, the escalation rate (and its
reasons), the agreement of the SLM answers that were kept, and the served quality (escalated
calls are answered by the LLM, so they agree by definition).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from slmconvert.evaluation import EvalExample, score_outputs
from slmconvert.evaluation.stats import summarize_mean, summarize_rate
from slmconvert.models.prompt import PromptFormat
from slmconvert.router.generator import Generator
from slmconvert.router.router import Router, ServedCall


@dataclass
class ReplayResult:
    """Per-call rows plus aggregates (overall and per assigned cluster)."""

    rows: list[dict[str, Any]]
    overall: dict[str, Any]
    per_cluster: dict[int, dict[str, Any]] = field(default_factory=dict)


def summarize_scores(values: Sequence[float | None]) -> dict[str, Any]:
    """Wilson interval when every value is 0/1, else a bootstrap interval of the mean."""
    kept = [v for v in values if v is not None]
    binary = all(v in (0.0, 1.0) for v in kept)
    return (summarize_rate(kept) if binary else summarize_mean(kept)).to_dict()


def _score_group(router: Router, cid: int, served: list[ServedCall], records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    route = router.config.route_for(cid)
    fmt = PromptFormat.from_dict(route.prompt_format) if route and route.prompt_format else PromptFormat()
    examples = [EvalExample.from_record(r) for r in records]
    rows, _, _ = score_outputs(examples, [s.generation.text for s in served], fmt)  # type: ignore[union-attr]
    return rows


def replay(
    router: Router,
    records: Sequence[dict[str, Any]],
    generator: Generator,
    true_cluster: dict[str, int] | None = None,
    progress: Callable[[int], None] | None = None,
) -> ReplayResult:
    """Route and serve `records` (curated rows with their logged outputs) and score the answers."""
    true_cluster = true_cluster or {}
    served = router.serve(records, generator, progress=progress)
    scores: dict[int, dict[str, Any]] = {}
    groups: dict[int, list[int]] = {}
    for i, s in enumerate(served):
        if s.generation is not None:
            groups.setdefault(s.decision.cluster_id, []).append(i)
    for cid, indices in groups.items():
        rows = _score_group(router, cid, [served[i] for i in indices], [records[i] for i in indices])
        scores.update(zip(indices, rows, strict=True))
    out_rows = []
    for i, (record, s) in enumerate(zip(records, served, strict=True)):
        route = router.config.route_for(s.decision.cluster_id)
        metric = (route.agreement_metric or route.primary_metric) if route else None
        score_row = scores.get(i, {})
        agreement = score_row.get(metric) if metric and s.generation is not None else None
        generation = s.generation
        out_rows.append({
            **s.to_dict(),
            "call_id": record.get("call_id"),
            "assigned_cluster": s.decision.cluster_id,
            "assign_confidence": s.decision.confidence,
            "cluster_id": true_cluster.get(str(record.get("call_id")), s.decision.cluster_id),
            "primary_metric": metric if s.generation is not None else None,
            "agreement": agreement,
            "metrics": {k: v for k, v in score_row.items()
                        if k not in ("example_id", "output_type", "text", "prediction", "parse_error")},
            "slm_prompt_tokens": generation.prompt_tokens if generation else None,
            "slm_new_tokens": generation.new_tokens if generation else None,
            "slm_latency_ms": round(generation.latency * 1000, 2) if generation else None,
        })
    per_cluster = {cid: aggregate(rows) for cid, rows in _by(out_rows, "assigned_cluster").items()}
    return ReplayResult(out_rows, aggregate(out_rows), per_cluster)


def _by(rows: list[dict[str, Any]], key: str) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(int(row[key]), []).append(row)
    return dict(sorted(out.items()))


def aggregate(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Escalation rate, agreement and served quality of replayed rows."""
    slm = [r for r in rows if r["route"] == "slm"]
    kept = [r for r in slm if not r["escalated"]]
    reasons = Counter(r["escalation"] for r in slm if r["escalated"])
    escalation = summarize_rate([float(r["escalated"]) for r in slm]).to_dict()
    agreement = summarize_scores([r["agreement"] for r in kept])
    raw = summarize_scores([r["agreement"] for r in slm])
    served = summarize_scores([1.0 if r["escalated"] else r["agreement"] for r in slm])
    known = [r for r in rows if r.get("cluster_id") is not None]
    misrouted = sum(1 for r in known if r["assigned_cluster"] != r["cluster_id"])
    latencies = sorted(r["slm_latency_ms"] for r in slm if r.get("slm_latency_ms") is not None)
    return {
        "calls": len(rows),
        "routed_slm": len(slm),
        "share_routed_slm": len(slm) / len(rows) if rows else None,
        "served_by_slm": len(kept),
        "share_served_by_slm": len(kept) / len(rows) if rows else None,
        "escalation_rate": escalation,
        "escalations": dict(sorted(reasons.items())),
        "agreement": agreement,
        "slm_agreement_before_escalation": raw,
        "served_quality": served,
        "misrouted_share": misrouted / len(known) if known else None,
        "slm_latency_ms_p50": latencies[len(latencies) // 2] if latencies else None,
        "slm_prompt_tokens_mean": _mean([r["slm_prompt_tokens"] for r in slm]),
        "slm_new_tokens_mean": _mean([r["slm_new_tokens"] for r in slm]),
    }


def _mean(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None
