"""The identity and stored form of a call record (light: no Arrow, so worker processes start fast)."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from slmconvert.collect.formats.common import RecordRejected
from slmconvert.collect.toolcache import KnownTools
from slmconvert.util.jsonio import HASH_PREFIX

FIELDS = (
    "call_id", "source", "timestamp", "workload_id", "client_id", "model", "messages", "tools",
    "tool_choice", "response_format", "output", "finish_reason", "usage", "latency_ms", "cost_usd", "metadata",
)
JSON_FIELDS = ("source", "messages", "tools", "tool_choice", "response_format", "output", "usage", "metadata")
# Content that identifies a call; two calls with equal content are exact duplicates.
IDENTITY_FIELDS = ("model", "messages", "tools", "tool_choice", "response_format", "output")
# The identity fields stored as JSON (model is a plain string column).
CONTENT_FIELDS = ("messages", "tools", "tool_choice", "response_format", "output")
# Everything else a normaliser produces; small, travels as Python values.
SMALL_FIELDS = ("timestamp", "workload_id", "client_id", "model", "finish_reason", "usage", "latency_ms", "metadata")
_SORTED = orjson.OPT_SORT_KEYS
_NULL = b"null"
_KEY_PREFIXES = [(k, (b"{" if n == 0 else b",") + b'"%s":' % k.encode()) for n, k in enumerate(sorted(IDENTITY_FIELDS))]


def encode_identity(partial: dict) -> tuple[bytes, dict[str, bytes]]:
    """(sha256 digest, canonical JSON per identity field) of a call.

    call_id = sha256(canonical_json({model, messages, tools, tool_choice, response_format,
    output})) with util.jsonio's canonical form (sorted keys, compact). It is built field by
    field so each field is serialised once and the same bytes are stored in calls.parquet.
    """
    try:
        parts = {k: orjson.dumps(partial[k], option=_SORTED) for k in IDENTITY_FIELDS if k != "tools"}
        tools = partial["tools"]
        parts["tools"] = tools.canonical if type(tools) is KnownTools else orjson.dumps(tools, option=_SORTED)
    except TypeError as exc:  # orjson refuses > 254 nesting levels and > 64-bit integers
        text = str(exc)
        if "ecursion" in text:
            raise RecordRejected("JSON nested too deep", "content nested deeper than 254 levels") from None
        if "surrogate" in text:
            text = "a string holds a lone UTF-16 surrogate escape such as \\ud800 (not valid Unicode)"
        elif "64-bit" in text:
            text = "an integer does not fit in 64 bits"
        raise RecordRejected("unsupported JSON value", text) from None
    canonical = b"".join([piece for key, prefix in _KEY_PREFIXES for piece in (prefix, parts[key])] + [b"}"])
    return hashlib.sha256(canonical).digest(), parts


def call_id_of(digest: bytes) -> str:
    """The record's `call_id` ("sha256:<hex>")."""
    return HASH_PREFIX + digest.hex()


def digest_of(call_id: str) -> bytes:
    """The digest bytes of a call_id."""
    return bytes.fromhex(call_id.partition(":")[2])


def tool_names(output: dict | None) -> list[str]:
    """Names of the tools an output calls (for the by-tool statistics)."""
    return [c["function"]["name"] for c in (output or {}).get("tool_calls") or ()]


def storage_row(call_id: str, source: dict, small: dict[str, Any], parts: dict[str, bytes], cost: float | None) -> dict:
    """A calls.parquet row whose content fields are already-canonical JSON bytes.

    TableWriter stores bytes in a JSON column verbatim: the bytes hashed for the call_id are
    stored without a second serialisation.
    """
    row = {"call_id": call_id, "source": source}
    row.update(small)
    for key in CONTENT_FIELDS:
        value = parts[key]
        row[key] = None if value == _NULL else value
    row["cost_usd"] = cost
    return {k: row[k] for k in FIELDS}
