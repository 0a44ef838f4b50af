"""Task signatures: text that describes the task a call performs, not the instance.

A signature has three parts. The *context* (requested output form, the masked system prompt,
tools offered, response-schema keys) is shared by thousands of calls of one task; the *request*
is the masked head of the last user message (the same on every step of an agent's tool loop,
whose tool results are instance data), or of the last tool result when no user spoke; the
*structure* is the requested output form (tool use, JSON, text) and, for tool use, the agent's
step: replying to the user (choose the first action from their words) or continuing after a tool
result (act on the result). Both are hard boundaries that a sentence embedding blurs, so the
structure is a one-hot feature. Tasks are found on the output form; an agent task whose steps are
each big enough is then split by step (cluster.pipeline), as the two are different tasks for a
small model: the first is short and decided by the user's words, the second reads tool results.
Text parts are embedded once per distinct text, so a log of 100k calls costs a few thousand
short encodes. Only request-side fields are used, so the router can sign a call before any model
answers it; the observed output (tool called, JSON or text) feeds labels and candidate flags.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

_PLACEHOLDER = re.compile(r"<([A-Z][A-Z0-9]*(?:_[A-Z][A-Z0-9]*)*)(?:_\d+)?>")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_URL = re.compile(r"\b(?:https?://|www\.)\S+", re.IGNORECASE)
_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.IGNORECASE)
_DATE = re.compile(
    r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b"
    r"|\b\d{1,2}[/.]\d{1,2}[/.]\d{2,4}\b|\b(?:19|20)\d{2}-(?:0[1-9]|1[0-2])\b"
)
_TIME = re.compile(r"\b\d{1,2}:\d{2}(?::\d{2})?(?:\s?[ap]m)?\b", re.IGNORECASE)
# Identifiers: hyphen/underscore-joined tokens with a digit (ORD-10023, tx_9f8e), or mixed
# letter+digit tokens of length >= 4 (A1B2C3, 9f8e7d6c).
_ID = re.compile(
    r"\b(?=[\w-]*\d)[A-Za-z0-9]+(?:[-_][A-Za-z0-9]+)+\b"
    r"|\b(?=[A-Za-z]*\d)(?=\d*[A-Za-z])[A-Za-z0-9]{4,}\b"
)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_MASK_RUN = re.compile(r"(<(NUM|ID)>)(?:[\s\-()./+]*<(?:NUM|ID)>)+")
_SPACE = re.compile(r"\s+")
_NON_WORD = re.compile(r"[^a-z0-9]+")
# Applied in order after the placeholders (whose digits are not numbers): most specific first.
_MASKS = ((_EMAIL, "<EMAIL>"), (_URL, "<URL>"), (_UUID, "<ID>"), (_DATE, "<DATE>"), (_TIME, "<TIME>"),
          (_ID, "<ID>"), (_NUMBER, "<NUM>"))


OUTPUT_TYPES = ("tool_call", "json", "text")


def mask_text(text: str) -> str:
    """Replace instance details (emails, URLs, ids, dates, numbers, scrub placeholders) by tags."""
    text = _PLACEHOLDER.sub(r"<\1>", text)
    for pattern, tag in _MASKS:
        text = pattern.sub(tag, text)
    return _SPACE.sub(" ", _MASK_RUN.sub(r"\1", text)).strip()


def head_words(text: str, n: int) -> str:
    """The first n whitespace-separated words."""
    words = text.split(" ")
    return " ".join(words[:n]) + (" …" if len(words) > n else "")


@lru_cache(maxsize=1 << 16)
def masked_head(text: str, n: int) -> str:
    """The first n words of the masked text, masking only a little more than that (long system
    prompts are masked once per distinct head, not once per call)."""
    words = text.split(None, n + 16)
    cut = len(words) > n + 16
    head = mask_text(" ".join(words[: n + 16]))
    return head_words(head, n) + (" …" if cut and not head.endswith("…") and len(head.split(" ")) <= n else "")


def content_text(content: Any) -> str:
    """Message content as plain text (strings, OpenAI content-part lists, or JSON values)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text", "") if isinstance(p, dict) else str(p) for p in content]
        return " ".join(p for p in parts if p)
    return json.dumps(content, sort_keys=True)


def tool_names(tools: Iterable[Any] | None) -> list[str]:
    """Sorted, distinct function names of an OpenAI tools list."""
    names = set()
    for tool in tools or []:
        if isinstance(tool, dict):
            fn = tool.get("function") if isinstance(tool.get("function"), dict) else tool
            if fn.get("name"):
                names.add(str(fn["name"]))
    return sorted(names)


def called_tools(message: dict | None) -> list[str]:
    """Names of the tools an assistant message calls, in call order."""
    calls = (message or {}).get("tool_calls") or []
    return [str((c.get("function") or {}).get("name") or "") for c in calls if isinstance(c, dict)]


