"""How much held-out evidence a promotion decision needs: the Wilson lower bound (95%) of the
agreement on the kept test calls must reach the target. Candidate thresholds are tested in a fixed
order (`iterate.cascade`), each at the full level, so their number costs no evidence. A budget
planner sizes the test sample with
`required_test_calls` before any training time is spent: for a specialist that agrees on most but
not all calls (PLANNED_AGREEMENT in iterate.plan), since a sample sized for a perfect one fails on
its first miss.
"""

from __future__ import annotations

import math

from slmconvert.evaluation.stats import wilson_interval, z_value

LEVEL = 0.95


def lower_bound(successes: float, n: int) -> float | None:
    """Wilson lower bound of `successes` out of `n` (None when n = 0)."""
    if n <= 0:
        return None
    return wilson_interval(min(float(successes), n), n, z_value(LEVEL))[0]


def min_kept_calls(target: float, agreement: float = 1.0) -> int | None:
    """Fewest kept calls that can show `target` when `agreement` of them agree with the LLM; None when
    no sample can (target >= 1, or agreement <= target).

    A perfect run (agreement 1) of n calls has Wilson lower bound n / (n + z^2), so n >= z^2 target /
    (1 - target): 35 calls for target 0.90. A specialist that agrees on 97% needs about twice as
    many (71): each miss costs evidence.
    """
    if target <= 0:
        return 1
    if target >= 1 or agreement <= target:
        return None
    z = z_value(LEVEL)
    n = max(1, math.ceil(z * z * target / (1 - target)) - 1)
    while (lower_bound(agreement * n, n) or 0.0) < target:
        n += 1
    return n


def required_test_calls(target: float, expected_coverage: float = 1.0, agreement: float = 1.0) -> int | None:
    """Test calls a cluster needs so that, at `expected_coverage` (share of calls the SLM keeps), a
    specialist agreeing on `agreement` of the kept calls can be promoted; None when no sample can
    (target >= 1, agreement <= target or coverage <= 0)."""
    kept = min_kept_calls(target, agreement)
    if kept is None or expected_coverage <= 0:
        return None
    return math.ceil(kept / min(1.0, expected_coverage) - 1e-9)


def planned_test_calls(target: float, coverage: float, agreement: float) -> int | None:
    """The test sample a budget plans for: sized for a specialist agreeing on `agreement` of its kept
    calls, or for a perfect one when that cannot show the target (agreement <= target)."""
    return required_test_calls(target, coverage, agreement) or required_test_calls(target, coverage)


def pass_chance(agreeing: float, kept: int, test_kept: int, target: float) -> float:
    """Chance that `test_kept` kept test calls show `target`, judged from `kept` validation calls of
    which `agreeing` agree: each test call agrees with probability (agreeing + 1/2) / (kept + 1) (a
    perfect validation run is not taken for a perfect specialist)."""
    if test_kept <= 0 or kept <= 0:
        return 0.0
    return _shows_target((min(float(agreeing), kept) + 0.5) / (kept + 1), test_kept, target)


def planned_pass_chance(test_calls: int, target: float, coverage: float, agreement: float) -> float:
    """Chance that a specialist of the planned quality (keeps `coverage` of the calls, each kept call
    agreeing with probability `agreement`) shows `target` on a sample of `test_calls`: small test
    splits leave it little room for a miss (37 calls at 0.75 and 0.97: none; 95 calls: 0.64)."""
    kept = int(test_calls * min(1.0, max(0.0, coverage)))
    return _shows_target(min(1.0, max(0.0, agreement)), kept, target) if kept > 0 else 0.0


def _shows_target(p: float, test_kept: int, target: float) -> float:
    """P(the Wilson lower bound of Binomial(test_kept, p) agreeing calls reaches `target`)."""
    needed = next((x for x in range(test_kept + 1) if (lower_bound(x, test_kept) or 0.0) >= target), None)
    if needed is None:
        return 0.0
    if p >= 1.0 or p <= 0.0:
        return float(p >= 1.0 or needed == 0)
    return sum(math.exp(_log_binomial(test_kept, x, p)) for x in range(needed, test_kept + 1))


def _log_binomial(n: int, x: int, p: float) -> float:
    return (math.lgamma(n + 1) - math.lgamma(x + 1) - math.lgamma(n - x + 1)
            + x * math.log(p) + (n - x) * math.log1p(-p))
