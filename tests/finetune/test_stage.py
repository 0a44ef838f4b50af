"""`slmconvert finetune` end to end on a hand-made workspace (curate + cluster + select) with a tiny model."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from slmconvert.cli.app import app
from slmconvert.models.prompt import PromptFormat
from slmconvert.stages.finetune import plan_jobs

FAST = ["--set", "finetune.max_steps=4", "--set", "finetune.learning_rate=0.01", "--set", "finetune.precision=fp32",
        "--set", "finetune.validation_examples=3", "--set", "finetune.max_new_tokens=24",
        "--set", "iterate.promotion_target=0.0"]


def invoke(workspace, *args):
    result = CliRunner().invoke(app, ["finetune", "--workdir", str(workspace.root), "--json", *FAST, *args])
    return result


def test_finetune_trains_every_selected_cluster_and_skips_the_rest(workspace):
    result = invoke(workspace)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    summary = payload["summary"]
    assert [c["cluster_id"] for c in summary["clusters"]] == [0, 1]
    assert summary["skipped"] == [{"cluster_id": 2, "reason": "no model chosen by select: no candidate passed"}]
    assert payload["metrics"]["clusters_trained"] == 2 and payload["metrics"]["clusters_skipped"] == 1
    version = workspace.artifact("finetune")
    for cid in ("0", "1"):
        directory = version.path / cid
        assert (directory / "adapter" / "adapter_model.safetensors").is_file()
        metrics = json.loads((directory / "metrics.json").read_text())
        assert metrics["data"]["inputs"]["curate"].startswith("curate@")
        assert metrics["training"]["steps"] == 4
        assert metrics["plan"]["lora_layers"] == 0.25  # lora_layers=auto on tool-call clusters
        assert PromptFormat.load(directory / "prompt_format.json").style == "canonical"
    index = json.loads((version.path / "finetune.json").read_text())
    assert index["clusters"][0]["metric"] == "function_name_and_args_accuracy"
    plan = index["budget"]  # the budget plan: measured speeds, and per cluster its training and evidence
    assert plan["budget"] == "15m" and plan["planned_seconds"] <= plan["seconds"] < 15 * 60
    assert {e["cluster_id"] for e in plan["entries"] if e["trained"]} == {0, 1}
    assert all(t["source"] in ("measured", "cached", "trained") and t["train_tokens_per_second"] > 0
               for t in plan["throughput"].values())
    assert [t["source"] for t in plan["throughput"].values()] == ["trained"]  # re-planned after the first cluster
    assert version.manifest["metrics"]["budget"] == "15m"
    assert version.manifest["metrics"]["budget_plan"]["entries"] == plan["entries"]
    outputs = {o["path"] for o in version.manifest["outputs"]}
    assert "0/adapter/adapter_model.safetensors" in outputs and "1/README.md" in outputs

    again = invoke(workspace)
    assert json.loads(again.stdout)["skipped"] is True  # unchanged inputs and params: reused
    human = CliRunner().invoke(app, ["finetune", "--workdir", str(workspace.root), *FAST], terminal_width=200)
    assert human.exit_code == 0
    assert "Specialists" in human.output and "function_name_and_args_accuracy" in human.output
    assert "skipped cluster 2" in human.output and "unchanged" in human.output


def test_each_cluster_trains_data_parallel_when_asked(workspace):
    result = invoke(workspace, "--cluster", "0", "--set", "finetune.data_parallel=2")
    assert result.exit_code == 0, result.output
    version = workspace.artifact("finetune")
    index = json.loads((version.path / "finetune.json").read_text())
    assert index["data_parallel"] == 2 and [c["cluster_id"] for c in index["clusters"]] == [0]
    metrics = json.loads((version.path / "0" / "metrics.json").read_text())
    assert metrics["training"]["data_parallel"] == 2 and metrics["training"]["steps"] == 4
    assert (version.path / "0" / "adapter" / "adapter_model.safetensors").is_file()


def test_cluster_filter_and_cached_adapters(workspace):
    first = invoke(workspace, "--cluster", "1")
    assert first.exit_code == 0, first.output
    assert [c["cluster_id"] for c in json.loads(first.stdout)["summary"]["clusters"]] == [1]
    both = json.loads(invoke(workspace).stdout)["summary"]["clusters"]
    reused = {c["cluster_id"]: c["reused_from_cache"] for c in both}
    assert reused == {0: False, 1: True}  # cluster 1's training run is reused from the workspace cache


def test_unknown_cluster_is_a_usage_error(workspace):
    result = invoke(workspace, "--cluster", "7")
    assert result.exit_code == 2
    assert "not in the selection" in result.output


def test_base_model_override_and_prompt_style_from_select(tiny_model):
    from slmconvert.finetune.params import FinetuneParams

    primary = {"value": 0.25, "low": 0.1, "high": 0.5, "n": 20, "kind": "rate"}
    selection = {"clusters": [
        {"cluster_id": 0, "primary_metric": "field_f1", "sample_split": "validation", "sample_ids": ["a", "b"],
         "chosen": {"model": "m-a", "prompt_format": {"style": "native"}, "n_params": 5, "primary": primary}},
        {"cluster_id": 1, "chosen": None, "reason": "too slow"},
    ]}
    inputs = {"select": "select@v"}
    jobs, skipped = plan_jobs(selection, FinetuneParams(), None, inputs)
    assert [(j.cluster_id, j.model, j.prompt_style, j.n_params) for j in jobs] == [(0, "m-a", "native", 5)]
    assert jobs[0].baseline == {"metric": "field_f1", "value": 0.25, "interval": [0.1, 0.5], "n": 20, "source": "select"}
    assert jobs[0].validation_ids == ["a", "b"] and jobs[0].baseline_skipped is None
    assert skipped[0]["cluster_id"] == 1 and "too slow" in skipped[0]["reason"]
    jobs, skipped = plan_jobs(selection, FinetuneParams(base_model=str(tiny_model)), [0, 1], inputs)
    assert [(j.cluster_id, j.model, j.prompt_style) for j in jobs] == [(0, str(tiny_model), "auto"), (1, str(tiny_model), "auto")]
    assert jobs[0].baseline is None and not skipped  # another model: select's measurement does not apply
    selection["clusters"][0]["chosen"].update(primary=None, unmeasured="not measured zero-shot: long prompts")
    jobs, _ = plan_jobs(selection, FinetuneParams(), [0], inputs)
    assert jobs[0].baseline is None and jobs[0].baseline_skipped == "not measured zero-shot: long prompts"
