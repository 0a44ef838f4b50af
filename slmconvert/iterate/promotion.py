"""Promotion: a cluster moves to its SLM, at a confidence threshold, only when the evidence says
the calls it keeps are good enough (the rule and its numbers come from iterate.cascade).

The rule is one-sided: the Wilson 95% *lower* bound of the strict agreement of the kept held-out
test calls must reach the target at every candidate threshold tested on the way (strictest first,
a fixed sequence), so a small test sample cannot promote a cluster by luck. The calls the SLM does
not keep escalate to the LLM.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class PromotionDecision:
    """Why a cluster is (or is not) served by its SLM."""

    cluster_id: int
    promoted: bool
    reason: str
    metric: str | None
    value: float | None
    low: float | None
    high: float | None
    n: int
    target: float
    threshold: float | None = None
    coverage: float | None = None
    signal: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def decide(cluster: dict[str, Any], target: float) -> PromotionDecision:
    """Promotion decision for one cluster entry of evaluation.json (see iterate.evaluate)."""
    cid = int(cluster["cluster_id"])
    name = cluster.get("agreement_metric") or cluster.get("primary_metric")

    def reject(reason: str) -> PromotionDecision:
        return PromotionDecision(cid, False, reason, name, None, None, None, 0, target)

    if not cluster.get("candidate", False):
        return reject(f"stays on the LLM: {cluster.get('candidate_reason') or 'not a conversion candidate'}")
    if cluster.get("skipped"):
        return reject(f"stays on the LLM: {cluster['skipped']}")
    if not cluster.get("specialist") and not cluster.get("cascade"):
        return reject("stays on the LLM: no fine-tuned adapter for this cluster")
    cascade = cluster.get("cascade") or {}
    agreement = cascade.get("agreement") or {}
    out = PromotionDecision(cid, bool(cascade.get("promoted")), "", name, agreement.get("value"),
                            agreement.get("low"), agreement.get("high"), int(agreement.get("n") or 0), target,
                            cascade.get("threshold"), cascade.get("coverage"), cascade.get("signal"))
    return PromotionDecision(**{**asdict(out), "reason": _reason(cascade, target, name)})


def _reason(cascade: dict[str, Any], target: float, metric: str | None) -> str:
    checks = cascade.get("candidates") or []
    if cascade.get("promoted"):
        a = cascade["agreement"]
        where = ("whole (no confidence threshold needed)" if cascade.get("threshold") is None
                 else f"at {cascade.get('signal')} >= {cascade['threshold']:.3f}")
        return (f"promoted {where}: keeps {a['n']}/{cascade.get('test_calls')} test calls "
                f"({cascade.get('coverage', 0):.0%}); {metric} {_fmt(a.get('value'))}, lower bound "
                f"{_fmt(a.get('low'))} >= target {target:.2f}")
    if not checks:
        planned = cascade.get("test_planned") or 0
        need = cascade.get("min_kept_calls")
        return (f"stays on the LLM: no confidence threshold chosen on {cascade.get('validation_calls', 0)} "
                f"validation calls (agreement {_fmt(cascade.get('validation_agreement'))}) keeps enough "
                f"agreeing calls to show {target:.2f} on {planned} test calls (>= {need} kept needed)")
    a = checks[0]["test"]["agreement"]  # the first threshold of the sequence: when it fails, all do
    return (f"stays on the LLM: at the first threshold of its sequence the {a.get('n')} kept test calls have "
            f"{metric} {_fmt(a.get('value'))}, lower bound {_fmt(a.get('low'))} < target {target:.2f}")


def decide_all(clusters: Iterable[dict[str, Any]], target: float) -> list[PromotionDecision]:
    """Decisions for every cluster, in the given order."""
    return [decide(c, target) for c in clusters]
