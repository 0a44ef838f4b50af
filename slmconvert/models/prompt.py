"""The prompt format: the single source of truth for how a call becomes model text and back.

select, finetune, iterate and the router all render prompts and parse outputs through this
module, so a specialist is evaluated and served exactly the way it was trained.

- `PromptFormat` (JSON-serialisable) says which style to use and which shared prompt parts a
  specialist has learnt (context distillation: `drop_system`, `drop_tools`).
- `render_prompt(...)` gives the text up to and including the assistant generation prompt;
  `render_completion(...)` the exact target text after it, ending with the end-of-turn marker.
  The two concatenate to the full training text. Rendered text already contains every special
  token the template adds (e.g. BOS), so tokenize it with `add_special_tokens=False`.
- `parse_completion(text, fmt)` (in `parse.py`, re-exported here) turns generated text into
  content + tool calls (one parser for every style; it also reads `render_completion`'s text).

Styles: "native" uses the model's own chat template with `tools=` (only when that template
really renders tools and tool calls in a form the parser reads back, see
`supports_native_tools`); "canonical" renders tools as a compact text block in the system
prompt and tool calls as `<tool_call>{"name": ..., "arguments": {...}}</tool_call>`, one block
per call, through the model's template without `tools=`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from dataclasses import dataclass
from typing import Any, Literal

from slmconvert.artifacts.curated import conversation, reference
from slmconvert.models import chat
from slmconvert.models.parse import ParsedOutput, parse_completion, strip_end_of_turn
from slmconvert.models.toolspec import (
    describe_response_format,
    describe_tools,
    format_tool_call,
    format_tool_response,
)

__all__ = [
    "FORMAT_SCHEMA", "ParsedOutput", "PromptFormat", "assistant_text", "parse_completion", "record_output",
    "render_completion", "render_prompt", "render_record_completion", "render_record_prompt",
    "strip_end_of_turn", "supports_native_tools",
]

Style = Literal["native", "canonical"]
FORMAT_SCHEMA = "slmconvert.prompt_format/1"

CHARS_PER_TOKEN = 4  # characters per token, where a size is estimated without a tokenizer


@dataclass(frozen=True)
class PromptFormat:
    """How prompts are rendered for one model (and, per cluster, what a specialist has learnt).

    drop_system: leave out system messages (a specialist trained without them has learnt them).
    drop_tools: leave out tool schemas and the response-format instruction (likewise).
    drop_system_lines: hashes of system-prompt lines (`line_hash`) and of sentences within lines
        (`sentence_hash`) left out: what a cluster's system prompts share when the prompts as a whole
        differ (a line or a sentence holding a date, a channel, a name).
    """

    style: Style = "canonical"
    drop_system: bool = False
    drop_tools: bool = False
    drop_system_lines: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.style not in ("native", "canonical"):
            raise ValueError(f"unknown prompt style {self.style!r} (use native or canonical)")
        object.__setattr__(self, "drop_system_lines", tuple(self.drop_system_lines))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, with a schema tag so saved formats stay readable later."""
        data = {"schema": FORMAT_SCHEMA, **dataclasses.asdict(self)}
        data["drop_system_lines"] = list(self.drop_system_lines)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PromptFormat:
        """Inverse of `to_dict`; unknown keys are an error rather than silently ignored."""
        data = dict(data)
        schema = data.pop("schema", FORMAT_SCHEMA)
        if schema != FORMAT_SCHEMA:
            raise ValueError(f"unsupported prompt format schema {schema!r}")
        unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown prompt format keys: {sorted(unknown)}")
        return cls(**data)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write as JSON (atomically)."""
        from slmconvert.util.jsonio import atomic_write_json

        atomic_write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> PromptFormat:
        """Read a format written by `save`."""
        with open(path, encoding="utf-8") as handle:
            return cls.from_dict(json.load(handle))

    @classmethod
    def for_tokenizer(cls, tokenizer: Any, style: str = "auto", **options: bool) -> PromptFormat:
        """Pick the style for a tokenizer: "auto" = native only if its template supports tools."""
        if style == "auto":
            style = "native" if supports_native_tools(tokenizer) else "canonical"
        return cls(style=style, **options)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Rendering


def render_prompt(
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]] | None,
    tokenizer: Any,
    fmt: PromptFormat,
    *,
    response_format: Any = None,
) -> str:
    """The prompt text for `messages` (+ tools, + response format), ending with the generation prompt."""
    prepared, native_tools = _prepare(messages, tools, response_format, fmt)
    return chat.apply_template(tokenizer, prepared, tools=native_tools, add_generation_prompt=True)


def render_completion(
    output: dict[str, Any],
    tokenizer: Any,
    fmt: PromptFormat,
    *,
    messages: list[dict[str, Any]] | None = None,
    tools: list[dict[str, Any]] | None = None,
    response_format: Any = None,
) -> str:
    """The exact target text for an assistant message, ending with the end-of-turn marker.

    Pass the prompt's `messages`/`tools` when available: some templates render the assistant
    turn depending on context; without them a minimal one-user-turn context is used.
    """
    context = messages if messages is not None else [{"role": "user", "content": "-"}]
    prepared, native_tools = _prepare(context, tools, response_format, fmt)
    assistant = _assistant_message(output, fmt)
    return chat.assistant_suffix(
        tokenizer, prepared, assistant, tools=native_tools, fallback_text=assistant_text(output)
    )


def render_record_prompt(record: dict[str, Any], tokenizer: Any, fmt: PromptFormat) -> str:
    """`render_prompt` for a curated record (its `prompt` or `messages`, `tools`, `response_format`)."""
    messages, tools, response_format = _record_parts(record)
    return render_prompt(messages, tools, tokenizer, fmt, response_format=response_format)


def prompt_chars(record: dict[str, Any], fmt: PromptFormat) -> int:
    """Characters of a record's prompt as `fmt` prepares it (distilled system lines and tools left
    out), before the chat template: what prefill costs, without a tokenizer."""
    messages, native_tools = _prepare(*_record_parts(record), fmt)
    size = sum(len(str(m.get("content") or "")) + len(str(m.get("tool_calls") or "")) for m in messages)
    return size + (len(json.dumps(native_tools, default=str)) if native_tools else 0)


def render_record_completion(record: dict[str, Any], tokenizer: Any, fmt: PromptFormat) -> str:
    """`render_completion` of a curated record's reference output (`completion[0]` or `output`)."""
    messages, tools, response_format = _record_parts(record)
    return render_completion(
        record_output(record), tokenizer, fmt, messages=messages, tools=tools, response_format=response_format
    )


