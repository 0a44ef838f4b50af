"""Pieces of the iterate stage's work (the stage itself, in slmconvert.stages.iterate, runs them in order):
what-if serving numbers of unpromoted clusters, serving plans, evaluation order and router routes."""

from __future__ import annotations

from typing import Any

from slmconvert.iterate.economics import (
    ServingPlan,
)
from slmconvert.iterate.params import IterateParams
from slmconvert.iterate.upstream import (
    Specialist,
)
from slmconvert.models.prompt import PromptFormat, parse_completion
from slmconvert.router import escalation
from slmconvert.router.config import ClusterRoute, EscalationRules, relative_to_router
from slmconvert.router.replay import summarize_scores

BASELINE_SAMPLE = 400


def rules_of(params: IterateParams) -> EscalationRules:
    return EscalationRules(params.escalate_on_parse_error, params.escalate_on_unknown_tool,
                           params.escalate_on_schema_error, params.confidence_measure)


def what_if(entry: dict[str, Any], rows: list[dict[str, Any]], records: list[dict[str, Any]],
             rules: EscalationRules) -> dict[str, Any]:
    """Serving numbers a cluster would have if promoted (rule escalation only), from its test answers."""
    fmt = PromptFormat.from_dict(entry["prompt_format"])
    metric = entry["primary_metric"]
    escalated, served = [], []
    for row, record in zip(rows, records[: len(rows)], strict=True):
        failed = escalation.rule_violation(parse_completion(row["text"], fmt), record, rules) is not None
        escalated.append(float(failed))
        served.append(1.0 if failed else float(row.get(metric) or 0.0))
    from slmconvert.evaluation.stats import summarize_rate

    return {"escalation_rate": summarize_rate(escalated).to_dict(), "served_quality": summarize_scores(served),
            "basis": "specialist test answers, rule checks only (cluster not promoted)"}


def serving_plan(entry: dict[str, Any]) -> ServingPlan | None:
    routed, timing = entry.get("routed"), (entry.get("specialist") or {}).get("timing") or {}
    if not routed:
        return None
    value = lambda key: (routed.get(key) or {}).get("value")  # noqa: E731
    return ServingPlan(
        cluster_id=entry["cluster_id"], promoted=bool(entry["promotion"]["promoted"]),
        escalation_rate=value("escalation_rate") or 0.0,
        served_quality=value("served_quality") if value("served_quality") is not None else 1.0,
        slm_prompt_tokens_per_call=timing.get("prompt_tokens_mean"),
        slm_completion_tokens_per_call=timing.get("new_tokens_mean"),
        slm_latency_ms=timing.get("latency_ms_p50"),
    )


def promise(specialist: Specialist | None) -> tuple[int, float]:
    """Sort key: clusters whose specialist did best on finetune's validation are evaluated first."""
    if specialist is None:
        return (1, 0.0)
    after = ((specialist.metrics.get("validation") or {}).get("after") or {}).get("value")
    return (0, -float(after)) if after is not None else (0, 1.0)


def route(entry: dict[str, Any], specialist: Specialist | None, router_dir: Any) -> ClusterRoute:
    promotion = entry["promotion"]
    return ClusterRoute(
        cluster_id=entry["cluster_id"], label=entry["label"], promoted=bool(promotion["promoted"]),
        reason=promotion["reason"], output_type=entry["output_type"],
        model=entry.get("model") if specialist else None,
        adapter=relative_to_router(router_dir, specialist.adapter) if specialist else None,
        prompt_format=entry.get("prompt_format") or {},
        max_new_tokens=int(entry.get("max_new_tokens") or 256),
        confidence_threshold=(entry.get("calibration") or {}).get("threshold"),
        primary_metric=entry.get("primary_metric"),
    )


