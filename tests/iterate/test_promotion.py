"""Promotion decisions from cascade results: a reason every time, numbers that match the cascade."""

from __future__ import annotations

import pytest

from slmconvert.iterate.promotion import decide, decide_all
from tests.iterate.test_cascade import _cascade, confident_70, uninformative


def _entry(cid: int, cascade=None, **extra):
    return {"cluster_id": cid, "candidate": True, "agreement_metric": "strict_agreement",
            "specialist": {"n": 1} if cascade else None,
            "cascade": cascade.decide(0.90) if cascade else None, **extra}


def test_promoted_at_a_threshold_says_where_and_how_much():
    d = decide(_entry(1, _cascade(confident_70(40), confident_70(100, 1000))), 0.90)
    assert d.promoted and d.coverage == pytest.approx(0.7) and d.n == 70 and d.low >= 0.90
    assert d.signal == "tool_span_mean_logprob" and d.threshold is not None
    assert d.reason.startswith("promoted at tool_span_mean_logprob >= ")
    assert "keeps 70/100 test calls (70%)" in d.reason and ">= target 0.90" in d.reason


def test_small_perfect_sample_is_not_promoted():
    # 20/20 agreeing test calls: Wilson lower bound ~0.84 < 0.90 (35 are needed); validation alone cannot help
    good = confident_70(1)[:1] * 40
    d = decide(_entry(2, _cascade(good[:20], good[:20])), 0.90)
    assert not d.promoted
    assert "no confidence threshold" in d.reason and ">= 35 kept needed" in d.reason


def test_uninformative_confidence_stays_on_the_llm_with_its_reason():
    d = decide(_entry(3, _cascade(uninformative(40), uninformative(100, 1000))), 0.90)
    assert not d.promoted and d.reason.startswith("stays on the LLM: no confidence threshold")


def test_failed_test_check_gives_the_bound():
    from tests.iterate.test_cascade import _call

    test = [_call(2000 + i, (i % 10) < 3, -0.1 if (i % 10) < 7 else -2.0) for i in range(100)]
    d = decide(_entry(4, _cascade(confident_70(40), test)), 0.90)
    assert not d.promoted and "kept test calls have strict_agreement 0.429" in d.reason and "< target 0.90" in d.reason


def test_non_candidate_missing_adapter_and_skipped_stay_on_llm():
    d = decide({"cluster_id": 5, "candidate": False, "candidate_reason": "open-ended free text"}, 0.5)
    assert not d.promoted and "open-ended free text" in d.reason
    d = decide(_entry(6), 0.5)
    assert not d.promoted and "no fine-tuned adapter" in d.reason
    d = decide(_entry(7, skipped="not fine-tuned: budget spent"), 0.5)
    assert d.reason == "stays on the LLM: not fine-tuned: budget spent"
    assert [x.cluster_id for x in decide_all([_entry(7), _entry(6)], 0.9)] == [7, 6]
