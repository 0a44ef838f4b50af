"""Replay through a real (tiny, in-process) model with a LoRA adapter: the generator, confidence,
escalation and the replay numbers agree with each other, and cached answers are reused."""

from __future__ import annotations

import pytest

from slmconvert.router.config import ClusterRoute, EscalationRules, RouterConfig, relative_to_router
from slmconvert.router.generator import CachedGenerator, PeftGenerator
from slmconvert.router.replay import replay
from slmconvert.router.router import Router
from tests.router.fakes import FakeAssigner, call


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from slmconvert.models.tiny import create_tiny_model

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("tiny-replay")
    model_dir = create_tiny_model(root / "model")
    base = AutoModelForCausalLM.from_pretrained(model_dir)
    # a non-trivial adapter (random A and B), so the adapter really changes the outputs
    peft_model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear",
                                                 init_lora_weights=False))
    peft_model.save_pretrained(root / "adapter")
    return model_dir, root / "adapter"


def _router(tmp_path, model_dir, adapter, threshold):
    directory = tmp_path / "router"
    route = ClusterRoute(0, "lookup", True, "promoted", "tool_call", model=str(model_dir),
                         adapter=relative_to_router(directory, adapter),
                         prompt_format={"schema": "slmconvert.prompt_format/1", "style": "canonical",
                                        "drop_system": False, "drop_tools": False},
                         max_new_tokens=12, confidence_threshold=threshold,
                         primary_metric="function_name_and_args_accuracy")
    RouterConfig([route], EscalationRules(confidence_measure="mean_logprob")).save(directory)
    return Router.load(directory, assigner=FakeAssigner())


def test_replay_on_a_tiny_model(tmp_path, tiny):
    model_dir, adapter = tiny
    records = [call(f"c{i}", order=f"A-{100 + i}") for i in range(6)] + [call("x", cluster=-1)]
    generator = CachedGenerator(PeftGenerator(device="cpu", batch_size=4))
    plain = replay(_router(tmp_path, model_dir, adapter, None), records, generator)
    scores = [r["slm_confidence"] for r in plain.rows if r["route"] == "slm"]
    assert len(scores) == 6 and all(s is not None and s <= 0 for s in scores)
    # a threshold in the middle of the observed confidences escalates exactly the calls below it
    threshold = sorted(scores)[3]
    result = replay(_router(tmp_path / "t", model_dir, adapter, threshold), records, generator)
    assert generator.generated == 6 and generator.hits == 6  # the second replay reused every answer
    slm = [r for r in result.rows if r["route"] == "slm"]
    low = [r for r in slm if r["escalation"] == "low_confidence"]
    assert {r["call_id"] for r in low} == {r["call_id"] for r in slm
                                           if r["slm_confidence"] < threshold and r["escalation"] in (None, "low_confidence")}
    escalated = sum(r["escalated"] for r in slm)
    o = result.overall
    assert o["calls"] == 7 and o["routed_slm"] == 6
    assert o["escalation_rate"]["value"] == pytest.approx(escalated / 6)
    kept = [r["agreement"] for r in slm if not r["escalated"]]
    if kept:
        assert o["agreement"]["value"] == pytest.approx(sum(kept) / len(kept))
    served = [1.0 if r["escalated"] else r["agreement"] for r in slm]
    assert o["served_quality"]["value"] == pytest.approx(sum(served) / 6)
    assert all(r["slm_new_tokens"] <= 13 for r in slm)  # max_new_tokens (+ stop token)


def test_adapter_changes_the_answers(tiny):
    from slmconvert.models.prompt import PromptFormat

    model_dir, adapter = tiny
    generator = PeftGenerator(device="cpu", batch_size=2)
    records = [call("a"), call("b", order="A-9")]
    with_adapter = generator.generate(str(model_dir), adapter, PromptFormat(), records, 10)
    without = generator.generate(str(model_dir), None, PromptFormat(), records, 10)
    assert [g.logprobs for g in with_adapter] != [g.logprobs for g in without]
    again = generator.generate(str(model_dir), adapter, PromptFormat(), records, 10)
    assert [g.text for g in again] == [g.text for g in with_adapter]  # switching back is exact


def test_merged_adapter_answers_like_the_adapter_and_leaves_the_base_alone(tiny, monkeypatch):
    from slmconvert.models import loading
    from slmconvert.models.prompt import PromptFormat

    # fp32 here: a random tiny model's near-tied logits would flip under bf16 rounding either way
    monkeypatch.setattr(loading, "cpu_bf16_support", lambda: (False, "test: fp32"))
    model_dir, adapter = tiny
    records = [call("a"), call("b", order="A-9")]
    layered = PeftGenerator(device="cpu", batch_size=2).generate(str(model_dir), adapter, PromptFormat(), records, 10)
    merging = PeftGenerator(device="cpu", batch_size=2, merge_adapters=True)
    base_before = merging.generate(str(model_dir), None, PromptFormat(), records, 10)
    merged = merging.generate(str(model_dir), adapter, PromptFormat(), records, 10)
    assert [g.text for g in merged] == [g.text for g in layered]
    for m, g in zip(merged, layered, strict=True):  # same answers, log-probs up to rounding
        assert m.logprobs == pytest.approx(g.logprobs, abs=0.05)
    base_after = merging.generate(str(model_dir), None, PromptFormat(), records, 10)
    assert [g.logprobs for g in base_after] == [g.logprobs for g in base_before]  # the base was copied, not merged into
    assert [g.logprobs for g in merged] != [g.logprobs for g in base_after]
