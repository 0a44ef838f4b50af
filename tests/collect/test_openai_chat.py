"""OpenAI chat-completions request/response pairs (data-flywheel form), streamed and not.

Fixtures follow the Chat Completions API reference: chat.completion and chat.completion.chunk
objects, tool_calls with JSON-string arguments, usage in the final chunk with include_usage.
"""

from __future__ import annotations

import pytest

from slmconvert.collect.formats import detect, openai_chat
from slmconvert.collect.formats.common import RecordRejected

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_order_status",
            "description": "Look up the status of an order",
            "parameters": {
                "type": "object",
                "properties": {"order_id": {"type": "string"}},
                "required": ["order_id"],
            },
        },
    }
]
REQUEST = {
    "model": "gpt-4o-mini",
    "messages": [
        {"role": "system", "content": "You are a support agent."},
        {"role": "user", "content": [{"type": "text", "text": "Where is order A-1001?"},
                                     {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]},
    ],
    "tools": TOOLS,
    "tool_choice": "auto",
    "temperature": 0.2,
}
RESPONSE = {
    "id": "chatcmpl-abc123",
    "object": "chat.completion",
    "created": 1741569952,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "call_9", "type": "function",
                     "function": {"name": "get_order_status", "arguments": "{\"order_id\": \"A-1001\"}"}}
                ],
                "refusal": None,
            },
            "logprobs": None,
            "finish_reason": "tool_calls",
        }
    ],
    "usage": {"prompt_tokens": 82, "completion_tokens": 17, "total_tokens": 99},
    "system_fingerprint": "fp_44709d6fcb",
}


def flywheel(**overrides):
    line = {"timestamp": 1741569950, "workload_id": "order-status", "client_id": "shop-web",
            "request": REQUEST, "response": RESPONSE}
    line.update(overrides)
    return line


def test_pair_maps_every_field():
    record = flywheel()
    assert detect(record) == "openai_chat"
    (call,) = openai_chat.normalise(record)
    assert call["model"] == "gpt-4o-mini-2024-07-18"
    assert call["timestamp"] == "2025-03-10T01:25:50Z"
    assert call["workload_id"] == "order-status" and call["client_id"] == "shop-web"
    assert [m["role"] for m in call["messages"]] == ["system", "user"]
    assert call["messages"][1] == {"role": "user", "content": "Where is order A-1001?", "tool_calls": None,
                                   "tool_call_id": None, "name": None}
    assert call["metadata"]["non_text_parts"] == {"image_url": 1}
    assert call["tools"] == TOOLS and call["tool_choice"] == "auto"
    assert call["output"] == {
        "role": "assistant", "content": None,
        "tool_calls": [{"id": "call_9", "type": "function",
                        "function": {"name": "get_order_status", "arguments": {"order_id": "A-1001"}}}],
    }
    assert call["finish_reason"] == "tool_calls"
    assert call["usage"] == {"prompt_tokens": 82, "completion_tokens": 17}
    assert call["metadata"]["temperature"] == 0.2
    assert call["metadata"]["request_model"] == "gpt-4o-mini"


def test_line_level_metadata_is_kept():
    (call,) = openai_chat.normalise(flywheel(metadata={"slmconvert": {"route": "slm", "cluster_id": 3}}))
    assert call["metadata"]["slmconvert"] == {"route": "slm", "cluster_id": 3}
    assert call["metadata"]["temperature"] == 0.2


def test_history_tool_messages_and_text_answer():
    request = {
        "model": "gpt-4o",
        "messages": [
            {"role": "developer", "content": "Be brief."},
            {"role": "user", "content": "Status of A-1?"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_order_status", "arguments": "{\"order_id\":\"A-1\"}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "{\"status\": \"shipped\"}"},
        ],
        "response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": {"type": "object"}}},
    }
    response = {"id": "c", "created": 1, "model": "gpt-4o",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "It shipped."}, "finish_reason": "stop"}]}
    (call,) = openai_chat.normalise({"request": request, "response": response})
    roles = [m["role"] for m in call["messages"]]
    assert roles == ["system", "user", "assistant", "tool"]
    assert call["messages"][2]["tool_calls"][0]["function"]["arguments"] == {"order_id": "A-1"}
    assert call["messages"][3]["tool_call_id"] == "call_1"
    assert call["output"] == {"role": "assistant", "content": "It shipped.", "tool_calls": None}
    assert call["response_format"]["type"] == "json_schema"
    assert call["usage"] == {"prompt_tokens": None, "completion_tokens": None}


