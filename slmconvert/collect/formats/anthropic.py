"""Anthropic Messages API request/response pairs, mapped onto OpenAI-style messages.

`system` (string or text blocks) becomes a system message; `tool_use` blocks become tool calls,
`tool_result` blocks become `tool` messages (placed before the user's other content, as OpenAI
requires); `stop_reason` maps to OpenAI finish reasons. Streamed responses recorded as the list
of server-sent events (message_start, content_block_*, message_delta) are reassembled.
"""

from __future__ import annotations

from typing import Any

import orjson

from slmconvert.collect.formats.common import (
    Notes,
    error_call,
    function_tool,
    message,
    new_call,
    output_message,
    reject,
    request_params,
    tool_call,
    usage,
)
from slmconvert.collect.formats.openai_chat import latency_of
from slmconvert.collect.formats.values import iso_utc, str_or_none

NAME = "anthropic"

STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def _text_of(content: Any, notes: Notes) -> str | None:
    """Text of a string or a list of blocks; non-text blocks are noted."""
    if content is None or isinstance(content, str):
        return content
    if not isinstance(content, list):
        reject("malformed record", "content is neither a string nor a list of blocks")
    texts = []
    for block in content:
        if isinstance(block, dict) and block.get("type") == "text":
            texts.append(str(block.get("text", "")))
        else:
            notes.count("non_text_parts", str(block.get("type") if isinstance(block, dict) else type(block).__name__))
    return "\n".join(texts) if texts else None


def assistant_turn(blocks: Any, where: str, notes: Notes) -> tuple[str | None, list[dict] | None]:
    """Text and tool calls of an assistant turn's content blocks."""
    if isinstance(blocks, str) or blocks is None:
        return blocks, None
    if not isinstance(blocks, list):
        reject("malformed record", f"{where} content is not a list of blocks")
    texts, calls = [], []
    for i, block in enumerate(blocks):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            texts.append(str(block.get("text", "")))
        elif kind == "tool_use":
            calls.append(tool_call(block.get("id"), block.get("name"), block.get("input"), f"{where}[{i}]"))
        else:
            notes.count("non_text_parts", str(kind))
    return ("\n".join(texts) if texts else None), (calls or None)


def convert_messages(request: dict, notes: Notes) -> list[dict]:
    """Anthropic `system` + `messages` as record messages."""
    out = []
    system = _text_of(request.get("system"), notes)
    if system is not None:
        out.append(message("system", system))
    raw = request.get("messages")
    if not isinstance(raw, list):
        reject("missing field", "request has no messages list")
    names: dict[str, str] = {}
    for i, msg in enumerate(raw):
        role, content = msg.get("role"), msg.get("content")
        if role == "assistant":
            text, calls = assistant_turn(content, f"messages[{i}]", notes)
            names.update((c["id"], c["function"]["name"]) for c in calls or ())
            out.append(message("assistant", text, calls))
        elif role == "user":
            out.extend(_user_turn(content, names, notes))
        else:
            reject("unknown message role", repr(role)[:80])
    return out


def _user_turn(content: Any, names: dict[str, str], notes: Notes) -> list[dict]:
    if not isinstance(content, list):
        return [message("user", _text_of(content, notes))]
    results, rest = [], []
    for block in content:
        if isinstance(block, dict) and block.get("type") == "tool_result":
            if block.get("is_error"):
                notes.count("tool_errors", "tool_result")
            use_id = block.get("tool_use_id")
            results.append(message("tool", _text_of(block.get("content"), notes), None, use_id, names.get(use_id)))
        else:
            rest.append(block)
    if rest or not results:
        results.append(message("user", _text_of(rest, notes)))
    return results


def convert_tools(tools: Any, notes: Notes) -> list[dict]:
    """Client tools (`name`, `description`, `input_schema`) as OpenAI function tools."""
    out = []
    for tool in tools or ():
        if "input_schema" not in tool:  # server tools (web_search_..., bash_...) have no schema
            notes.count("non_function_tools", str(tool.get("type") or tool.get("name")))
            continue
        out.append(function_tool(tool.get("name"), tool.get("description"), tool.get("input_schema")))
    return out


