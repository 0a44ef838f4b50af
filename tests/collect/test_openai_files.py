"""OpenAI fine-tuning chat files and Batch API input/output files (joined by custom_id).

Shapes follow OpenAI's fine-tuning guide (messages + tools, legacy functions/function_call,
`weight`) and the Batch API guide (`custom_id`, `method`, `url`, `body`; output lines with
`response.status_code`/`body` or `error`).
"""

from __future__ import annotations

import pytest

from slmconvert.collect.formats import detect, openai_finetune
from slmconvert.collect.formats.common import RecordRejected

WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_current_weather", "description": "Get the current weather",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}}


def test_finetune_last_assistant_turn_is_output():
    example = {
        "messages": [
            {"role": "system", "content": "Marv is a factual chatbot that is also sarcastic."},
            {"role": "user", "content": "What's the capital of France?"},
            {"role": "assistant", "content": "Paris, as if everyone doesn't know that already.", "weight": 0},
            {"role": "user", "content": "And the weather there?"},
            {"role": "assistant", "tool_calls": [{"id": "call_id", "type": "function", "function": {
                "name": "get_current_weather", "arguments": "{\"location\": \"Paris, France\"}"}}]},
        ],
        "tools": [WEATHER_TOOL],
        "parallel_tool_calls": False,
    }
    assert detect(example) == "openai_finetune"
    (call,) = openai_finetune.normalise(example)
    assert [m["role"] for m in call["messages"]] == ["system", "user", "assistant", "user"]
    assert call["output"]["tool_calls"][0]["function"] == {"name": "get_current_weather",
                                                          "arguments": {"location": "Paris, France"}}
    assert call["tools"] == [WEATHER_TOOL]
    assert call["model"] is None and call["usage"] == {"prompt_tokens": None, "completion_tokens": None}
    assert call["metadata"]["parallel_tool_calls"] is False
    assert call["metadata"]["turn_weights"] == [0]


def test_finetune_legacy_functions_and_function_call():
    example = {
        "messages": [
            {"role": "user", "content": "Weather in Oslo?"},
            {"role": "assistant", "function_call": {"name": "get_current_weather", "arguments": "{\"location\": \"Oslo\"}"}},
            {"role": "function", "name": "get_current_weather", "content": "{\"temperature\": \"-3\"}"},
            {"role": "assistant", "content": "It is -3 degrees in Oslo."},
        ],
        "functions": [WEATHER_TOOL["function"]],
    }
    (call,) = openai_finetune.normalise(example)
    assistant, tool = call["messages"][1], call["messages"][2]
    assert assistant["tool_calls"][0]["function"]["arguments"] == {"location": "Oslo"}
    assert tool["role"] == "tool" and tool["tool_call_id"] == assistant["tool_calls"][0]["id"] != ""
    assert call["tools"] == [WEATHER_TOOL]
    assert call["output"]["content"] == "It is -3 degrees in Oslo."


def test_finetune_without_assistant_rejects():
    with pytest.raises(RecordRejected, match="no assistant turn"):
        openai_finetune.normalise({"messages": [{"role": "user", "content": "hi"}]})


def _batch_input(custom_id, content, url="/v1/chat/completions"):
    return {"custom_id": custom_id, "method": "POST", "url": url,
            "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}], "max_tokens": 100}}


def _batch_output(custom_id, answer):
    return {"id": f"batch_req_{custom_id}", "custom_id": custom_id, "error": None, "response": {
        "status_code": 200, "request_id": "req_1", "body": {
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1711652795, "model": "gpt-4o-mini-2024-07-18",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 22, "completion_tokens": 2, "total_tokens": 24}}}}


def test_batch_join_across_files_in_any_order(run_collect):
    inputs = [_batch_input("request-1", "Hello world!"), _batch_input("request-2", "Bye"),
              _batch_input("request-3", "Unanswered"), _batch_input("emb-1", "x", url="/v1/embeddings")]
    failed = {"id": "batch_req_2", "custom_id": "request-2", "response": None,
              "error": {"code": "batch_expired", "message": "This request could not be executed before the completion window expired."}}
    outputs = [failed, _batch_output("request-1", "Hi!"), _batch_output("orphan", "?"), _batch_output("emb-1", "n/a")]
    out = run_collect({"b_out.jsonl": outputs, "a_in.jsonl": inputs})
    assert out.summary["formats"] == {"openai_batch": 2}
    by_id = {c["metadata"]["custom_id"]: c for c in out.calls}
    ok = by_id["request-1"]
    assert ok["messages"][0]["content"] == "Hello world!"
    assert ok["output"]["content"] == "Hi!" and ok["usage"] == {"prompt_tokens": 22, "completion_tokens": 2}
    assert ok["source"]["file"].endswith("b_out.jsonl") and ok["source"]["line"] == 2
    assert ok["metadata"]["batch_input"].endswith("a_in.jsonl:1")
    assert ok["cost_usd"] == pytest.approx((22 * 0.15 + 2 * 0.6) / 1e6)
    expired = by_id["request-2"]
    assert expired["finish_reason"] == "error" and "batch_expired" in expired["metadata"]["error"]
    reasons = sorted((r["reason"], r["line"]) for r in out.rejects)
    assert reasons == [("unmatched batch request", 3), ("unmatched batch response", 3), ("unsupported", 4)]
    assert all(r["format_guess"] == "openai_batch" for r in out.rejects)
