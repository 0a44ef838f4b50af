"""The cascade promotion on synthetic answers with known confidence and correctness (no models)."""

from __future__ import annotations

import pytest

from slmconvert.iterate.cascade import (
    START_CHANCE,
    ClusterCascade,
    ScoredCall,
    can_still_pass,
    candidates,
    choose_signal,
)
from slmconvert.iterate.evidence import (
    lower_bound,
    min_kept_calls,
    pass_chance,
    planned_pass_chance,
    planned_test_calls,
    required_test_calls,
)

SIGNAL = "tool_span_mean_logprob"


def _call(i: int, agree: bool, score: float | None, violation: str | None = None, cost: float = 0.01,
          **other: float | None) -> ScoredCall:
    return ScoredCall(f"c{i}", float(agree), violation, {SIGNAL: score, **other}, cost)


def confident_70(n: int, offset: int = 0) -> list[ScoredCall]:
    """Right on its confident 70% (high log-prob), wrong on the rest (low log-prob)."""
    out = []
    for i in range(n):
        sure = (i % 10) < 7
        out.append(_call(offset + i, sure, -0.1 - 0.01 * (i % 5) if sure else -2.0 - 0.05 * (i % 7)))
    return out


def uninformative(n: int, offset: int = 0) -> list[ScoredCall]:
    """70% right, but the confidence does not depend on it."""
    return [_call(offset + i, (i % 10) < 7, -0.5 * (i % 3)) for i in range(n)]


def _cascade(validation, test, levels=(0.95, 1.0), measure="auto") -> ClusterCascade:
    signal, aurocs = choose_signal(validation, measure)
    return ClusterCascade(validation, test, len(test), signal, aurocs, tuple(levels))


def test_required_test_calls_for_the_default_target():
    assert min_kept_calls(0.90) == 35  # a perfect run needs 35 kept calls at Wilson 95%
    assert lower_bound(35, 35) >= 0.90 > lower_bound(34, 34)
    assert required_test_calls(0.90, expected_coverage=0.7) == 50
    assert required_test_calls(0.90) == 35  # candidates are tested in sequence: their number costs nothing
    assert required_test_calls(1.0) is None and required_test_calls(0.9, 0.0) is None


def test_a_sample_sized_for_an_imperfect_specialist_survives_its_misses():
    n = min_kept_calls(0.90, agreement=0.97)
    assert lower_bound(0.97 * n, n) >= 0.90 > lower_bound(0.97 * (n - 1), n - 1)
    assert n > 1.5 * min_kept_calls(0.90)  # every miss costs evidence
    perfect = required_test_calls(0.90, 0.75)
    assert lower_bound(round(0.75 * perfect) - 1, round(0.75 * perfect)) < 0.90  # it fails on its first miss
    sized = required_test_calls(0.90, 0.75, agreement=0.97)
    kept = round(0.75 * sized)
    assert lower_bound(kept - 2, kept) >= 0.90  # while this one passes two
    assert min_kept_calls(0.90, agreement=0.90) is None and required_test_calls(0.9, 1.0, 0.85) is None
    # a plan sizes for the imperfect specialist, or for a perfect one where that cannot show the target
    assert planned_test_calls(0.90, 0.75, 0.97) == sized
    assert planned_test_calls(0.90, 0.75, 0.85) == perfect


def test_a_specialist_right_on_its_confident_70_percent_is_promoted_at_about_70_percent_coverage():
    decision = _cascade(confident_70(40), confident_70(100, offset=1000)).decide(0.90)
    assert decision["promoted"]
    assert decision["coverage"] == pytest.approx(0.70)
    assert decision["agreement"]["value"] == 1.0 and decision["agreement"]["n"] == 70
    assert decision["agreement"]["low"] >= 0.90
    assert -2.0 < decision["threshold"] <= -0.14  # between the wrong and the right answers
    assert decision["signal_auroc"] == 1.0
    assert decision["escalations"] == {"low_confidence": 30}
    assert len(decision["candidates"]) == 1  # levels 0.95 and 1.0 pick the same threshold: no correction


