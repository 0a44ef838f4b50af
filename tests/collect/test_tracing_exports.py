"""Langfuse generation observations, LangSmith LLM runs and `llm logs --json` output.

Langfuse: the public API's observation objects (camelCase: type GENERATION, input, output,
model, usageDetails, startTime/endTime) and blob exports (snake_case). LangSmith: run exports
(run_type "llm", inputs.messages as LangChain serialised messages, outputs.generations,
extra.invocation_params). llm: the columns of its `responses` table plus tool_calls/tools.
"""

from __future__ import annotations

import orjson
import pytest

from slmconvert.collect.formats import detect, langfuse, langsmith, llm_cli
from slmconvert.collect.formats.common import RecordRejected

TOOL = {"type": "function", "function": {"name": "track_parcel", "description": "Track a parcel",
                                         "parameters": {"type": "object", "properties": {"tracking": {"type": "string"}}}}}


def test_langfuse_generation_api_form():
    obs = {
        "id": "obs-1", "traceId": "trace-1", "type": "GENERATION", "name": "route-ticket",
        "startTime": "2025-01-05T10:00:00.000Z", "endTime": "2025-01-05T10:00:00.850Z",
        "model": "gpt-4o", "modelParameters": {"temperature": 0, "max_tokens": 200},
        "input": {"messages": [{"role": "system", "content": "Track parcels."}, {"role": "user", "content": "Where is 1Z999?"}],
                  "tools": [TOOL]},
        "output": {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_7", "type": "function", "function": {"name": "track_parcel", "arguments": "{\"tracking\":\"1Z999\"}"}}]},
        "usageDetails": {"input": 120, "output": 20, "total": 140},
        "metadata": {"workload_id": "tracking"}, "level": "DEFAULT",
    }
    assert detect(obs) == "langfuse"
    (call,) = langfuse.normalise(obs)
    assert [m["role"] for m in call["messages"]] == ["system", "user"]
    assert call["tools"] == [TOOL]
    assert call["output"]["tool_calls"][0]["function"]["arguments"] == {"tracking": "1Z999"}
    assert call["usage"] == {"prompt_tokens": 120, "completion_tokens": 20}
    assert call["latency_ms"] == 850.0 and call["timestamp"] == "2025-01-05T10:00:00Z"
    assert call["workload_id"] == "tracking" and call["metadata"]["temperature"] == 0


def test_langfuse_trace_export_with_nested_observations_snake_case():
    trace = {"id": "trace-2", "name": "support", "observations": [
        {"id": "span-1", "type": "SPAN", "name": "retrieve"},
        {"id": "gen-1", "type": "GENERATION", "trace_id": "trace-2", "provided_model_name": "claude-3-5-haiku-20241022",
         "start_time": "2025-01-05 10:00:00", "input": "Summarise: parcel late", "output": "Parcel is late.",
         "usage_details": {"input": 10, "output": 4}},
        {"id": "gen-2", "type": "GENERATION", "input": [{"role": "user", "content": "x"}], "output": None,
         "level": "ERROR", "statusMessage": "upstream 500"},
        {"id": "gen-3", "type": "GENERATION", "input": [{"role": "user", "content": "y"}]},
    ]}
    assert detect(trace) == "langfuse"
    first, failed, missing = langfuse.normalise(trace)
    assert first["messages"] == [{"role": "user", "content": "Summarise: parcel late", "tool_calls": None,
                                  "tool_call_id": None, "name": None}]
    assert first["output"]["content"] == "Parcel is late." and first["model"] == "claude-3-5-haiku-20241022"
    assert first["usage"] == {"prompt_tokens": 10, "completion_tokens": 4}
    assert failed["finish_reason"] == "error" and failed["metadata"]["error"] == "upstream 500"
    assert isinstance(missing, RecordRejected) and "gen-3" in missing.detail


def lc(kind, **kwargs):
    return {"lc": 1, "type": "constructor", "id": ["langchain", "schema", "messages", kind], "kwargs": kwargs}


def test_langsmith_llm_run_with_langchain_messages():
    run = {
        "id": "run-1", "name": "ChatOpenAI", "run_type": "llm", "trace_id": "t-1",
        "start_time": "2025-02-01T12:00:00.000000", "end_time": "2025-02-01T12:00:01.500000",
        "inputs": {"messages": [[lc("SystemMessage", content="Classify intent.", type="system"),
                                 lc("HumanMessage", content="I want a refund", type="human")]]},
        "outputs": {"generations": [[{
            "text": "", "generation_info": {"finish_reason": "tool_calls"},
            "message": lc("AIMessage", content="", type="ai",
                          tool_calls=[{"name": "classify", "args": {"intent": "refund"}, "id": "call_c", "type": "tool_call"}],
                          usage_metadata={"input_tokens": 50, "output_tokens": 9, "total_tokens": 59}),
        }]], "llm_output": {"model_name": "gpt-4o-mini-2024-07-18"}},
        "extra": {"invocation_params": {"model": "gpt-4o-mini", "temperature": 0.0, "tools": [
            {"type": "function", "function": {"name": "classify", "description": "", "parameters": {"type": "object"}}}]},
            "metadata": {"ls_provider": "openai"}},
        "error": None,
    }
    assert detect(run) == "langsmith"
    (call,) = langsmith.normalise(run)
    assert [(m["role"], m["content"]) for m in call["messages"]] == [("system", "Classify intent."), ("user", "I want a refund")]
    assert call["output"]["tool_calls"] == [{"id": "call_c", "type": "function",
                                            "function": {"name": "classify", "arguments": {"intent": "refund"}}}]
    assert call["output"]["content"] is None
    assert call["finish_reason"] == "tool_calls" and call["model"] == "gpt-4o-mini"
    assert call["usage"] == {"prompt_tokens": 50, "completion_tokens": 9}
    assert call["latency_ms"] == 1500.0 and call["tools"][0]["function"]["name"] == "classify"


