"""The iterate stage on a hand-built workspace (fake generator and assigner, no models)."""

from __future__ import annotations

import pytest

from slmconvert.iterate.params import IterateParams
from slmconvert.router.router import Router
from slmconvert.stages import iterate as iterate_stage
from slmconvert.stages.base import StageContext
from slmconvert.util.jsonio import read_json
from slmconvert.util.tables import read_table
from tests.iterate.fake_workspace import ReferenceGenerator, TableAssigner
from tests.iterate.fake_workspace import build as build_workspace


def _run(ws, params, generator, assigner, version="v-iterate"):
    out = ws.stage_dir("iterate") / f".tmp-{version}"
    out.mkdir(parents=True)
    inputs = {name: ws.artifact(name) for name in ("finetune", "select", "cluster", "curate")}
    ctx = StageContext(ws, out, params, inputs, quiet=True, version=version)
    result = iterate_stage.run(ctx, generator=generator, assigner=assigner)
    return out, result


@pytest.fixture
def ws(tmp_path):
    return build_workspace(tmp_path / "work")


def _assigner():
    table = {f"t{i:03d}": 0 for i in range(60)} | {f"x{i:03d}": 1 for i in range(30)}
    return TableAssigner(table)


def test_perfect_specialist_is_promoted_and_everything_is_written(ws):
    params = IterateParams(promotion_target=0.6, device="cpu", max_test_calls=48, max_base_calls=5)
    generator = ReferenceGenerator()
    out, result = _run(ws, params, generator, _assigner())
    evaluation = read_json(out / "evaluation.json")
    tool, text = evaluation["clusters"]
    assert tool["specialist"]["n"] == 15 and tool["test_calls_available"] == 15
    primary = tool["specialist"]["metrics"]["function_name_and_args_accuracy"]
    assert primary["value"] == 1.0 and primary["low"] > 0.6
    assert tool["base"]["metrics"]["function_name_and_args_accuracy"]["value"] == 0.0 and tool["base"]["n"] == 5
    assert tool["promotion"]["promoted"] and not text["promotion"]["promoted"]
    assert "open-ended" in text["promotion"]["reason"]
    cascade = tool["cascade"]
    assert cascade["threshold"] is None and cascade["coverage"] == 1.0  # kept whole: validation all agree
    assert cascade["agreement"]["n"] == 15 and cascade["validation_calls"] == 15
    assert tool["agreement_metric"] == "strict_agreement"
    # 15 test + 5 base + 15 validation generations; replay reused the 15 test answers
    assert generator.calls == 35
    assert result.summary["promoted"] == [0]
    assert result.summary["generation"] == {"generated": 35, "reused": 15}

    router = Router.load(out / "router", assigner=_assigner())
    assert router.route({"call_id": "t000"}).route == "slm"
    assert router.route({"call_id": "x000"}).route == "llm"
    assert router.config.baseline_ood_share is not None
    assert (out / "router" / "seed" / "config.json").is_file()
    assert router.adapter_path(router.config.route_for(0)) == (ws.root / "finetune/v-finetune/0/adapter").resolve()

    predictions = read_table(out / "predictions.parquet")
    assert len(predictions) == 15 + 8  # test samples of both clusters
    slm_rows = [p for p in predictions if p["route"] == "slm"]
    assert len(slm_rows) == 15 and all(p["agreement"] == 1.0 and not p["escalated"] for p in slm_rows)
    assert sum(p["base_output"] is not None for p in slm_rows) == 5
    assert {p["model"] for p in predictions} == {"tiny-model", "llm"}

    economics = read_json(out / "report.json")["economics"]
    # 60 of 92 curated calls are in cluster 0 and nothing escalates
    assert economics["share_calls_moved"] == pytest.approx(60 / 92)
    slm_cost = 60 * (50 * 0.03 + 4 * 0.06) / 1e6  # measured SLM tokens per call at the default prices
    assert economics["cost_cut"] == pytest.approx((60 * 0.002 - slm_cost) / (60 * 0.002 + 30 * 0.02 + 2 * 0.002))
    history = read_json(out / "history.json")["iterations"]
    assert len(history) == 1 and history[0]["kind"] == "initial" and history[0]["promoted"] == [0]
    html = (out / "report.html").read_text()
    assert "tool_call: lookup_order" in html and "data:image/png;base64," in html


