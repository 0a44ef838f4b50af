"""Per-example metrics and their aggregation; each metric is shown to fail on a wrong output."""

from __future__ import annotations

import pytest

from slmconvert.evaluation.metrics import (
    aggregate,
    dominant_output_type,
    output_type,
    primary_metric,
    score_example,
)
from slmconvert.models.prompt import ParsedOutput, parse_completion

TOOLS = [{"type": "function", "function": {"name": "track", "parameters": {
    "type": "object", "properties": {"tracking": {"type": "string"}}, "required": ["tracking"]}}}]


def tool_ref(**arguments):
    return {"role": "assistant", "content": None, "tool_calls": [{"id": "c", "type": "function", "function": {"name": "track", "arguments": arguments}}]}


def pred_call(name="track", **arguments):
    return ParsedOutput(None, [{"name": name, "arguments": arguments}])


def test_output_types():
    assert output_type(tool_ref(tracking="1")) == "tool_call"
    assert output_type({"content": '{"a": 1}'}) == "json"
    assert output_type({"content": "plain"}, {"type": "json_object"}) == "json"
    assert output_type({"content": "[not json"}) == "text"
    assert primary_metric("tool_call") == "function_name_and_args_accuracy"
    assert primary_metric("json") == "field_f1" and primary_metric("text") == "rouge_l"
    assert dominant_output_type(["text", "tool_call", "tool_call"]) == "tool_call"


def test_tool_call_metrics_pass_and_fail():
    ref = tool_ref(tracking="1Z999")
    good = score_example(pred_call(tracking="1z999"), ref, tools=TOOLS)
    assert good["parse_rate"] == good["schema_valid"] == good["decision_accuracy"] == 1.0
    assert good["function_name_accuracy"] == good["function_name_and_args_accuracy"] == 1.0
    wrong_args = score_example(pred_call(tracking="1Z998"), ref, tools=TOOLS)
    assert wrong_args["function_name_accuracy"] == 1.0 and wrong_args["function_name_and_args_accuracy"] == 0.0
    wrong_name = score_example(pred_call("cancel", tracking="1Z999"), ref, tools=TOOLS)
    assert wrong_name["schema_valid"] == 0.0 and wrong_name["function_name_accuracy"] == 0.0
    bad_schema = score_example(pred_call(tracking=5), ref, tools=TOOLS)
    assert bad_schema["schema_valid"] == 0.0
    text = score_example(ParsedOutput("I cannot."), ref, tools=TOOLS)
    assert text["decision_accuracy"] == 0.0 and text["schema_valid"] is None
    broken = score_example(parse_completion('<tool_call>{"name": "track", </tool_call>'), ref, tools=TOOLS)
    assert broken["parse_rate"] == 0.0 and broken["function_name_and_args_accuracy"] == 0.0
    assert good["rouge_l"] is None and good["field_f1"] is None


def test_text_answer_when_tools_are_offered():
    ref = {"role": "assistant", "content": "We do not ship to the moon.", "tool_calls": None}
    right = score_example(ParsedOutput("We do not ship to the moon."), ref, tools=TOOLS)
    assert right["decision_accuracy"] == right["function_name_and_args_accuracy"] == 1.0
    assert right["rouge_l"] == 1.0 and right["exact_match"] == 1.0
    wrong = score_example(pred_call(tracking="x"), ref, tools=TOOLS)
    assert wrong["decision_accuracy"] == wrong["function_name_and_args_accuracy"] == 0.0 and wrong["rouge_l"] == 0.0


def test_json_metrics():
    schema = {"type": "object", "properties": {"intent": {"enum": ["refund", "status"]}, "order": {"type": "string"}}, "required": ["intent"]}
    rf = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    ref = {"role": "assistant", "content": '{"intent": "refund", "order": "A-1"}'}
    exact = score_example(ParsedOutput('{"order": "A-1", "intent": "refund"}'), ref, response_format=rf)
    assert exact["field_f1"] == 1.0 and exact["json_exact_match"] == 1.0 and exact["schema_valid"] == 1.0
    partial = score_example(ParsedOutput('{"intent": "status", "order": "A-1"}'), ref, response_format=rf)
    assert partial["field_f1"] == pytest.approx(0.5) and partial["json_exact_match"] == 0.0 and partial["schema_valid"] == 1.0
    invalid = score_example(ParsedOutput('{"intent": "cancel"}'), ref, response_format=rf)
    assert invalid["schema_valid"] == 0.0
    not_json = score_example(ParsedOutput("refund please"), ref, response_format=rf)
    assert not_json["field_f1"] == 0.0 and not_json["schema_valid"] == 0.0


def test_text_metrics():
    ref = {"role": "assistant", "content": "The customer wants a refund for a damaged mug."}
    close = score_example(ParsedOutput("Customer wants a refund for the damaged mug."), ref)
    far = score_example(ParsedOutput("Weather is nice today."), ref)
    assert 0.5 < close["rouge_l"] < 1.0 and far["rouge_l"] < 0.2
    assert close["exact_match"] == 0.0 and close["decision_accuracy"] is None


def test_aggregate_uses_only_applicable_rows():
    ref = tool_ref(tracking="1")
    rows = [score_example(pred_call(tracking="1"), ref, tools=TOOLS) for _ in range(3)]
    rows.append(score_example(pred_call(tracking="2"), ref, tools=TOOLS))
    rows.append(score_example(ParsedOutput("text"), {"role": "assistant", "content": "text"}))
    summary = aggregate(rows)
    acc = summary["function_name_and_args_accuracy"]
    assert acc.n == 4 and acc.value == 0.75 and acc.low < 0.75 < acc.high
    assert summary["parse_rate"].n == 5
    assert summary["rouge_l"].n == 1 and summary["rouge_l"].value == 1.0
    assert summary["field_f1"].n == 0 and summary["field_f1"].value is None


def test_strict_agreement_per_output_type():
    ref = tool_ref(tracking="1Z999", count=1)
    assert score_example(pred_call(count=1.0, tracking="1Z999"), ref, tools=TOOLS)["strict_agreement"] == 1.0
    # BFCL-style matching forgives case, strict agreement does not
    loose = score_example(pred_call(tracking="1z999"), tool_ref(tracking="1Z999"), tools=TOOLS)
    assert loose["function_name_and_args_accuracy"] == 1.0 and loose["strict_agreement"] == 0.0
    assert score_example(ParsedOutput("1Z999"), ref, tools=TOOLS)["strict_agreement"] == 0.0
    json_ref = {"content": '{"intent": "refund", "score": 1}'}
    assert score_example(ParsedOutput('{"score": 1.0, "intent": "refund"}'), json_ref)["strict_agreement"] == 1.0
    assert score_example(ParsedOutput('{"score": 1, "intent": "Refund"}'), json_ref)["strict_agreement"] == 0.0
    label = {"content": "billing\n"}
    assert score_example(ParsedOutput("  billing"), label)["strict_agreement"] == 1.0
    assert score_example(ParsedOutput("Billing"), label)["strict_agreement"] == 0.0
    broken = parse_completion('<tool_call>{"name": "track", </tool_call>')
    assert score_example(broken, ref, tools=TOOLS)["strict_agreement"] == 0.0