def test_langsmith_openai_wrapper_run_and_non_llm_run():
    run = {"id": "r2", "run_type": "llm", "start_time": "2025-02-01T12:00:00Z",
           "inputs": {"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": "hi"}]},
           "outputs": {"choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}],
                       "usage": {"prompt_tokens": 5, "completion_tokens": 1}, "model": "gpt-4.1-mini-2025-04-14"}}
    (call,) = langsmith.normalise(run)
    assert call["output"]["content"] == "hello" and call["usage"] == {"prompt_tokens": 5, "completion_tokens": 1}
    with pytest.raises(RecordRejected, match="not an LLM call"):
        langsmith.normalise({"run_type": "chain", "inputs": {}, "outputs": {}})


def test_langsmith_invalid_tool_calls_reject():
    run = {"run_type": "llm", "inputs": {"messages": [[lc("HumanMessage", content="x")]]},
           "outputs": {"generations": [[{"message": lc("AIMessage", content="", invalid_tool_calls=[
               {"name": "classify", "args": "{intent:", "id": "c", "error": "Function classify arguments are not valid JSON"}])}]]}}
    with pytest.raises(RecordRejected) as info:
        langsmith.normalise(run)
    assert info.value.reason == "invalid tool-call arguments"


LLM_ENTRIES = [
    {"id": "01j0", "model": "gpt-4o-mini", "resolved_model": None, "prompt": "Ten names for a pet pelican",
     "system": "Be concise", "prompt_json": None, "options_json": "{\"temperature\": 0.7}", "response": "Pelly, Beaky",
     "response_json": "{\"choices\": [{\"finish_reason\": \"stop\"}]}", "conversation_id": "01c0", "duration_ms": 1204,
     "datetime_utc": "2025-05-02T18:19:20.123456", "input_tokens": 21, "output_tokens": 8, "token_details": None,
     "conversation_name": "Ten names", "conversation_model": "gpt-4o-mini", "schema_json": None, "attachments": []},
    {"id": "01j1", "model": "gpt-4.1", "prompt": "Track 1Z999", "system": None,
     "prompt_json": orjson.dumps({"messages": [{"role": "user", "content": "Track 1Z999"}]}).decode(),
     "response": "", "datetime_utc": "2025-05-02T18:20:00", "input_tokens": 30, "output_tokens": 12, "duration_ms": 900,
     "tools": [{"id": 1, "hash": "h", "name": "track_parcel", "description": "Track a parcel",
                "input_schema": "{\"type\": \"object\", \"properties\": {\"tracking\": {\"type\": \"string\"}}}", "plugin": None}],
     "tool_calls": [{"id": 1, "tool_id": 1, "name": "track_parcel", "arguments": "{\"tracking\": \"1Z999\"}", "tool_call_id": "call_t"}],
     "tool_results": []},
]


def test_llm_cli_entries():
    assert detect(LLM_ENTRIES[0]) == "llm_cli"
    (text,) = llm_cli.normalise(LLM_ENTRIES[0])
    assert [(m["role"], m["content"]) for m in text["messages"]] == [("system", "Be concise"), ("user", "Ten names for a pet pelican")]
    assert text["output"]["content"] == "Pelly, Beaky" and text["finish_reason"] == "stop"
    assert text["latency_ms"] == 1204.0 and text["timestamp"] == "2025-05-02T18:19:20Z"
    assert text["metadata"]["temperature"] == 0.7
    (tool,) = llm_cli.normalise(LLM_ENTRIES[1])
    assert tool["output"] == {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_t", "type": "function", "function": {"name": "track_parcel", "arguments": {"tracking": "1Z999"}}}]}
    assert tool["tools"][0]["function"]["parameters"]["properties"] == {"tracking": {"type": "string"}}


def test_llm_logs_pretty_printed_array_file(run_collect):
    pretty = orjson.dumps(LLM_ENTRIES + [{"weird": True}], option=orjson.OPT_INDENT_2)
    out = run_collect({"llm-logs.json": pretty})
    assert out.summary["formats"] == {"llm_cli": 2}
    lines = pretty.decode().splitlines()
    for call in out.calls:
        start = call["source"]["line"]
        assert lines[start - 1].strip() == "{"  # the line where that element begins
        assert f'"id": "{call["metadata"]["response_id"]}"' in "\n".join(lines[start - 1:start + 3])
    assert [c["metadata"]["array_index"] for c in out.calls] == [0, 1]
    (reject,) = out.rejects
    assert reject["reason"] == "unknown format" and reject["element"] == 2
    assert lines[reject["line"] - 1].strip() == "{"  # where the rejected element starts
