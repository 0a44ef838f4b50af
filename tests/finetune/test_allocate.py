"""The budget plan: most calls and cost moved per second to a promotion decision first, evidence reserved before training
time, never more seconds planned than the budget has, and the speed of the machine measured, not assumed."""

from __future__ import annotations

import dataclasses
import random

import pytest

from slmconvert.finetune.allocate import (
    MIN_CALIBRATION_CALLS,
    ClusterNeed,
    Evidence,
    plan_budget,
)

EVIDENCE = Evidence(target=0.90, max_validation_calls=500, max_test_calls=2000)


def _clusters(train_tps: float, seconds_per_call: float) -> list[ClusterNeed]:
    """The same four clusters on a machine of the given speed (a skewed cost mix, like agent logs)."""
    def need(cid: int, share: float, examples: int, mean: float, test: int) -> ClusterNeed:
        return ClusterNeed(cluster_id=cid, value_share=share, full_tokens=int(examples * 2 * mean),
                           mean_example_tokens=mean, train_tokens_per_second=train_tps, validation_available=80,
                           test_available=test, seconds_per_call=seconds_per_call, fixed_seconds=8.0)
    return [need(0, 0.75, 300, 400.0, 150), need(1, 0.19, 300, 300.0, 150), need(2, 0.05, 500, 120.0, 150),
            need(3, 0.01, 30, 100.0, 12)]


SLOW = _clusters(train_tps=80.0, seconds_per_call=2.0)
FAST = _clusters(train_tps=8000.0, seconds_per_call=0.02)


def _trained(plan) -> list[int]:
    return [e.cluster_id for e in plan.entries if e.trained]


def test_fast_and_slow_machines_plan_the_same_data_differently():
    slow, fast = plan_budget(SLOW, 800, EVIDENCE), plan_budget(FAST, 800, EVIDENCE)
    assert _trained(fast) == [0, 1, 2]
    assert _trained(slow) and len(_trained(slow)) < len(_trained(fast))
    assert set(_trained(slow)) < set(_trained(fast))
    for entry in fast.entries:  # a fast machine affords full plans and more evidence than the minimum
        if entry.trained:
            assert entry.train_tokens == entry.full_tokens and entry.test_calls == 150
            assert entry.validation_calls == 80


def test_a_slow_machine_still_reserves_full_evidence_for_what_it_trains():
    slow = plan_budget(SLOW, 800, EVIDENCE)
    need = EVIDENCE.required(EVIDENCE.coverage)
    for entry in slow.entries:
        if entry.trained:
            assert entry.test_calls >= need >= EVIDENCE.required(1.0) == entry.required_test_calls
            assert entry.validation_calls == MIN_CALIBRATION_CALLS
            assert entry.evidence_seconds == pytest.approx((entry.test_calls + entry.validation_calls) * 2.0)
            assert entry.train_tokens < entry.full_tokens  # it trains less rather than evaluate too little
    left_out = [e for e in slow.entries if not e.trained and e.cluster_id != 3]
    assert left_out and all(e.reason.startswith("budget: needs") for e in left_out)


def test_clusters_go_in_order_of_cost_moved_per_training_second():
    plan = plan_budget(FAST, 800, EVIDENCE)
    rates = [e.value_rate for e in plan.entries]
    assert rates == sorted(rates, reverse=True)
    cheap = [dataclasses.replace(n, value_share=0.9 if n.cluster_id == 2 else 0.01) for n in SLOW]
    assert _trained(plan_budget(cheap, 500, EVIDENCE))[0] == 2


def test_a_cluster_too_small_to_pass_at_the_planned_quality_waits_for_those_likelier_to_pass():
    # 37 test calls: at the planned 75% coverage and 97% agreement no miss is allowed, so its chance is ~0
    small = dataclasses.replace(SLOW[1], cluster_id=5, value_share=0.30, test_available=37)
    needs = [SLOW[0], small, SLOW[2]]
    order = [e.cluster_id for e in plan_budget(needs, 800, EVIDENCE).entries]
    assert order.index(2) < order.index(5)  # a sixth of its value, but a real chance to pass
    assert 5 in _trained(plan_budget(needs, 100_000, EVIDENCE))  # a long budget still trains it
    ample = dataclasses.replace(small, test_available=150)
    assert [e.cluster_id for e in plan_budget([SLOW[0], ample, SLOW[2]], 800, EVIDENCE).entries][1] == 5


def test_of_two_clusters_alike_but_for_the_length_of_their_plan_the_shorter_goes_first():
    short = dataclasses.replace(SLOW[1], cluster_id=7)
    long = dataclasses.replace(short, cluster_id=6, full_tokens=4 * short.full_tokens)  # same least training
    assert long.min_tokens == short.min_tokens
    assert [e.cluster_id for e in plan_budget([long, short], 800, EVIDENCE).entries] == [7, 6]


