"""Per-call promotion (a cascade): a cluster's SLM keeps the calls it is confident about and the rest
escalate to the LLM.

For each trained cluster, on its validation calls only:
1. the confidence signal is chosen: the one with the highest AUROC against strict agreement
   (ties: the order of `confidence.SIGNALS`);
2. candidate thresholds are chosen: for each validation agreement level (IterateParams.threshold_levels,
   e.g. 0.95 and 1.0), the lowest threshold whose kept validation calls agree at least that often; and a
   ladder of rungs between them, the thresholds that keep COVERAGE_RUNGS (70%, 80%, 90%) of the
   validation calls where those agree at least at the lowest level (a 64-call validation sample often
   puts its two levels far apart: 50% and 83% of the calls); a candidate that could not keep enough test calls to show the target even with perfect
   answers is dropped (the test sample size is known in advance, its outcomes are not);
3. the sequence is set: candidates strictest (highest threshold, fewest calls kept) first, starting at
   the first whose chance to pass, judged on validation (`evidence.pass_chance`), is at least
   START_CHANCE (else at the strictest): a strict candidate that keeps too few calls to survive one
   miss would end the sequence before the sound ones are tested.
Then, on the held-out test calls, the candidates are tested in that order: each must have a Wilson
lower bound (95%) of the agreement of the calls it keeps at or above the promotion target, and a
looser one is tested only when every stricter one in the sequence passed (a fixed-sequence test: the
order is set on validation before test is seen, so each test runs at the full level and the chance of
promoting a specialist whose kept calls fall short of the target stays within 5%, with no correction
for the number of candidates). The loosest candidate that passed is the cluster's threshold; its
coverage is the share of test calls kept. Rule violations (parse error, unknown tool, schema error) are
never kept. The threshold is never chosen on test: test only confirms or rejects validation's choices,
in validation's order.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from slmconvert.evaluation.stats import auroc, wilson_interval, z_value
from slmconvert.iterate.evidence import LEVEL, lower_bound, min_kept_calls, pass_chance
from slmconvert.models.prompt import PromptFormat, parse_completion
from slmconvert.router import escalation
from slmconvert.router.confidence import SIGNALS, keeps, lowest_threshold, signals
from slmconvert.router.config import EscalationRules
from slmconvert.router.generator import Generation

CURVE_POINTS = 20
COVERAGE_RUNGS = (0.7, 0.8, 0.9)  # shares of the validation calls the ladder's rungs keep
START_CHANCE = 0.5  # the sequence starts at the strictest candidate at least this likely to pass


@dataclass(frozen=True)
class ScoredCall:
    """One specialist answer as the cascade sees it: agreement, rule violation, confidence signals."""

    call_id: str
    agreement: float  # strict agreement with the LLM (0/1; a [0, 1] score for a mean metric)
    violation: str | None  # escalation reason of a failed rule check
    signals: dict[str, float | None] = field(default_factory=dict)
    cost_usd: float = 0.0

    def kept(self, signal: str, threshold: float | None) -> bool:
        """The router's rule: rules first, then `confidence.keeps`."""
        return self.violation is None and keeps(self.signals.get(signal), threshold)


def score_calls(records: Sequence[dict[str, Any]], rows: Sequence[dict[str, Any]],
                generations: Sequence[Generation], fmt: PromptFormat, rules: EscalationRules,
                metric: str) -> list[ScoredCall]:
    """ScoredCalls of generated answers (records, score rows and generations in the same order)."""
    out = []
    for record, row, g in zip(records, rows, generations, strict=False):
        parsed = parse_completion(g.text, fmt)
        violation = escalation.rule_violation(parsed, record, rules)
        out.append(ScoredCall(
            call_id=str(record.get("call_id")), agreement=float(row.get(metric) or 0.0),
            violation=violation[0] if violation else None,
            signals=signals(g.text, g.logprobs, g.ends, bool(parsed.tool_calls)),
            cost_usd=float(record.get("cost_usd") or 0.0),
        ))
    return out


def choose_signal(validation: Sequence[ScoredCall], measure: str) -> tuple[str, dict[str, float | None]]:
    """(signal, AUROC of each compared signal) on the validation calls that pass the rule checks.

    measure "auto" compares every signal; a named measure is used as it is; "none" turns confidence off.
    """
    if measure == "none":
        return "none", {}
    names = SIGNALS if measure == "auto" else (measure,)
    usable = [c for c in validation if c.violation is None]
    labels = [c.agreement >= 0.5 for c in usable]
    scores = {s: auroc([_score(c, s) for c in usable], labels) for s in names}
    ranked = sorted(names, key=lambda s: (-(scores[s] if scores[s] is not None else -1.0), names.index(s)))
    return ranked[0], scores


