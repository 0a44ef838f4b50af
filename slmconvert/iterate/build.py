"""Pieces of the iterate stage's work (the stage itself, in slmconvert.stages.iterate, runs them in order):
escalation rules, serving plans from the cascade decisions, evaluation order and router routes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slmconvert.artifacts.adapters import Specialist
from slmconvert.iterate.cascade import ClusterCascade
from slmconvert.iterate.economics import ServingPlan
from slmconvert.iterate.params import IterateParams
from slmconvert.router.confidence import SIGNALS
from slmconvert.router.config import ClusterRoute, EscalationRules, relative_to_router

BASELINE_SAMPLE = 400


def rules_of(params: IterateParams) -> EscalationRules:
    """The router's escalation rules; its measure is the fallback for routes without their own signal."""
    measure = SIGNALS[0] if params.confidence_measure == "auto" else params.confidence_measure
    return EscalationRules(params.escalate_on_parse_error, params.escalate_on_unknown_tool,
                           params.escalate_on_schema_error, measure)


def plan_of(cluster_id: int, decision: dict[str, Any], timing: dict[str, Any]) -> ServingPlan:
    """How a cluster would be served after a cascade decision: only the kept share moves."""
    promoted = bool(decision.get("promoted"))
    coverage = decision.get("coverage") if promoted else 0.0
    agreement = (decision.get("agreement") or {}).get("value")
    coverage = float(coverage or 0.0)
    return ServingPlan(
        cluster_id=cluster_id, promoted=promoted, escalation_rate=1.0 - coverage,
        served_quality=1.0 - coverage + coverage * (agreement if agreement is not None else 1.0),
        slm_prompt_tokens_per_call=timing.get("prompt_tokens_mean"),
        slm_completion_tokens_per_call=timing.get("new_tokens_mean"),
        slm_latency_ms=timing.get("latency_ms_p50"),
        kept_cost_share=decision.get("cost_share") if promoted else 0.0,
    )


def serving_plan(entry: dict[str, Any]) -> ServingPlan | None:
    """The plan of a measured cluster at the decision iterate took (None: no specialist measured)."""
    if not entry.get("cascade"):
        return None
    decision = {**entry["cascade"], "promoted": bool(entry["promotion"]["promoted"])}
    return plan_of(entry["cluster_id"], decision, (entry.get("specialist") or {}).get("timing") or {})


def plans_at(entries: list[dict[str, Any]], cascades: dict[int, ClusterCascade]) -> Callable[[float], dict[int, ServingPlan]]:
    """Every measured cluster re-decided at another promotion target (for the cost-quality curve)."""
    timing = {e["cluster_id"]: (e.get("specialist") or {}).get("timing") or {} for e in entries}

    def at(target: float) -> dict[int, ServingPlan]:
        return {cid: plan_of(cid, c.decide(target), timing.get(cid, {})) for cid, c in cascades.items()}

    return at


def promise(specialist: Specialist | None) -> tuple[int, float]:
    """Sort key: clusters whose specialist did best on finetune's validation are evaluated first."""
    if specialist is None:
        return (1, 0.0)
    after = ((specialist.metrics.get("validation") or {}).get("after") or {}).get("value")
    return (0, -float(after)) if after is not None else (0, 1.0)


def route(entry: dict[str, Any], specialist: Specialist | None, router_dir: Any) -> ClusterRoute:
    """The router's route of a cluster: promoted ones carry the cascade's signal and threshold."""
    promotion = entry["promotion"]
    cascade = entry.get("cascade") or {}
    promoted = bool(promotion["promoted"])
    signal = cascade.get("signal") if promoted else None
    return ClusterRoute(
        cluster_id=entry["cluster_id"], label=entry["label"], promoted=promoted,
        reason=promotion["reason"], output_type=entry["output_type"],
        model=entry.get("model") if specialist else None,
        adapter=relative_to_router(router_dir, specialist.adapter) if specialist else None,
        prompt_format=entry.get("prompt_format") or {},
        max_new_tokens=int(entry.get("max_new_tokens") or 256),
        confidence_threshold=cascade.get("threshold") if promoted else None,
        primary_metric=entry.get("primary_metric"),
        confidence_measure=signal if signal in SIGNALS else None,
        agreement_metric=entry.get("agreement_metric"),
    )
