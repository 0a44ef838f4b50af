"""Where curate looks inside a call record, and how scrubbed text is put back.

Scanned: message text (system, user, assistant history, tool results), the assistant output,
the values inside tool-call arguments, and JSON documents inside any of those texts (leaf values
only, recursively), plus metadata values. Never scanned: JSON keys, tool names, tool schemas,
ids, roles. JSON text is edited token by token, so its formatting and keys survive untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import regex as re

_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null|[{}\[\]:,]|\s+',
                         re.DOTALL)
ROLE_KINDS = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant",
              "tool": "tool", "function": "tool"}


@dataclass
class Unit:
    """One piece of text analysed on its own (a message, or one JSON leaf value)."""

    text: str
    kind: str  # system | user | assistant | tool | output | tool_arguments | metadata
    key: str | None  # JSON key path hint ("customer.name"), None for free text
    ner: bool
    field: int
    start: int  # span of the unit's token inside its field's text (JSON leaves)
    end: int
    encoding: str  # "text" (whole field), "json_string", "json_number", "number"
    request: bool  # part of the request (prompt side) rather than output/metadata


@dataclass
class _Field:
    text: str | None
    setter: Callable[[Any], None]


def json_leaves(text: str) -> list[tuple[int, int, Any, str | None, bool]] | None:
    """(start, end, value, key_path, is_string) of each scalar leaf of a JSON object/array text,
    or None when the text is not such a document."""
    stripped = text.lstrip()
    if not stripped or stripped[0] not in "{[":
        return None
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    leaves: list[tuple[int, int, Any, str | None, bool]] = []
    stack: list[list[Any]] = []  # [kind, key_hint_of_container, current_key, expect_key]
    for match in _JSON_TOKEN.finditer(text):
        token = match.group()
        first = token[0]
        if first.isspace():
            continue
        top = stack[-1] if stack else None
        if first in "{[":
            hint = _child_hint(top)
            stack.append(["o" if first == "{" else "a", hint, None, first == "{"])
        elif first in "}]":
            stack.pop()
        elif first == ":":
            top[3] = False
        elif first == ",":
            if top[0] == "o":
                top[3] = True
        elif first == '"':
            value = orjson.loads(token)
            if top is not None and top[0] == "o" and top[3]:
                top[2] = value
            else:
                leaves.append((match.start(), match.end(), value, _child_hint(top), True))
        elif first == "-" or first.isdigit():
            leaves.append((match.start(), match.end(), token, _child_hint(top), False))
    return leaves


def _child_hint(top: list[Any] | None) -> str | None:
    if top is None:
        return None
    if top[0] == "a":
        return top[1]
    key = top[2]
    if key is None:
        return top[1]
    parent = (top[1] or "").rsplit(".", 1)[-1]
    return f"{parent}.{key}" if parent else str(key)


class RecordFields:
    """The scannable units of one record (a private copy, edited in place by apply())."""

    def __init__(self, record: dict[str, Any], scan_metadata: bool = True) -> None:
        self.record = record
        self.fields: list[_Field] = []
        self.units: list[Unit] = []
        for message in record.get("messages") or []:
            if isinstance(message, dict):
                self._message(message, ROLE_KINDS.get(str(message.get("role")), "user"), request=True)
        output = record.get("output")
        if isinstance(output, dict):
            self._message(output, "output", request=False)
        if scan_metadata and isinstance(record.get("metadata"), dict):
            self._value(record["metadata"], None, "metadata", False, numbers=False)

    # ---- discovery --------------------------------------------------------------------------
    def _message(self, message: dict[str, Any], kind: str, request: bool) -> None:
        content = message.get("content")
        if isinstance(content, str):
            self._text(content, lambda v, m=message: m.__setitem__("content", v), kind, None, request)
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    self._text(part["text"], lambda v, p=part: p.__setitem__("text", v), kind, None, request)
        for call in message.get("tool_calls") or []:
            function = call.get("function") if isinstance(call, dict) else None
            if not isinstance(function, dict):
                continue
            arguments = function.get("arguments")
            if isinstance(arguments, str):
                self._text(arguments, lambda v, f=function: f.__setitem__("arguments", v),
                           "tool_arguments", None, request)
            else:
                self._value(arguments, None, "tool_arguments", request, numbers=True)

    def _value(self, value: Any, key: str | None, kind: str, request: bool, numbers: bool) -> None:
        """Walk a parsed JSON value; dict keys are hints, never scanned."""
        if isinstance(value, dict):
            items: list[tuple[Any, Any]] = list(value.items())
            container: Any = value
        elif isinstance(value, list):
            items = list(enumerate(value))
            container = value
        else:
            return
        for k, child in items:
            hint = key if isinstance(k, int) else (f"{key.rsplit('.', 1)[-1]}.{k}" if key else str(k))
            setter = lambda v, c=container, i=k: c.__setitem__(i, v)  # noqa: E731
            if isinstance(child, str):
                self._text(child, setter, kind, hint, request)
            elif numbers and isinstance(child, (int, float)) and not isinstance(child, bool):
                text = repr(child) if isinstance(child, float) else str(child)
                self.fields.append(_Field(None, setter))
                self.units.append(Unit(text, kind, hint, False, len(self.fields) - 1, 0, len(text), "number", request))
            else:
                self._value(child, hint, kind, request, numbers)

    def _text(self, text: str, setter: Callable[[Any], None], kind: str, key: str | None, request: bool) -> None:
        if not text.strip():
            return
        self.fields.append(_Field(text, setter))
        index = len(self.fields) - 1
        leaves = json_leaves(text)
        if leaves is None:
            self.units.append(Unit(text, kind, key, True, index, 0, len(text), "text", request))
            return
        for start, end, value, hint, is_string in leaves:
            if is_string and not value.strip():
                continue
            self.units.append(Unit(value, kind, hint or key, is_string, index, start, end,
                                   "json_string" if is_string else "json_number", request))

    # ---- write-back -------------------------------------------------------------------------
    def apply(self, new_texts: list[str | None]) -> None:
        """Write each changed unit's text back into the record (None = unchanged)."""
        edits: dict[int, list[tuple[Unit, str]]] = {}
        for unit, new in zip(self.units, new_texts, strict=True):
            if new is not None and new != unit.text:
                edits.setdefault(unit.field, []).append((unit, new))
        for index, changes in edits.items():
            field = self.fields[index]
            if field.text is None:  # a number leaf of parsed arguments
                unit, new = changes[0]
                field.setter(_as_number(new))
                continue
            text = field.text
            for unit, new in sorted(changes, key=lambda c: c[0].start, reverse=True):
                if unit.encoding == "text":
                    token = new
                elif unit.encoding == "json_number" and new.lstrip("-").isdigit():
                    token = new
                else:
                    token = orjson.dumps(new).decode()
                text = text[:unit.start] + token + text[unit.end:]
            field.setter(text)


def _as_number(text: str) -> Any:
    """A scrubbed number leaf stays a number when the surrogate is numeric (format-preserving)."""
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text
