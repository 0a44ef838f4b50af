"""Benchmark: how many calls the promotion rule moves, and how often it promotes a threshold whose kept
calls truly fall short of the target, on simulated specialists whose confidence is informative.

Each trial draws a validation and a test sample of one specialist: a call's confidence score s is
standard normal and it agrees with the LLM with probability sigmoid(a + b s) (a: how good the
specialist is, b: how much its confidence says). The shipped rule (`iterate.cascade`: levels, rungs
at 70/80/90% coverage, a sequence from the first candidate with even odds to pass) runs against the
rule before it (levels and a 90% rung, strictest first) on the same samples. Reports per specialist
the mean coverage promoted (share of calls moved) and the share of trials that promoted a threshold
whose true kept agreement is below the target (must stay under 5%).

    python benchmarks/cascade_rules.py                      # 500 trials per specialist, 64 validation, 95 test
    python benchmarks/cascade_rules.py --trials 2000 --validation 34 --test 82
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from slmconvert.iterate.cascade import ClusterCascade, ScoredCall  # noqa: E402

SPECIALISTS = [(0.5, 2), (1.5, 1), (1.5, 3), (2.5, 1), (2.5, 3), (3.5, 2), (4.5, 2), (6.0, 1)]  # (a, b)
RULES = {"shipped": {}, "before": {"rungs": (0.9,), "start_chance": math.inf}}
SIGNAL = "confidence"


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def _calls(rng: random.Random, n: int, a: float, b: float) -> list[ScoredCall]:
    out = []
    for i in range(n):
        s = rng.gauss(0, 1)
        out.append(ScoredCall(str(i), float(rng.random() < _sigmoid(a + b * s)), None, {SIGNAL: s}))
    return out


def true_agreement(a: float, b: float, threshold: float | None) -> float:
    """Agreement of the calls with score >= threshold, integrated over the score's normal density."""
    num = den = 0.0
    for k in range(-6000, 6001):
        s = k / 1000
        if threshold is not None and s < threshold:
            continue
        w = math.exp(-s * s / 2)
        num, den = num + w * _sigmoid(a + b * s), den + w
    return num / den if den else 1.0


def run(trials: int, validation: int, test: int, target: float, seed: int) -> list[dict]:
    rows = []
    for a, b in SPECIALISTS:
        rng = random.Random(f"{seed}:{a}:{b}")
        totals = {name: {"coverage": 0.0, "promoted": 0, "short": 0} for name in RULES}
        for _ in range(trials):
            val, tst = _calls(rng, validation, a, b), _calls(rng, test, a, b)
            for name, options in RULES.items():
                decision = ClusterCascade(val, tst, test, SIGNAL, {}, (0.95, 1.0), **options).decide(target)
                if decision["promoted"]:
                    totals[name]["promoted"] += 1
                    totals[name]["coverage"] += decision["coverage"]
                    totals[name]["short"] += true_agreement(a, b, decision["threshold"]) < target
        rows.append({"a": a, "b": b, "agreement": round(true_agreement(a, b, None), 3),
                     **{f"{name}_{k}": round(v / trials, 3) for name, t in totals.items() for k, v in t.items()}})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=500)
    parser.add_argument("--validation", type=int, default=64)
    parser.add_argument("--test", type=int, default=95)
    parser.add_argument("--target", type=float, default=0.90)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    rows = run(args.trials, args.validation, args.test, args.target, args.seed)
    print(f"{'a':>4} {'b':>4} {'agree':>6} | {'moved: shipped':>15} {'before':>7} | {'short: shipped':>15} {'before':>7}")
    for r in rows:
        print(f"{r['a']:>4} {r['b']:>4} {r['agreement']:>6} | {r['shipped_coverage']:>15} {r['before_coverage']:>7} | "
              f"{r['shipped_short']:>15} {r['before_short']:>7}")
    gain = sum(r["shipped_coverage"] for r in rows) / max(1e-9, sum(r["before_coverage"] for r in rows))
    print(json.dumps({"trials": args.trials, "validation": args.validation, "test": args.test,
                      "moved_ratio_shipped_vs_before": round(gain, 3),
                      "worst_short_rate": max(max(r["shipped_short"], r["before_short"]) for r in rows)}))


if __name__ == "__main__":
    main()
