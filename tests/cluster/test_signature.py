"""Task signatures describe the task, not the instance."""

from __future__ import annotations

import copy

from slmconvert.cluster.signature import (
    SignatureOptions,
    mask_text,
    output_type,
    request_key,
    requested_format,
    task_signature,
)


def _call(user: str, system: str = "You are ShopBot. Today is 2026-11-02.", tools=("lookup_order",), output=None):
    return {
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
        "tools": [{"type": "function", "function": {"name": n, "parameters": {}}} for n in tools],
        "output": output or {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "lookup_order", "arguments": {"order_id": "1"}}}]},
    }


def test_masking_replaces_instance_details():
    text = ("Order ORD-12345 for jane.doe@example.com on 2026-11-02T10:11:12Z at 10:30, total $12.50, "
            "see https://shop.example/o/1, id 123e4567-e89b-12d3-a456-426614174000, placeholder <EMAIL_2>, "
            "<PERSON_1> called +1 555-123-4567 about A1B2C3")
    masked = mask_text(text)
    for leaked in ("12345", "jane.doe", "2026", "10:30", "12.50", "shop.example", "123e4567", "_2>", "_1>", "555", "A1B2C3"):
        assert leaked not in masked, (leaked, masked)
    for tag in ("<ID>", "<EMAIL>", "<DATE>", "<TIME>", "<NUM>", "<URL>", "<PERSON>"):
        assert tag in masked, (tag, masked)


def test_calls_of_one_task_share_a_signature():
    a = task_signature(_call("Where is my order ORD-11111? Email me at a@b.com", system="You are ShopBot. Today is 2026-11-02."))
    b = task_signature(_call("Where is my order ORD-99999? Email me at x@y.org", system="You are ShopBot. Today is 2026-12-24."))
    assert a == b
    c = task_signature(_call("Please cancel my order ORD-11111"))
    assert c.context == a.context and c.request != a.request


def test_tool_order_does_not_matter_and_large_toolsets_are_summarised():
    a = task_signature(_call("hi", tools=("b_tool", "a_tool")))
    b = task_signature(_call("hi", tools=("a_tool", "b_tool")))
    assert a == b and "a_tool, b_tool" in a.context
    many = [f"tool_{i:02d}" for i in range(40)]
    sig = task_signature(_call("hi", tools=many), SignatureOptions(max_listed_tools=30))
    assert "40 tools set " in sig.context and "tool_29" in sig.context and "tool_30" not in sig.context
    other = task_signature(_call("hi", tools=many[:39] + ["tool_xx"]), SignatureOptions(max_listed_tools=30))
    assert other.context != sig.context  # a different set hashes differently


def test_most_telling_parts_come_first():
    sig = task_signature(_call("hello"))
    assert sig.context.startswith("format: tools | system: You are ShopBot")
    assert sig.context.index("system:") < sig.context.index("tools:")
    assert sig.structure == "tools/reply"


def test_request_is_the_last_user_message_even_after_tool_results():
    call = _call("Where is order ORD-1?")
    call["messages"] += [
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function",
                                                             "function": {"name": "lookup_order", "arguments": {}}}]},
        {"role": "tool", "tool_call_id": "c1", "content": '{"status": "shipped", "eta": "2026-11-05"}'},
    ]
    assert task_signature(call).request == task_signature(_call("Where is order ORD-7?")).request
    # same request, another step of the agent: continuing after a tool result is its own structure
    assert task_signature(call).structure == "tools/continue"
    only_tool = {"messages": [{"role": "tool", "content": '{"status": "late"}'}], "tools": []}
    assert "status" in task_signature(only_tool).request


def test_the_step_ignores_system_messages_and_applies_to_tool_use_only():
    call = _call("Where is order ORD-1?")
    call["messages"] += [{"role": "tool", "tool_call_id": "c1", "content": "{}"}, {"role": "system", "content": "Be brief."}]
    assert task_signature(call).structure == "tools/continue"
    call["tools"] = []
    assert task_signature(call).structure == "text"


def test_response_schema_keys_and_formats():
    call = _call("extract", tools=())
    call["response_format"] = {"type": "json_schema", "json_schema": {"name": "x", "schema": {
        "type": "object", "properties": {"vendor": {"type": "string"}, "lines": {"type": "array", "items": {
            "type": "object", "properties": {"sku": {}, "qty": {}}}}}}}}
    sig = task_signature(call)
    assert requested_format(call) == "json" and sig.structure == "json"
    assert "schema: vendor, lines, lines.sku, lines.qty" in sig.context
    assert requested_format({"tools": [], "messages": []}) == "text"
    assert requested_format({"tools": [{"function": {"name": "t"}}], "tool_choice": "none"}) == "text"


def test_output_type_detection():
    assert output_type(_call("x")) == "tool_call"
    assert output_type({"output": {"content": '```json\n{"a": 1}\n```'}}) == "json"
    assert output_type({"output": {"content": "[1, 2]"}}) == "json"
    assert output_type({"output": {"content": "{not json"}}) == "text"
    assert output_type({"output": {"content": None}}) == "text"


def test_request_key_groups_near_duplicates_and_sessions():
    a = _call("Where is my order 12345?")
    b = _call("where is my ORDER 67890!!")
    c = _call("I want a refund")
    assert request_key(a) == request_key(b) != request_key(c)
    later = copy.deepcopy(a)
    later["messages"] += [{"role": "assistant", "content": "Which email?"}, {"role": "user", "content": "a@b.c"}]
    assert request_key(later) == request_key(a)  # the steps of one session stay together
