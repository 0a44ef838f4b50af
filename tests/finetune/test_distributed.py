"""Data-parallel LoRA on two CPU processes (gloo): each rank trains on its own share of the examples,
the all-reduced gradients keep the adapters equal, and rank 0's adapter loads with PeftModel."""

from __future__ import annotations

import pytest

from slmconvert.finetune.distributed import IGNORE_INDEX, DataParallelJob, launch_data_parallel

pytestmark = pytest.mark.timeout(300)


def examples(tokenizer, n: int = 16) -> list[dict]:
    rows = []
    for i in range(n):
        prompt = tokenizer(f"Where is my order A-{10 + i}?", add_special_tokens=False)["input_ids"]
        answer = tokenizer(f" lookup_order A-{10 + i}", add_special_tokens=False)["input_ids"]
        rows.append({"input_ids": prompt + answer, "labels": [IGNORE_INDEX] * len(prompt) + answer})
    return rows


def test_two_cpu_processes_train_one_adapter(tiny_model, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    job = DataParallelJob(str(tiny_model), examples(AutoTokenizer.from_pretrained(tiny_model)), str(tmp_path),
                          steps=3, batch_size=2, learning_rate=1e-2)
    reports = launch_data_parallel(job, world_size=2, cpu=True)

    assert [r["rank"] for r in reports] == [0, 1] and all(r["world_size"] == 2 for r in reports)
    assert "MULTI_CPU" in reports[0]["distributed_type"]
    assert not set(reports[0]["examples_seen"]) & set(reports[1]["examples_seen"])  # each rank its own shard
    assert reports[0]["adapter_digest"] == reports[1]["adapter_digest"]  # gradients were all-reduced
    assert reports[0]["losses"] != reports[1]["losses"]  # ...from different data
    assert (tmp_path / "adapter" / "adapter_model.safetensors").is_file()
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model), tmp_path / "adapter")
    adapted = {name.split(".layers.")[1].split(".")[0] for name, _ in model.named_parameters() if "lora_" in name}
    assert adapted == {"1"}  # the top half of the 2 layers, as the finetune stage adapts them


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
