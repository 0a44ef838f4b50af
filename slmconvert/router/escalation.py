"""Serve-time escalation: the checks that send an SLM answer back to the LLM.

In order: the output does not parse (or is empty); it calls a tool the request did not offer; tool arguments
(or a JSON answer under a json_schema response format) fail the schema; the SLM's confidence is
below the cluster's threshold, or unknown while the cluster has one (`confidence.keeps`). The first
failing check is the reason.
"""

from __future__ import annotations

from typing import Any

from slmconvert.evaluation.matching import (
    extract_json,
    response_schema,
    schema_errors,
    tool_parameters,
)
from slmconvert.models.prompt import ParsedOutput
from slmconvert.router.confidence import keeps
from slmconvert.router.config import EscalationRules

PARSE_ERROR = "parse_error"
UNKNOWN_TOOL = "unknown_tool"
SCHEMA_ERROR = "schema_error"
LOW_CONFIDENCE = "low_confidence"
REASONS = (PARSE_ERROR, UNKNOWN_TOOL, SCHEMA_ERROR, LOW_CONFIDENCE)


def rule_violation(parsed: ParsedOutput, call: dict[str, Any], rules: EscalationRules) -> tuple[str, str] | None:
    """(reason, detail) of the first structural check the output fails, or None."""
    if rules.parse_error and not parsed.parse_ok:
        return PARSE_ERROR, parsed.error or "output does not parse"
    if rules.parse_error and not parsed.tool_calls and not (parsed.content or "").strip():
        return PARSE_ERROR, "empty answer"
    tools = list(call.get("tools") or [])
    for tc in parsed.tool_calls:
        name = tc.get("name")
        schema = tool_parameters(tools, name)
        if schema is None:
            if rules.unknown_tool:
                return UNKNOWN_TOOL, f"tool {name!r} was not offered"
            continue
        if rules.schema_error:
            errors = schema_errors(tc.get("arguments") or {}, schema)
            if errors:
                return SCHEMA_ERROR, f"{name}: {errors[0]}"
    schema = response_schema(call.get("response_format"))
    if rules.schema_error and schema is not None and not parsed.tool_calls:
        value, ok = extract_json(parsed.content)
        if not ok:
            if rules.parse_error:
                return PARSE_ERROR, "answer is not JSON but the request asks for a JSON schema"
        else:
            errors = schema_errors(value, schema)
            if errors:
                return SCHEMA_ERROR, f"response: {errors[0]}"
    return None


def check(
    parsed: ParsedOutput,
    call: dict[str, Any],
    rules: EscalationRules,
    score: float | None,
    threshold: float | None,
) -> tuple[str, str] | None:
    """(reason, detail) when the answer must escalate to the LLM, else None."""
    violation = rule_violation(parsed, call, rules)
    if violation is not None:
        return violation
    if not keeps(score, threshold):
        shown = "unknown" if score is None else f"{score:.3f}"
        return LOW_CONFIDENCE, f"confidence {shown} < threshold {threshold:.3f}"
    return None