def test_errors_keep_a_cluster_on_the_llm(ws):
    wrong = {f"t{i:03d}" for i in range(0, 60, 8)}  # every other test call is wrong
    params = IterateParams(promotion_target=0.6, device="cpu", max_base_calls=0, eval_chunk=4)
    out, result = _run(ws, params, ReferenceGenerator(wrong=wrong), _assigner())
    tool = read_json(out / "evaluation.json")["clusters"][0]
    # after the first 8 answers (4 wrong) even 7 perfect ones could not reach 0.6: evaluation stops
    primary = tool["specialist"]["metrics"]["function_name_and_args_accuracy"]
    assert primary["value"] == 0.5 and primary["n"] == 8 and tool["specialist"]["n"] == 8
    assert tool["stopped_early"].startswith("decided early")
    assert not tool["promotion"]["promoted"] and "lower bound" in tool["promotion"]["reason"]
    assert tool["base"] is None
    assert result.summary["promoted"] == []
    report = read_json(out / "report.json")
    assert report["economics"]["share_calls_moved"] == 0
    # 4/8 has a Wilson lower bound of ~0.22: no threshold on the curve (0.50-0.99) promotes it
    assert all(p["promoted"] == [] for p in report["cost_quality_curve"])


def test_the_time_budget_never_cuts_the_specialists_evidence(ws, monkeypatch):
    params = IterateParams(promotion_target=0.6, device="cpu", max_base_calls=5, eval_chunk=4)
    # the baseline gets 0.3 s of what is left: the rest is kept for the router, replay and report
    monkeypatch.setattr(iterate_stage, "after_evidence_reserve", lambda deadline: deadline.left() - 0.3)

    class Slow(ReferenceGenerator):
        def generate(self, *args, **kwargs):
            import time

            time.sleep(0.4)
            return super().generate(*args, **kwargs)

    out, _ = _run(ws, params, Slow(), _assigner())
    tool = read_json(out / "evaluation.json")["clusters"][0]
    # validation and test samples in full although the budget was gone after the first chunk
    assert tool["specialist"]["n"] == 15 and tool["validation"]["n"] == 15 and tool["stopped_early"] is None
    assert tool["promotion"]["promoted"] and tool["promotion"]["n"] == 15
    # only the base-model baseline is cut by it
    assert "time budget" in tool["base"]["stopped_early"] and tool["base"]["n"] < 5


def test_low_confidence_answers_are_escalated_at_the_validated_threshold(ws):
    wrong = {"t001", "t005"}  # wrong answers on validation calls only
    unsure = wrong | {"t004", "t008"}  # t004, t008 are test calls the specialist gets right
    params = IterateParams(promotion_target=0.6, device="cpu", max_base_calls=0, threshold_levels=[0.99])
    generator = ReferenceGenerator(wrong=wrong, logprobs=dict.fromkeys(unsure, -3.0))
    out, _ = _run(ws, params, generator, _assigner())
    tool = read_json(out / "evaluation.json")["clusters"][0]
    cascade = tool["cascade"]
    assert cascade["threshold"] == pytest.approx(-0.1) and cascade["promoted"]
    assert cascade["coverage"] == pytest.approx(13 / 15)
    assert tool["routed"]["escalations"] == {"low_confidence": 2}
    assert tool["routed"]["escalation_rate"]["value"] == pytest.approx(2 / 15)
    router = Router.load(out / "router", assigner=_assigner())
    assert router.config.route_for(0).confidence_threshold == pytest.approx(-0.1)


def test_evidence_goes_in_chunks_of_three_batches_unless_set():
    # a chunk is sorted into batches of alike answer lengths, so it holds several batches
    assert IterateParams(batch_size=16).chunk() == 48
    assert IterateParams(batch_size=16, eval_chunk=4).chunk() == 4
    assert IterateParams(batch_size=4, eval_chunk=40).chunk() == 40  # not capped at one batch


