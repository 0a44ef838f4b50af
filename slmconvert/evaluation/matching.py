"""Comparing tool calls and JSON outputs with the reference: BFCL-style AST match, JSON-leaf F1,
and JSON-schema validation (via `jsonschema`).

AST match rules (after the Berkeley Function-Calling Leaderboard's checker):
- parallel calls match as a set: same number of calls, each predicted call paired with a
  different reference call (order-free);
- a call matches when the names are equal and the arguments match: no argument outside the
  tool's schema; every reference argument present with a matching value, except optional
  ones equal to their schema default, which may be omitted (and an optional argument the
  reference omitted may be given only with its default value);
- values: strings compared after BFCL normalisation (case-folded; spaces and `,./-_*^` removed),
  numbers numerically (an int is accepted for a float), booleans strictly, lists element-wise
  in order, objects recursively with the same rules.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from functools import lru_cache
from typing import Any

_BFCL_STRIP = re.compile(r"[ \,\.\/\-\_\*\^]")


def normalize_string(text: str) -> str:
    """BFCL string normalisation."""
    return _BFCL_STRIP.sub("", text).casefold().replace("'", '"')


def values_match(predicted: Any, reference: Any, schema: dict[str, Any] | None = None) -> bool:
    """Whether a predicted argument value matches the reference value (rules above)."""
    schema = schema if isinstance(schema, dict) else {}
    if isinstance(reference, bool) or isinstance(predicted, bool):
        return isinstance(reference, bool) and isinstance(predicted, bool) and predicted == reference
    if isinstance(reference, (int, float)):
        if not isinstance(predicted, (int, float)):
            return False
        if schema.get("type") == "integer" and isinstance(predicted, float) and not predicted.is_integer():
            return False
        return math.isclose(predicted, reference, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(reference, str):
        return isinstance(predicted, str) and normalize_string(predicted) == normalize_string(reference)
    if isinstance(reference, list):
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        return (
            isinstance(predicted, list)
            and len(predicted) == len(reference)
            and all(values_match(p, r, items) for p, r in zip(predicted, reference))
        )
    if isinstance(reference, dict):
        return isinstance(predicted, dict) and arguments_match(predicted, reference, schema)
    return predicted == reference


def arguments_match(predicted: dict[str, Any], reference: dict[str, Any], schema: dict[str, Any] | None) -> bool:
    """Whether predicted arguments match the reference ones under the tool's parameter schema."""
    schema = schema if isinstance(schema, dict) else {}
    props = schema.get("properties") if isinstance(schema.get("properties"), dict) else None
    required = set(schema.get("required") or [])
    if props is not None and any(key not in props for key in predicted):
        return False
    for key in set(predicted) | set(reference):
        prop = (props or {}).get(key) or {}
        if key in predicted and key in reference:
            if not values_match(predicted[key], reference[key], prop):
                return False
        elif key in reference:  # omitted by the model: fine only for an optional default
            if key in required or "default" not in prop or not values_match(prop["default"], reference[key], prop):
                return False
        elif key in required or "default" not in prop or not values_match(predicted[key], prop["default"], prop):
            return False
    return True


def call_matches(predicted: dict[str, Any], reference: dict[str, Any], tools: list[dict[str, Any]] | None) -> bool:
    """One predicted call ({name, arguments}) against one reference call."""
    if predicted.get("name") != reference.get("name"):
        return False
    schema = tool_parameters(tools or [], reference.get("name"))
    return arguments_match(predicted.get("arguments") or {}, reference.get("arguments") or {}, schema)


def calls_match(
    predicted: list[dict[str, Any]], reference: list[dict[str, Any]], tools: list[dict[str, Any]] | None
) -> bool:
    """Order-free match of parallel calls: a perfect pairing of predicted with reference calls."""
    if len(predicted) != len(reference):
        return False
    if not reference:
        return True
    from scipy.optimize import linear_sum_assignment

    cost = [[0 if call_matches(p, r, tools) else 1 for r in reference] for p in predicted]
    rows, cols = linear_sum_assignment(cost)
    return sum(cost[i][j] for i, j in zip(rows, cols)) == 0


def names_match(predicted: list[dict[str, Any]], reference: list[dict[str, Any]]) -> bool:
    """Same multiset of function names."""
    return Counter(c.get("name") for c in predicted) == Counter(c.get("name") for c in reference)


def tool_parameters(tools: list[dict[str, Any]], name: str | None) -> dict[str, Any] | None:
    """The parameter schema of the offered tool called `name`, or None when not offered."""
    for tool in tools:
        fn = tool.get("function", tool) if isinstance(tool, dict) else {}
        if fn.get("name") == name:
            return fn.get("parameters") or {"type": "object", "properties": {}}
    return None


# ---------------------------------------------------------------------------------------------
# JSON-schema validation