def _score(call: ScoredCall, signal: str) -> float:
    value = call.signals.get(signal)
    return value if value is not None else -math.inf  # unknown confidence ranks lowest (it escalates)


@dataclass(frozen=True)
class Candidate:
    """A threshold chosen on validation, with what it kept there (level: the agreement level it was
    chosen for; a rung's is the agreement its kept validation calls reach)."""

    threshold: float | None
    level: float
    validation_coverage: float
    validation_agreement: float | None
    validation_kept: int = 0

    def pass_chance(self, test_calls: int, target: float) -> float:
        """Chance, judged on validation, that it passes on `test_calls` test calls (`evidence.pass_chance`;
        0 for a candidate with no validation calls kept)."""
        return pass_chance((self.validation_agreement or 0.0) * self.validation_kept, self.validation_kept,
                           round(self.validation_coverage * test_calls), target)


def candidates(validation: Sequence[ScoredCall], signal: str, levels: Sequence[float], target: float,
               test_calls: int, rungs: Sequence[float] = COVERAGE_RUNGS,
               start_chance: float = START_CHANCE) -> list[Candidate]:
    """Candidate thresholds in the order test checks them (see the module docstring)."""
    if not validation:  # nothing to choose a threshold on: the cluster can only be kept whole
        return [Candidate(None, 1.0, 1.0, None)] if (min_kept_calls(target) or math.inf) <= test_calls else []
    usable = [c for c in validation if c.violation is None]
    scores = [c.signals.get(signal) if signal != "none" else None for c in usable]
    found: dict[float | None, Candidate] = {}
    for level in sorted(set(levels)):
        best = lowest_threshold(scores, [c.agreement for c in usable], level)
        if best is None or (signal == "none" and best["threshold"] is not None) or best["threshold"] in found:
            continue
        found[best["threshold"]] = Candidate(best["threshold"], level, best["kept"] / len(validation),
                                             best["kept_agreement"], best["kept"])
    if signal != "none":
        for rung in _rungs(usable, scores, len(validation), rungs):
            if rung.level >= min(levels):  # its kept validation calls agree as often as a level asks
                found.setdefault(rung.threshold, rung)
    need = min_kept_calls(target)
    if need is None:
        return []
    ladder = sorted((c for c in found.values() if c.validation_coverage * test_calls >= need),
                    key=lambda c: -math.inf if c.threshold is None else c.threshold, reverse=True)
    start = next((i for i, c in enumerate(ladder) if c.pass_chance(test_calls, target) >= start_chance), 0)
    return ladder[start:]


def _rungs(usable: Sequence[ScoredCall], scores: Sequence[float | None], total: int,
           shares: Sequence[float]) -> list[Candidate]:
    """The thresholds keeping `shares` (COVERAGE_RUNGS) of the validation calls, most confident first (ties kept
    together; a rung that keeps every call is the same as no threshold and left out).

    They also cover a validation sample that agrees everywhere, where every level says "keep all": a
    few dozen agreeing calls do not show that the rare miss is absent (the sample logs' intent
    classifier: 47/47 on validation, then 95/100 on test, its misses among its least confident
    answers), and the rungs escalate the least confident calls if keeping all of them fails."""
    known = sorted((s for s in scores if s is not None), reverse=True)
    rungs = []
    for share in shares:
        if not known:
            break
        cut = known[max(0, math.ceil(share * len(known)) - 1)]
        if cut == known[-1]:  # every call with a score would be kept anyway
            continue
        kept = [c for c, s in zip(usable, scores, strict=True) if s is not None and s >= cut]
        agreement = sum(c.agreement for c in kept) / len(kept)
        rungs.append(Candidate(cut, agreement, len(kept) / max(1, total), agreement, len(kept)))
    return rungs


def _kept(test: Sequence[ScoredCall], signal: str, threshold: float | None) -> list[ScoredCall]:
    return [c for c in test if c.kept(signal, threshold)]


def agreement_summary(kept: Sequence[ScoredCall]) -> dict[str, Any]:
    """Agreement of kept calls: value, 95% Wilson interval, n."""
    n = len(kept)
    if not n:
        return {"value": None, "low": None, "high": None, "n": 0, "kind": "rate", "z": None}
    total = sum(c.agreement for c in kept)
    z = z_value(LEVEL)
    low, high = wilson_interval(total, n, z)
    return {"value": total / n, "low": low, "high": high, "n": n, "kind": "rate", "z": round(z, 4)}


