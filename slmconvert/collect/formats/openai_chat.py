"""OpenAI chat-completions request/response pairs (the NVIDIA data-flywheel log form).

A line is `{"request": {...}, "response": {...} | [chunks], "timestamp"?, "workload_id"?,
"client_id"?}`; streamed responses recorded as a list of `chat.completion.chunk` objects (or
their SSE `data: ...` strings) are reassembled: content concatenated, tool-call name and argument
deltas merged by index. The request/response helpers are shared with the Batch API format.
"""

from __future__ import annotations

from typing import Any

import orjson

from slmconvert.collect.formats.common import (
    Notes,
    content_text,
    error_call,
    new_call,
    openai_messages,
    openai_tool_calls,
    openai_tools,
    output_message,
    reject,
    request_params,
    tool_call,
    usage,
)
from slmconvert.collect.formats.values import iso_utc, str_or_none, to_float

NAME = "openai_chat"


def request_fields(request: Any, notes: Notes) -> dict:
    """Model, messages, tools, tool_choice, response_format and control params of a request."""
    if not isinstance(request, dict):
        reject("missing field", "request is not an object")
    if "messages" not in request:
        reject("missing field", "request has no messages")
    return {
        "model": request.get("model"),
        "messages": openai_messages(request["messages"], notes),
        "tools": openai_tools(request.get("tools"), request.get("functions"), notes),
        "tool_choice": request.get("tool_choice", request.get("function_call")),
        "response_format": request.get("response_format"),
        "params": request_params(request),
    }


def _chunk(raw: Any) -> dict | None:
    """One stream chunk as a dict; SSE strings ("data: {...}") parsed, "[DONE]" skipped."""
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, (str, bytes)):
        text = raw.strip()
        text = text[5:].strip() if text[:5] in ("data:", b"data:") else text
        if text in ("[DONE]", b"[DONE]", "", b""):
            return None
        try:
            parsed = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            reject("invalid JSON", f"stream chunk: {exc.msg}")
        return parsed if isinstance(parsed, dict) else None
    reject("malformed record", "stream chunk is neither an object nor a string")