def test_a_cluster_that_cannot_show_the_target_is_not_trained():
    entry = plan_budget(FAST, 800, EVIDENCE).entry(3)
    assert not entry.trained and "12 held-out test calls" in entry.reason and "35" in entry.reason


def test_evidence_is_reserved_before_training_time_is_handed_out():
    one = [dataclasses.replace(SLOW[0], fixed_seconds=0.0)]
    least_training = one[0].train_seconds(one[0].min_tokens)
    evidence = (EVIDENCE.required(EVIDENCE.coverage, EVIDENCE.agreement) + MIN_CALIBRATION_CALLS) * 2.0
    assert not plan_budget(one, least_training + evidence - 1, EVIDENCE).entries[0].trained
    fits = plan_budget(one, least_training + evidence + 1, EVIDENCE).entries[0]
    assert fits.trained and fits.train_tokens >= one[0].min_tokens


@pytest.mark.parametrize("lanes", [1, 3])
@pytest.mark.parametrize("seed", range(25))
def test_the_plan_never_spends_more_than_the_budget(seed, lanes):
    rng = random.Random(seed)
    needs = [ClusterNeed(cluster_id=i, value_share=rng.random(), full_tokens=rng.randint(1000, 500_000),
                         mean_example_tokens=rng.uniform(50, 800), train_tokens_per_second=rng.uniform(20, 20_000),
                         validation_available=rng.randint(0, 300), test_available=rng.randint(0, 600),
                         seconds_per_call=rng.uniform(0.01, 5), fixed_seconds=rng.uniform(0, 30),
                         epoch_tokens=rng.randint(0, 100_000), replay_cost=rng.uniform(0.3, 1.0),
                         seconds_per_run=rng.choice([0.0, rng.uniform(0.1, 60)]), calls_per_run=rng.choice([0, 48]),
                         more_tokens=rng.choice([0, rng.randint(1, 200_000)]), speed_margin=rng.choice([0.0, 0.3]))
             for i in range(rng.randint(1, 8))]
    seconds = rng.uniform(30, 4000)
    plan = plan_budget(needs, seconds, EVIDENCE, lanes=lanes)
    assert plan.planned_seconds <= seconds + 1e-6
    assert plan.planned_seconds + plan.spare_seconds == pytest.approx(seconds)
    evidence = sum(e.evidence_seconds for e in plan.entries if e.trained)
    for lane in range(lanes):  # every lane's training ends before the evidence of all must start
        training = sum(e.train_seconds + e.fixed_seconds for e in plan.entries if e.trained and e.lane == lane)
        assert training + evidence <= seconds + 1e-6
    for entry, need in ((plan.entry(n.cluster_id), n) for n in needs):
        assert entry.test_calls <= need.test_available and entry.validation_calls <= need.validation_available
        assert entry.train_tokens <= need.full_tokens + need.more_tokens


def test_a_cluster_trains_one_pass_over_its_examples_or_not_at_all():
    """A short budget trains the cluster whose one pass fits rather than a costlier one a little."""
    big = ClusterNeed(cluster_id=0, value_share=0.6, full_tokens=600_000, mean_example_tokens=500.0,
                      train_tokens_per_second=300.0, validation_available=80, test_available=150,
                      seconds_per_call=1.0, fixed_seconds=10.0, epoch_tokens=200_000)
    small = dataclasses.replace(big, cluster_id=1, value_share=0.1, full_tokens=60_000, mean_example_tokens=60.0,
                                epoch_tokens=20_000)
    assert big.min_tokens == 200_000 and small.min_tokens == 20_000
    short = plan_budget([big, small], 400, EVIDENCE)
    assert _trained(short) == [1]
    assert "needs" in short.entry(0).reason and short.entry(1).train_tokens >= small.epoch_tokens
    overnight = plan_budget([big, small], 4000, EVIDENCE)
    assert _trained(overnight) == [0, 1] and overnight.entry(0).train_tokens == big.full_tokens
    # without a known epoch the floor is MIN_EXAMPLE_PASSES examples
    assert dataclasses.replace(big, epoch_tokens=0).min_tokens == 64 * 500


def _two_clusters() -> tuple[ClusterNeed, ClusterNeed, float]:
    """Two like clusters (full plan 200 s, one pass 100 s, 5 s loading) and the evidence seconds of each."""
    first = ClusterNeed(cluster_id=0, value_share=0.5, full_tokens=60_000, mean_example_tokens=100.0,
                        train_tokens_per_second=300.0, validation_available=40, test_available=150,
                        seconds_per_call=0.1, fixed_seconds=5.0, epoch_tokens=30_000)
    second = dataclasses.replace(first, cluster_id=1, value_share=0.2)
    return first, second, (EVIDENCE.required(EVIDENCE.coverage, EVIDENCE.agreement) + MIN_CALIBRATION_CALLS) * 0.1