def _chunk(delta, finish=None, index=0, usage=None):
    return {"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 1741569952, "model": "gpt-4o-2024-08-06",
            "choices": [] if delta is None else [{"index": index, "delta": delta, "finish_reason": finish}],
            "usage": usage}


def test_stream_reassembles_parallel_tool_call_deltas():
    chunks = [
        _chunk({"role": "assistant", "content": None}),
        _chunk({"tool_calls": [{"index": 0, "id": "call_a", "type": "function",
                                "function": {"name": "get_order_status", "arguments": ""}}]}),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": "{\"order_"}}]}),
        _chunk({"tool_calls": [{"index": 1, "id": "call_b", "type": "function",
                                "function": {"name": "get_order_status", "arguments": "{\"order_id\""}}]}),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": "id\": \"A-1\"}"}}]}),
        _chunk({"tool_calls": [{"index": 1, "function": {"arguments": ": \"B-2\"}"}}]}),
        _chunk({}, finish="tool_calls"),
        _chunk(None, usage={"prompt_tokens": 40, "completion_tokens": 30, "total_tokens": 70}),
    ]
    (call,) = openai_chat.normalise({"request": REQUEST, "response": chunks})
    calls = call["output"]["tool_calls"]
    assert [(c["id"], c["function"]["arguments"]) for c in calls] == [
        ("call_a", {"order_id": "A-1"}), ("call_b", {"order_id": "B-2"})]
    assert call["finish_reason"] == "tool_calls"
    assert call["usage"] == {"prompt_tokens": 40, "completion_tokens": 30}
    assert call["metadata"]["streamed"] is True
    assert call["model"] == "gpt-4o-2024-08-06"


def test_stream_as_sse_strings_with_text_content():
    chunks = [
        "data: " + '{"id":"x","model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"finish_reason":null}]}',
        "data: " + '{"id":"x","model":"gpt-4o","choices":[{"index":0,"delta":{"content":"lo!"},"finish_reason":null}]}',
        "data: " + '{"id":"x","model":"gpt-4o","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}',
        "data: [DONE]",
    ]
    (call,) = openai_chat.normalise({"request": REQUEST, "response": chunks})
    assert call["output"]["content"] == "Hello!" and call["output"]["tool_calls"] is None
    assert call["finish_reason"] == "stop"


def test_error_response_is_kept_as_error_call():
    error = {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}}
    (call,) = openai_chat.normalise({"request": REQUEST, "response": error})
    assert call["finish_reason"] == "error"
    assert call["output"] == {"role": "assistant", "content": None, "tool_calls": None}
    assert "Rate limit reached" in call["metadata"]["error"]


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [("{\"order_id\": ", "invalid tool-call arguments"), ("[1, 2]", "invalid tool-call arguments"),
     ("\"A-1\"", "invalid tool-call arguments")],
)
def test_invalid_arguments_reject(arguments, reason):
    bad = {**RESPONSE, "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "tool_calls": [{"id": "c", "type": "function",
                                             "function": {"name": "get_order_status", "arguments": arguments}}]}}]}
    with pytest.raises(RecordRejected) as info:
        openai_chat.normalise({"request": REQUEST, "response": bad})
    assert info.value.reason == reason
    assert "response.message.tool_calls[0]" in info.value.detail


def test_missing_response_and_unknown_role_reject():
    with pytest.raises(RecordRejected, match="no response"):
        openai_chat.normalise({"request": REQUEST, "response": None})
    weird = {**REQUEST, "messages": [{"role": "narrator", "content": "x"}]}
    with pytest.raises(RecordRejected) as info:
        openai_chat.normalise({"request": weird, "response": RESPONSE})
    assert info.value.reason == "unknown message role"


def test_latency_and_iso_timestamp_fields():
    (call,) = openai_chat.normalise(flywheel(timestamp="2025-03-10T01:25:50.123+01:00", latency_ms=812.5))
    assert call["timestamp"] == "2025-03-10T00:25:50Z"
    assert call["latency_ms"] == 812.5


def test_openai_compatible_server_error_object():
    error = {"object": "error", "message": "This model's maximum context length is 131072 tokens.",
             "type": "BadRequestError", "param": None, "code": 400}
    (call,) = openai_chat.normalise({"request": REQUEST, "response": error})
    assert call["finish_reason"] == "error" and "maximum context length" in call["metadata"]["error"]
