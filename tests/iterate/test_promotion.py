"""Promotion on hand-made metric sets: the Wilson lower bound decides, with a reason every time."""

from __future__ import annotations

import pytest

from slmconvert.evaluation.stats import summarize_rate
from slmconvert.iterate.promotion import decide, decide_all, promoted_ids


def _cluster(cid: int, successes: int, n: int, *, candidate: bool = True, metric: str = "function_name_and_args_accuracy"):
    summary = summarize_rate([1.0] * successes + [0.0] * (n - successes)).to_dict()
    return {"cluster_id": cid, "candidate": candidate, "primary_metric": metric,
            "specialist": {"metrics": {metric: summary}}}


def test_perfect_but_small_sample_is_not_promoted():
    # 20/20 correct: point value 1.0 but the Wilson lower bound is ~0.84 < 0.90
    d = decide(_cluster(1, 20, 20), 0.90)
    assert not d.promoted
    assert d.value == 1.0 and d.low == pytest.approx(0.8389, abs=1e-3)
    assert "lower bound 0.839 < target 0.90" in d.reason and "n=20" in d.reason


def test_enough_evidence_is_promoted():
    d = decide(_cluster(2, 48, 48), 0.90)
    assert d.promoted and d.low >= 0.90
    assert d.reason.startswith("promoted:")


def test_one_error_in_48_fails_at_090_passes_at_085():
    c = _cluster(3, 47, 48)
    assert not decide(c, 0.90).promoted
    assert decide(c, 0.85).promoted


def test_non_candidate_and_missing_adapter_stay_on_llm():
    c = _cluster(4, 100, 100, candidate=False)
    c["candidate_reason"] = "open-ended free text"
    d = decide(c, 0.5)
    assert not d.promoted and "open-ended free text" in d.reason
    no_adapter = {"cluster_id": 5, "candidate": True, "primary_metric": "rouge_l", "specialist": None}
    d = decide(no_adapter, 0.5)
    assert not d.promoted and "no fine-tuned adapter" in d.reason


def test_metric_override_and_missing_metric():
    c = _cluster(6, 60, 60, metric="parse_rate")
    c["primary_metric"] = "function_name_and_args_accuracy"
    assert not decide(c, 0.9).promoted  # primary metric not measured
    assert "was not measured" in decide(c, 0.9).reason
    assert decide(c, 0.9, metric="parse_rate").promoted


def test_promoted_ids_shrink_as_target_rises():
    clusters = [_cluster(1, 200, 200), _cluster(2, 47, 50), _cluster(3, 30, 50)]
    assert promoted_ids(clusters, 0.4) == {1, 2, 3}
    assert promoted_ids(clusters, 0.8) == {1, 2}
    assert promoted_ids(clusters, 0.97) == {1}
    assert [d.cluster_id for d in decide_all(clusters, 0.9)] == [1, 2, 3]


def test_mean_scores_use_a_wilson_bound_too():
    # five perfect ROUGE-L scores: the bootstrap interval is [1, 1], but five calls prove little
    summary = {"value": 1.0, "low": 1.0, "high": 1.0, "n": 5, "kind": "mean"}
    cluster = {"cluster_id": 9, "candidate": True, "primary_metric": "rouge_l",
               "specialist": {"metrics": {"rouge_l": summary}}}
    d = decide(cluster, 0.9)
    assert not d.promoted and d.low == pytest.approx(0.566, abs=1e-3)
    many = dict(summary, n=60)
    cluster["specialist"]["metrics"]["rouge_l"] = many
    assert decide(cluster, 0.9).promoted
    # a wide bootstrap interval is not overruled by a tighter Wilson bound
    cluster["specialist"]["metrics"]["rouge_l"] = {"value": 0.95, "low": 0.7, "high": 0.99, "n": 400, "kind": "mean"}
    assert decide(cluster, 0.9).low == 0.7