def test_long_prompts_are_generated_in_small_chunks():
    from slmconvert.iterate.evaluate import chunks
    from slmconvert.models.prompt import PromptFormat, line_hash

    short = {"messages": [{"role": "user", "content": "x" * 100}], "tools": []}
    long = {"messages": [{"role": "system", "content": "p" * 20_000}, {"role": "user", "content": "x"}], "tools": []}
    assert [len(c) for c in chunks([short] * 20, PromptFormat(), 8)] == [8, 8, 4]
    assert [len(c) for c in chunks([long] * 3, PromptFormat(), 8)] == [1, 1, 1]
    # a specialist trained without the system prompt has short prompts again
    distilled = PromptFormat(drop_system=True)
    assert [len(c) for c in chunks([long] * 3, distilled, 8)] == [3]
    # and so does one trained without the system lines its calls share (the rest still count)
    lines = {"messages": [{"role": "system", "content": "\n".join(["p" * 5_000] * 4 + ["Today is Monday."])},
                          {"role": "user", "content": "x"}], "tools": []}
    shared = PromptFormat(drop_system_lines=(line_hash("p" * 5_000),))
    assert [len(c) for c in chunks([lines] * 3, shared, 8)] == [3]
    assert [len(c) for c in chunks([lines] * 3, PromptFormat(), 8)] == [1, 1, 1]


def test_base_model_is_not_measured_on_long_prompts_on_cpu(ws):
    params = IterateParams(promotion_target=0.6, device="cpu", max_base_calls=5, max_base_prompt_tokens=1)
    generator = ReferenceGenerator()
    out, _ = _run(ws, params, generator, _assigner())
    tool = read_json(out / "evaluation.json")["clusters"][0]
    assert tool["base"] is None and "max_base_prompt_tokens 1" in tool["base_skipped"]
    assert tool["promotion"]["promoted"]  # the specialist is judged on its own numbers
    assert generator.calls == 30  # 15 test + 15 validation: no base generations


def test_a_cluster_finetune_left_untrained_gives_finetunes_reason(ws):
    import shutil

    from slmconvert.util.jsonio import atomic_write_json

    version = ws.root / "finetune" / "v-finetune"
    shutil.rmtree(version / "0")
    atomic_write_json(version / "finetune.json", {"clusters": [], "skipped": [
        {"cluster_id": 0, "reason": "budget: needs 900 s (600 s of training at 80 tok/s + 290 s for 94 evidence calls + 10 s loading), 300 s left"}]})
    out, _ = _run(ws, IterateParams(device="cpu"), ReferenceGenerator(), _assigner())
    tool = read_json(out / "evaluation.json")["clusters"][0]
    assert not tool["promotion"]["promoted"]
    assert tool["promotion"]["reason"] == (
        "stays on the LLM: not fine-tuned: budget: needs 900 s (600 s of training at 80 tok/s + 290 s for 94 evidence calls + 10 s loading), 300 s left")


def test_the_evidence_finetune_reserved_is_what_is_evaluated(ws):
    from slmconvert.util.jsonio import atomic_write_json

    index = ws.root / "finetune" / "v-finetune" / "finetune.json"
    atomic_write_json(index, {**read_json(index), "budget": {"budget": "15m", "entries": [
        {"cluster_id": 0, "trained": True, "test_calls": 9, "validation_calls": 6}]}})
    generator = ReferenceGenerator()
    out, result = _run(ws, IterateParams(promotion_target=0.0, device="cpu", max_base_calls=0), generator,
                       _assigner())
    tool = read_json(out / "evaluation.json")["clusters"][0]
    # the planned test sample; validation never below the calls calibration needs (15 are all there are)
    assert tool["specialist"]["n"] == 9 and tool["validation"]["n"] == 15
    assert result.metrics["budget"]["budget"] == "15m" and result.metrics["budget"]["planned"][0]["test_calls"] == 9
    capped = IterateParams(promotion_target=0.0, device="cpu", max_base_calls=0, max_test_calls=5)
    out, _ = _run(ws, capped, ReferenceGenerator(), _assigner(), version="v-capped")
    assert read_json(out / "evaluation.json")["clusters"][0]["specialist"]["n"] == 5  # the cap still binds
    stricter = IterateParams(promotion_target=0.9, device="cpu", max_base_calls=0)
    out, _ = _run(ws, stricter, ReferenceGenerator(), _assigner(), version="v-stricter")
    # a target stricter than the one finetune planned for needs more than was planned: all 15 are used
    assert read_json(out / "evaluation.json")["test_sample"]["0"] == 15