def record_output(record: dict[str, Any]) -> dict[str, Any]:
    """The reference assistant message of a curated (or collected) record."""
    return reference(record)


def _record_parts(record: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], Any]:
    return conversation(record), list(record.get("tools") or []), record.get("response_format")


def assistant_text(output: dict[str, Any]) -> str:
    """Canonical text of an assistant message: its content, then one tagged block per tool call."""
    parts = [_text(output.get("content"))] if _text(output.get("content")) else []
    for call in output.get("tool_calls") or []:
        fn = call.get("function", call)
        parts.append(format_tool_call(fn.get("name", ""), _arguments(fn.get("arguments"))))
    return "\n".join(parts)


def _prepare(
    messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None, response_format: Any, fmt: PromptFormat
) -> tuple[list[dict[str, Any]], list[dict[str, Any]] | None]:
    """Messages ready for the template, and the tools to pass natively (None in canonical style)."""
    tools = [] if fmt.drop_tools else list(tools or [])
    extra: list[str] = []
    if fmt.style == "canonical" and tools:
        extra.append(describe_tools(tools))
    if not fmt.drop_tools and (instruction := describe_response_format(response_format)):
        extra.append(instruction)
    system_parts: list[str] = []
    rest: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        if role in ("system", "developer"):
            text = "" if fmt.drop_system else _without_lines(_text(message.get("content")), fmt.drop_system_lines)
            if text:
                system_parts.append(text)
        else:
            rest.append(message)
    system = "\n\n".join(system_parts + extra)
    if fmt.style == "native":
        body = [_native_message(m) for m in rest]
    else:
        body = _merge_same_role([_canonical_message(m, rest) for m in rest])
    prepared = ([{"role": "system", "content": system}] if system else []) + body
    return prepared, (tools or None) if fmt.style == "native" else None


def line_hash(line: str) -> str:
    """Short stable id of one system-prompt line (whitespace at its ends ignored)."""
    return hashlib.sha256(line.strip().encode("utf-8")).hexdigest()[:16]


def sentence_hash(sentence: str) -> str:
    """Short stable id of one sentence of a system-prompt line (never equal to a `line_hash`, so a
    format saved before sentences were dropped renders as it did)."""
    return hashlib.sha256(b"sentence\x00" + sentence.strip().encode("utf-8")).hexdigest()[:16]


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")


def sentences(line: str) -> list[str]:
    """A system-prompt line's sentences: "You are Riley, ... app. Today is Monday, 2026-11-02." is two
    (a boundary is an end mark, space, then a capital, digit, quote or bracket: "e.g. coding" is one)."""
    return [piece for piece in _SENTENCE_END.split(line.strip()) if piece]


