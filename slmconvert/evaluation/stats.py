"""Confidence intervals: Wilson score intervals for rates, seeded bootstrap for mean scores."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

Z_95 = 1.959963984540054
BOOTSTRAP_RESAMPLES = 2000


@dataclass(frozen=True)
class MetricSummary:
    """One aggregated metric: point value and 95% interval over n examples (None when n = 0).

    kind "rate": a share of 0/1 outcomes, Wilson interval; kind "mean": mean of [0, 1] scores,
    percentile bootstrap interval (seeded, so reports are reproducible).
    """

    value: float | None
    low: float | None
    high: float | None
    n: int
    kind: Literal["rate", "mean"]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MetricSummary:
        return cls(**data)


def wilson_interval(successes: float, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion; well-behaved at 0, 1 and small n."""
    if n <= 0:
        raise ValueError("wilson_interval needs n >= 1")
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def bootstrap_interval(
    values: Sequence[float], *, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean (seeded; resampled in chunks to bound memory)."""
    import numpy as np

    data = np.asarray(values, dtype=np.float64)
    if data.size == 0:
        raise ValueError("bootstrap_interval needs at least one value")
    if data.size == 1 or np.all(data == data[0]):
        return float(data[0]), float(data[0])
    rng = np.random.default_rng(seed)
    chunk = max(1, min(resamples, 4_000_000 // data.size))
    means = []
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        means.append(data[rng.integers(0, data.size, (size, data.size))].mean(axis=1))
    alpha = (1 - level) / 2
    low, high = np.quantile(np.concatenate(means), [alpha, 1 - alpha])
    return float(low), float(high)


def summarize_rate(outcomes: Sequence[float | bool | None]) -> MetricSummary:
    """Rate of 1s among the non-None outcomes, with a Wilson interval."""
    kept = [float(v) for v in outcomes if v is not None]
    if not kept:
        return MetricSummary(None, None, None, 0, "rate")
    low, high = wilson_interval(sum(kept), len(kept))
    return MetricSummary(sum(kept) / len(kept), low, high, len(kept), "rate")


def summarize_mean(scores: Sequence[float | None], seed: int = 0) -> MetricSummary:
    """Mean of the non-None scores, with a bootstrap interval."""
    kept = [float(v) for v in scores if v is not None]
    if not kept:
        return MetricSummary(None, None, None, 0, "mean")
    low, high = bootstrap_interval(kept, seed=seed)
    return MetricSummary(sum(kept) / len(kept), low, high, len(kept), "mean")


def z_value(level: float = 0.95) -> float:
    """Two-sided normal quantile of a `level` interval."""
    from statistics import NormalDist

    return NormalDist().inv_cdf(1.0 - (1.0 - level) / 2)


def auroc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """Area under the ROC curve of `scores` separating True from False labels (ties count half);
    None when one class is missing."""
    positives = [s for s, y in zip(scores, labels, strict=True) if y]
    negatives = [s for s, y in zip(scores, labels, strict=True) if not y]
    if not positives or not negatives:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))
