"""A Ray cluster with GPUs: a Ray started with two (declared) GPUs. finetune trains two clusters at
once, plans for both lanes, and takes its device and speed from a task on a lane; generation workers
hold a GPU each. The GPUs are Ray resources only: the workers find no CUDA and run on the CPU."""

from __future__ import annotations

import json
import sys

import pytest

ray = pytest.importorskip("ray")

from tests.finetune.conftest import tiny_model, workspace  # noqa: E402, F401  (fixtures)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture(scope="module", autouse=True)
def two_gpu_ray():
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(num_cpus=2, num_gpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    yield
    ray.shutdown()


def test_finetune_plans_and_trains_one_cluster_per_lane(workspace, tiny_model):  # noqa: F811
    from typer.testing import CliRunner

    from slmconvert.cli.app import app

    fast = ["--set", "finetune.max_steps=4", "--set", "finetune.learning_rate=0.01",
            "--set", "finetune.validation_examples=3", "--set", "finetune.max_new_tokens=24",
            "--set", "finetune.reuse_cache=false", "--set", "iterate.promotion_target=0.0"]
    result = CliRunner().invoke(app, ["finetune", "--workdir", str(workspace.root), "--engine", "ray", *fast])
    assert result.exit_code == 0, result.output
    assert "2 training lane(s) on Ray (1 CPU, 1 GPU each), training on cpu" in result.stderr
    assert "2 cluster(s) in Ray tasks, 2 at once" in result.stderr
    summary = json.loads((workspace.artifact("finetune").path / "finetune.json").read_text())
    plan = summary["budget"]
    assert plan["lanes"] == 2
    trained = [e for e in plan["entries"] if e["trained"]]
    assert sorted(e["lane"] for e in trained) == [0, 1]  # one cluster on each lane, side by side
    assert plan["planned_seconds"] < sum(e["train_seconds"] + e["fixed_seconds"] + e["evidence_seconds"]
                                         for e in trained)
    # the speed the plan used was measured in a task holding one lane (1 CPU), and cached by it
    (speed,) = plan["throughput"].values()
    assert speed["device"] == "cpu" and speed["source"] == "measured"
    assert [c["cluster_id"] for c in summary["clusters"]] == [0, 1]
    assert all(c["steps"] == 4 for c in summary["clusters"])


class GpuIds:
    """A batch function answering each item with the GPUs Ray gave its worker."""

    def __call__(self, batch):
        return [tuple(ray.get_gpu_ids()) for _ in batch]


def test_generation_workers_hold_a_gpu_each_and_others_none():
    from slmconvert.engine.base import Engine, EngineSpec
    from slmconvert.iterate.params import IterateParams
    from slmconvert.router.engine_generator import evaluation_generator

    engine = Engine(EngineSpec("ray"))
    pool = engine.pool(GpuIds, gpu=True)
    held = {ids for batch in pool.map(list(range(8)), 2) for ids in batch}
    pool.close()
    assert all(len(ids) == 1 for ids in held) and len(held) <= 2  # one GPU per actor, one actor per GPU
    mapped = {ids for batch in engine.map_items(GpuIds, list(range(8)), 2, gpu=True) for ids in batch}
    assert all(len(ids) == 1 for ids in mapped)
    assert {ids for batch in engine.map_items(GpuIds, list(range(4)), 2) for ids in batch} == {()}
    # the workers' device, asked of one holding a GPU: no CUDA here, so the CPU (a driver plans for its workers)
    assert engine.device("auto") == "cpu"
    generator = evaluation_generator(IterateParams(engine="ray"), "cuda")  # whatever the driver has
    assert generator.settings["device"] == "cpu"
