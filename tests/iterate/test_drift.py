"""Drift maths and the re-cluster / retrain decisions."""

from __future__ import annotations

import pytest

from slmconvert.iterate.drift import decide, measure, shares, total_variation


def test_shares_and_total_variation():
    assert shares([0, 0, 1, -1]) == {-1: 0.25, 0: 0.5, 1: 0.25}
    assert total_variation({0: 1.0}, {1: 1.0}) == 1.0
    assert total_variation({0: 0.5, 1: 0.5}, {0: 0.5, 1: 0.5}) == 0.0


def test_stable_traffic_triggers_nothing():
    old = {0: 100, 1: 100, -1: 10}
    new = [0] * 10 + [1] * 10 + [-1]
    report = decide(measure(old, new, baseline_ood_share=0.05), threshold=0.15, growth=0.25, quality_drop=0.05)
    assert not report.recluster and report.retrain == {}
    assert report.ood_share == pytest.approx(1 / 21)
    assert report.mix_shift < 0.05


def test_new_task_outside_clusters_triggers_recluster():
    old = {0: 100, 1: 100}
    new = [0] * 10 + [-1] * 10
    report = decide(measure(old, new, baseline_ood_share=0.02), 0.15, 0.25, 0.05)
    assert report.recluster
    assert any("outside every cluster" in r for r in report.recluster_reasons)


def test_growth_and_quality_drop_trigger_retrain():
    old = {0: 100, 1: 100, 2: 100}
    new = [0] * 30 + [1] * 5 + [2] * 5
    before = {1: {"escalation_rate": 0.05, "agreement": 0.97}, 2: {"agreement": 0.95}}
    after = {1: {"escalation_rate": 0.3, "agreement": 0.80, "n": 5}, 2: {"agreement": 0.94, "n": 5}}
    report = decide(measure(old, new, 0.0, before, after), 0.9, 0.25, 0.05)
    assert set(report.retrain) == {0, 1}
    assert "grew by 30%" in report.retrain[0]
    assert "agreement fell 97.0% -> 80.0%" in report.retrain[1]
    drift1 = next(c for c in report.clusters if c.cluster_id == 1)
    assert drift1.agreement_drop == pytest.approx(0.17)
    assert report.to_dict()["retrain"] == {"0": report.retrain[0], "1": report.retrain[1]}
