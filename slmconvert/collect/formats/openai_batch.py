"""OpenAI Batch API files: input lines `{custom_id, method, url, body}` and output lines
`{id, custom_id, response: {status_code, body}, error}`, joined by `custom_id`.

The two halves arrive in different files; `slmconvert.collect.batch_join` holds the first half
of each pair until its partner shows up. Only the chat-completions endpoint makes call records.
"""

from __future__ import annotations

from slmconvert.collect.formats.common import Notes, reject
from slmconvert.collect.formats.openai_chat import build_call

NAME = "openai_batch"
INPUT, OUTPUT = "input", "output"
CHAT_ENDPOINTS = ("/v1/chat/completions", "/chat/completions")


def half(record: dict) -> tuple[str, str]:
    """Which half of a batch pair a line is, and its custom_id."""
    custom_id = record.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id:
        reject("missing field", "batch line without a custom_id")
    if "body" in record or "url" in record:
        return INPUT, custom_id
    if "response" in record or "error" in record:
        return OUTPUT, custom_id
    reject("unknown format", "custom_id line is neither a batch input nor a batch output")


def combine(request_line: dict, result_line: dict) -> list[dict]:
    """A joined batch input + output -> one partial call record."""
    url = request_line.get("url") or ""
    if url.rstrip("/") not in CHAT_ENDPOINTS:
        reject("unsupported", f"batch endpoint {url!r} is not chat completions")
    notes = Notes()
    response = result_line.get("response") or {}
    status = response.get("status_code", 200)
    answer = response.get("body")
    error = result_line.get("error")
    if error or (isinstance(status, int) and status >= 400) or not answer:
        found = answer.get("error") if isinstance(answer, dict) else None
        answer = {"error": error or found or f"HTTP {status}"}
    call = build_call(request_line.get("body"), answer, notes)
    meta = call["metadata"]
    meta.update(notes.data)
    meta["custom_id"] = request_line["custom_id"]
    if result_line.get("id"):
        meta["batch_request_id"] = result_line["id"]
    return [call]
