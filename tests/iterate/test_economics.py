"""Economics: shares moved, cost after routing, and the cost-quality curve."""

from __future__ import annotations

import pytest

from slmconvert.iterate.economics import (
    Prices,
    ServingPlan,
    cost_quality_curve,
    project,
    traffic_by_bucket,
)


def _records():
    rows = []
    for i in range(10):  # cluster 0: cheap and narrow
        rows.append({"call_id": f"a{i}", "status": "kept", "usage": {"prompt_tokens": 100, "completion_tokens": 10},
                     "cost_usd": 0.001, "latency_ms": 800.0})
    for i in range(10):  # cluster 1: expensive
        rows.append({"call_id": f"b{i}", "status": "kept", "usage": {"prompt_tokens": 1000, "completion_tokens": 500},
                     "cost_usd": 0.01, "latency_ms": 3000.0})
    rows.append({"call_id": "n0", "status": "kept", "usage": {}, "cost_usd": None})  # noise, unpriced
    rows.append({"call_id": "f0", "status": "filtered", "usage": {"prompt_tokens": 5, "completion_tokens": 5},
                 "cost_usd": 0.002})
    return rows


def _traffic():
    cluster_of = {f"a{i}": 0 for i in range(10)} | {f"b{i}": 1 for i in range(10)}
    return traffic_by_bucket(_records(), cluster_of)


def test_traffic_buckets():
    t = _traffic()
    assert set(t) == {0, 1, -1, "filtered"}
    assert t[0].calls == 10 and t[0].cost_usd == pytest.approx(0.01) and t[0].median_latency_ms == 800.0
    assert t[-1].cost_known == 0 and t["filtered"].calls == 1


def test_projection_with_escalation():
    prices = Prices(slm_input_per_1m=1.0, slm_output_per_1m=2.0)
    plans = {1: ServingPlan(1, True, escalation_rate=0.2, served_quality=0.95)}
    p = project(_traffic(), plans, prices)
    total_cost = 0.01 + 0.1 + 0.002
    assert p["llm_cost_usd"] == pytest.approx(total_cost)
    assert p["share_calls_moved"] == pytest.approx(8 / 22)
    assert p["share_cost_moved"] == pytest.approx(0.08 / total_cost)
    slm = (10 * 1000 * 1.0 + 10 * 500 * 2.0) / 1e6  # every call tried on the SLM first
    assert p["slm_cost_usd"] == pytest.approx(slm)
    assert p["cost_after_usd"] == pytest.approx(total_cost - 0.08 + slm)
    assert p["cost_cut"] == pytest.approx(1 - (total_cost - 0.08 + slm) / total_cost)
    assert p["quality_vs_llm"] == pytest.approx((12 + 10 * 0.95) / 22)


def test_measured_slm_tokens_override_logged_counts():
    prices = Prices(1.0, 1.0)
    plan = ServingPlan(0, True, slm_prompt_tokens_per_call=50, slm_completion_tokens_per_call=5)
    p = project(_traffic(), {0: plan}, prices)
    assert p["slm_cost_usd"] == pytest.approx(10 * 55 / 1e6)


def test_nothing_promoted_cuts_nothing():
    p = project(_traffic(), {0: ServingPlan(0, False)}, Prices(1, 1))
    assert p["cost_cut"] == 0 and p["share_calls_moved"] == 0 and p["quality_vs_llm"] == 1.0


def test_cost_quality_curve_is_monotone_in_target():
    def plans_at(target):  # cluster 0 passes every target, cluster 1 only up to 0.6
        return {0: ServingPlan(0, True, 0.0, 1.0), 1: ServingPlan(1, target <= 0.6, 0.1, 0.8)}

    curve = cost_quality_curve(plans_at, _traffic(), Prices(0.0, 0.0), [0.5, 0.7, 0.99])
    assert [c["promoted"] for c in curve] == [[0, 1], [0], [0]]
    cuts = [c["cost_cut"] for c in curve]
    assert cuts[0] > cuts[1] == cuts[2] > 0
    quality = [c["quality_vs_llm"] for c in curve]
    assert quality[0] < quality[1] == quality[2] == 1.0


def test_only_the_kept_share_of_a_promoted_cluster_counts_as_moved():
    traffic = _traffic()
    # the SLM keeps 70% of cluster 0's calls, but those carry only 40% of its logged cost
    p = project(traffic, {0: ServingPlan(0, True, 0.3, 0.99, kept_cost_share=0.4)}, Prices(0.0, 0.0))
    t = traffic[0]
    total_calls = sum(x.calls for x in traffic.values())
    total_cost = sum(x.cost_usd for x in traffic.values())
    assert p["share_calls_moved"] == pytest.approx(0.7 * t.calls / total_calls)
    assert p["share_cost_moved"] == pytest.approx(0.4 * t.cost_usd / total_cost)
    assert p["escalated_llm_cost_usd"] == pytest.approx(0.6 * t.cost_usd)
