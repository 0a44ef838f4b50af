"""Training a tiny in-process model end to end: learning, reloading, resuming, QLoRA on CPU, caching."""

from __future__ import annotations

import json

import pytest
import torch
from rich.console import Console

from slmconvert.finetune import run as frun
from slmconvert.finetune.run import ClusterJob, train_cluster
from slmconvert.finetune.trainer import SpecialistTrainer
from slmconvert.models.prompt import PromptFormat
from tests.finetune.conftest import cluster_records, fast_params


def train(tmp_path, tiny_model, params, records=None, cache="cache", out="out", **job_fields):
    job = ClusterJob(0, str(tiny_model), records or cluster_records(), label="lookup", output_type="tool_call",
                     prompt_style="canonical", **job_fields)
    return train_cluster(job, params, device="cpu", cache_root=tmp_path / cache, out_dir=tmp_path / out / "0",
                         console=Console(stderr=True), quiet=True)


def adapter_tensors(path):
    from safetensors.torch import load_file

    return load_file(str(path / "adapter" / "adapter_model.safetensors"))


def test_loss_goes_down_and_outputs_are_complete(tmp_path, tiny_model):
    metrics = train(tmp_path, tiny_model, fast_params(max_steps=12))
    training = metrics["training"]
    assert training["steps"] == 12
    assert training["train_loss"] < training["first_train_loss"] - 0.3
    curves = json.loads((tmp_path / "out/0/curves.json").read_text())
    eval_losses = [p["eval_loss"] for p in curves if "eval_loss" in p]
    assert len(eval_losses) >= 2 and min(eval_losses[1:]) < eval_losses[0]
    assert training["loss_tokens"] > 0 and training["tokens"] > training["loss_tokens"]
    out = tmp_path / "out/0"
    for name in ("adapter/adapter_model.safetensors", "adapter/adapter_config.json", "README.md", "metrics.json",
                 "prompt_format.json", "curves.png"):
        assert (out / name).is_file(), name
    fmt = PromptFormat.load(out / "prompt_format.json")
    assert fmt.drop_system and fmt.drop_tools  # identical system prompt + tools across the cluster
    card = (out / "README.md").read_text()
    assert str(tiny_model) in card and metrics["data"]["data_hash"] in card and "before" in card
    validation = metrics["validation"]
    assert validation["metric"] == "function_name_and_args_accuracy"
    assert validation["before"]["n"] == validation["after"]["n"] == 4
    config = json.loads((out / "adapter/adapter_config.json").read_text())
    assert not config.get("modules_to_save")
    assert config["base_model_name_or_path"] == str(tiny_model)
    assert set(config["target_modules"]) >= {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
    assert not any("embed" in k or "lm_head" in k for k in adapter_tensors(out))


def test_training_stops_at_the_wall_clock_guard(tmp_path, tiny_model):
    import time

    job = ClusterJob(0, str(tiny_model), cluster_records(), label="lookup", output_type="tool_call",
                     prompt_style="canonical")
    metrics = train_cluster(job, fast_params(max_steps=12), device="cpu", cache_root=tmp_path / "cache",
                            out_dir=tmp_path / "out" / "0", console=Console(stderr=True), quiet=True,
                            stop_at=time.time())
    assert metrics["training"]["steps"] == 1 and metrics["training"]["early_stopped"]
    assert (tmp_path / "out/0/adapter/adapter_model.safetensors").is_file()
    # the stopped step was validated, so it competes for the best model (no training is thrown away)
    assert metrics["training"]["best_step"] == 1 and metrics["training"]["best_eval_loss"] is not None


def test_no_baseline_when_select_skipped_it(tmp_path, tiny_model):
    metrics = train(tmp_path, tiny_model, fast_params(max_steps=2), baseline_skipped="long prompts on a CPU")
    assert metrics["validation"]["before"] is None and metrics["validation"]["after"]["n"] == 4


def test_adapter_reloads_with_identical_outputs(tmp_path, tiny_model, monkeypatch):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    probe = torch.arange(5, 45).reshape(2, 20)
    seen = {}
    original = frun._finish

    def spy(run_dir, trainer, result, **kwargs):
        model = trainer.model.eval()
        with torch.no_grad():
            seen["logits"] = model(input_ids=probe).logits.float().clone()
        original(run_dir, trainer, result, **kwargs)

    monkeypatch.setattr(frun, "_finish", spy)
    train(tmp_path, tiny_model, fast_params(max_steps=6))
    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    with torch.no_grad():
        base_logits = base(input_ids=probe).logits
    reloaded = PeftModel.from_pretrained(base, str(tmp_path / "out/0/adapter")).eval()
    with torch.no_grad():
        logits = reloaded(input_ids=probe).logits
    assert torch.allclose(logits, seen["logits"], atol=1e-5)
    assert not torch.allclose(logits, base_logits, atol=1e-3)  # the adapter really changes the model


def test_resume_after_interruption_continues_from_the_checkpoint(tmp_path, tiny_model, monkeypatch):
    params = fast_params(max_steps=8, batch_size=4)  # 24 examples: 6 steps/epoch; checkpoints at 4 and 8
    reference = train(tmp_path, tiny_model, params, cache="cache-ref", out="out-ref")
    original = SpecialistTrainer.training_step

    def killed(self, *args, **kwargs):
        if self.state.global_step == 5:
            raise KeyboardInterrupt  # the process dies after step 5, checkpoint-4 on disk
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SpecialistTrainer, "training_step", killed)
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path, tiny_model, params)
    checkpoints = sorted(p.name for p in (tmp_path / "cache").glob("*/checkpoint-*"))
    assert checkpoints == ["checkpoint-4"]
    monkeypatch.setattr(SpecialistTrainer, "training_step", original)
    resumed = train(tmp_path, tiny_model, params)
    assert resumed["training"]["resumed_from_step"] == 4
    assert resumed["training"]["steps"] == 8
    assert resumed["training"]["loss_tokens"] < reference["training"]["loss_tokens"]  # only steps 5-8 ran again
    assert not list((tmp_path / "cache").glob("*/checkpoint-*"))  # cleaned up once final
    expected, got = adapter_tensors(tmp_path / "out-ref/0"), adapter_tensors(tmp_path / "out/0")
    assert expected.keys() == got.keys()
    for name in expected:
        assert torch.allclose(expected[name], got[name], atol=1e-6), name