def test_an_uninformative_confidence_is_not_promoted():
    decision = _cascade(uninformative(40), uninformative(100, offset=1000)).decide(0.90)
    assert not decision["promoted"] and decision["candidates"] == []
    assert decision["signal_auroc"] == pytest.approx(0.5, abs=0.1)


def test_the_threshold_is_chosen_on_validation_and_only_checked_on_test():
    # validation says confident answers are right; on test the confident ones are wrong too
    test = [_call(2000 + i, (i % 10) < 3, -0.1 if (i % 10) < 7 else -2.0) for i in range(100)]
    decision = _cascade(confident_70(40), test).decide(0.90)
    assert not decision["promoted"] and decision["threshold"] is None
    (only,) = decision["candidates"]  # no other threshold is looked for on test
    assert not only["passed"] and only["threshold"] > -2.0 and only["test"]["agreement"]["value"] == pytest.approx(3 / 7)


def _tiers(high: int, mid_right: int, mid_wrong: int, low: int, offset: int) -> list[ScoredCall]:
    calls = [_call(offset + i, True, -0.1) for i in range(high)]
    calls += [_call(offset + 100 + i, True, -0.5) for i in range(mid_right)]
    calls += [_call(offset + 200 + i, False, -0.5) for i in range(mid_wrong)]
    return calls + [_call(offset + 300 + i, False, -3.0) for i in range(low)]


def test_candidates_are_tested_strictest_first_and_the_loosest_that_passed_is_used():
    validation = _tiers(40, 19, 1, 20, 0)  # 0.95 -> keep high+mid (59/60); 1.0 -> keep high only
    test = _tiers(60, 20, 10, 30, 1000)  # high alone: 60/60; high+mid: 80/90 fails 0.90
    decision = _cascade(validation, test).decide(0.90)
    strict, loose = decision["candidates"]
    assert strict["threshold"] == -0.1 and strict["passed"]
    assert loose["threshold"] == -0.5 and loose["tested"] and not loose["passed"]
    assert decision["promoted"] and decision["threshold"] == -0.1 and decision["coverage"] == pytest.approx(0.5)
    assert decision["agreement"]["z"] == pytest.approx(1.96, abs=1e-2)  # each test at the full 95% level
    assert decision["min_kept_calls"] == 35
    # both pass: the looser one keeps more calls
    looser = _cascade(validation, _tiers(60, 30, 0, 30, 1000)).decide(0.90)
    assert looser["promoted"] and looser["threshold"] == -0.5 and looser["coverage"] == pytest.approx(0.75)


def test_the_sequence_stops_at_its_first_failure():
    """The strict threshold's kept calls fall short: the loose one is not tested, even though its own
    kept calls would pass (testing it anyway would spend the error level a second time)."""
    validation = _tiers(40, 19, 1, 20, 0)
    test = [_call(2000 + i, i >= 4, -0.1) for i in range(40)]  # high: 36/40, lower bound ~0.77
    test += [_call(2100 + i, True, -0.5) for i in range(80)] + [_call(2200 + i, False, -3.0) for i in range(10)]
    decision = _cascade(validation, test).decide(0.90)
    strict, loose = decision["candidates"]
    assert strict["tested"] and not strict["passed"]
    assert not loose["tested"] and not loose["passed"] and loose["test"]["agreement"]["low"] >= 0.90
    assert not decision["promoted"] and decision["agreement"]["n"] == 40  # the strict check is what is shown


def test_candidates_that_could_not_keep_enough_test_calls_are_dropped():
    validation = _tiers(40, 19, 1, 20, 0)  # coverages 0.5 (strict) and 0.7375 (loose)
    both = candidates(validation, SIGNAL, (0.95, 1.0), 0.90, test_calls=120)
    assert [c.threshold for c in both] == [-0.1, -0.5]  # strictest first
    # 60 test calls: the strict one would keep ~30 < 35, the loose one ~44
    assert [c.threshold for c in candidates(validation, SIGNAL, (0.95, 1.0), 0.90, test_calls=60)] == [-0.5]
    assert candidates(validation, SIGNAL, (0.95, 1.0), 0.90, test_calls=30) == []


