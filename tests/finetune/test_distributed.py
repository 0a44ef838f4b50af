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


class FakeRay:
    """What cpus_per_job reads of a Ray cluster: its CPUs, and each node's."""

    def __init__(self, *node_cpus: int) -> None:
        self.node_cpus = node_cpus

    def cluster_resources(self) -> dict:
        return {"CPU": float(sum(self.node_cpus))}

    def nodes(self) -> list[dict]:
        return [{"Alive": True, "Resources": {"CPU": float(c)}} for c in self.node_cpus] + \
            [{"Alive": False, "Resources": {"CPU": 512.0}}]


def test_each_parallel_training_task_gets_an_equal_share_of_the_cpus_within_one_node():
    from slmconvert.finetune.distributed import cpus_per_job

    assert cpus_per_job(FakeRay(2), 1) == 2  # one cluster alone trains on both cores
    assert cpus_per_job(FakeRay(2), 2) == 1
    assert cpus_per_job(FakeRay(2), 5) == 1  # the rest queue
    assert cpus_per_job(FakeRay(32, 32, 32), 2) == 32  # at most one node's, or the task never runs
    assert cpus_per_job(FakeRay(32, 32, 32), 8) == 12
