"""Simon Willison's `llm` CLI: elements of `llm logs --json` (one JSON array, often pretty-printed).

Each element is one response: `prompt`, `system`, `response`, `model`/`resolved_model`,
`prompt_json` (the exact request when the plugin recorded it), `tools`, `tool_calls`,
`tool_results`, `input_tokens`/`output_tokens`, `duration_ms`, `datetime_utc`, `schema_json`.
"""

from __future__ import annotations

from typing import Any

import orjson

from slmconvert.collect.formats.common import (
    Notes,
    function_tool,
    message,
    new_call,
    openai_messages,
    output_message,
    reject,
    request_params,
    tool_call,
    usage,
)
from slmconvert.collect.formats.values import iso_utc, to_float

NAME = "llm_cli"


def _json_field(record: dict, key: str) -> Any:
    value = record.get(key)
    if isinstance(value, str) and value.strip():
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            reject("invalid JSON", f"{key}: {exc.msg}")
    return value


def _messages(record: dict, notes: Notes) -> list[dict]:
    """The request: prompt_json's messages when recorded, else system + prompt + tool results."""
    prompt_json = _json_field(record, "prompt_json")
    if isinstance(prompt_json, dict) and isinstance(prompt_json.get("messages"), list):
        return openai_messages(prompt_json["messages"], notes, "prompt_json.messages")
    messages = []
    if record.get("system"):
        messages.append(message("system", str(record["system"])))
    if record.get("prompt"):
        messages.append(message("user", str(record["prompt"])))
    for result in record.get("tool_results") or ():
        messages.append(message("tool", str(result.get("output", "")), None, result.get("tool_call_id"), result.get("name")))
    if not messages:
        reject("missing field", "response has neither a prompt nor prompt_json messages")
    return messages


def _tools(record: dict) -> list[dict]:
    out = []
    for tool in record.get("tools") or ():
        schema = tool.get("input_schema")
        if isinstance(schema, str):
            schema = orjson.loads(schema) if schema.strip() else None
        out.append(function_tool(tool.get("name"), tool.get("description"), schema))
    return out


def _finish_reason(response_json: Any) -> Any:
    if not isinstance(response_json, dict):
        return None
    choices = response_json.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        return choices[0].get("finish_reason")
    return response_json.get("finish_reason") or response_json.get("stop_reason")


def normalise(record: dict) -> list[dict]:
    """One logged response -> one partial call record."""
    notes = Notes()
    calls = [
        tool_call(c.get("tool_call_id") or c.get("id"), c.get("name"), c.get("arguments"), f"tool_calls[{i}]")
        for i, c in enumerate(record.get("tool_calls") or ())
    ]
    response = record.get("response")
    if response is None and not calls:
        reject("missing field", "no response text or tool calls recorded")
    schema = _json_field(record, "schema_json")
    options = _json_field(record, "options_json")
    metadata = {k: v for k, v in (("response_id", record.get("id")), ("conversation_id", record.get("conversation_id"))) if v}
    metadata.update(request_params(options) if isinstance(options, dict) else {})
    if record.get("attachments"):
        notes.count("non_text_parts", "attachment")
    call = new_call(
        model=record.get("resolved_model") or record.get("model"),
        messages=_messages(record, notes),
        tools=_tools(record),
        response_format={"type": "json_schema", "json_schema": {"name": "schema", "schema": schema}} if schema else None,
        output=output_message(response if response else None, calls or None),
        finish_reason=_finish_reason(_json_field(record, "response_json")),
        usage_=usage(record.get("input_tokens"), record.get("output_tokens")),
        latency_ms=to_float(record.get("duration_ms")),
        timestamp=iso_utc(record.get("datetime_utc")),
        metadata=metadata,
    )
    call["metadata"].update(notes.data)
    return [call]