def convert_tool_choice(choice: Any) -> Any:
    """Anthropic tool_choice as its OpenAI equivalent."""
    if not isinstance(choice, dict):
        return choice
    kind = choice.get("type")
    if kind == "tool":
        return {"type": "function", "function": {"name": choice.get("name")}}
    return {"auto": "auto", "any": "required", "none": "none"}.get(kind, choice)


def assemble_events(events: list) -> dict:
    """Rebuild a Message from its streamed events."""
    msg: dict[str, Any] = {"content": [], "usage": {}}
    partial: dict[int, list[str]] = {}
    for event in events:
        if isinstance(event, str):
            event = orjson.loads(event[5:] if event.startswith("data:") else event)
        kind = event.get("type")
        if kind == "error":
            return event
        if kind == "message_start":
            msg.update({k: v for k, v in event.get("message", {}).items() if k != "content"})
        elif kind == "content_block_start":
            block = dict(event.get("content_block") or {})
            msg["content"].append(block)
            partial[len(msg["content"]) - 1] = []
        elif kind == "content_block_delta":
            delta, index = event.get("delta") or {}, event.get("index", len(msg["content"]) - 1)
            if delta.get("type") == "text_delta":
                msg["content"][index]["text"] = msg["content"][index].get("text", "") + delta.get("text", "")
            elif delta.get("type") == "input_json_delta":
                partial[index].append(delta.get("partial_json", ""))
        elif kind == "message_delta":
            msg.update(event.get("delta") or {})
            msg["usage"] = {**msg.get("usage", {}), **(event.get("usage") or {})}
    for index, pieces in partial.items():
        if msg["content"][index].get("type") == "tool_use" and pieces:
            msg["content"][index]["input"] = "".join(pieces)  # parsed (or rejected) by tool_call()
    return msg


def normalise(record: dict) -> list[dict]:
    """One Anthropic request/response line -> one partial call record."""
    request, response = record.get("request"), record.get("response")
    if not isinstance(request, dict):
        reject("missing field", "request is not an object")
    if response is None:
        reject("missing field", "no response recorded for the request")
    notes = Notes()
    if isinstance(response, list):
        notes.set("streamed", True)
        response = assemble_events(response)
    metadata = request_params(request)
    if isinstance(request.get("tool_choice"), dict) and "disable_parallel_tool_use" in request["tool_choice"]:
        metadata["disable_parallel_tool_use"] = request["tool_choice"]["disable_parallel_tool_use"]
    call = new_call(
        model=response.get("model") or request.get("model"),
        messages=convert_messages(request, notes),
        tools=convert_tools(request.get("tools"), notes),
        tool_choice=convert_tool_choice(request.get("tool_choice")),
        response_format=request.get("output_format", request.get("response_format")),
        timestamp=iso_utc(record.get("timestamp")),
        workload_id=record.get("workload_id"),
        client_id=record.get("client_id"),
        latency_ms=latency_of(record),
        metadata=metadata,
    )
    if response.get("type") == "error" or (response.get("error") and not response.get("content")):
        return [_finish(error_call(call, response.get("error") or response), notes)]
    text, calls = assistant_turn(response.get("content"), "response.content", notes)
    call["output"] = output_message(text, calls)
    stop = response.get("stop_reason")
    call["finish_reason"] = str_or_none(STOP_REASONS.get(stop, stop))
    raw = response.get("usage") or {}
    prompt = sum(int(raw.get(k) or 0) for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"))
    call["usage"] = usage(prompt if "input_tokens" in raw else None, raw.get("output_tokens"))
    for key in ("cache_read_input_tokens", "cache_creation_input_tokens"):
        if raw.get(key):
            metadata[key] = raw[key]
    if response.get("id"):
        metadata["response_id"] = response["id"]
    if stop not in STOP_REASONS and stop is not None:
        metadata["stop_reason"] = stop
    return [_finish(call, notes)]


def _finish(call: dict, notes: Notes) -> dict:
    call["metadata"].update(notes.data)
    return call
