"""The finetune stage's budget schedule: one probe per base model and LoRA share, needs from prepared clusters, the
deadline's remainder planned (less iterate's reserve), and a training stop that protects the evidence."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from slmconvert.finetune.allocate import Evidence
from slmconvert.finetune.params import FinetuneParams
from slmconvert.finetune.probe import Throughput
from slmconvert.finetune.schedule import ITERATE_RESERVE_MIN, make_schedule, speed_key, value_shares
from slmconvert.util.budget import Deadline


def _item(cid: int, model: str, n_test: int = 120, share: float = 0.5, verbatim: float = 1.0):
    records = SimpleNamespace(train=[{}] * 200, validation=[{}] * 60, test=[{}] * n_test)
    job = SimpleNamespace(cluster_id=cid, model=model, records=records, n_params=None, model_identity=model)
    prep = SimpleNamespace(
        stats=SimpleNamespace(prompt_p50=200.0, prompt_mean=200.0, completion_mean=20.0, completion_p50=20.0, completion_max=40),
        plan=SimpleNamespace(max_steps=50, batch_size=8, max_new_tokens=54, lora_layers=share), train=SimpleNamespace(mean_length=250.0, total_tokens=200 * 250),
        validation=SimpleNamespace(examples=[{}] * 4), verbatim_share=verbatim)
    return job, prep


def _probe(train_tps: float, calls: list, decode_tps: float = 40.0):
    def probe(model, job, share):
        calls.append((model, share))
        return Throughput(model, "cpu", train_tps, 2000.0, decode_tps, 8, 3.0, 4.0, lora_layers=share)
    return probe


def test_each_base_model_is_probed_once_per_lora_share_and_the_plan_fits_what_is_left():
    calls: list = []
    items = [_item(0, "a"), _item(1, "a"), _item(2, "b"), _item(3, "a", share=0.25), _item(4, "a", share=0.25)]
    deadline = Deadline(time.time() + 600)
    schedule = make_schedule(items, FinetuneParams(), "cpu", deadline, {0: 0.5, 1: 0.3, 2: 0.1, 3: 0.05, 4: 0.05},
                             Evidence(), _probe(500.0, calls))
    assert calls == [("a", 0.5), ("b", 0.5), ("a", 0.25)]
    assert schedule.plan.seconds <= 600 - ITERATE_RESERVE_MIN
    assert schedule.plan.planned_seconds <= schedule.plan.seconds
    assert [e.cluster_id for e in schedule.plan.entries][:2] == [0, 1]  # most value per second to a decision first
    as_dict = schedule.to_dict()
    assert as_dict["budget"] == "15m"
    assert set(as_dict["throughput"]) == {speed_key("a", 0.5), speed_key("b", 0.5), speed_key("a", 0.25)}


def test_each_cluster_is_planned_at_the_share_of_its_calls_a_specialist_answers_exactly():
    items = [_item(0, "a", verbatim=0.2), _item(1, "a")]
    schedule = make_schedule(items, FinetuneParams(), "cpu", Deadline(time.time() + 900), {0: 0.5, 1: 0.3},
                             Evidence(), _probe(500.0, []))
    coverage = {e.cluster_id: e.coverage for e in schedule.plan.entries}
    assert coverage == pytest.approx({0: 0.2 * Evidence().coverage, 1: Evidence().coverage})
    assert [e.cluster_id for e in schedule.plan.entries] == [1, 0]  # less value, but more of it moves


def test_a_slower_machine_trains_fewer_clusters_from_the_same_data():
    items = [_item(0, "a"), _item(1, "a"), _item(2, "a")]
    shares = {0: 0.5, 1: 0.3, 2: 0.2}

    def trained(train_tps: float, decode_tps: float) -> int:
        schedule = make_schedule(items, FinetuneParams(), "cpu", Deadline(time.time() + 900), shares, Evidence(),
                                 _probe(train_tps, [], decode_tps))
        return sum(e.trained for e in schedule.plan.entries)

    assert trained(50.0, 40.0) < trained(5000.0, 400.0) == 3


def test_training_stops_before_the_evidence_time_of_the_trained_clusters():
    deadline = Deadline(time.time() + 900)
    schedule = make_schedule([_item(0, "a")], FinetuneParams(), "cpu", deadline, {0: 1.0}, Evidence(),
                             _probe(150.0, []))
    entry = schedule.plan.entries[0]
    assert entry.trained
    stop = schedule.stop_at(0)
    assert stop <= deadline.at - entry.evidence_seconds - schedule.reserve_seconds + 1e-6
    assert stop > time.time()


def test_value_is_calls_and_cost_or_calls_without_prices():
    priced = {"clusters": [{"id": 0, "share_cost": 0.9, "share_calls": 0.2}, {"id": 1, "share_cost": 0.1}]}
    assert value_shares(priced) == pytest.approx({0: 0.55, 1: 0.05})
    # a cheap cluster with many calls is worth training: the sample logs' intent classifier (14% of calls)
    cheap_but_busy = {"clusters": [{"id": 0, "share_cost": 0.002, "share_calls": 0.14}, {"id": 1, "share_cost": 0.0}]}
    assert value_shares(cheap_but_busy)[0] == pytest.approx(0.071)
    unpriced = {"clusters": [{"id": 0, "share_cost": 0.0, "share_calls": 0.25}, {"id": 1, "share_calls": 0.75}]}
    assert value_shares(unpriced) == pytest.approx({0: 0.25, 1: 0.75})


def test_after_a_cluster_trains_the_rest_is_planned_at_the_speed_it_showed():
    from slmconvert.finetune.schedule import replan, trained_tokens_per_second

    items = [_item(0, "a"), _item(1, "a"), _item(2, "a")]
    shares = {0: 0.5, 1: 0.3, 2: 0.2}
    deadline = Deadline(time.time() + 1500)
    schedule = make_schedule(items, FinetuneParams(), "cpu", deadline, shares, Evidence(), _probe(2000.0, []))
    assert all(e.trained for e in schedule.plan.entries)
    first = schedule.plan.entries[0]
    a = speed_key("a", 0.5)
    half = {"base_model": {"name": "a"}, "plan": {"lora_layers": 0.5}}
    measured = trained_tokens_per_second([
        {**half, "training": {"tokens": 40_000, "seconds": 420.0, "validation_seconds": 20.0}},
        {**half, "reused_from_cache": True, "training": {"tokens": 9e9, "seconds": 1.0}},
    ], {a: 1.0})
    assert measured == {a: pytest.approx(100.0)}
    replayed = {**half, "training": {"tokens": 40_000, "replayed_tokens": 20_000, "seconds": 420.0,
                                     "validation_seconds": 20.0}}
    # half the tokens replayed at half the price: 30,000 tokens' worth of full passes in 400 s
    assert trained_tokens_per_second([replayed], {a: 0.5}) == {a: pytest.approx(75.0)}
    slower = replan(schedule, [first.cluster_id], items[1:] if first.cluster_id == 0 else items, measured,
                    FinetuneParams(), "cpu", shares)
    kept = slower.plan.entry(first.cluster_id)
    assert kept == first  # the trained cluster's entry and the evidence it holds stay as planned
    rest = [e for e in slower.plan.entries if e.cluster_id != first.cluster_id]
    assert len(rest) == 2 and sum(e.trained for e in rest) < 2  # at a twentieth of the speed, one no longer fits
    assert all(e.reason for e in rest if not e.trained)
    assert slower.throughput[a].train_tokens_per_second == 100.0 and slower.throughput[a].source == "trained"
    faster = replan(schedule, [first.cluster_id], [i for i in items if i[0].cluster_id != first.cluster_id],
                    {a: 5000.0}, FinetuneParams(), "cpu", shares)
    assert all(e.trained for e in faster.plan.entries)


def test_a_share_not_trained_yet_is_planned_at_its_probe_slowed_as_the_trained_share_ran():
    from slmconvert.finetune.schedule import replan

    items = [_item(0, "a", share=0.25), _item(1, "a"), _item(2, "b")]
    shares = {0: 0.5, 1: 0.3, 2: 0.2}
    schedule = make_schedule(items, FinetuneParams(), "cpu", Deadline(time.time() + 1500), shares, Evidence(),
                             _probe(2000.0, []))
    quarter, half, other = speed_key("a", 0.25), speed_key("a", 0.5), speed_key("b", 0.5)
    slower = replan(schedule, [0], items[1:], {quarter: 1500.0}, FinetuneParams(), "cpu", shares)
    assert slower.throughput[quarter].train_tokens_per_second == 1500.0
    assert slower.throughput[half].train_tokens_per_second == 1500.0  # the probe's 2000 x 0.75
    assert slower.throughput[half].source != "trained"
    assert slower.throughput[other].train_tokens_per_second == 2000.0  # another model: its probe
    again = replan(slower, [0], items[1:], {quarter: 1000.0}, FinetuneParams(), "cpu", shares)
    assert again.throughput[half].train_tokens_per_second == 1000.0  # from the probe, not the last plan's
    faster = replan(schedule, [0], items[1:], {quarter: 2500.0}, FinetuneParams(), "cpu", shares)
    assert faster.throughput[half].train_tokens_per_second == 2000.0  # never sped up


def test_a_call_is_priced_at_the_mean_prompt_and_answer_and_a_run_at_its_longest_answer_alone():
    import dataclasses

    from slmconvert.finetune.schedule import evidence_prices

    stats = SimpleNamespace(prompt_p50=60.0, prompt_mean=100.0, completion_p50=20.0, completion_mean=30.0, completion_max=90)
    whole = Throughput("m", "cpu", 100.0, 1000.0, 160.0, 16, 1.0, 1.0)
    assert evidence_prices(whole, stats, 120) == pytest.approx((0.1 + 120 / 160, 0.0))  # at the token budget
    slots = dataclasses.replace(whole, continuous=True)  # single-row step not measured: a whole step's
    assert evidence_prices(slots, stats, 120) == pytest.approx((0.1 + 30 / 160, 90 * 16 / 160))
    measured = dataclasses.replace(slots, row_step_seconds=0.04)  # the longest answer, one row alone
    assert evidence_prices(measured, stats, 120) == pytest.approx((0.1 + 30 / 160, 90 * 0.04))
    assert evidence_prices(measured, stats, 60) == pytest.approx((0.1 + 30 / 160, 60 * 0.04))  # within the budget


def test_seconds_left_may_buy_one_more_pass_beyond_a_margin_unless_the_user_fixed_the_length():
    import dataclasses

    from slmconvert.finetune.allocate import SPEED_MARGIN
    from slmconvert.finetune.schedule import need_of

    job, prep = _item(0, "a")
    speed = Throughput("a", "cpu", 500.0, 2000.0, 40.0, 8, 3.0, 4.0, source="trained")
    for fixed in (FinetuneParams(epochs=2.0), FinetuneParams(max_steps=30)):
        assert need_of(job, prep, fixed, "cpu", speed, 0.5).more_tokens == 0
    # the probe's bare steps and the clusters trained so far both overstate the next cluster's speed
    for source in ("trained", "measured", "cached"):
        need = need_of(job, prep, FinetuneParams(), "cpu", dataclasses.replace(speed, source=source), 0.5)
        assert need.more_tokens == prep.train.total_tokens and need.speed_margin == SPEED_MARGIN > 0
