"""Anthropic Messages API pairs -> OpenAI-style records.

Shapes follow Anthropic's Messages API and tool-use docs: `system` as string or text blocks,
`tool_use` / `tool_result` content blocks, `input_schema` tools, `stop_reason`, usage with
input/output and cache tokens, and the streaming event sequence.
"""

from __future__ import annotations

import pytest

from slmconvert.collect.formats import anthropic, detect
from slmconvert.collect.formats.common import RecordRejected

TOOLS = [{"name": "get_weather", "description": "Get the current weather in a given location",
          "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}},
         {"type": "web_search_20250305", "name": "web_search", "max_uses": 5}]
REQUEST = {
    "model": "claude-sonnet-4-20250514",
    "max_tokens": 1024,
    "system": [{"type": "text", "text": "You are a weather bot.", "cache_control": {"type": "ephemeral"}}],
    "tools": TOOLS,
    "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
    "messages": [
        {"role": "user", "content": "What's the weather like in San Francisco?"},
        {"role": "assistant", "content": [
            {"type": "text", "text": "I'll check."},
            {"type": "tool_use", "id": "toolu_01A", "name": "get_weather", "input": {"location": "San Francisco, CA"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_01A", "content": [{"type": "text", "text": "15 degrees"}]},
            {"type": "text", "text": "And tomorrow?"}]},
    ],
}
RESPONSE = {
    "id": "msg_01Aq9w938a90dw8q", "type": "message", "role": "assistant", "model": "claude-sonnet-4-20250514",
    "content": [{"type": "text", "text": "Let me look that up."},
                {"type": "tool_use", "id": "toolu_01B", "name": "get_weather", "input": {"location": "San Francisco, CA"}}],
    "stop_reason": "tool_use", "stop_sequence": None,
    "usage": {"input_tokens": 472, "output_tokens": 91, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 0},
}


def test_request_and_response_map_to_openai_shapes():
    line = {"request": REQUEST, "response": RESPONSE, "timestamp": "2025-06-01T08:00:00Z"}
    assert detect(line) == "anthropic"
    (call,) = anthropic.normalise(line)
    roles = [(m["role"], m["content"]) for m in call["messages"]]
    assert roles == [("system", "You are a weather bot."), ("user", "What's the weather like in San Francisco?"),
                     ("assistant", "I'll check."), ("tool", "15 degrees"), ("user", "And tomorrow?")]
    assert call["messages"][2]["tool_calls"][0] == {
        "id": "toolu_01A", "type": "function", "function": {"name": "get_weather", "arguments": {"location": "San Francisco, CA"}}}
    assert call["messages"][3]["tool_call_id"] == "toolu_01A" and call["messages"][3]["name"] == "get_weather"
    assert call["tools"] == [{"type": "function", "function": {
        "name": "get_weather", "description": TOOLS[0]["description"], "parameters": TOOLS[0]["input_schema"]}}]
    assert call["metadata"]["non_function_tools"] == {"web_search_20250305": 1}
    assert call["tool_choice"] == "required" and call["metadata"]["disable_parallel_tool_use"] is True
    assert call["output"]["content"] == "Let me look that up."
    assert call["output"]["tool_calls"][0]["id"] == "toolu_01B"
    assert call["finish_reason"] == "tool_calls"
    assert call["usage"] == {"prompt_tokens": 572, "completion_tokens": 91}
    assert call["metadata"]["max_tokens"] == 1024
    assert call["timestamp"] == "2025-06-01T08:00:00Z"


@pytest.mark.parametrize(("stop", "finish"), [("end_turn", "stop"), ("max_tokens", "length"),
                                              ("stop_sequence", "stop"), ("refusal", "content_filter")])
def test_stop_reason_mapping(stop, finish):
    response = {**RESPONSE, "content": [{"type": "text", "text": "ok"}], "stop_reason": stop}
    (call,) = anthropic.normalise({"request": {**REQUEST, "system": "plain system"}, "response": response})
    assert call["finish_reason"] == finish
    assert call["messages"][0]["content"] == "plain system"


def test_streamed_events_are_reassembled():
    events = [
        {"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "content": [],
                                               "model": "claude-3-5-haiku-20241022", "usage": {"input_tokens": 25, "output_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Checking"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": " now."}},
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_9", "name": "get_weather", "input": {}}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"locat"}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "ion\": \"Paris\"}"}},
        {"type": "content_block_stop", "index": 1},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None}, "usage": {"output_tokens": 40}},
        {"type": "message_stop"},
    ]
    line = {"request": REQUEST, "response": events}
    assert detect(line) == "anthropic"
    (call,) = anthropic.normalise(line)
    assert call["output"]["content"] == "Checking now."
    assert call["output"]["tool_calls"][0]["function"]["arguments"] == {"location": "Paris"}
    assert call["finish_reason"] == "tool_calls"
    assert call["usage"] == {"prompt_tokens": 25, "completion_tokens": 40}
    assert call["model"] == "claude-3-5-haiku-20241022"


def test_error_response_and_bad_stream_json():
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    (call,) = anthropic.normalise({"request": REQUEST, "response": error})
    assert call["finish_reason"] == "error" and "overloaded_error" in call["metadata"]["error"]
    events = [{"type": "message_start", "message": {"model": "claude-3-haiku-20240307", "usage": {}}},
              {"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": "t", "name": "get_weather", "input": {}}},
              {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "{\"location\": "}}]
    with pytest.raises(RecordRejected) as info:
        anthropic.normalise({"request": REQUEST, "response": events})
    assert info.value.reason == "invalid tool-call arguments"


def test_openai_pair_is_not_mistaken_for_anthropic():
    line = {"request": {"model": "gpt-4o", "messages": []}, "response": {"choices": []}}
    assert detect(line) == "openai_chat"