def assemble_stream(chunks: list, notes: Notes) -> dict:
    """Rebuild a non-streamed chat.completion from its chunks (choice 0)."""
    content: list[str] = []
    calls: dict[int, dict] = {}
    head: dict[str, Any] = {"finish_reason": None, "usage": None, "model": None, "id": None}
    seen = 0
    for raw in chunks:
        chunk = _chunk(raw)
        if chunk is None:
            continue
        seen += 1
        if chunk.get("error"):
            return {"error": chunk["error"]}
        head["model"] = head["model"] or chunk.get("model")
        head["id"] = head["id"] or chunk.get("id")
        if chunk.get("usage"):
            head["usage"] = chunk["usage"]
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                notes.set("n_choices", max(notes.data.get("n_choices", 1), choice["index"] + 1))
                continue
            delta = choice.get("delta") or {}
            if delta.get("content"):
                content.append(delta["content"])
            for pos, part in enumerate(delta.get("tool_calls") or ()):
                slot = calls.setdefault(part.get("index", pos), {"id": None, "name": "", "arguments": []})
                slot["id"] = slot["id"] or part.get("id")
                fn = part.get("function") or {}
                if fn.get("name") and not slot["name"]:
                    slot["name"] = fn["name"]
                if fn.get("arguments"):
                    slot["arguments"].append(fn["arguments"])
            legacy = delta.get("function_call")
            if legacy:
                slot = calls.setdefault(0, {"id": None, "name": "", "arguments": []})
                slot["name"] = slot["name"] or legacy.get("name") or ""
                slot["arguments"].append(legacy.get("arguments") or "")
            if choice.get("finish_reason"):
                head["finish_reason"] = choice["finish_reason"]
    if not seen:
        reject("missing field", "streamed response has no chunks")
    tool_calls = [
        {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": "".join(c["arguments"])}}
        for _, c in sorted(calls.items())
    ]
    message = {"role": "assistant", "content": "".join(content) if content else None, "tool_calls": tool_calls}
    return {
        "id": head["id"],
        "model": head["model"],
        "choices": [{"index": 0, "message": message, "finish_reason": head["finish_reason"]}],
        "usage": head["usage"],
    }


def response_fields(response: Any, notes: Notes) -> dict:
    """Output, finish reason, usage, served model and ids of a chat.completion (or an error)."""
    if isinstance(response, list):
        notes.set("streamed", True)
        response = assemble_stream(response, notes)
    if not isinstance(response, dict):
        reject("missing field", "response is not an object")
    if response.get("error") and not response.get("choices"):
        return {"error": response["error"], "model": response.get("model")}
    if response.get("object") == "error":  # vLLM / NIM OpenAI-compatible ErrorResponse
        return {"error": response, "model": response.get("model")}
    choices = response.get("choices")
    if not isinstance(choices, list) or not choices:
        reject("missing field", "response has no choices")
    if len(choices) > 1:
        notes.set("n_choices", len(choices))
    choice = choices[0]
    msg = choice.get("message")
    if msg is None and "text" in choice:  # legacy completions-style choice
        msg = {"content": choice["text"]}
    if not isinstance(msg, dict):
        reject("missing field", "response choice has no message")
    calls = openai_tool_calls(msg.get("tool_calls"), "response.message")
    legacy = msg.get("function_call")
    if calls is None and isinstance(legacy, dict):
        calls = [tool_call("call_0", legacy.get("name"), legacy.get("arguments"), "response.function_call")]
    if msg.get("refusal"):
        notes.set("refusal", str(msg["refusal"])[:500])
    raw_usage = response.get("usage") or {}
    meta = {k: response[k] for k in ("id", "system_fingerprint", "service_tier") if response.get(k)}
    return {
        "output": output_message(content_text(msg.get("content"), notes), calls),
        "finish_reason": choice.get("finish_reason"),
        "usage": usage(raw_usage.get("prompt_tokens"), raw_usage.get("completion_tokens")),
        "model": response.get("model"),
        "created": response.get("created"),
        "meta": meta,
    }


def build_call(request: Any, response: Any, notes: Notes, timestamp: Any = None) -> dict:
    """A partial record from an OpenAI request and its response (shared with the Batch API)."""
    req = request_fields(request, notes)
    resp = response_fields(response, notes)
    served = resp.get("model") or req["model"]
    metadata = dict(req["params"])
    if req["model"] and served != req["model"]:
        metadata["request_model"] = req["model"]
    call = new_call(
        model=served,
        messages=req["messages"],
        tools=req["tools"],
        tool_choice=req["tool_choice"],
        response_format=req["response_format"],
        metadata=metadata,
    )
    call["timestamp"] = iso_utc(timestamp) or iso_utc(resp.get("created"))
    if "error" in resp:
        return error_call(call, resp["error"])
    call["output"] = resp["output"]
    call["finish_reason"] = resp["finish_reason"]
    call["usage"] = resp["usage"]
    metadata.update(("response_" + k if k == "id" else k, v) for k, v in resp["meta"].items())
    return call


def latency_of(record: dict) -> float | None:
    """Latency a logger put beside the pair: latency_ms / duration_ms, or latency in seconds."""
    for key, scale in (("latency_ms", 1.0), ("duration_ms", 1.0), ("latency", 1000.0), ("duration", 1000.0)):
        value = to_float(record.get(key))
        if value is not None:
            return round(value * scale, 3)
    return None


def normalise(record: dict) -> list[dict]:
    """One flywheel-style line -> one partial call record."""
    if record.get("response") is None:
        reject("missing field", "no response recorded for the request")
    notes = Notes()
    call = build_call(record.get("request"), record["response"], notes, record.get("timestamp"))
    call["workload_id"] = str_or_none(record.get("workload_id"))
    call["client_id"] = str_or_none(record.get("client_id"))
    call["latency_ms"] = latency_of(record)
    if isinstance(record.get("metadata"), dict):  # e.g. the route decision `slmconvert serve` logs
        call["metadata"].update(record["metadata"])
    call["metadata"].update(notes.data)
    return [call]
