"""OpenAI fine-tuning chat format: `{"messages": [...], "tools"|"functions": [...]}`.

The last assistant turn is the call's output; the turns before it are the request. Files in this
format carry no model, usage or timestamps, so those fields stay null (never invented).
"""

from __future__ import annotations

from slmconvert.collect.formats.common import (
    Notes,
    new_call,
    openai_messages,
    openai_tools,
    output_message,
    reject,
)
from slmconvert.collect.formats.values import iso_utc

NAME = "openai_finetune"


def normalise(record: dict) -> list[dict]:
    """One training example -> one partial call record."""
    notes = Notes()
    messages = openai_messages(record.get("messages"), notes)
    last = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=None)
    if last is None:
        reject("missing field", "no assistant turn to use as the output")
    answer = messages[last]
    if last + 1 < len(messages):
        notes.set("trailing_messages_dropped", len(messages) - last - 1)
    weights = [m.get("weight") for m in record["messages"] if isinstance(m, dict) and "weight" in m]
    if weights:
        notes.set("turn_weights", weights)
    tools = openai_tools(record.get("tools"), record.get("functions"), notes)
    metadata = {k: record[k] for k in ("parallel_tool_calls",) if k in record}
    metadata.update(notes.data)
    return [
        new_call(
            model=record.get("model"),
            messages=messages[:last],
            tools=tools,
            tool_choice=record.get("tool_choice"),
            response_format=record.get("response_format"),
            output=output_message(answer["content"], answer["tool_calls"]),
            timestamp=iso_utc(record.get("timestamp")),
            workload_id=record.get("workload_id"),
            client_id=record.get("client_id"),
            metadata=metadata,
        )
    ]
