"""Which calls are unfit for fine-tuning, each with one counted reason."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from jsonschema import exceptions as schema_errors
from jsonschema import validators

from slmconvert.artifacts.adapters import SLM_MODEL_PREFIX
from slmconvert.curate.params import CurateParams
from slmconvert.models.prompt import CHARS_PER_TOKEN

_ERROR_FINISH = {"error", "content_filter"}


def error_reason(record: dict[str, Any]) -> str | None:
    """error_response / empty_output / truncated, from the response alone."""
    output = record.get("output")
    metadata = record.get("metadata") or {}
    if record.get("finish_reason") in _ERROR_FINISH or (isinstance(metadata, dict) and metadata.get("error")):
        return "error_response"
    if not isinstance(output, dict):
        return "empty_output"
    content = output.get("content")
    has_text = isinstance(content, str) and content.strip() != "" or isinstance(content, list) and bool(content)
    if not has_text and not output.get("tool_calls"):
        return "empty_output"
    if record.get("finish_reason") == "length":
        return "truncated"
    return None


def measured_tokens(record: dict[str, Any]) -> int:
    """Tokens estimated from the call's own text (~4 UTF-8 bytes of its JSON per token)."""
    size = len(orjson.dumps([record.get("messages"), record.get("tools"), record.get("output")]))
    return size // CHARS_PER_TOKEN + 1


def estimated_tokens(record: dict[str, Any]) -> int:
    """Prompt + completion tokens: the larger of the logged usage and the measured text, since a
    logger may under-report (a 10 MB message logged as 283 tokens is still 10 MB)."""
    usage = record.get("usage") or {}
    logged = sum(n for n in (usage.get("prompt_tokens"), usage.get("completion_tokens"))
                 if isinstance(n, int) and not isinstance(n, bool)) if isinstance(usage, dict) else 0
    return max(logged, measured_tokens(record))


class ToolCallChecker:
    """Validates output tool calls against the offered tools' JSON schemas (validators cached)."""

    def __init__(self) -> None:
        self._validators: dict[str, Any] = {}

    def _validator(self, schema: Any) -> Any:
        key = hashlib.blake2b(orjson.dumps(schema, option=orjson.OPT_SORT_KEYS), digest_size=16).hexdigest()
        found = self._validators.get(key)
        if found is None:
            try:
                cls = validators.validator_for(schema)
                cls.check_schema(schema)
                found = cls(schema)
            except (schema_errors.SchemaError, TypeError, AttributeError):
                found = False  # a broken schema cannot be checked against; names still are
            self._validators[key] = found
        return found

    def reason(self, record: dict[str, Any]) -> str | None:
        """unknown_tool / invalid_tool_arguments for the output's tool calls, else None."""
        output = record.get("output") or {}
        calls = output.get("tool_calls") if isinstance(output, dict) else None
        if not calls:
            return None
        offered = {}
        for tool in record.get("tools") or []:
            function = tool.get("function") if isinstance(tool, dict) else None
            if isinstance(function, dict) and function.get("name"):
                offered[function["name"]] = function.get("parameters") or {"type": "object"}
        for call in calls:
            function = (call or {}).get("function") or {}
            name = function.get("name")
            if name not in offered:
                return "unknown_tool"
            arguments = function.get("arguments")
            if isinstance(arguments, str):
                try:
                    arguments = orjson.loads(arguments)
                except orjson.JSONDecodeError:
                    return "invalid_tool_arguments"
            validator = self._validator(offered[name])
            if validator and not validator.is_valid(arguments if arguments is not None else {}):
                return "invalid_tool_arguments"
        return None


class Filters:
    """Applies the configured filters in a fixed order; near-duplicates are tracked across the run."""

    def __init__(self, params: CurateParams) -> None:
        self.enabled = set(params.filters)
        self.max_tokens = params.max_tokens
        self.checker = ToolCallChecker()
        self._seen: set[str] = set()

    def reason(self, original: dict[str, Any], scrubbed: dict[str, Any], request_key: str | None) -> str | None:
        """The first reason to drop a call, or None to keep it. Validity is judged on the scrubbed
        call (what trains); a call valid before scrubbing but not after is `scrub_broke_schema`."""
        early = error_reason(original)
        if early is not None and early in self.enabled:
            return early
        if "served_by_slm" in self.enabled and str(original.get("model") or "").startswith(SLM_MODEL_PREFIX):
            return "served_by_slm"
        if "invalid_tool_call" in self.enabled:
            problem = self.checker.reason(scrubbed)
            if problem:
                return "scrub_broke_schema" if self.checker.reason(original) is None else problem
        if "too_long" in self.enabled and estimated_tokens(scrubbed) > self.max_tokens:
            return "too_long"
        if "near_duplicate" in self.enabled and request_key is not None:
            if request_key in self._seen:
                return "near_duplicate"
            self._seen.add(request_key)
        return None