def serving(test: Sequence[ScoredCall], signal: str, threshold: float | None) -> dict[str, Any]:
    """Coverage, cost share, agreement and escalations of the test calls at one threshold."""
    kept = _kept(test, signal, threshold)
    n = len(test)
    cost = sum(c.cost_usd for c in test)
    reasons = Counter(c.violation or escalation.LOW_CONFIDENCE for c in test if not c.kept(signal, threshold))
    escalated = n - len(kept)
    low, high = wilson_interval(escalated, n) if n else (None, None)
    return {
        "threshold": threshold,
        "coverage": len(kept) / n if n else None,
        "cost_share": (sum(c.cost_usd for c in kept) / cost) if cost > 0 else (len(kept) / n if n else None),
        "agreement": agreement_summary(kept),
        "escalation_rate": {"value": escalated / n if n else None, "low": low, "high": high, "n": n, "kind": "rate"},
        "escalations": dict(sorted(reasons.items())),
    }


def can_still_pass(partial: Sequence[ScoredCall], total: int, signal: str, chosen: Sequence[Candidate],
                   target: float) -> bool:
    """Whether the first candidate of the sequence (the strictest) could still pass if every remaining
    test call were kept and agreed: when it cannot, no candidate can be promoted."""
    if not chosen:
        return False
    rest = max(0, total - len(partial))
    kept = _kept(partial, signal, chosen[0].threshold)
    bound = lower_bound(sum(k.agreement for k in kept) + rest, len(kept) + rest)
    return bound is not None and bound >= target


def curve(test: Sequence[ScoredCall], signal: str, points: int = CURVE_POINTS) -> list[dict[str, Any]]:
    """Coverage / cost share against agreement of the kept test calls over thresholds (for the report;
    never used to choose one)."""
    scores = sorted({s for c in test if c.violation is None and (s := c.signals.get(signal)) is not None})
    if len(scores) > points:
        scores = sorted({scores[round(i * (len(scores) - 1) / (points - 1))] for i in range(points)})
    out = [serving(test, signal, None)] + [serving(test, signal, t) for t in scores]
    return [{"threshold": p["threshold"], "coverage": p["coverage"], "cost_share": p["cost_share"],
             "agreement": p["agreement"]["value"], "agreement_low": p["agreement"]["low"],
             "kept": p["agreement"]["n"]} for p in out]


@dataclass
class ClusterCascade:
    """One cluster's validation and test answers; `decide(target)` is a pure function of them."""

    validation: list[ScoredCall]
    test: list[ScoredCall]
    test_planned: int
    signal: str
    aurocs: dict[str, float | None]
    levels: tuple[float, ...]
    rungs: tuple[float, ...] = COVERAGE_RUNGS
    start_chance: float = START_CHANCE

    def candidates(self, target: float) -> list[Candidate]:
        return candidates(self.validation, self.signal, self.levels, target, self.test_planned, self.rungs,
                          self.start_chance)

    def decide(self, target: float) -> dict[str, Any]:
        """The promotion check at `target` (see the module docstring)."""
        chosen = self.candidates(target)
        checks: list[dict[str, Any]] = []
        picked, failed = None, False
        for c in chosen:  # strictest first; the sequence stops at its first failure
            numbers = serving(self.test, self.signal, c.threshold)
            low = numbers["agreement"]["low"]
            passed = not failed and len(self.test) > 0 and low is not None and low >= target
            checks.append({**asdict(c), "test": numbers, "tested": not failed, "passed": passed})
            failed = not passed
            picked = numbers if passed else picked
        shown = picked or (checks[0]["test"] if checks else serving(self.test, self.signal, None))
        return {
            "promoted": picked is not None,
            "target": target,
            "signal": self.signal,
            "auroc": self.aurocs,
            "signal_auroc": self.aurocs.get(self.signal),
            "threshold": picked["threshold"] if picked else None,
            "validation_calls": len(self.validation),
            "validation_agreement": agreement_summary(self.validation)["value"],
            "test_calls": len(self.test),
            "test_planned": self.test_planned,
            "min_kept_calls": min_kept_calls(target),
            "candidates": checks,
            **{k: shown[k] for k in ("coverage", "cost_share", "agreement", "escalation_rate", "escalations")},
        }

    def to_dict(self, target: float) -> dict[str, Any]:
        """The decision plus its curve (evaluation.json `cascade`)."""
        return {**self.decide(target), "curve": curve(self.test, self.signal)}
