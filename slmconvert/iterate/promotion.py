"""Promotion: a cluster moves to its SLM only when the evidence says it is good enough.

The rule is deliberately one-sided: the Wilson 95% *lower* bound of the cluster's primary metric
(the specialist on the held-out test split, against the LLM's logged outputs) must reach the
target, so a small test sample cannot promote a cluster by luck. For mean scores in [0, 1]
(field F1, ROUGE-L) the Wilson bound of (mean x n) successes out of n is used as well, and the
lower of it and the reported (bootstrap) bound decides: a bootstrap interval of n identical
scores has zero width, which would let five perfect answers promote a cluster.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from slmconvert.evaluation.stats import wilson_interval


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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def decide(cluster: dict[str, Any], target: float, metric: str | None = None) -> PromotionDecision:
    """Promotion decision for one cluster entry of evaluation.json (see iterate.evaluate)."""
    cid = int(cluster["cluster_id"])
    name = metric or cluster.get("primary_metric")

    def reject(reason: str, summary: dict[str, Any] | None = None) -> PromotionDecision:
        s = summary or {}
        return PromotionDecision(cid, False, reason, name, s.get("value"), s.get("low"), s.get("high"),
                                 int(s.get("n") or 0), target)

    if not cluster.get("candidate", False):
        why = cluster.get("candidate_reason") or "not a conversion candidate"
        return reject(f"stays on the LLM: {why}")
    if cluster.get("skipped"):
        return reject(f"stays on the LLM: {cluster['skipped']}")
    specialist = cluster.get("specialist")
    if not specialist:
        return reject("stays on the LLM: no fine-tuned adapter for this cluster")
    if not name:
        return reject("stays on the LLM: no primary metric for this output type")
    summary = (specialist.get("metrics") or {}).get(name)
    if not summary or not summary.get("n"):
        return reject(f"stays on the LLM: {name} was not measured on any test call")
    low = promotion_bound(summary)
    if low is None or low < target:
        return reject(
            f"stays on the LLM: {name} lower bound {_fmt(low)} < target {target:.2f} "
            f"(value {_fmt(summary.get('value'))}, n={summary['n']})",
            {**summary, "low": low},
        )
    return PromotionDecision(
        cid, True,
        f"promoted: {name} lower bound {_fmt(low)} >= target {target:.2f} (n={summary['n']})",
        name, summary.get("value"), low, summary.get("high"), int(summary["n"]), target,
    )


def promotion_bound(summary: dict[str, Any]) -> float | None:
    """The lower bound promotion compares with the target (see the module docstring)."""
    value, n, low = summary.get("value"), int(summary.get("n") or 0), summary.get("low")
    if value is None or n <= 0:
        return None
    wilson = wilson_interval(min(1.0, max(0.0, float(value))) * n, n)[0]
    return wilson if low is None else min(float(low), wilson)


def decide_all(clusters: Iterable[dict[str, Any]], target: float, metric: str | None = None) -> list[PromotionDecision]:
    """Decisions for every cluster, in the given order."""
    return [decide(c, target, metric) for c in clusters]


def promoted_ids(clusters: Iterable[dict[str, Any]], target: float, metric: str | None = None) -> set[int]:
    """Ids of the clusters a given target would promote (used for the cost-quality curve)."""
    return {d.cluster_id for d in decide_all(clusters, target, metric) if d.promoted}
