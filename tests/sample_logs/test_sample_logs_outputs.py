"""The logged "LLM outputs" are correct for their inputs: what fine-tuning and evaluation will learn from."""

from __future__ import annotations

import json

import jsonschema

from sample_logs.gen import task_classify, tools_ops, tools_support

COMPOSED = tools_support.COMPOSED_ARGS | tools_ops.COMPOSED_ARGS


def _args(tc: dict) -> dict:
    return tc["arguments"] if isinstance(tc["arguments"], dict) else json.loads(tc["arguments"])


def _conversation(v) -> str:
    parts = [m["content"] or "" for m in v.messages]
    parts += [
        json.dumps(_args(tc), ensure_ascii=False) for m in v.messages for tc in m["tool_calls"]
    ]
    return "\n".join(parts)


def _copied_values(name: str, args: dict, schema: dict):
    """String and number argument values the model must have copied (not enums, not free text it composed)."""
    for key, value in args.items():
        prop = schema["properties"][key]
        if "enum" in prop or key in COMPOSED.get(name, ()):
            continue
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, bool):
                continue
            if isinstance(item, (int, float)):
                yield key, item
            elif isinstance(item, str):
                yield key, item


def test_every_tool_call_names_an_offered_tool_and_validates(sample):
    checked = 0
    for v in sample.ok():
        offered = {t["function"]["name"]: t["function"]["parameters"] for t in v.tools}
        history = [tc for m in v.messages for tc in m["tool_calls"]]
        for tc in history + (v.output.get("tool_calls") or []):
            assert tc["name"] in offered, (v.file, v.line, tc["name"])
            jsonschema.Draft202012Validator(offered[tc["name"]]).validate(_args(tc))
            checked += 1
    assert checked > 100


def test_tool_arguments_are_taken_from_the_conversation(sample):
    checked = 0
    for v in sample.ok():
        if not v.output.get("tool_calls"):
            continue
        convo, request = _conversation(v), _conversation(v) + v.system
        schemas = {t["function"]["name"]: t["function"]["parameters"] for t in v.tools}
        for tc in v.output["tool_calls"]:
            for key, value in _copied_values(tc["name"], _args(tc), schemas[tc["name"]]):
                if isinstance(value, str):
                    assert value in convo, (v.file, v.line, tc["name"], key, value)
                else:  # numbers: written in the conversation (or the policy, e.g. the $15 goodwill credit)
                    text = f"{abs(value):g}" if float(value).is_integer() else repr(float(value))
                    assert text in request, (v.file, v.line, tc["name"], key, value)
                checked += 1
    assert checked > 100


def test_tool_results_answer_earlier_tool_calls(sample):
    for v in sample.ok():
        issued = set()
        for m in v.messages:
            issued |= {tc["id"] for tc in m["tool_calls"]}
            if m["role"] == "tool":
                assert m["tool_call_id"] in issued, (v.file, v.line)


def test_parallel_calls_and_text_answers_with_tools_offered(sample):
    tool_tasks = [v for v in sample.ok() if v.tools]
    assert any(len(v.output.get("tool_calls") or []) > 1 for v in tool_tasks)
    text_answers = [v for v in tool_tasks if not v.output.get("tool_calls")]
    assert text_answers and all(v.output["content"] for v in text_answers)


def test_extraction_outputs_validate_and_copy_the_email(sample):
    views = sample.ok("email_extraction")
    assert views
    for v in views:
        if not v.output:
            continue
        schema = v.response_format["json_schema"]["schema"]
        data = json.loads(v.output["content"])
        jsonschema.Draft202012Validator(schema).validate(data)
        text = v.messages[-1]["content"]
        for key in ("customer_name", "email", "phone", "shipping_address"):
            assert data[key] is None or data[key] in text, (v.file, v.line, key)
        for item in data["order_ids"] + data["products"]:
            assert item in text, (v.file, v.line, item)


def test_log_parsing_values_come_from_the_line(sample):
    views = sample.ok("log_parsing")
    assert views
    for v in views:
        line = v.messages[-1]["content"]
        for key, value in json.loads(v.output["content"]).items():
            if value is None or key == "source":
                continue
            assert str(value) in line, (v.file, v.line, key, value)


def test_intent_labels_are_from_the_fixed_set(sample):
    labels = [v.output["content"] for v in sample.ok("intent_classification") if v.output]
    assert labels and set(labels) <= set(task_classify.LABELS)
    assert len(set(labels)) >= 6


def test_summaries_and_sql_are_grounded(sample):
    for v in sample.ok("ticket_summary"):
        if v.output:
            order = next(w for w in v.output["content"].split() if w.startswith("SR-")).strip(
                ".,()"
            )
            assert order in v.messages[-1]["content"]
    for v in sample.ok("sql_generation"):
        sql = v.output["content"]
        assert sql.startswith("SELECT") and sql.endswith(";")
        if "@" in v.messages[-1]["content"]:
            email = v.messages[-1]["content"].rsplit(" ", 1)[1]
            assert f"'{email}'" in sql


def test_drafts_are_long_and_varied(sample):
    drafts = [v.output["content"] for v in sample.ok("drafting") if v.output]
    assert drafts and sum(len(d) for d in drafts) / len(drafts) > 600
    assert len(set(drafts)) == len(drafts)


def test_pii_and_secrets_recorded_in_truth_really_appear(sample):
    rows = [r for r in sample.truth if r["kind"] == "ok"]
    assert sum(bool(r["pii"]) for r in rows) > len(rows) / 2
    assert any(r["secrets"] for r in rows)
    for r in rows[:300]:
        text = sample.lines[r["file"]][r["line"] - 1]
        for _, value in r["sensitive"]:
            assert (
                value in text
                or value
                in sample.lines[r.get("output_file", r["file"])][r.get("output_line", 1) - 1]
            )
