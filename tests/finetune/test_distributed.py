"""Fine-tuning past one process: one cluster data-parallel on two CPU processes (gloo) with the stage's own
trainer (finetune.data_parallel), and the training lanes of a Ray cluster (one cluster per GPU or node)."""

from __future__ import annotations

import random
import time

import pytest
from rich.console import Console

from slmconvert.finetune.data_parallel import Ranks, split_plan, world_size
from slmconvert.finetune.run import ClusterJob, train_cluster
from slmconvert.finetune.trainer import LengthGroupedSampler
from tests.finetune.conftest import cluster_records, fast_params

pytestmark = pytest.mark.timeout(300)


def _train(tmp_path, tiny_model, name: str, world: int, stop_now: bool = False, **overrides) -> dict:
    job = ClusterJob(0, str(tiny_model), cluster_records(n_train=24), label="lookup", output_type="tool_call",
                     prompt_style="canonical")
    params = fast_params(batch_size=4, micro_batch_size=2, **overrides)
    return train_cluster(job, params, device="cpu", cache_root=tmp_path / name / "cache",
                         out_dir=tmp_path / name / "out", console=Console(stderr=True), quiet=True, world_size=world,
                         stop_at=time.time() if stop_now else None)


def _adapter(path):
    from safetensors.torch import load_file

    return load_file(path / "adapter" / "adapter_model.safetensors")


def test_two_processes_train_the_adapter_one_process_trains_on_the_same_batches(tiny_model, tmp_path):
    # one process: 2-example loader batches, 2 per step; two processes: one 2-example batch each per step
    one = _train(tmp_path, tiny_model, "one", world=1)
    two = _train(tmp_path, tiny_model, "two", world=2)
    assert two["training"]["data_parallel"] == 2 and one["training"]["data_parallel"] == 1
    assert two["training"]["steps"] == one["training"]["steps"] == 6
    assert two["plan"]["gradient_accumulation"] == 1 and one["plan"]["gradient_accumulation"] == 2
    assert two["training"]["tokens"] == one["training"]["tokens"]  # every rank's tokens are counted
    a, b = _adapter(tmp_path / "one" / "out"), _adapter(tmp_path / "two" / "out")
    assert a.keys() == b.keys()
    moved = max(float((a[k] - b[k]).abs().max()) for k in a)
    assert moved < 1e-4, f"the two-process adapter differs from the one-process one by {moved}"
    assert not list((tmp_path / "two" / "cache").glob("*/rank-*"))  # the other rank's scratch is gone


def test_the_ranks_stop_together_when_the_wall_clock_says_so(tiny_model, tmp_path):
    metrics = _train(tmp_path, tiny_model, "stopped", world=2, max_steps=12, stop_now=True)
    assert metrics["training"]["steps"] == 1 and metrics["training"]["early_stopped"]
    assert (tmp_path / "stopped" / "out" / "adapter" / "adapter_model.safetensors").is_file()


def test_each_rank_keeps_every_other_batch_of_one_order_as_many_on_each():
    lengths = [5, 9, 3, 7, 7, 2, 8, 4, 6, 1, 9, 2, 3]  # 13 examples: six batches of 2 and a short one
    whole = list(LengthGroupedSampler(lengths, 2, seed=3))
    samplers = [LengthGroupedSampler(lengths, 2, seed=3, ranks=Ranks(r, 2)) for r in (0, 1)]
    shards = [list(sampler) for sampler in samplers]
    assert sorted(whole) == list(range(13))
    assert [len(shard) for shard in shards] == [len(sampler) for sampler in samplers] == [6, 6]  # 3 batches each
    assert not set(shards[0]) & set(shards[1])  # the short batch is the one left over
    pairs = {tuple(b) for b in LengthGroupedSampler(lengths, 2, seed=3)._batches(random.Random(3 * 1_000_003))}
    assert all(tuple(shard[i:i + 2]) in pairs for shard in shards for i in (0, 2, 4))  # whole batches of that order


def _note_device(rank: int, folder: str) -> None:
    import os
    from pathlib import Path

    Path(folder, f"rank{rank}").write_text(os.environ.get("CUDA_VISIBLE_DEVICES", "-"))


def _fail_on_rank_one(rank: int) -> None:
    if rank == 1:
        raise RuntimeError("rank 1 gives up")
    time.sleep(120)


def test_each_rank_starts_seeing_its_own_gpu_and_a_failed_rank_fails_the_run(tmp_path, monkeypatch):
    from slmconvert.errors import SlmError
    from slmconvert.finetune.data_parallel import launch

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "5,7")
    launch(_note_device, (str(tmp_path),), 2, ["5", "7"])
    assert [(tmp_path / f"rank{r}").read_text() for r in (0, 1)] == ["5", "7"]
    assert __import__("os").environ["CUDA_VISIBLE_DEVICES"] == "5,7"  # the parent's own is restored
    with pytest.raises(SlmError, match="rank 1 failed"):  # and rank 0 is stopped, not waited for (120 s)
        launch(_fail_on_rank_one, (), 2, [])


def test_a_rank_takes_its_share_of_every_optimiser_batch():
    from slmconvert.finetune.budget import make_plan

    plan = make_plan(fast_params(batch_size=8), device="cpu", n_params=10_000, n_train=64, mean_length=20,
                     max_length=64, completion_max=8, varlen_attention=False)
    assert (plan.micro_batch_size, plan.gradient_accumulation) == (8, 1)
    assert (split_plan(plan, 2).micro_batch_size, split_plan(plan, 2).gradient_accumulation) == (4, 1)
    accumulating = split_plan(plan.__class__(**{**plan.to_dict(), "micro_batch_size": 2, "gradient_accumulation": 4}), 2)
    assert (accumulating.micro_batch_size, accumulating.gradient_accumulation) == (2, 2)
    assert split_plan(plan, 2).max_steps == plan.max_steps and split_plan(plan, 1) is plan
    assert world_size(None, "local", "cpu") == 1 and world_size(3, "local", "cpu") == 3
    assert world_size(3, "ray", "cuda") == 1  # Ray trains one cluster per GPU (its lanes) instead


def _nodes(*resources: dict) -> list[dict]:
    """ray.nodes() of a cluster with these nodes' resources, and one dead node."""
    return [{"Alive": True, "Resources": r} for r in resources] + [{"Alive": False, "Resources": {"CPU": 512.0}}]


def test_a_cluster_trains_one_cluster_per_gpu_or_else_one_per_node():
    from slmconvert.finetune.distributed import Lanes, lanes_of

    assert lanes_of(_nodes({"CPU": 2.0})) == Lanes(count=1, cpus=2, gpus=0.0)  # one cluster on both cores
    assert lanes_of(_nodes({"CPU": 32.0}, {"CPU": 32.0}, {"CPU": 32.0})) == Lanes(3, 32, 0.0)
    assert lanes_of(_nodes({"CPU": 8.0}, {"CPU": 32.0})) == Lanes(5, 8, 0.0)  # a task fits the smallest node
    assert lanes_of(_nodes({"CPU": 16.0, "GPU": 8.0}, {"CPU": 4.0})) == Lanes(8, 2, 1.0)  # one per GPU
    assert lanes_of(_nodes({"CPU": 64.0, "GPU": 4.0}, {"CPU": 24.0, "GPU": 2.0})) == Lanes(6, 12, 1.0)
    assert lanes_of(_nodes({"CPU": 16.0, "GPU": 8.0}), gpus=False) == Lanes(1, 16, 0.0)  # finetune.device=cpu
    assert lanes_of([]) == Lanes(1, 1, 0.0)
