"""The OpenAI chat-completions wire format on both sides of the gateway: a request read into a
routable call record (with collect's own normaliser, so served and logged calls look alike), and
answers written back exactly as the API writes them (bodies, stream chunks, errors)."""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

import orjson

from slmconvert.collect.formats.common import Notes, RecordRejected
from slmconvert.collect.formats.openai_chat import request_fields
from slmconvert.models.parse import ParsedOutput

TOOL_CHOICE = "tool_choice"  # serve-time escalation reason: the answer ignores the request's tool_choice
DONE = b"data: [DONE]\n\n"
_WORDS = re.compile(r"\s*\S+\s*|\s+")


@dataclass
class ChatRequest:
    """One incoming request: the bytes to forward unchanged, and what routing needs."""

    request_id: str
    body: bytes
    payload: dict[str, Any] | None
    record: dict[str, Any] | None  # None: the request cannot go to an SLM (see why_llm)
    why_llm: str | None = None

    @property
    def stream(self) -> bool:
        return bool(self.payload and self.payload.get("stream"))

    @property
    def include_usage(self) -> bool:
        options = (self.payload or {}).get("stream_options") or {}
        return bool(isinstance(options, dict) and options.get("include_usage"))

    @property
    def model(self) -> str | None:
        value = (self.payload or {}).get("model")
        return value if isinstance(value, str) else None


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(12)}"


def _unsupported(payload: dict[str, Any], notes: Notes) -> str | None:
    """Why an SLM cannot answer this request faithfully (None: it can)."""
    n = payload.get("n")
    if isinstance(n, int) and n > 1:
        return "asks for several answers (n > 1)"
    if payload.get("logprobs") or payload.get("top_logprobs"):
        return "asks for log-probabilities"
    if payload.get("audio") or "audio" in (payload.get("modalities") or ()):
        return "asks for audio"
    if notes.data.get("non_text_parts"):
        return "has non-text content parts"
    if notes.data.get("non_function_tools"):
        return "offers non-function tools"
    return None


def read_request(body: bytes, request_id: str | None = None) -> ChatRequest:
    """Parse a chat-completions body. Never raises: what cannot be routed still goes to the LLM unchanged."""
    request_id = request_id or new_id("chatcmpl")
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return ChatRequest(request_id, body, None, None, "request is not JSON")
    if not isinstance(payload, dict):
        return ChatRequest(request_id, body, None, None, "request is not a JSON object")
    notes = Notes()
    try:
        fields = request_fields(payload, notes)
    except RecordRejected as exc:
        return ChatRequest(request_id, body, payload, None, f"request could not be read ({exc.reason})")
    why = _unsupported(payload, notes)
    record = {
        "call_id": request_id,
        "model": fields["model"],
        "messages": fields["messages"],  # collect's normalised form, as curated records hold them
        "tools": fields["tools"],
        "tool_choice": fields["tool_choice"],
        "response_format": fields["response_format"],
    }
    return ChatRequest(request_id, body, payload, None if why else record, why)


def tool_choice_violation(tool_choice: Any, parsed: ParsedOutput) -> str | None:
    """What is wrong when an answer ignores the request's tool_choice (None: it complies)."""
    names = [c.get("name") for c in parsed.tool_calls]
    if tool_choice == "none" and names:
        return "tool_choice is 'none' but the answer calls a tool"
    if tool_choice == "required" and not names:
        return "tool_choice is 'required' but the answer calls no tool"
    if isinstance(tool_choice, dict):
        wanted = (tool_choice.get("function") or {}).get("name")
        if wanted and (not names or any(n != wanted for n in names)):
            return f"tool_choice names {wanted!r} but the answer does not call only it"
    return None


def answer_message(parsed: ParsedOutput) -> dict[str, Any]:
    """The assistant message as the API returns it: arguments as JSON strings, fresh call ids."""
    calls = [
        {"id": new_id("call").replace("-", "_"), "type": "function",
         "function": {"name": c["name"], "arguments": orjson.dumps(c.get("arguments") or {}).decode()}}
        for c in parsed.tool_calls
    ]
    message: dict[str, Any] = {"role": "assistant", "content": parsed.content or (None if calls else ""),
                               "refusal": None}
    if calls:
        message["tool_calls"] = calls
    return message


def finish_reason(message: dict[str, Any], hit_token_limit: bool) -> str:
    if message.get("tool_calls"):
        return "tool_calls"
    return "length" if hit_token_limit else "stop"


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {"prompt_tokens": int(prompt_tokens), "completion_tokens": int(completion_tokens),
            "total_tokens": int(prompt_tokens) + int(completion_tokens)}


def completion_body(request_id: str, model: str, message: dict[str, Any], finish: str,
                    usage_: dict[str, int], created: int | None = None) -> dict[str, Any]:
    """A `chat.completion` object."""
    return {
        "id": request_id, "object": "chat.completion", "created": created or int(time.time()), "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": usage_, "system_fingerprint": None,
    }


def _pieces(text: str, size: int = 16) -> list[str]:
    """Text cut into stream deltas of whole words, about `size` characters each."""
    out: list[str] = []
    for word in _WORDS.findall(text):
        if out and len(out[-1]) + len(word) <= size:
            out[-1] += word
        else:
            out.append(word)
    return out


def completion_chunks(body: dict[str, Any], include_usage: bool) -> list[dict[str, Any]]:
    """A finished `chat.completion` replayed as the `chat.completion.chunk` objects a stream sends."""
    choice = body["choices"][0]
    message = choice["message"]
    head = {"id": body["id"], "object": "chat.completion.chunk", "created": body["created"], "model": body["model"],
            "system_fingerprint": None}
    extra = {"usage": None} if include_usage else {}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**head, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}], **extra}

    chunks = [chunk({"role": "assistant", "content": "", "refusal": None})]
    chunks += [chunk({"content": piece}) for piece in _pieces(message.get("content") or "")]
    for index, call in enumerate(message.get("tool_calls") or ()):
        chunks.append(chunk({"tool_calls": [{"index": index, **call}]}))
    chunks.append(chunk({}, choice["finish_reason"]))
    if include_usage:
        chunks.append({**head, "choices": [], "usage": body["usage"]})
    return chunks


def sse(chunk: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


def error_body(message: str, kind: str, code: str | None = None) -> dict[str, Any]:
    """The API's error object (what the SDK raises from)."""
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def sse_chunks(data: bytes) -> list[Any]:
    """The JSON chunks of a server-sent-event stream (for the traffic log); non-JSON events kept as text."""
    out: list[Any] = []
    for line in data.split(b"\n"):
        line = line.strip()
        if not line.startswith(b"data:"):
            continue
        value = line[5:].strip()
        if value == b"[DONE]":
            continue
        try:
            out.append(orjson.loads(value))
        except orjson.JSONDecodeError:
            out.append(value.decode("utf-8", "replace"))
    return out
