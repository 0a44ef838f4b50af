"""The choice rule and the gates, on hand-made measurements."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from slmconvert.models.prompt import PromptFormat
from slmconvert.select.choose import choose, chosen_models
from slmconvert.select.gates import (
    Work,
    compute_gate,
    context_gate,
    licence_gate,
    memory_gate,
    memory_need,
    percentile_99,
    zero_shot_skip,
)
from slmconvert.select.params import SelectParams


def result(model, value, n_params, seconds=1.0, excluded=None):
    return {"model": model, "excluded": excluded, "primary_metric": "rouge_l", "n_params": n_params,
            "primary": None if value is None else {"value": value}, "timing": {"seconds_per_call": seconds}}


def test_quality_first_then_size_then_speed():
    best_but_big = result("big", 0.80, 1_000)
    close_small = result("small", 0.77, 100)
    far_tiny = result("tiny", 0.60, 10)
    winner, reason = choose([best_but_big, close_small, far_tiny], tolerance=0.05)
    assert winner["model"] == "small" and "within 0.05" in reason
    winner, reason = choose([best_but_big, close_small, far_tiny], tolerance=0.01)
    assert winner["model"] == "big" and reason.startswith("best rouge_l")
    same_size = [result("slow", 0.5, 100, seconds=2.0), result("fast", 0.5, 100, seconds=0.5)]
    assert choose(same_size, 0.0)[0]["model"] == "fast"


def test_excluded_candidates_never_win():
    winner, reason = choose([result("a", None, 1, excluded="context 16 < p99 prompt 40 tokens"), result("b", 0.1, 9)], 0.05)
    assert winner["model"] == "b" and "only candidate" in reason
    winner, reason = choose([result("a", None, 1, excluded="licence x not in allowed_licenses")], 0.05)
    assert winner is None and "licence x" in reason


def test_gates():
    assert percentile_99(list(range(1, 101))) == 99 and percentile_99([]) == 0
    assert context_gate(8192, 900, 64)["passed"]
    failed = context_gate(512, 900, 64)
    assert not failed["passed"] and "p99 prompt 900" in failed["reason"]
    assert not context_gate(950, 900, 64)["fits_with_generation"]
    assert licence_gate("gemma", [])["passed"] and not licence_gate("gemma", ["apache-2.0"])["passed"]
    assert memory_gate(10, 100, 0.8)["passed"] and not memory_gate(90, 100, 0.8)["passed"]


def _speed(train: float, prefill: float = 1000.0, decode: float = 50.0, load: float = 2.0):
    from slmconvert.finetune.probe import Throughput

    return Throughput("m", "cpu", train, prefill, decode, 8, load, 5.0)


def test_compute_gate_asks_whether_training_and_evidence_fit_what_is_left_at_measured_speed():
    work = Work(train_tokens=20_000, evidence_calls=94, prompt_tokens=300, new_tokens=30)
    fast, slow = _speed(train=2000), _speed(train=30)  # the same model size, two machines
    assert compute_gate(fast, work, 600)["passed"]
    gate = compute_gate(slow, work, 600)
    assert not gate["passed"] and gate["needed_seconds"] > 600
    assert "to train 20,000 tokens at 30 tok/s" in gate["reason"] and "94 evidence calls" in gate["reason"]
    assert not compute_gate(fast, work, 0)["passed"]
    assert compute_gate(fast, work, 10_000)["passed"] and compute_gate(slow, work, 10_000)["passed"]
    assert compute_gate(None, work, 0)["passed"] and "not measured" in compute_gate(None, work, 0)["reason"]


def test_zero_shot_is_skipped_when_it_would_take_too_much_of_what_is_left():
    slow = _speed(train=100, prefill=10.0, decode=2.0)
    reason = zero_shot_skip(slow, 8, 6000, 40, 600, 0.05)
    assert reason.startswith("not measured zero-shot:") and "6000 tokens" in reason and "600 s left" in reason
    assert zero_shot_skip(_speed(train=100, prefill=100_000, decode=5000), 8, 6000, 40, 600, 0.05) is None
    assert zero_shot_skip(None, 8, 6000, 40, 600, 0.05) is None


def test_unmeasured_candidates_fall_to_the_size_rule():
    long_prompts = "not measured zero-shot: ~900 s for 8 sampled prompts up to 6000 tokens, more than 5% of the 600 s left"
    small, large = result("small", None, 100), result("large", None, 1_000)
    small["unmeasured"] = large["unmeasured"] = long_prompts
    winner, reason = choose([large, small], 0.05)
    assert winner["model"] == "small" and "smallest candidate passing the gates" in reason and "6000" in reason
    gated = result("gated", None, 10, excluded="licence x not in allowed_licenses")
    assert choose([gated, large], 0.05)[0]["model"] == "large"
    measured = result("measured", 0.3, 5_000)
    assert choose([small, measured], 0.05)[0]["model"] == "measured"  # a measurement beats none


def test_memory_need_scales_with_dtype_and_quantisation():
    from slmconvert.models.info import ModelInfo

    info = ModelInfo(name="m", kind="hf", ref="m", description="", hf_id=None, license=None, available=True,
                     cached=True, path=None, n_params=1_000_000_000, size_bytes=None, context_length=None,
                     architecture=None, chat_template=None, native_tools=None, install_hint=None)
    fp32 = memory_need(info, "float32", False, 8, 1024)
    bf16 = memory_need(info, "bfloat16", False, 8, 1024)
    nf4 = memory_need(info, "bfloat16", True, 8, 1024)
    assert fp32 == pytest.approx(2 * bf16) and nf4 < bf16 / 3


def test_chosen_models_reader():
    selection = {"clusters": [
        {"cluster_id": 3, "output_type": "json", "primary_metric": "field_f1", "chosen": {
            "model": "smollm2-135m-instruct", "prompt_format": PromptFormat().to_dict(),
            "metrics": {"field_f1": {"value": 0.4}}, "max_new_tokens": 40}},
        {"cluster_id": 4, "output_type": "text", "primary_metric": "rouge_l", "chosen": None},
    ]}
    choices = chosen_models(selection)
    assert list(choices) == [3]
    assert choices[3].prompt_format == PromptFormat() and choices[3].max_new_tokens == 40


def test_params_reject_unknown_keys_and_document_every_field():
    with pytest.raises(ValidationError, match="sample_sise"):
        SelectParams(sample_sise=3)
    assert all(text for text in SelectParams().describe().values())


def test_cluster_work_trains_on_cut_examples_and_answers_on_whole_prompts():
    from types import SimpleNamespace

    from slmconvert.finetune.allocate import MIN_EXAMPLE_PASSES
    from slmconvert.select.engine import cluster_work, trained_format

    work = cluster_work([4000, 100], [20], evidence_calls=94, max_length=768)
    assert work.train_tokens == MIN_EXAMPLE_PASSES * (768 + 120) / 2  # training cuts the long one at 768
    assert work.prompt_tokens == 2050 and work.new_tokens == 20 and work.evidence_calls == 94
    tools = [{"type": "function", "function": {"name": "lookup_order"}}]
    system = {"role": "system", "content": "You are the shop's agent."}
    same = [SimpleNamespace(tools=tools, messages=[system, {"role": "user", "content": str(i)}]) for i in range(3)]
    distilled = trained_format(same, PromptFormat())
    assert distilled.drop_tools and distilled.drop_system  # what finetune's context distillation drops
    mixed = same + [SimpleNamespace(tools=[], messages=[{"role": "user", "content": "x"}])]
    assert trained_format(mixed, PromptFormat()) == PromptFormat()


def test_the_gates_price_a_cluster_at_the_prompts_finetune_trains_with():
    """Agent logs drift: a tool schema changes in a few calls, the system prompt carries the day's date.
    finetune still drops the schemas (shared by most calls) and the shared system lines; select's gates
    must count the same prompts (counting whole prompts priced the sample agent's evidence at 10x and shut
    its costliest cluster out on a slow CPU)."""
    from types import SimpleNamespace

    from slmconvert.finetune.data import distilled_format
    from slmconvert.select.engine import trained_format

    tools = [{"type": "function", "function": {"name": "lookup_order"}}]
    drifted = [{"type": "function", "function": {"name": "lookup_order", "description": "v2"}}]
    members = [SimpleNamespace(
        tools=drifted if i == 0 else tools,
        messages=[{"role": "system", "content": f"You are the shop's agent.\nToday is 2026-11-{i + 1:02d}."},
                  {"role": "user", "content": f"where is order {i}?"}]) for i in range(20)]
    fmt = trained_format(members, PromptFormat())
    assert fmt.drop_tools and not fmt.drop_system and fmt.drop_system_lines  # the shared line goes, the dates stay
    records = [{"messages": m.messages, "tools": m.tools, "response_format": None} for m in members]
    assert fmt == distilled_format(records, PromptFormat())


def test_a_zero_shot_measurement_is_skipped_when_the_comparison_it_serves_does_not_fit():
    speed = _speed(train=100, prefill=1000, decode=100)  # probe_seconds as _speed sets it
    alone = zero_shot_skip(speed, 8, 100, 10, 600, 0.01)
    assert alone is None  # 8 short calls fit 1% of 600 s
    with_rival = zero_shot_skip(speed, 8, 100, 10, 600, 0.01, rivals=[2.0])
    assert with_rival is not None and "1 larger candidate(s) with their probe" in with_rival
    assert zero_shot_skip(speed, 8, 100, 10, 60_000, 0.01, rivals=[2.0]) is None  # a long budget compares