def test_finished_runs_are_reused_and_changed_params_retrain(tmp_path, tiny_model):
    first = train(tmp_path, tiny_model, fast_params(max_steps=4), inputs={"select": "select@v1"})
    again = train(tmp_path, tiny_model, fast_params(max_steps=4), out="out2", inputs={"select": "select@v2"})
    assert not first["reused_from_cache"] and again["reused_from_cache"]
    # a reused adapter carries this run's lineage, in metrics.json and in the model card
    assert again["data"]["inputs"] == {"select": "select@v2"}
    assert "select@v2" in (tmp_path / "out2/0/README.md").read_text()
    assert adapter_tensors(tmp_path / "out/0").keys() == adapter_tensors(tmp_path / "out2/0").keys()
    other = train(tmp_path, tiny_model, fast_params(max_steps=4, lora_rank=4), out="out3")
    assert not other["reused_from_cache"] and other["plan"]["lora_rank"] == 4
    no_reuse = train(tmp_path, tiny_model, fast_params(max_steps=4, reuse_cache=False), out="out4")
    assert not no_reuse["reused_from_cache"]


def test_qlora_runs_on_cpu_with_4bit_base_layers(tmp_path, tiny_model, monkeypatch):
    seen = {}
    original = frun._finish

    def spy(run_dir, trainer, result, **kwargs):
        seen["layers"] = sorted({type(m).__name__ for m in trainer.model.modules() if "4bit" in type(m).__name__})
        original(run_dir, trainer, result, **kwargs)

    monkeypatch.setattr(frun, "_finish", spy)
    metrics = train(tmp_path, tiny_model, fast_params(method="qlora", max_steps=8))
    assert metrics["plan"]["method"] == "qlora"
    assert "Linear4bit" in seen["layers"]
    assert metrics["training"]["train_loss"] < metrics["training"]["first_train_loss"]
    assert (tmp_path / "out/0/adapter/adapter_model.safetensors").is_file()


