"""Log formats collect understands: per-record detection by keys, and each format's normaliser.

A normaliser maps one parsed JSON object to a list of partial call records (or per-item
`RecordRejected`s, for payloads such as OTLP that hold many calls). OpenAI Batch lines are
halves of a pair and go through `slmconvert.collect.batch_join` instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slmconvert.collect.formats import (
    anthropic,
    langfuse,
    langsmith,
    llm_cli,
    openai_batch,
    openai_chat,
    openai_finetune,
    otel,
)
from slmconvert.collect.formats.common import RecordRejected

Normaliser = Callable[[dict], list]

NORMALISERS: dict[str, Normaliser] = {
    openai_chat.NAME: openai_chat.normalise,
    openai_finetune.NAME: openai_finetune.normalise,
    anthropic.NAME: anthropic.normalise,
    otel.NAME: otel.normalise,
    langfuse.NAME: langfuse.normalise,
    langsmith.NAME: langsmith.normalise,
    llm_cli.NAME: llm_cli.normalise,
}
BATCH = openai_batch.NAME
FORMATS = tuple(NORMALISERS) + (BATCH,)
UNKNOWN = "unknown"


def _anthropic_pair(request: Any, response: Any) -> bool:
    """Whether a request/response pair speaks the Anthropic Messages API rather than OpenAI's."""
    if isinstance(response, dict):
        if "choices" in response:
            return False
        if response.get("type") in ("message", "error") or "stop_reason" in response:
            return True
    elif isinstance(response, list) and response:
        first = response[0]
        if isinstance(first, dict):
            return first.get("type") == "message_start"
        if isinstance(first, str):
            return "message_start" in first[:200]
        return False
    if isinstance(request, dict):
        if "system" in request:
            return True
        tools = request.get("tools")
        if isinstance(tools, list) and any(isinstance(t, dict) and "input_schema" in t for t in tools):
            return True
    return False


def detect(record: dict) -> str | None:
    """The format of one parsed record, from its keys alone (cheap; no deep inspection)."""
    if "custom_id" in record:
        return BATCH
    if "resourceSpans" in record:
        return otel.NAME
    if "run_type" in record:
        return langsmith.NAME
    if langfuse.is_generation(record) or isinstance(record.get("observations"), list):
        return langfuse.NAME
    if "request" in record:
        return anthropic.NAME if _anthropic_pair(record["request"], record.get("response")) else openai_chat.NAME
    if "messages" in record:
        return openai_finetune.NAME
    if "prompt" in record and ("response" in record or "datetime_utc" in record or "prompt_json" in record):
        return llm_cli.NAME
    return None


__all__ = ["BATCH", "FORMATS", "NORMALISERS", "UNKNOWN", "RecordRejected", "detect"]