def _without_lines(text: str, dropped: tuple[str, ...]) -> str:
    """text without the lines and sentences whose hash is in dropped (and the blank runs that leaves);
    a line keeps its exact text unless one of its sentences goes."""
    if not dropped or not text:
        return text
    hashes = set(dropped)
    out: list[str] = []
    for line in text.splitlines():
        if line.strip():
            if line_hash(line) in hashes:
                continue
            pieces = sentences(line)
            kept = [piece for piece in pieces if sentence_hash(piece) not in hashes]
            if len(kept) == len(pieces):
                out.append(line)
            elif kept:
                out.append(line[: len(line) - len(line.lstrip())] + " ".join(kept))
        elif out and out[-1].strip():  # one blank line at most between kept lines
            out.append(line)
    return "\n".join(out).strip()


def _native_message(message: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in message.items() if v is not None}
    out["content"] = _text(message.get("content"))
    if message.get("tool_calls"):
        out["tool_calls"] = [
            {**c, "function": {**c.get("function", {}), "arguments": _arguments(c.get("function", {}).get("arguments"))}}
            for c in message["tool_calls"]
        ]
    return out


def _canonical_message(message: dict[str, Any], history: list[dict[str, Any]]) -> dict[str, Any]:
    role = message.get("role")
    if role == "assistant":
        return {"role": "assistant", "content": assistant_text(message)}
    if role == "tool":
        name = message.get("name") or _tool_name_for(message.get("tool_call_id"), history)
        return {"role": "user", "content": format_tool_response(name, _text(message.get("content")))}
    return {"role": "user", "content": _text(message.get("content"))}


def _tool_name_for(call_id: str | None, history: list[dict[str, Any]]) -> str | None:
    for message in history:
        for call in message.get("tool_calls") or []:
            if call_id and call.get("id") == call_id:
                return call.get("function", {}).get("name")
    return None


def _merge_same_role(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Join consecutive same-role turns (parallel tool results) so strict templates accept them."""
    merged: list[dict[str, Any]] = []
    for message in messages:
        if merged and merged[-1]["role"] == message["role"]:
            merged[-1] = {**merged[-1], "content": merged[-1]["content"] + "\n" + message["content"]}
        else:
            merged.append(dict(message))
    return merged


def _assistant_message(output: dict[str, Any], fmt: PromptFormat) -> dict[str, Any]:
    if fmt.style == "native":
        return _native_message({**output, "role": "assistant"})
    return {"role": "assistant", "content": assistant_text(output)}


def _text(content: Any) -> str:
    """Message content as text (content-part lists are joined)."""
    if content is None:
        return ""
    if isinstance(content, list):
        return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    return str(content)


def _arguments(arguments: Any) -> dict[str, Any]:
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError:
            return {}
    return arguments if isinstance(arguments, dict) else {}


# ---------------------------------------------------------------------------------------------
# Native tool support

_PROBE_TOOL = {
    "type": "function",
    "function": {
        "name": "slm_probe_lookup",
        "description": "Probe tool.",
        "parameters": {"type": "object", "properties": {"ref": {"type": "string"}}, "required": ["ref"]},
    },
}
_PROBE_CALL = {"name": "slm_probe_lookup", "arguments": {"ref": "A-17"}}
_native_cache: dict[str, bool] = {}


def supports_native_tools(tokenizer: Any) -> bool:
    """True when the chat template renders tool schemas and tool calls that `parse_completion`
    reads back exactly (checked by rendering a probe; cached per template)."""
    template = getattr(tokenizer, "chat_template", None)
    if not template or not isinstance(template, str) or "tool" not in template:
        return False
    if template in _native_cache:
        return _native_cache[template]
    _native_cache[template] = _probe_native(tokenizer)
    return _native_cache[template]


def _probe_native(tokenizer: Any) -> bool:
    fmt = PromptFormat(style="native")
    messages = [{"role": "user", "content": "Look up A-17."}]
    output = {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "call_0", "type": "function", "function": dict(_PROBE_CALL)}],
    }
    try:
        prompt = render_prompt(messages, [_PROBE_TOOL], tokenizer, fmt)
        completion = render_completion(output, tokenizer, fmt, messages=messages, tools=[_PROBE_TOOL])
    except Exception:
        return False
    parsed = parse_completion(completion, fmt)
    return "slm_probe_lookup" in prompt and parsed.parse_ok and parsed.tool_calls == [_PROBE_CALL]
