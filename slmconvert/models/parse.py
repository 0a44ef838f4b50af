"""Parsing model output into content + tool calls: one parser for every prompt style.

Tagged `<tool_call>{...}</tool_call>` blocks are read in every style; in native style a reply
that is nothing but a JSON tool call (or a list of them), as Llama/Mistral-style templates emit,
is read as well. Generation may run past the end-of-turn marker, so text is cut there first.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from slmconvert.models.chat import END_OF_TURN_MARKERS
from slmconvert.models.toolspec import TOOL_CALL_CLOSE, TOOL_CALL_OPEN

if TYPE_CHECKING:
    from slmconvert.models.prompt import PromptFormat


@dataclass
class ParsedOutput:
    """A model output split into text and tool calls (arguments as dicts)."""

    content: str | None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    parse_ok: bool = True
    error: str | None = None

    def to_message(self) -> dict[str, Any]:
        """The output as an assistant message in the normalised call-record shape."""
        calls = [
            {"id": f"call_{i}", "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
            for i, c in enumerate(self.tool_calls)
        ]
        return {"role": "assistant", "content": self.content, "tool_calls": calls or None}


_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.S)
_TOOL_BLOCK = re.compile(re.escape(TOOL_CALL_OPEN) + r"(.*?)(?:" + re.escape(TOOL_CALL_CLOSE) + r"|$)", re.S)
_BARE_PREFIXES = ("[TOOL_CALLS]", "<|python_tag|>")


def parse_completion(text: str, fmt: PromptFormat | None = None) -> ParsedOutput:
    """Split generated text into content and tool calls; never raises.

    Tagged blocks are read in every style; in native style a reply that is nothing but a JSON
    tool call (or list of them), as Llama/Mistral-style templates emit, is read as well.
    """
    text = _THINK.sub("", strip_end_of_turn(text))
    if TOOL_CALL_OPEN in text:
        calls, errors = [], []
        for i, match in enumerate(_TOOL_BLOCK.finditer(text)):
            call, error = _decode_call(match.group(1))
            if error:
                errors.append(f"tool call {i + 1}: {error}")
            else:
                calls.append(call)
        content = _TOOL_BLOCK.sub("", text).strip() or None
        if errors:
            return ParsedOutput(content, calls, parse_ok=False, error="; ".join(errors))
        return ParsedOutput(content, calls)
    if fmt is not None and fmt.style == "native":
        bare = _bare_calls(text)
        if bare is not None:
            return ParsedOutput(None, bare)
    return ParsedOutput(text.strip() or None)


def strip_end_of_turn(text: str) -> str:
    """Cut text at the first end-of-turn marker (generation may run past it)."""
    cut = len(text)
    for marker in END_OF_TURN_MARKERS:
        index = text.find(marker)
        if index >= 0:
            cut = min(cut, index)
    return text[:cut]


def _decode_call(body: str) -> tuple[dict[str, Any], str | None]:
    try:
        value = json.loads(body)
    except json.JSONDecodeError as exc:
        return {}, f"invalid JSON ({exc.msg} at char {exc.pos})"
    return _call_from_json(value)


def _call_from_json(value: Any) -> tuple[dict[str, Any], str | None]:
    if not isinstance(value, dict):
        return {}, "not a JSON object"
    if isinstance(value.get("function"), dict):
        value = value["function"]
    name = value.get("name")
    if not isinstance(name, str) or not name:
        return {}, "missing tool name"
    arguments = value.get("arguments", value.get("parameters", {}))
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError:
            return {}, "arguments are not valid JSON"
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        return {}, "arguments are not a JSON object"
    return {"name": name, "arguments": arguments}, None


def _bare_calls(text: str) -> list[dict[str, Any]] | None:
    body = text.strip()
    for prefix in _BARE_PREFIXES:
        if body.startswith(prefix):
            body = body[len(prefix):].strip()
    if not body.startswith(("{", "[")):
        return None
    try:
        value = json.loads(body)
    except json.JSONDecodeError:
        return None
    items = value if isinstance(value, list) else [value]
    calls = []
    for item in items:
        if not isinstance(item, dict) or not set(item) <= {"name", "arguments", "parameters", "type", "id", "function"}:
            return None
        call, error = _call_from_json(item)
        if error:
            return None
        calls.append(call)
    return calls or None