def test_rule_violations_and_unknown_confidence_always_escalate_under_a_threshold():
    sure_but_broken = _call(1, True, -0.01, violation="schema_error")
    unknown = _call(2, True, None)
    assert not sure_but_broken.kept(SIGNAL, -5.0) and not sure_but_broken.kept(SIGNAL, None)
    assert not unknown.kept(SIGNAL, -5.0) and unknown.kept(SIGNAL, None)


def test_signal_with_the_best_auroc_is_chosen():
    calls = [_call(i, i % 2 == 0, -1.0 + 0.01 * (i % 3), min_logprob=-0.2 if i % 2 == 0 else -4.0,
                   mean_logprob=-1.0) for i in range(30)]
    signal, aurocs = choose_signal(calls, "auto")
    assert signal == "min_logprob" and aurocs["min_logprob"] == 1.0 and aurocs["mean_logprob"] == 0.5
    assert choose_signal(calls, "mean_logprob")[0] == "mean_logprob"
    assert choose_signal(calls, "none") == ("none", {})


def test_no_confidence_keeps_a_cluster_whole_or_not_at_all():
    good = [_call(i, True, None) for i in range(60)]
    decision = _cascade(good[:20], good[20:], measure="none").decide(0.90)
    assert decision["promoted"] and decision["threshold"] is None and decision["coverage"] == 1.0
    assert not _cascade(confident_70(40), confident_70(100, 1000), measure="none").decide(0.90)["promoted"]


def test_early_stop_only_when_no_candidate_can_pass():
    validation = confident_70(40)
    chosen = candidates(validation, SIGNAL, (0.95,), 0.90, test_calls=100)
    threshold = chosen[0].threshold
    kept_wrong = [_call(3000 + i, False, -0.1) for i in range(5)]  # confident and wrong
    assert can_still_pass(kept_wrong[:1], 100, SIGNAL, chosen, 0.90)
    assert not can_still_pass(kept_wrong, 100, SIGNAL, chosen, 0.90)
    # escalated answers cost nothing: 60 unsure wrong answers leave 40 calls that could all be kept
    unsure = [_call(4000 + i, False, -3.0) for i in range(60)]
    assert all(not c.kept(SIGNAL, threshold) for c in unsure)
    assert can_still_pass(unsure, 100, SIGNAL, chosen, 0.90)
    assert not can_still_pass(unsure + [_call(5000, True, -3.0)] * 6, 100, SIGNAL, chosen, 0.90)
    assert not can_still_pass([], 100, SIGNAL, [], 0.90)


def test_curve_trades_coverage_for_agreement():
    cascade = _cascade(confident_70(40), confident_70(100, 1000))
    points = cascade.to_dict(0.90)["curve"]
    assert points[0]["threshold"] is None and points[0]["coverage"] == 1.0 and points[0]["agreement"] == 0.7
    coverages = [p["coverage"] for p in points]
    assert coverages == sorted(coverages, reverse=True)
    assert any(p["coverage"] == pytest.approx(0.7) and p["agreement"] == 1.0 for p in points)


def test_promotion_metric_override_applies_only_where_it_is_measured():
    from slmconvert.iterate.evaluate import agreement_metric

    text_rows = [{"rouge_l": 0.8, "strict_agreement": 0.0}]
    tool_rows = [{"rouge_l": None, "strict_agreement": 1.0}]
    assert agreement_metric("rouge_l", text_rows) == "rouge_l"
    assert agreement_metric("rouge_l", tool_rows) == "strict_agreement"
    assert agreement_metric(None, text_rows) == "strict_agreement"


def test_a_perfect_validation_sample_still_gets_rungs_below_keeping_everything():
    """47/47 on validation, then misses on test among the least confident answers: keeping everything
    fails, the loosest rung (the 90% most confident validation calls) passes."""
    validation = [_call(i, True, -0.01 - 0.004 * i) for i in range(47)]
    test = [_call(100 + i, i < 95, -0.01 - 0.002 * i) for i in range(100)]  # the last 5 are wrong and least sure
    cascade = _cascade(validation, test)
    chosen = cascade.candidates(0.90)
    assert [c.validation_kept for c in chosen] == [33, 38, 43, 47] and chosen[-1].threshold is None
    decision = cascade.decide(0.90)
    assert decision["promoted"] and decision["threshold"] == chosen[2].threshold
    assert decision["agreement"]["value"] == 1.0 and decision["coverage"] < 0.95
    assert [c["passed"] for c in decision["candidates"]] == [True, True, True, False]
    # with misses spread evenly instead, the rungs cannot rescue it
    spread = [_call(200 + i, i % 20 != 7, -0.01 - 0.002 * i) for i in range(100)]
    assert not _cascade(validation, spread).decide(0.90)["promoted"]
    # a validation sample with a miss: the levels cut just the miss, or keep all (0.95 level)
    flawed = [*validation[:-1], _call(99, False, -0.5)]
    thresholds = [c.threshold for c in _cascade(flawed, test).candidates(0.90)]
    assert thresholds[-2:] == [validation[-2].signals[SIGNAL], None]