def test_4bit_gradients_survive_a_validation_pass(tiny_model):
    """bitsandbytes repacks 4-bit weights for CPU inference in eval mode; training afterwards must
    still get the same gradients as without the evaluation pass."""
    from peft import LoraConfig, get_peft_model

    from slmconvert.finetune.budget import make_plan
    from slmconvert.finetune.modeling import load_for_training

    plan = make_plan(fast_params(method="qlora"), device="cpu", n_params=None, n_train=8, mean_length=20.0,
                     max_length=64, completion_max=10, varlen_attention=False)
    batch = torch.randint(5, 300, (2, 12), generator=torch.Generator().manual_seed(1))

    def gradient_norms(eval_pass: bool) -> list[float]:
        model = load_for_training(str(tiny_model), plan).model
        torch.manual_seed(0)
        model = get_peft_model(model, LoraConfig(r=4, target_modules="all-linear", init_lora_weights=False,
                                                 task_type="CAUSAL_LM"))
        if eval_pass:
            model.eval()
            with torch.no_grad():
                model(input_ids=batch)
        model.train()
        model(input_ids=batch, labels=batch).loss.backward()
        return [p.grad.norm().item() for n, p in model.named_parameters() if p.requires_grad and "layers.0." in n]

    assert gradient_norms(True) == pytest.approx(gradient_norms(False), rel=1e-5)


def test_merge_writes_a_standalone_model_equal_to_base_plus_adapter(tmp_path, tiny_model):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    metrics = train(tmp_path, tiny_model, fast_params(max_steps=2, merge=True))
    merged_dir = tmp_path / "out/0/merged"
    assert metrics["merged"]["path"] == "merged" and (merged_dir / "model.safetensors").is_file()
    probe = torch.arange(5, 35).reshape(1, 30)
    merged = AutoModelForCausalLM.from_pretrained(merged_dir).eval()
    adapted = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model), str(tmp_path / "out/0/adapter"))
    with torch.no_grad():
        assert torch.allclose(merged(input_ids=probe).logits, adapted.eval()(input_ids=probe).logits, atol=1e-4)
    assert json.loads((tmp_path / "out/0/metrics.json").read_text())["merged"]["bytes"] > 0


@pytest.mark.filterwarnings("ignore:Full backward hook")
@pytest.mark.parametrize(("share", "adapted"), [(0.5, {2, 3}), (0.25, {3}), (1.0, {0, 1, 2, 3})])
def test_lora_sits_on_the_top_layers_and_backward_stops_below_them(tmp_path, share, adapted):
    """Layers below the adapted ones run forward only: no LoRA weights and no backward pass there."""
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM

    from slmconvert.finetune.budget import make_plan
    from slmconvert.finetune.modeling import lora_config
    from slmconvert.models.tiny import create_tiny_model

    path = create_tiny_model(tmp_path / "deep", num_layers=4, hidden_size=32)
    plan = make_plan(fast_params(lora_layers=share), device="cpu", n_params=None, n_train=8, mean_length=20.0,
                     max_length=64, completion_max=10, varlen_attention=False)
    base = AutoModelForCausalLM.from_pretrained(path)
    model = get_peft_model(base, lora_config(plan, base))
    with_lora = {int(n.split("layers.")[1].split(".")[0]) for n, p in model.named_parameters() if p.requires_grad}
    assert with_lora == adapted
    backward: set[int] = set()
    for index, layer in enumerate(model.base_model.model.model.layers):
        layer.register_full_backward_hook(lambda *_args, i=index: backward.add(i))
    batch = torch.randint(5, 300, (2, 12), generator=torch.Generator().manual_seed(1))
    model(input_ids=batch, labels=batch).loss.backward()
    assert backward == adapted


def test_the_prepared_job_carries_the_share_its_specialist_is_expected_to_answer_exactly(tiny_model):
    from slmconvert.finetune.run import prepare_job
    from slmconvert.finetune.verbatim import verbatim_share
    from slmconvert.models import load_tokenizer

    records = cluster_records(n_train=24)
    for i, record in enumerate(records.train[::2]):  # every other answer a one-off sentence, as after a tool result
        record["output"] = {"role": "assistant", "content": f"Order A-{i} left the Reno warehouse on Monday."}
    job = ClusterJob(0, str(tiny_model), records, label="lookup", output_type="tool_call", prompt_style="canonical")
    prepared = prepare_job(job, fast_params(), "cpu", load_tokenizer(str(tiny_model)))
    assert prepared.verbatim_share == pytest.approx(verbatim_share(records.train)) and prepared.verbatim_share < 0.9
    plain = ClusterJob(0, str(tiny_model), cluster_records(n_train=24), label="lookup", output_type="tool_call",
                       prompt_style="canonical")
    assert prepare_job(plain, fast_params(), "cpu", load_tokenizer(str(tiny_model))).verbatim_share == 1.0