@lru_cache(maxsize=512)
def _validator(schema_json: str) -> Any:
    from jsonschema.validators import validator_for

    schema = json.loads(schema_json)
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def schema_errors(value: Any, schema: dict[str, Any]) -> list[str]:
    """Validation error messages of `value` against a JSON schema (empty = valid)."""
    try:
        validator = _validator(json.dumps(schema, sort_keys=True))
    except Exception as exc:  # noqa: BLE001 - a broken schema in the logs is not the model's fault
        return [f"invalid schema: {exc}"]
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in validator.iter_errors(value)]


def validate_tool_calls(calls: list[dict[str, Any]], tools: list[dict[str, Any]]) -> list[str]:
    """Problems with predicted calls: a tool not offered, or arguments failing its schema."""
    problems = []
    for call in calls:
        schema = tool_parameters(tools, call.get("name"))
        if schema is None:
            problems.append(f"tool {call.get('name')!r} was not offered")
            continue
        problems += [f"{call.get('name')}: {e}" for e in schema_errors(call.get("arguments") or {}, schema)]
    return problems


def response_schema(response_format: Any) -> dict[str, Any] | None:
    """The JSON schema of an OpenAI `response_format` of type json_schema, else None."""
    if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
        spec = response_format.get("json_schema") or {}
        schema = spec.get("schema", spec)
        return schema if isinstance(schema, dict) else None
    return None


# ---------------------------------------------------------------------------------------------
# JSON outputs

_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.S)


def extract_json(text: str | None) -> tuple[Any, bool]:
    """Parse a JSON value from model text (code fences and leading chatter tolerated)."""
    if not text:
        return None, False
    body = text.strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1)
    try:
        return json.loads(body), True
    except json.JSONDecodeError:
        pass
    starts = [i for i in (body.find("{"), body.find("[")) if i >= 0]
    if starts:
        try:
            return json.JSONDecoder().raw_decode(body[min(starts):])[0], True
        except json.JSONDecodeError:
            pass
    return None, False


def json_leaves(value: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], str]]:
    """(path, normalised value) of every leaf; list positions are dropped so order does not count."""
    if isinstance(value, dict):
        if not value:
            return [(path, "{}")]
        return [leaf for key, item in value.items() for leaf in json_leaves(item, (*path, str(key)))]
    if isinstance(value, list):
        if not value:
            return [(path, "[]")]
        return [leaf for item in value for leaf in json_leaves(item, (*path, "[]"))]
    return [(path, _leaf_text(value))]


def _leaf_text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(float(value))
    return " ".join(str(value).casefold().split())


def field_f1(predicted: Any, reference: Any) -> float:
    """F1 over the multisets of (path, value) leaves; 1.0 when both are empty."""
    pred, ref = Counter(json_leaves(predicted)), Counter(json_leaves(reference))
    overlap = sum((pred & ref).values())
    if not pred and not ref:
        return 1.0
    if overlap == 0:
        return 0.0
    precision, recall = overlap / sum(pred.values()), overlap / sum(ref.values())
    return 2 * precision * recall / (precision + recall)


def json_equal(predicted: Any, reference: Any) -> bool:
    """Exact structural equality after leaf normalisation (list order kept)."""
    if isinstance(reference, dict):
        return isinstance(predicted, dict) and predicted.keys() == reference.keys() and all(
            json_equal(predicted[k], reference[k]) for k in reference
        )
    if isinstance(reference, list):
        return isinstance(predicted, list) and len(predicted) == len(reference) and all(
            json_equal(p, r) for p, r in zip(predicted, reference)
        )
    if isinstance(reference, bool) or isinstance(predicted, bool):
        return predicted is reference
    return _leaf_text(predicted) == _leaf_text(reference)


# ---------------------------------------------------------------------------------------------
# Strict agreement (what promotion and the router's replay count)
#
# Canonical JSON: object keys sorted; numbers compared by value, so 1 and 1.0 are the same number
# (JSON has one number type, and clients render it either way) while true/false never equal 1/0;
# strings exact (no case or whitespace folding); list order kept; null differs from a missing key.


def canonical(value: Any) -> Any:
    """A value in canonical form (see above); dict keys become strings."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        number = float(value)
        return int(number) if number.is_integer() and abs(number) < 2**63 else number
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    return str(value)


def canonical_json(value: Any) -> str:
    """Canonical JSON text of a value: equal texts iff strictly equal values."""
    return json.dumps(canonical(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def calls_equal_strict(predicted: list[dict[str, Any]], reference: list[dict[str, Any]]) -> bool:
    """Same tool calls as a multiset (parallel calls in any order): equal names and canonical arguments."""

    def key(call: dict[str, Any]) -> str:
        arguments = call.get("arguments")
        if isinstance(arguments, str):
            parsed, ok = extract_json(arguments)
            arguments = parsed if ok else arguments
        return canonical_json([call.get("name"), arguments if arguments is not None else {}])

    return Counter(map(key, predicted)) == Counter(map(key, reference))