def test_rungs_fill_the_gap_between_far_apart_levels_and_a_fragile_start_is_skipped():
    """Validation: 20 sure and right, one confident miss, 40 right but less sure, 3 unsure misses. Level
    1.0 keeps only the 20 (about 37 of 120 test calls: one miss there fails it, and with it the whole
    sequence); the rungs at 70-90% keep the confident miss and still agree at 98%, and are far likelier to
    pass: the sequence starts there."""
    def calls(sure: int, less_sure_right: int, less_sure_wrong: int, offset: int) -> list[ScoredCall]:
        out = [_call(offset + i, True, -0.01 - 0.001 * i) for i in range(sure)] + [_call(offset + 50, False, -0.05)]
        out += [_call(offset + 100 + i, i < less_sure_right, -0.1 - 0.002 * i)
                for i in range(less_sure_right + less_sure_wrong)]
        return out + [_call(offset + 300 + i, False, -3.0) for i in range(3)]

    validation = calls(20, 40, 0, 0)
    ladder = candidates(validation, SIGNAL, (0.95, 1.0), 0.90, test_calls=120)
    strict = candidates(validation, SIGNAL, (1.0,), 0.90, test_calls=120)
    assert [c.validation_kept for c in strict] == [20]
    assert strict[0].pass_chance(120, 0.90) < START_CHANCE  # alone, it is still tested (nothing else is)
    assert [c.validation_kept for c in ladder] == [45, 52, 58, 61]
    assert ladder[0].pass_chance(120, 0.90) >= START_CHANCE
    # on test: one confident miss among the 39 surest (level 1.0 alone would fail there), none below it
    decision = _cascade(validation, calls(38, 60, 18, 1000)).decide(0.90)
    assert decision["candidates"][0]["threshold"] == ladder[0].threshold
    assert decision["promoted"] and decision["coverage"] > 0.6 and decision["agreement"]["value"] < 1.0
    assert lower_bound(38, 39) < 0.90  # what the strict start would have shown


def test_the_chance_to_pass_is_judged_from_validation():
    assert pass_chance(35, 35, 35, 0.90) == pytest.approx((35.5 / 36) ** 35)  # every kept test call must agree
    assert pass_chance(35, 35, 34, 0.90) == 0.0  # too few to show the target even when perfect
    assert pass_chance(34, 35, 80, 0.90) > pass_chance(34, 35, 40, 0.90)  # more calls survive a miss
    assert pass_chance(30, 35, 80, 0.90) < pass_chance(34, 35, 80, 0.90) < pass_chance(35, 35, 80, 0.90)
    assert pass_chance(0, 0, 80, 0.90) == 0.0


def test_the_chance_of_a_specialist_of_the_planned_quality_grows_with_its_test_sample():
    assert planned_pass_chance(37, 0.90, 0.75, 0.97) == 0.0  # 27 kept calls cannot show 0.90 even if all agree
    assert planned_pass_chance(47, 0.90, 0.75, 0.97) == pytest.approx(0.97 ** 35)  # 35 kept: not one miss
    assert 0.5 < planned_pass_chance(95, 0.90, 0.75, 0.97) < planned_pass_chance(400, 0.90, 0.75, 0.97)
    assert planned_pass_chance(47, 0.90, 0.75, 1.0) == 1.0 and planned_pass_chance(47, 0.90, 0.75, 0.0) == 0.0
    assert planned_pass_chance(400, 0.90, 0.75, 0.85) < 0.01  # agreeing below the target: hopeless