def test_the_most_valuable_cluster_gets_its_full_plan_before_another_starts():
    first, second, evidence = _two_clusters()
    one_pass = 5.0 + evidence + 100.0  # loading + evidence + 30,000 tokens at 300 tok/s
    plan = plan_budget([first, second], 2 * one_pass + 50, EVIDENCE)  # both fit one pass, not first's full plan too
    assert _trained(plan) == [0] and plan.entry(0).train_tokens == first.full_tokens
    assert "needs" in plan.entry(1).reason
    roomy = plan_budget([first, second], 2 * one_pass + 200, EVIDENCE)
    assert _trained(roomy) == [0, 1] and roomy.entry(0).train_tokens == first.full_tokens


def test_more_lanes_train_more_clusters_in_the_same_wall_clock_time():
    """Two GPUs (or nodes) train the second cluster beside the first instead of leaving it out."""
    first, second, evidence = _two_clusters()
    seconds = 5.0 + 200.0 + 2 * evidence + 10  # one full plan per lane, then both clusters' evidence
    one = plan_budget([first, second], seconds, EVIDENCE)
    two = plan_budget([first, second], seconds, EVIDENCE, lanes=2)
    assert _trained(one) == [0] and _trained(two) == [0, 1]
    assert [two.entry(0).lane, two.entry(1).lane] == [0, 1]
    assert all(two.entry(c).train_tokens == 60_000 for c in (0, 1))
    one_after_the_other = sum(two.entry(c).train_seconds + two.entry(c).fixed_seconds + two.entry(c).evidence_seconds
                              for c in (0, 1))
    assert two.planned_seconds <= seconds < one_after_the_other
    assert two.to_dict()["lanes"] == 2 and two.to_dict()["entries"][1]["lane"] == 1


def test_a_cluster_whose_evidence_would_cut_another_lanes_training_is_left_out():
    like, _, evidence = _two_clusters()
    first = dataclasses.replace(like, full_tokens=90_000, epoch_tokens=90_000)  # 300 s of training
    cheap = dataclasses.replace(first, cluster_id=1, value_share=0.1, full_tokens=3_000, epoch_tokens=3_000,
                                seconds_per_call=1.0)  # little training, costly evidence
    plan = plan_budget([first, cheap], 5.0 + 300.0 + evidence + 20, EVIDENCE, lanes=2)
    assert _trained(plan) == [0]
    assert "cut the training planned on another lane" in plan.entry(1).reason


def test_passes_after_the_first_are_priced_at_the_replay_cost():
    """The frozen layers run once per example (finetune.frozen_layers): a pass after the first costs
    replay_cost of the first, so a full plan takes fewer seconds and leaves room for another cluster."""
    first, second, evidence = _two_clusters()
    cheap_first, cheap_second = (dataclasses.replace(n, replay_cost=0.5) for n in (first, second))
    assert first.train_seconds(60_000) == pytest.approx(200.0)
    assert cheap_first.train_seconds(60_000) == pytest.approx(150.0)  # 100 s first pass + 100 s x 0.5
    assert cheap_first.train_seconds(15_000) == pytest.approx(50.0)  # within the first pass: full price
    for seconds in (0.0, 50.0, 100.0, 120.0, 150.0):
        assert cheap_first.train_seconds(cheap_first.tokens_within(seconds)) == pytest.approx(seconds, abs=0.01)
    budget = 2 * (5.0 + evidence + 100.0) + 60  # one pass of each + 60 s
    assert _trained(plan_budget([first, second], budget, EVIDENCE)) == [0]
    plan = plan_budget([cheap_first, cheap_second], budget, EVIDENCE)
    assert _trained(plan) == [0, 1] and plan.entry(0).train_tokens == first.full_tokens
    assert plan.entry(0).train_seconds == pytest.approx(150.0)


def test_evidence_counts_the_tail_of_each_generation_run():
    """With refilled slots a call costs its own answer, and each generation run ends with a row that may
    decode alone to the token budget: validation in one run, test calls in runs of calls_per_run."""
    need = dataclasses.replace(SLOW[0], seconds_per_call=0.1, seconds_per_run=5.0, calls_per_run=48)
    assert need.evidence_seconds(95, 64) == pytest.approx(159 * 0.1 + 3 * 5.0)
    assert need.evidence_seconds(97, 0) == pytest.approx(97 * 0.1 + 3 * 5.0)
    assert need.evidence_seconds(0, 0) == 0.0
    assert dataclasses.replace(need, calls_per_run=0).evidence_seconds(95, 64) == pytest.approx(159 * 0.1 + 2 * 5.0)


