"""Confidence intervals."""

from __future__ import annotations

import pytest

from slmconvert.evaluation.stats import (
    bootstrap_interval,
    summarize_mean,
    summarize_rate,
    wilson_interval,
)


def test_wilson_matches_reference_values():
    # 8/10: textbook Wilson 95% interval (0.4902, 0.9433)
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)
    # all successes: upper bound 1, lower bound well below 1 for small n
    low, high = wilson_interval(16, 16)
    assert high == 1.0 and low == pytest.approx(0.8064, abs=1e-4)
    assert wilson_interval(0, 5)[0] == 0.0
    with pytest.raises(ValueError):
        wilson_interval(0, 0)


def test_interval_narrows_with_n():
    assert (lambda a, b: a[1] - a[0] > b[1] - b[0])(wilson_interval(5, 10), wilson_interval(500, 1000))


def test_bootstrap_is_seeded_and_brackets_the_mean():
    values = [0.1, 0.9, 0.5, 0.7, 0.3, 0.8, 0.2, 0.6]
    a, b = bootstrap_interval(values, seed=3), bootstrap_interval(values, seed=3)
    assert a == b
    mean = sum(values) / len(values)
    assert a[0] < mean < a[1]
    assert bootstrap_interval([0.4]) == (0.4, 0.4)


def test_summaries_skip_not_applicable_values():
    rate = summarize_rate([1, 0, None, 1, True])
    assert rate.n == 4 and rate.value == 0.75 and rate.kind == "rate"
    assert summarize_rate([None, None]).value is None and summarize_rate([]).n == 0
    mean = summarize_mean([0.5, None, 1.0])
    assert mean.n == 2 and mean.value == 0.75 and mean.low <= 0.75 <= mean.high
