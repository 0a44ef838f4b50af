"""Sharing the CPU training budget: order by calls moved per training token, re-plan the last, skip the rest."""

from __future__ import annotations

from types import SimpleNamespace

from slmconvert.finetune.allocate import calls_per_token, planned_tokens, share_budget
from slmconvert.finetune.params import FinetuneParams


def _item(cid: int, size: int, mean_length: float, tokens: int) -> tuple[SimpleNamespace, SimpleNamespace]:
    """A job of `size` calls whose plan trains `tokens` tokens on examples of `mean_length`."""
    records = SimpleNamespace(train=[{}] * (size - 2), validation=[{}], test=[{}])
    steps = max(1, round(tokens / (4 * mean_length)))
    prepared = SimpleNamespace(train=SimpleNamespace(mean_length=mean_length),
                               plan=SimpleNamespace(max_steps=steps, batch_size=4))
    return SimpleNamespace(cluster_id=cid, records=records), prepared


def _replan(job, prepared, tokens):
    steps = max(1, int(tokens // (prepared.plan.batch_size * prepared.train.mean_length)))
    return SimpleNamespace(train=prepared.train, plan=SimpleNamespace(max_steps=steps, batch_size=4), replanned=tokens)


def test_gpu_or_no_total_trains_everything_in_cluster_order():
    items = [_item(0, 100, 400, 40_000), _item(1, 100, 50, 40_000)]
    params = FinetuneParams(cpu_total_train_tokens=1000)
    assert [j.cluster_id for j, _ in share_budget(items, params, "cuda", _replan)[0]] == [0, 1]
    chosen, skipped = share_budget(items, FinetuneParams(cpu_total_train_tokens=0), "cpu", _replan)
    assert [j.cluster_id for j, _ in chosen] == [0, 1] and skipped == []


def test_cpu_trains_most_calls_per_token_first_and_skips_what_the_total_does_not_cover():
    items = [_item(0, 1000, 400, 40_000), _item(1, 400, 50, 40_000), _item(2, 300, 400, 40_000)]
    assert calls_per_token(400, 50) > calls_per_token(1000, 400) > calls_per_token(300, 400)
    chosen, skipped = share_budget(items, FinetuneParams(cpu_total_train_tokens=80_000), "cpu", _replan)
    assert [j.cluster_id for j, _ in chosen] == [1, 0]
    assert [s["cluster_id"] for s in skipped] == [2]
    assert "cpu_total_train_tokens=80,000" in skipped[0]["reason"]


def test_the_last_cluster_takes_a_smaller_plan_when_at_least_half_is_left():
    items = [_item(0, 400, 50, 40_000), _item(1, 300, 100, 40_000)]
    chosen, skipped = share_budget(items, FinetuneParams(cpu_total_train_tokens=65_000), "cpu", _replan)
    assert [j.cluster_id for j, _ in chosen] == [0, 1] and not skipped
    last = chosen[1][1]
    assert last.replanned == 65_000 - planned_tokens(chosen[0][1].plan, 50)
    assert planned_tokens(last.plan, 100) <= last.replanned
    chosen, skipped = share_budget(items, FinetuneParams(cpu_total_train_tokens=50_000), "cpu", _replan)
    assert [j.cluster_id for j, _ in chosen] == [0] and [s["cluster_id"] for s in skipped] == [1]