def test_tighter_evidence_stops_where_another_run_would_not_fit():
    need = dataclasses.replace(SLOW[0], validation_available=80, test_available=200, seconds_per_call=0.1,
                               seconds_per_run=50.0, calls_per_run=48, full_tokens=1000, epoch_tokens=1000,
                               mean_example_tokens=10.0, train_tokens_per_second=100.0)
    least = need.evidence_seconds(95, MIN_CALIBRATION_CALLS)
    seconds = need.fixed_seconds + need.train_seconds(need.full_tokens) + least + 10.0
    entry = plan_budget([need], seconds, EVIDENCE).entry(need.cluster_id)
    assert entry.trained and entry.test_calls == 96  # the 97th call would open a third run (50 s)
    assert entry.validation_calls == 80  # the validation run is open: its calls cost their share only
    assert entry.evidence_seconds == pytest.approx(need.evidence_seconds(96, 80))


def test_seconds_left_at_the_end_train_the_admitted_clusters_further_in_value_order():
    """After every cluster that fits has its full plan and its evidence, what is left buys more passes (up to
    more_tokens beyond the plan), most valuable cluster first; a cluster whose plan is fixed gets none."""
    first, second = (dataclasses.replace(n, more_tokens=n.full_tokens // 2) for n in FAST[:2])
    roomy = plan_budget([first, second], 10_000, EVIDENCE)
    for need in (first, second):
        assert roomy.entry(need.cluster_id).train_tokens == need.full_tokens + need.more_tokens
    tight = plan_budget([first, second], roomy.planned_seconds - 5.0, EVIDENCE)  # less than the second's more
    ahead = tight.entries[0]  # the more valuable one takes what is left first
    behind = tight.entries[1]
    assert ahead.train_tokens == ahead.full_tokens + [first, second][ahead.cluster_id].more_tokens
    assert behind.full_tokens < behind.train_tokens < behind.full_tokens + [first, second][behind.cluster_id].more_tokens
    assert tight.spare_seconds == pytest.approx(0.0, abs=1e-6)
    fixed = plan_budget(FAST[:2], 10_000, EVIDENCE)
    assert all(e.train_tokens == e.full_tokens for e in fixed.entries)
    assert fixed.spare_seconds > roomy.spare_seconds


def test_more_passes_are_bought_only_beyond_the_speed_margin():
    """With speed_margin m, extra passes take only what is left beyond m x the lane's planned training
    (their own included): none where the seconds left are within the margin, all where they are well past it."""
    first, second = (dataclasses.replace(n, more_tokens=n.full_tokens // 2, speed_margin=0.3) for n in FAST[:2])
    unhedged = [dataclasses.replace(n, speed_margin=0.0) for n in (first, second)]
    base = plan_budget(FAST[:2], 10_000, EVIDENCE)
    training = sum(e.train_seconds for e in base.entries if e.trained)
    within = base.planned_seconds + 0.25 * training  # left over: less than the margin
    assert all(e.train_tokens == e.full_tokens for e in plan_budget([first, second], within, EVIDENCE).entries)
    assert any(e.train_tokens > e.full_tokens for e in plan_budget(unhedged, within, EVIDENCE).entries)
    roomy = plan_budget([first, second], 10_000, EVIDENCE)
    assert all(e.train_tokens == e.full_tokens + e.full_tokens // 2 for e in roomy.entries)
    held = sum(n.speed_margin * roomy.entry(n.cluster_id).train_seconds for n in (first, second))
    assert roomy.spare_seconds >= held - 1e-6  # the margin stays unplanned


def test_a_cluster_answered_in_one_off_free_text_waits_for_structured_ones_of_less_value():
    # a third more value, but its specialist is expected to reproduce a tenth of its answers word for word
    free_text = dataclasses.replace(SLOW[1], cluster_id=4, value_share=0.25, verbatim_share=0.1)
    structured = dataclasses.replace(SLOW[1], cluster_id=5, value_share=0.19)
    plan = plan_budget([free_text, structured], 800, EVIDENCE)
    assert [e.cluster_id for e in plan.entries] == [5, 4]
    entries = {e.cluster_id: e for e in plan.entries}
    assert entries[4].coverage == pytest.approx(EVIDENCE.coverage * 0.1)
    assert entries[5].coverage == pytest.approx(EVIDENCE.coverage)
    assert 4 in _trained(plan_budget([free_text, structured], 100_000, EVIDENCE))  # a long budget still trains it
    answered_exactly = dataclasses.replace(free_text, verbatim_share=1.0)
    assert [e.cluster_id for e in plan_budget([answered_exactly, structured], 800, EVIDENCE).entries] == [4, 5]
