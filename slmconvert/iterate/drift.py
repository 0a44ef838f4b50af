"""Drift between the traffic the router was built on and a new batch of calls, and what to do about it.

Three signals: the share of new calls outside every cluster (against the share the router left
out on its own held-out sample), the change in the cluster mix (total variation distance), and
per promoted cluster the change in escalation rate and agreement with the LLM on new calls.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

NOISE = -1


def shares(cluster_ids: Iterable[int]) -> dict[int, float]:
    """Share of calls per cluster id (-1 included)."""
    counts = Counter(int(c) for c in cluster_ids)
    total = sum(counts.values())
    return {cid: n / total for cid, n in sorted(counts.items())} if total else {}


def total_variation(p: dict[int, float], q: dict[int, float]) -> float:
    """Total variation distance between two cluster mixes (0 = same, 1 = disjoint)."""
    keys = set(p) | set(q)
    return 0.5 * sum(abs(p.get(k, 0.0) - q.get(k, 0.0)) for k in keys)


@dataclass
class ClusterDrift:
    """One cluster's change between the previous iteration and the new calls."""

    cluster_id: int
    old_calls: int
    new_calls: int
    growth: float | None
    escalation_before: float | None = None
    escalation_after: float | None = None
    agreement_before: float | None = None
    agreement_after: float | None = None
    replayed: int = 0

    @property
    def agreement_drop(self) -> float | None:
        if self.agreement_before is None or self.agreement_after is None:
            return None
        return self.agreement_before - self.agreement_after

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "agreement_drop": self.agreement_drop}


@dataclass
class DriftReport:
    """Everything measured on a new batch, plus the decisions taken from it."""

    new_calls: int
    ood_share: float | None
    baseline_ood_share: float | None
    mix_shift: float | None
    clusters: list[ClusterDrift] = field(default_factory=list)
    recluster: bool = False
    recluster_reasons: list[str] = field(default_factory=list)
    retrain: dict[int, str] = field(default_factory=dict)
    replay: dict[str, Any] | None = None  # router replay on a sample of the new calls (overall numbers)

    @property
    def ood_excess(self) -> float | None:
        if self.ood_share is None:
            return None
        return self.ood_share - (self.baseline_ood_share or 0.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "new_calls": self.new_calls,
            "ood_share": self.ood_share,
            "baseline_ood_share": self.baseline_ood_share,
            "ood_excess": self.ood_excess,
            "mix_shift": self.mix_shift,
            "clusters": [c.to_dict() for c in self.clusters],
            "recluster": self.recluster,
            "recluster_reasons": self.recluster_reasons,
            "retrain": {str(k): v for k, v in sorted(self.retrain.items())},
            "replay": self.replay,
        }


def measure(
    old_assignment: dict[int, int],
    new_assignment: list[int],
    baseline_ood_share: float | None,
    replay_before: dict[int, dict[str, float | None]] | None = None,
    replay_after: dict[int, dict[str, Any]] | None = None,
) -> DriftReport:
    """Drift of new calls against the old cluster sizes (`old_assignment`: cluster id -> calls).

    `replay_before`/`replay_after` map cluster ids to {"escalation_rate", "agreement", "n"}.
    """
    replay_before, replay_after = replay_before or {}, replay_after or {}
    new_counts = Counter(int(c) for c in new_assignment)
    old_total = sum(old_assignment.values())
    old_mix = {k: v / old_total for k, v in old_assignment.items()} if old_total else {}
    new_mix = shares(new_assignment)
    clusters = []
    for cid in sorted(c for c in set(old_assignment) | set(new_counts) if c != NOISE):
        old, new = old_assignment.get(cid, 0), new_counts.get(cid, 0)
        before, after = replay_before.get(cid, {}), replay_after.get(cid, {})
        clusters.append(ClusterDrift(
            cluster_id=cid, old_calls=old, new_calls=new, growth=(new / old) if old else None,
            escalation_before=before.get("escalation_rate"), escalation_after=after.get("escalation_rate"),
            agreement_before=before.get("agreement"), agreement_after=after.get("agreement"),
            replayed=int(after.get("n") or 0),
        ))
    total_new = len(new_assignment)
    return DriftReport(
        new_calls=total_new,
        ood_share=(new_counts.get(NOISE, 0) / total_new) if total_new else None,
        baseline_ood_share=baseline_ood_share,
        mix_shift=total_variation(old_mix, new_mix) if total_new and old_mix else None,
        clusters=clusters,
    )


def decide(report: DriftReport, threshold: float, growth: float, quality_drop: float) -> DriftReport:
    """Fill in whether to re-cluster and which clusters to retrain (and why)."""
    reasons = []
    if report.ood_excess is not None and report.ood_excess > threshold:
        reasons.append(
            f"{report.ood_share:.1%} of new calls fall outside every cluster "
            f"(baseline {report.baseline_ood_share or 0.0:.1%}, threshold +{threshold:.0%})"
        )
    if report.mix_shift is not None and report.mix_shift > threshold:
        reasons.append(f"cluster mix moved by {report.mix_shift:.1%} (total variation > {threshold:.0%})")
    report.recluster = bool(reasons)
    report.recluster_reasons = reasons
    report.retrain = {}
    for c in report.clusters:
        if c.growth is not None and c.new_calls and c.growth >= growth:
            report.retrain[c.cluster_id] = f"data grew by {c.growth:.0%} ({c.new_calls} new calls)"
        drop = c.agreement_drop
        if drop is not None and drop > quality_drop:
            why = f"agreement fell {c.agreement_before:.1%} -> {c.agreement_after:.1%} on {c.replayed} new calls"
            report.retrain[c.cluster_id] = "; ".join(filter(None, [report.retrain.get(c.cluster_id), why]))
    return report
