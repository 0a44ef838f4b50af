"""curate's output, `curated.parquet`: collect's normalised call record (shared/ARCHITECTURE.md),
scrubbed, plus `status` (kept | filtered) and `reason`.

One shape: a kept call's conversation is its `messages` and its reference answer its `output`.
`conversation()` and `reference()` give them as chat templates and trl take them (only the keys
templates use, no null values), for curated and freshly collected records alike.
"""

from __future__ import annotations

from typing import Any

from slmconvert.util.tables import iter_table
from slmconvert.workspace import Artifact

CURATED_FILE = "curated.parquet"
AUDIT_FILE = "audit.json"
MESSAGE_KEYS = ("role", "content", "tool_calls", "tool_call_id", "name")


def clean_message(message: dict[str, Any]) -> dict[str, Any]:
    """A chat message with only the keys chat templates use, and no null-valued ones."""
    out = {k: message[k] for k in MESSAGE_KEYS if message.get(k) is not None}
    out.setdefault("role", "assistant")
    if "content" not in out and "tool_calls" not in out:
        out["content"] = ""
    return out


def conversation(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The request's messages, template-ready."""
    return [clean_message(m) for m in record.get("messages") or [] if isinstance(m, dict)]


def reference(record: dict[str, Any]) -> dict[str, Any]:
    """The LLM's answer (the fine-tuning target and the evaluation reference), template-ready."""
    output = record.get("output")
    return clean_message({**output, "role": "assistant"}) if isinstance(output, dict) else \
        {"role": "assistant", "content": ""}


def load_curated(curate: Artifact, call_ids: set[str] | None = None) -> list[dict[str, Any]]:
    """Curated rows (all statuses), optionally only those whose call_id is in `call_ids`."""
    return [row for row in iter_table(curate.file(CURATED_FILE))
            if call_ids is None or row.get("call_id") in call_ids]


def traffic_rows(curate: Artifact) -> list[dict[str, Any]]:
    """The columns the economics need, for every curated row."""
    return list(iter_table(curate.file(CURATED_FILE), columns=["call_id", "status", "usage", "cost_usd", "latency_ms"]))
