"""Message shapes that tracing tools (LangSmith, Langfuse) record: OpenAI dicts, LangChain
serialised messages (`{"lc": 1, "id": [..., "HumanMessage"], "kwargs": {...}}`) and LangChain
message dicts (`{"type": "human", "content": ...}`), converted to record messages.
"""

from __future__ import annotations

from typing import Any

from slmconvert.collect.formats.common import (
    Notes,
    content_text,
    link_legacy_function_results,
    message,
    openai_message,
    openai_tool_calls,
    output_message,
    reject,
    tool_call,
)

# LangChain class names / message types -> record roles.
LC_ROLES = {
    "HumanMessage": "user", "HumanMessageChunk": "user", "human": "user",
    "AIMessage": "assistant", "AIMessageChunk": "assistant", "ai": "assistant",
    "SystemMessage": "system", "system": "system",
    "ToolMessage": "tool", "tool": "tool", "FunctionMessage": "tool", "function": "tool",
    "ChatMessage": None, "chat": None,
}


def _lc_fields(raw: dict) -> tuple[str | None, dict] | None:
    """(LangChain type, fields) when raw is a LangChain message, else None."""
    if raw.get("lc") and isinstance(raw.get("kwargs"), dict):
        ids = raw.get("id") or []
        return (ids[-1] if ids else raw["kwargs"].get("type")), raw["kwargs"]
    if "role" not in raw and raw.get("type") in LC_ROLES:
        return raw["type"], raw.get("data", raw) if isinstance(raw.get("data"), dict) else raw
    return None


def _lc_calls(fields: dict, where: str) -> list[dict] | None:
    if fields.get("invalid_tool_calls"):
        bad = fields["invalid_tool_calls"][0]
        reject("invalid tool-call arguments", f"{where}: {bad.get('name')}: {str(bad.get('error'))[:200]}")
    calls = fields.get("tool_calls")
    if calls:
        if isinstance(calls[0], dict) and "function" in calls[0]:
            return openai_tool_calls(calls, where)
        return [tool_call(c.get("id"), c.get("name"), c.get("args"), f"{where}.tool_calls[{i}]") for i, c in enumerate(calls)]
    extra = fields.get("additional_kwargs") or {}
    found = openai_tool_calls(extra.get("tool_calls"), f"{where}.additional_kwargs")
    legacy = extra.get("function_call")
    if found is None and isinstance(legacy, dict):
        found = [tool_call(None, legacy.get("name"), legacy.get("arguments"), f"{where}.function_call")]
    return found


def any_message(raw: Any, where: str, notes: Notes) -> dict:
    """An OpenAI or LangChain message (or a bare string = user text) as a record message."""
    if isinstance(raw, str):
        return message("user", raw)
    if not isinstance(raw, dict):
        reject("malformed record", f"{where} is not a message object")
    lc = _lc_fields(raw)
    if lc is None:
        return openai_message(raw, where, notes)
    kind, fields = lc
    role = LC_ROLES.get(kind, "unknown") or fields.get("role")
    if role not in ("user", "assistant", "system", "tool"):
        reject("unknown message role", repr(kind)[:80])
    return message(
        role,
        content_text(fields.get("content"), notes),
        _lc_calls(fields, where) if role == "assistant" else None,
        fields.get("tool_call_id"),
        fields.get("name"),
    )


def any_messages(raw: Any, notes: Notes, field: str) -> list[dict]:
    """A message list (LangChain batches `[[...]]` take the first conversation)."""
    if isinstance(raw, str):
        return [message("user", raw)]
    if not isinstance(raw, list):
        reject("malformed record", f"{field} is not a list of messages")
    if raw and isinstance(raw[0], list):
        if len(raw) > 1:
            notes.set("batched_prompts", len(raw))
        raw = raw[0]
    out = [any_message(m, f"{field}[{i}]", notes) for i, m in enumerate(raw)]
    link_legacy_function_results(out)
    return out


def as_output(raw: Any, where: str, notes: Notes) -> dict:
    """A recorded answer (message dict, LangChain message or plain text) as the call output."""
    if isinstance(raw, str):
        return output_message(raw, None)
    if isinstance(raw, list) and len(raw) == 1:
        raw = raw[0]
    if not isinstance(raw, dict):
        reject("missing field", f"{where} is not a message or text")
    if "role" not in raw and _lc_fields(raw) is None:
        raw = {**raw, "role": "assistant"}
    msg = any_message(raw, where, notes)
    return output_message(msg["content"], msg["tool_calls"])
