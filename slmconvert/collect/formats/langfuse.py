"""Langfuse exports: observations of type GENERATION (API camelCase or blob-export snake_case),
one per line or nested in a trace's `observations` list.

`input` is a message list, `{"messages": [...], "tools": [...]}` or a prompt string; `output`
an assistant message, text or a chat.completion; usage from `usageDetails`/`usage`.
"""

from __future__ import annotations

from typing import Any

from slmconvert.collect.formats.common import (
    Notes,
    RecordRejected,
    error_call,
    new_call,
    openai_tools,
    reject,
    request_params,
    usage,
)
from slmconvert.collect.formats.openai_chat import response_fields
from slmconvert.collect.formats.tracing import any_messages, as_output
from slmconvert.collect.formats.values import iso_utc, latency_between, to_float

NAME = "langfuse"


def _get(obs: dict, camel: str, snake: str | None = None) -> Any:
    value = obs.get(camel)
    return obs.get(snake) if value is None and snake else value


def is_generation(obs: Any) -> bool:
    """A Langfuse generation observation."""
    return isinstance(obs, dict) and str(obs.get("type", "")).upper() == "GENERATION"


def _usage(obs: dict) -> dict:
    for key in ("usageDetails", "usage_details", "usage", "provided_usage_details"):
        block = obs.get(key)
        if isinstance(block, dict) and block:
            prompt = block.get("input", block.get("promptTokens", block.get("prompt_tokens")))
            completion = block.get("output", block.get("completionTokens", block.get("completion_tokens")))
            if prompt is not None or completion is not None:
                return usage(prompt, completion)
    return usage(_get(obs, "promptTokens", "prompt_tokens"), _get(obs, "completionTokens", "completion_tokens"))


def generation_call(obs: dict) -> dict:
    """One GENERATION observation -> one partial call record."""
    notes = Notes()
    raw_in = obs.get("input")
    params = _get(obs, "modelParameters", "model_parameters") or {}
    tools, tool_choice, response_format = None, None, None
    if isinstance(raw_in, dict) and "messages" in raw_in:
        tools = openai_tools(raw_in.get("tools"), raw_in.get("functions"), notes)
        tool_choice, response_format = raw_in.get("tool_choice"), raw_in.get("response_format")
        raw_in = raw_in["messages"]
    if raw_in is None:
        reject("missing field", "generation has no input")
    meta_in = obs.get("metadata") if isinstance(obs.get("metadata"), dict) else {}
    metadata = {k: v for k, v in (
        ("observation_id", obs.get("id")), ("trace_id", _get(obs, "traceId", "trace_id")), ("name", obs.get("name")),
    ) if v}
    metadata.update(request_params(params) if isinstance(params, dict) else {})
    start, end = _get(obs, "startTime", "start_time"), _get(obs, "endTime", "end_time")
    latency = latency_between(start, end)
    if latency is None and to_float(obs.get("latency")) is not None:
        latency = round(to_float(obs["latency"]) * 1000.0, 3)  # API "latency" is seconds
    call = new_call(
        model=_get(obs, "model", "provided_model_name"),
        messages=any_messages(raw_in, notes, "input"),
        tools=tools,
        tool_choice=tool_choice,
        response_format=response_format,
        usage_=_usage(obs),
        latency_ms=latency,
        timestamp=iso_utc(start),
        workload_id=meta_in.get("workload_id"),
        client_id=meta_in.get("client_id"),
        metadata=metadata,
    )
    output = obs.get("output")
    failed = str(obs.get("level", "")).upper() == "ERROR"
    if output is None or output == "":
        if not failed:
            reject("missing field", "generation has no output")
        error_call(call, _get(obs, "statusMessage", "status_message") or "level ERROR")
    elif isinstance(output, dict) and "choices" in output:
        resp = response_fields(output, notes)
        call["output"], call["finish_reason"] = resp["output"], resp["finish_reason"]
    else:
        call["output"] = as_output(output, "output", notes)
        if isinstance(output, dict):
            call["finish_reason"] = output.get("finish_reason")
    call["metadata"].update(notes.data)
    return call


def normalise(record: dict) -> list[dict | RecordRejected]:
    """A generation observation, or every generation of an exported trace."""
    if not isinstance(record.get("observations"), list):
        return [generation_call(record)]
    out: list[dict | RecordRejected] = []
    for obs in record["observations"]:
        if not is_generation(obs):
            continue
        try:
            out.append(generation_call(obs))
        except RecordRejected as exc:
            out.append(RecordRejected(exc.reason, f"observation {obs.get('id')}: {exc.detail}"))
    if not out:
        reject("no LLM spans", "trace has no GENERATION observations")
    return out
