"""Where curate looks inside a call record, and how scrubbed text is put back.

Every string of the record that can reach curated.parquet is scanned or dropped, column by column
(ARCHITECTURE.md "The normalised call record"): message text, tool-call arguments, ids, tool
names and schemas, workload tags, model, source file name, usage and metadata values; JSON
documents inside texts are scanned leaf by leaf, and so are the keys of metadata and usage. Kept
as they are: call_id (a hash), ISO timestamps, numbers, booleans, and the JSON keys of messages,
arguments and tool schemas (read as hints, never changed, so JSON and schemas stay valid).
client_id, the directories of source.file, participant names on messages, keys outside the record
schema and values of the wrong type are dropped (DROPPED_FIELDS). JSON text is edited token by
token, so its formatting and keys survive untouched.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import regex as re

_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null|[{}\[\]:,]|\s+',
                         re.DOTALL)
_ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?")
_PATH_SEPARATORS = re.compile(r"[/\\]")
_SUFFIXES = re.compile(r"(.+?)((?:\.[A-Za-z0-9]{1,5}(?:\.(?:gz|bz2|xz|zst|zip))?)?)", re.DOTALL)
# Words of the record's and JSON Schema's own vocabularies (types, roles, finish reasons, formats):
# they hold nothing personal, and tool schemas repeat them hundreds of times per call.
_VOCABULARY = frozenset((
    "string", "object", "integer", "number", "boolean", "array", "null", "function", "auto", "none", "required",
    "json_schema", "json_object", "text", "system", "developer", "user", "assistant", "tool", "stop", "length",
    "tool_calls", "content_filter", "date", "date-time", "time", "email", "uri", "uuid", "ipv4", "ipv6",
))
ROLE_KINDS = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant",
              "tool": "tool", "function": "tool"}
RECORD_COLUMNS = ("call_id", "source", "timestamp", "workload_id", "client_id", "model", "messages", "tools",
                  "tool_choice", "response_format", "output", "finish_reason", "usage", "latency_ms", "cost_usd",
                  "metadata")
MESSAGE_KEYS = ("role", "content", "tool_calls", "tool_call_id", "name")
_CALL = ("tool_calls[].id", "tool_calls[].type", "tool_calls[].function.name", "tool_calls[].function.arguments")
# The paths RecordFields scans (audit.json lists them; a test keeps this list and the walk in step).
SCANNED_FIELDS = tuple(sorted(
    [f"messages[].{p}" for p in ("content", "role", "tool_call_id", "name", *_CALL)]
    + [f"output.{p}" for p in ("content", "role", *_CALL)]
    + ["workload_id", "model", "finish_reason", "source.file", "source.format", "tools[].type",
       "tools[].function.name", "tools[].function.description", "tools[].function.parameters", "tool_choice",
       "response_format", "usage", "usage keys", "metadata", "metadata keys"]))
DROPPED_FIELDS = (
    "client_id (no stage after curate reads it; it often names a user)",
    "the directories of source.file (home folders name people; collect keeps the full path)",
    "messages[].name and output.name of non-tool messages (participant names)",
    "keys outside the record schema (record, source, messages, tool calls, output, tools)",
    "values of the wrong type (a non-string id or name, a non-ISO timestamp, a non-numeric number)",
    "metadata, when curate.scan_metadata is off",
)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


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
    path: str = ""  # the record field it came from (one of SCANNED_FIELDS)


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
    """The scannable units of one record (a private copy, edited in place by apply()).

    Every string of the record that can reach curated.parquet becomes a unit or is dropped (see
    SCANNED_FIELDS and DROPPED_FIELDS); `dropped` counts the values dropped, by field path.
    """

    def __init__(self, record: dict[str, Any], scan_metadata: bool = True) -> None:
        self.record = record
        self.fields: list[_Field] = []
        self.units: list[Unit] = []
        self.dropped: Counter[str] = Counter()
        self._prune(record, RECORD_COLUMNS, "record")
        timestamp = record.get("timestamp")
        if timestamp is not None and not (isinstance(timestamp, str) and _ISO_TIME.fullmatch(timestamp)):
            self._drop(record, "timestamp", "timestamp (not ISO 8601)")
        for column in ("latency_ms", "cost_usd"):
            if record.get(column) is not None and not _is_number(record[column]):
                self._drop(record, column, f"{column} (not a number)")
        for message in self._objects(record, "messages", "messages[]"):
            self._message(message, ROLE_KINDS.get(str(message.get("role")), "user"), True, "messages[]")
        output = self._object(record, "output", "output")
        if output is not None:
            self._message(output, "output", False, "output")
        for column, ner in (("workload_id", True), ("model", False), ("finish_reason", False)):
            self._scalar(record, column, column, ner=ner)
        if record.get("client_id") is not None:
            self._drop(record, "client_id", "client_id")
        for source in self._objects(record, "source", "source"):
            self._prune(source, ("file", "line", "format"), "source")
            self._file_name(source, "file", "source.file")
            self._scalar(source, "format", "source.format", ner=False)
            if source.get("line") is not None and not _is_number(source["line"]):
                self._drop(source, "line", "source.line (not a number)")
        for tool in self._objects(record, "tools", "tools[]"):
            self._tool(tool)
        for column in ("tool_choice", "response_format"):
            self._any(record, column, "tool_schemas", True, column)
        self._any(record, "usage", "metadata", False, "usage", keys=True)
        if scan_metadata:
            self._any(record, "metadata", "metadata", True, "metadata", keys=True)
        elif record.get("metadata"):
            self._drop(record, "metadata", "metadata (scan_metadata off)")

    # ---- discovery --------------------------------------------------------------------------
    def _drop(self, container: dict[str, Any], key: str, path: str) -> None:
        container[key] = None
        self.dropped[path] += 1

    def _objects(self, container: dict[str, Any], key: str, path: str) -> list[dict[str, Any]]:
        """The objects of a list (or the one object) under `key`; anything else there is dropped."""
        value = container.get(key)
        if isinstance(value, dict):
            return [value]
        if not isinstance(value, list):
            if value is not None:
                self._drop(container, key, f"{path} (not a list or object)")
            return []
        kept = [item for item in value if isinstance(item, dict)]
        if len(kept) < len(value):
            self.dropped[f"{path} (not an object)"] += len(value) - len(kept)
            value[:] = kept
        return kept

    def _object(self, container: dict[str, Any], key: str, path: str) -> dict[str, Any] | None:
        """The object under `key`, or None (anything else there is dropped)."""
        value = container.get(key)
        if value is not None and not isinstance(value, dict):
            self._drop(container, key, f"{path} (not an object)")
        return value if isinstance(value, dict) else None

    def _prune(self, container: dict[str, Any], allowed: tuple[str, ...], path: str) -> None:
        """Keys outside the record schema are dropped (collect writes none; a foreign file might)."""
        for key in [k for k in container if k not in allowed]:
            del container[key]
            self.dropped[f"{path}.<other keys>"] += 1

    def _scalar(self, container: dict[str, Any], key: str, path: str, *, ner: bool = True,
                kind: str = "identifiers", hint: str | None = None) -> None:
        """A string that must stay a string (ids, names, tags): scanned; any other non-null value dropped.
        ner=False for fixed vocabularies (roles, types, models), where NER finds only noise."""
        value = container.get(key)
        if isinstance(value, str):
            self._text(value, lambda v, c=container: c.__setitem__(key, v), kind, hint, False, ner, path)
        elif value is not None:
            self._drop(container, key, f"{path} (not a string)")

    def _file_name(self, container: dict[str, Any], key: str, path: str) -> None:
        """A file path keeps only its file name, scanned: directories (home folders) name people in
        ways no recognizer can tell, and the full path stays in collect's raw copy."""
        value = container.get(key)
        if not isinstance(value, str):
            self._scalar(container, key, path)
            return
        name = _PATH_SEPARATORS.split(value)[-1]
        if name != value:
            container[key] = name
            self.dropped[f"{path} directories"] += 1
        split = _SUFFIXES.fullmatch(name)  # "a@b.com.jsonl.gz": the stem "a@b.com" is what is scanned
        stem, suffix = split.groups() if split else (name, "")
        self._text(stem, lambda v, c=container: c.__setitem__(key, v + suffix), "identifiers", None, False, True,
                   path)

    def _any(self, container: dict[str, Any], key: str, kind: str, ner: bool, path: str, keys: bool = False) -> None:
        """A JSON value: string leaves scanned (keys are hints, scanned too where `keys`), numbers and
        booleans kept."""
        value = container.get(key)
        if isinstance(value, (dict, list)):
            self._value(value, None, kind, False, False, ner, path, keys)
        elif not _is_number(value):
            self._scalar(container, key, path, ner=ner, kind=kind)

    def _message(self, message: dict[str, Any], kind: str, request: bool, path: str) -> None:
        self._prune(message, MESSAGE_KEYS, path)
        content = message.get("content")
        if isinstance(content, str):
            self._text(content, lambda v, m=message: m.__setitem__("content", v), kind, None, request, True,
                       f"{path}.content")
        elif isinstance(content, list):
            self._value(content, None, kind, request, False, True, f"{path}.content")
        elif content is not None:
            self._drop(message, "content", f"{path}.content (not text)")
        self._scalar(message, "role", f"{path}.role", ner=False)
        self._scalar(message, "tool_call_id", f"{path}.tool_call_id", hint="id")
        if message.get("role") in ("tool", "function"):
            self._scalar(message, "name", f"{path}.name")
        elif message.get("name") is not None:
            self._drop(message, "name", f"{path}.name (participant name)")
        for call in self._objects(message, "tool_calls", f"{path}.tool_calls[]"):
            self._tool_call(call, request, f"{path}.tool_calls[]")

    def _tool_call(self, call: dict[str, Any], request: bool, path: str) -> None:
        self._prune(call, ("id", "type", "function"), path)
        self._scalar(call, "id", f"{path}.id", hint="id")
        self._scalar(call, "type", f"{path}.type", ner=False)
        function = self._object(call, "function", f"{path}.function")
        if function is None:
            return
        self._prune(function, ("name", "arguments"), f"{path}.function")
        self._scalar(function, "name", f"{path}.function.name")
        arguments = function.get("arguments")
        where = f"{path}.function.arguments"
        if isinstance(arguments, str):
            self._text(arguments, lambda v, f=function: f.__setitem__("arguments", v),
                       "tool_arguments", None, request, True, where)
        else:
            self._value(arguments, None, "tool_arguments", request, True, True, where)

    def _tool(self, tool: dict[str, Any]) -> None:
        self._prune(tool, ("type", "function"), "tools[]")
        self._scalar(tool, "type", "tools[].type", kind="tool_schemas", ner=False)
        function = self._object(tool, "function", "tools[].function")
        if function is None:
            return
        self._prune(function, ("name", "description", "parameters", "strict"), "tools[].function")
        self._scalar(function, "name", "tools[].function.name", kind="tool_schemas")
        self._scalar(function, "description", "tools[].function.description", kind="tool_schemas")
        self._any(function, "parameters", "tool_schemas", True, "tools[].function.parameters")
        if function.get("strict") is not None and not isinstance(function["strict"], bool):
            self._drop(function, "strict", "tools[].function.strict (not a boolean)")

    def _value(self, value: Any, key: str | None, kind: str, request: bool, numbers: bool, ner: bool,
               path: str, keys: bool = False) -> None:
        """Walk a parsed JSON value; dict keys are hints, and scanned too where `keys` (free-form
        dicts such as metadata, whose keys may come from the log; a scrubbed key renames its entry)."""
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
                self._text(child, setter, kind, hint, request, ner, path)
            elif numbers and _is_number(child):
                text = repr(child) if isinstance(child, float) else str(child)
                self.fields.append(_Field(None, setter))
                self.units.append(Unit(text, kind, hint, False, len(self.fields) - 1, 0, len(text), "number",
                                       request, path))
            else:
                self._value(child, hint, kind, request, numbers, ner, path, keys)
            if keys and isinstance(k, str):  # after the value: its setter still uses the old key
                self._text(k, lambda v, c=container, old=k: c.__setitem__(v, c.pop(old)), kind, None, request, ner,
                           f"{path} keys")

    def _text(self, text: str, setter: Callable[[Any], None], kind: str, key: str | None, request: bool,
              ner: bool, path: str) -> None:
        if text in _VOCABULARY or not text.strip():
            return
        self.fields.append(_Field(text, setter))
        index = len(self.fields) - 1
        leaves = json_leaves(text)
        if leaves is None:
            self.units.append(Unit(text, kind, key, ner, index, 0, len(text), "text", request, path))
            return
        for start, end, value, hint, is_string in leaves:
            if is_string and not value.strip():
                continue
            self.units.append(Unit(value, kind, hint or key, ner and is_string, index, start, end,
                                   "json_string" if is_string else "json_number", request, path))

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
