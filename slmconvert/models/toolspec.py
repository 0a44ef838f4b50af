"""Compact text forms of tool schemas and response formats for the canonical prompt.

Small models have short contexts and pay for every prompt token, so tool schemas are written as
one signature line per tool (`name(arg: type, opt?: type = default): description`) with parameter
descriptions indented below, instead of pretty-printed JSON Schema.
"""

from __future__ import annotations

import json
from typing import Any

TOOL_CALL_OPEN = "<tool_call>"
TOOL_CALL_CLOSE = "</tool_call>"
TOOL_RESPONSE_OPEN = "<tool_response>"
TOOL_RESPONSE_CLOSE = "</tool_response>"

TOOLS_PREAMBLE = (
    "# Tools\n"
    f'To call a tool, reply with {TOOL_CALL_OPEN}{{"name": "<tool name>", "arguments": {{<arguments>}}}}'
    f"{TOOL_CALL_CLOSE} (one block per call; several blocks for parallel calls). "
    "If no tool is needed, reply with plain text.\n"
    "Available tools:"
)

_MAX_DEPTH = 4


def compact_json(value: Any) -> str:
    """JSON with no insignificant whitespace and non-ASCII kept readable."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def tool_function(tool: dict[str, Any]) -> dict[str, Any]:
    """The `function` part of an OpenAI tool entry (accepts the bare function dict too)."""
    return tool.get("function", tool) if isinstance(tool, dict) else {}


def type_text(schema: Any, depth: int = 0) -> str:
    """A short type expression for a JSON schema: `string`, `"a"|"b"`, `array<int>`, `{k: t}`."""
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return "any"
    if "enum" in schema:
        return "|".join(compact_json(v) for v in schema["enum"])
    if "const" in schema:
        return compact_json(schema["const"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return "|".join(type_text(s, depth + 1) for s in schema[key])
    kind = schema.get("type")
    if isinstance(kind, list):
        return "|".join(type_text({**schema, "type": k}, depth + 1) for k in kind)
    if kind == "array":
        return f"array<{type_text(schema.get('items', {}), depth + 1)}>"
    if kind == "object" or "properties" in schema:
        props = schema.get("properties")
        if not props:
            return "object"
        return "{" + ", ".join(_param_text(n, s, schema, depth + 1) for n, s in props.items()) + "}"
    text = str(kind) if kind else "any"
    if schema.get("format"):
        text += f"({schema['format']})"
    return text


def _param_text(name: str, schema: Any, parent: dict[str, Any], depth: int) -> str:
    required = name in (parent.get("required") or [])
    text = f"{name}{'' if required else '?'}: {type_text(schema, depth)}"
    if isinstance(schema, dict) and "default" in schema:
        text += f" = {compact_json(schema['default'])}"
    return text


def describe_tool(tool: dict[str, Any]) -> str:
    """One signature line for a tool plus indented parameter descriptions."""
    fn = tool_function(tool)
    params = fn.get("parameters") or {}
    props = params.get("properties") or {}
    signature = ", ".join(_param_text(n, s, params, 1) for n, s in props.items())
    line = f"- {fn.get('name', '?')}({signature})"
    description = " ".join(str(fn.get("description") or "").split())
    if description:
        line += f": {description}"
    lines = [line]
    for name, schema in props.items():
        text = " ".join(str((schema or {}).get("description") or "").split()) if isinstance(schema, dict) else ""
        if text:
            lines.append(f"    {name}: {text}")
    return "\n".join(lines)


def describe_tools(tools: list[dict[str, Any]]) -> str:
    """The canonical tools block placed in the system prompt."""
    return "\n".join([TOOLS_PREAMBLE, *(describe_tool(t) for t in tools)])


def describe_response_format(response_format: Any) -> str | None:
    """The instruction for a structured (JSON) response, or None for free text."""
    if not isinstance(response_format, dict):
        return None
    kind = response_format.get("type")
    if kind == "json_schema":
        spec = response_format.get("json_schema") or {}
        schema = spec.get("schema", spec)
        return f"Reply with only a JSON object matching this schema: {compact_json(schema)}"
    if kind == "json_object":
        return "Reply with only a JSON object."
    return None


def format_tool_call(name: str, arguments: dict[str, Any]) -> str:
    """One canonical tool-call block."""
    body = json.dumps({"name": name, "arguments": arguments}, ensure_ascii=False)
    return f"{TOOL_CALL_OPEN}{body}{TOOL_CALL_CLOSE}"


def format_tool_response(name: str | None, content: str) -> str:
    """A tool result as the canonical prompt shows it to the model."""
    head = f'{TOOL_RESPONSE_OPEN[:-1]} name="{name}">' if name else TOOL_RESPONSE_OPEN
    return f"{head}\n{content}\n{TOOL_RESPONSE_CLOSE}"
