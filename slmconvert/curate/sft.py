"""Fine-tune-ready rows in the conversational prompt/completion shape trl's SFTTrainer takes."""

from __future__ import annotations

from typing import Any

_MESSAGE_KEYS = ("role", "content", "tool_calls", "tool_call_id", "name")


def clean_message(message: dict[str, Any]) -> dict[str, Any]:
    """A chat message with only the keys chat templates use, and no null-valued ones."""
    out = {k: message[k] for k in _MESSAGE_KEYS if message.get(k) is not None}
    out.setdefault("role", "assistant")
    if "content" not in out and "tool_calls" not in out:
        out["content"] = ""
    return out


def sft_columns(record: dict[str, Any]) -> dict[str, Any]:
    """prompt (messages), completion ([assistant output]) and tools for one kept call."""
    output = dict(record.get("output") or {})
    output["role"] = "assistant"
    return {
        "prompt": [clean_message(m) for m in record.get("messages") or [] if isinstance(m, dict)],
        "completion": [clean_message(output)],
        "tools": record.get("tools") or [],
    }