def output_type(record: dict) -> str:
    """What the LLM answered: a tool call, a JSON value, or free text."""
    output = record.get("output") or {}
    if called_tools(output):
        return "tool_call"
    text = content_text(output.get("content")).strip()
    if text.startswith("```"):
        text = text.strip("`").removeprefix("json").strip()
    if text[:1] in "{[":
        try:
            json.loads(text)
            return "json"
        except ValueError:
            pass
    return "text"


def requested_format(record: dict) -> str:
    """The output form the request asks for, knowable before any model answers."""
    fmt = record.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") in ("json_schema", "json_object"):
        return "json"
    if record.get("tools") and record.get("tool_choice") != "none":
        return "tools"
    return "text"


def agent_step(messages: Sequence[dict]) -> str:
    """"continue" when the last message is a tool result (the agent acts on it), else "reply"."""
    last = next((m for m in reversed(messages) if m.get("role") not in ("system", "developer")), None)
    return "continue" if last is not None and last.get("role") in ("tool", "function") else "reply"


def task_structure(form: str, messages: Sequence[dict]) -> str:
    """The one-hot structure part: the requested output form, and the agent's step for tool use."""
    return f"tools/{agent_step(messages)}" if form == "tools" else form


def structure_form(structure: str) -> str:
    """The output form part of a structure ("tools/reply" -> "tools")."""
    return structure.split("/", 1)[0]


def schema_keys(response_format: Any, limit: int = 24) -> list[str]:
    """Property names of a JSON response schema (top level, then one level down)."""
    if not isinstance(response_format, dict):
        return []
    spec = response_format.get("json_schema") or {}
    schema = spec.get("schema") if isinstance(spec, dict) else None
    if not isinstance(schema, dict):
        return []
    keys: list[str] = []
    for name, sub in (schema.get("properties") or {}).items():
        keys.append(str(name))
        if isinstance(sub, dict):
            inner = sub.get("properties") or (sub.get("items") or {}).get("properties") or {}
            keys.extend(f"{name}.{child}" for child in inner)
    return keys[:limit]


def _request_message(messages: list[dict]) -> dict | None:
    """The last user message (what the user wants, constant across an agent's tool loop), else
    the last tool result, else None."""
    for role in ("user", "tool"):
        for message in reversed(messages):
            if message.get("role") == role:
                return message
    return None


@dataclass(frozen=True)
class SignatureOptions:
    """How much of each part goes into a signature."""

    system_words: int = 40
    request_words: int = 32
    max_listed_tools: int = 30


@dataclass(frozen=True)
class TaskSignature:
    """The parts of a call's task description."""

    context: str
    request: str
    structure: str

    @property
    def text(self) -> str:
        """The whole signature as one readable line (labels, keywords, debugging)."""
        return f"{self.context} | request: {self.request}"


def _tools_part(names: list[str], limit: int) -> str:
    if len(names) <= limit:
        return ", ".join(names)
    digest = hashlib.sha256("\n".join(names).encode()).hexdigest()[:8]
    return f"{len(names)} tools set {digest}: " + ", ".join(names[:limit])


def task_signature(record: dict, options: SignatureOptions = SignatureOptions()) -> TaskSignature:
    """The signature of one call record (collect/curate shape); most telling parts first."""
    messages = [m for m in record.get("messages") or [] if isinstance(m, dict)]
    form = requested_format(record)
    parts = [f"format: {form}"]
    system = " ".join(content_text(m.get("content")) for m in messages if m.get("role") in ("system", "developer"))
    if system.strip():
        parts.append("system: " + masked_head(system, options.system_words))
    names = tool_names(record.get("tools"))
    if names:
        parts.append("tools: " + _tools_part(names, options.max_listed_tools))
    keys = schema_keys(record.get("response_format"))
    if keys:
        parts.append("schema: " + ", ".join(keys))
    request = masked_head(content_text((_request_message(messages) or {}).get("content")), options.request_words)
    return TaskSignature(context=" | ".join(parts), request=request or "(empty)", structure=task_structure(form, messages))


def request_key(record: dict) -> str:
    """Split-group key: the conversation's opening user message with case, punctuation and digits
    ignored, so near-identical requests and every step of one agent session share it."""
    messages = [m for m in record.get("messages") or [] if isinstance(m, dict)]
    opening = next((m for m in messages if m.get("role") == "user"), None)
    pieces = [content_text(opening.get("content"))] if opening else [
        content_text(m.get("content")) for m in messages if m.get("role") not in ("system", "developer")]
    text = _NON_WORD.sub(" ", re.sub(r"\d+", "0", " ".join(pieces).lower())).strip()
    return hashlib.sha256(text.encode()).hexdigest()[:24]
