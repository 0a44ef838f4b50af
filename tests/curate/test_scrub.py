"""Record scrubbing: where it looks, consistency across fields, schema validity, fail-closed."""

from __future__ import annotations

import copy
import json

import jsonschema
import pytest

from slmconvert.artifacts.curated import conversation, reference
from slmconvert.curate.fields import SCANNED_FIELDS, RecordFields, json_leaves
from slmconvert.curate.params import CurateParams
from slmconvert.curate.pipeline import Curator
from slmconvert.curate.scrub import Scrubber
from slmconvert.curate.surrogates import Pseudonymiser
from slmconvert.curate.synthetic import TOOLS, synthetic_calls

from .conftest import KEY


def test_json_leaves_keep_keys_and_formatting():
    text = '{\n  "customer_name": "Jane Doe",\n  "phones": ["415-555-0132", 4155550132],\n  "ok": true\n}'
    leaves = json_leaves(text)
    assert [(value, key) for _, _, value, key, _ in leaves] == [
        ("Jane Doe", "customer_name"), ("415-555-0132", "phones"), ("4155550132", "phones")]
    assert json_leaves("plain text") is None and json_leaves("{broken") is None


def test_keys_are_hints_and_every_string_value_is_scanned():
    record = synthetic_calls(1, seed=2)[1]
    fields = RecordFields(copy.deepcopy(record))
    texts = {u.text for u in fields.units}
    assert not {"customer", "properties", "additionalProperties"} & texts  # JSON keys: hints, never changed
    assert {"lookup_order", "update_address", "Change an order's delivery address.", "support", "gpt-4.1",
            "synthetic"} <= texts  # the file name without its extension
    assert "web" not in texts and fields.record["client_id"] is None  # dropped: nothing after curate reads it
    assert any(t.startswith("call_") for t in texts)
    assert {u.kind for u in fields.units} == {"system", "user", "tool", "tool_arguments", "metadata", "identifiers",
                                              "tool_schemas"}
    assert {u.path for u in fields.units} <= set(SCANNED_FIELDS)
    assert fields.dropped == {"client_id": 1}


def test_same_value_same_surrogate_across_fields(scrubber):
    record = synthetic_calls(1, seed=4)[1]
    name = record["output"]["tool_calls"][0]["function"]["arguments"]["customer_name"]
    phone = record["output"]["tool_calls"][0]["function"]["arguments"]["phone"]
    [result] = scrubber.scrub([record])
    scrubbed = result.record
    args = scrubbed["output"]["tool_calls"][0]["function"]["arguments"]
    assert args["customer_name"] != name and args["phone"] != phone
    user = scrubbed["messages"][1]["content"]
    assert args["customer_name"] in user and args["phone"] in user
    tool_result = json.loads(scrubbed["messages"][3]["content"])
    assert tool_result["customer"]["name"] == args["customer_name"]
    assert name not in json.dumps(scrubbed, ensure_ascii=False)


def test_scrubbed_tool_calls_still_match_their_schemas(scrubber):
    schemas = {t["function"]["name"]: t["function"]["parameters"] for t in TOOLS}
    checker = jsonschema.FormatChecker()
    for result in scrubber.scrub(synthetic_calls(10, seed=6)):
        for call in result.record["output"].get("tool_calls") or []:
            function = call["function"]
            jsonschema.validate(function["arguments"], schemas[function["name"]], format_checker=checker)


def test_numbers_in_arguments_stay_numbers(scrubber):
    record = {"messages": [{"role": "user", "content": "call me"}],
              "output": {"role": "assistant", "content": None, "tool_calls": [
                  {"id": "c", "type": "function", "function": {"name": "f", "arguments": {"phone": 4155550132}}}]}}
    [result] = scrubber.scrub([record])
    value = result.record["output"]["tool_calls"][0]["function"]["arguments"]["phone"]
    assert isinstance(value, int) and value != 4155550132


def test_secrets_in_json_text_become_placeholders(scrubber):
    content = json.dumps({"config": {"api_key": "AbCdEf123456", "note": "token sk-ant-api03-" + "x7" * 20}})
    [result] = scrubber.scrub([{"messages": [{"role": "tool", "content": content}], "output": None}])
    scrubbed = json.loads(result.record["messages"][0]["content"])
    assert scrubbed["config"]["api_key"] == "<SECRET_GENERIC>"
    assert scrubbed["config"]["note"] == "token <SECRET_ANTHROPIC_KEY>"


def test_fail_closed_when_the_analyzer_breaks(analyzer, monkeypatch):
    params = CurateParams(max_scrub_error_rate=1.0)
    curator = Curator(params, KEY, analyzer=type(analyzer)(params, engine=analyzer.engine))
    monkeypatch.setattr(curator.analyzer.engine, "analyze", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("x")))
    calls = synthetic_calls(1, seed=8)
    rows = list(curator.curate(calls))
    assert [r["reason"] for r in rows] == ["scrub_error"] * 3
    assert [r["call_id"] for r in rows] == [c["call_id"] for c in calls]
    assert all(r[k] is None for r in rows for k in r if k not in ("call_id", "latency_ms", "cost_usd", "status",
                                                                   "reason"))
    summary = curator.summary()
    assert summary["filtered_by_reason"] == {"scrub_error": 3}
    assert summary["scrub_errors_by_type"] == {"analyzer_failed": 3}
    assert summary["first_scrub_error"].startswith("RuntimeError in ")


@pytest.mark.parametrize("style", ["surrogate", "typed"])
def test_one_record_shape_ready_for_fine_tuning(analyzer, style):
    params = CurateParams(placeholder_style=style, filters=[])
    curator = Curator(params, KEY, analyzer=type(analyzer)(params, engine=analyzer.engine))
    rows = list(curator.curate(synthetic_calls(2, seed=9)))
    assert all(r["status"] == "kept" for r in rows)
    row = rows[2]
    assert "prompt" not in row and "completion" not in row  # each conversation is stored once
    prompt, answer = conversation(row), reference(row)
    assert [m["role"] for m in prompt] == [m["role"] for m in row["messages"]]
    assert answer["role"] == "assistant" and row["tools"] == TOOLS
    assert all(None not in m.values() for m in [*prompt, answer])
    if style == "typed":
        assert "<PERSON_1>" in prompt[1]["content"]


def test_scrubber_is_deterministic_across_runs(analyzer, params):
    calls = synthetic_calls(2, seed=10)
    one = Scrubber(analyzer, Pseudonymiser(KEY), params).scrub(calls)
    two = Scrubber(analyzer, Pseudonymiser(KEY), params).scrub(calls)
    assert [r.record for r in one] == [r.record for r in two]
