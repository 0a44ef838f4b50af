"""Building blocks every log format shares: OpenAI-style messages, tool calls and tool schemas.

Normalisers build the record fields of ARCHITECTURE.md from these helpers and raise
`RecordRejected` for anything that cannot become a faithful call record.
"""

from __future__ import annotations

from typing import Any, NoReturn

import orjson

from slmconvert.collect.formats.values import str_or_none, to_int
from slmconvert.collect.toolcache import KnownTools


class RecordRejected(Exception):
    """A record that cannot be normalised: `reason` groups rejects, `detail` says exactly why."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def reject(reason: str, detail: str = "") -> NoReturn:
    """Abort normalising the current record."""
    raise RecordRejected(reason, detail)


# Roles of other vocabularies (LangChain, Gemini, legacy OpenAI) mapped onto the record's four.
ROLE_MAP = {
    "system": "system", "developer": "system",
    "user": "user", "human": "user",
    "assistant": "assistant", "ai": "assistant", "model": "assistant", "bot": "assistant",
    "tool": "tool", "function": "tool", "ipython": "tool",
}

TEXT_PART_TYPES = frozenset(("text", "input_text", "output_text"))


class Notes:
    """Side observations of one record (non-text parts, dropped tools) that go into metadata."""

    __slots__ = ("data",)

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def count(self, key: str, kind: str) -> None:
        bucket = self.data.setdefault(key, {})
        bucket[kind] = bucket.get(kind, 0) + 1

    def set(self, key: str, value: Any) -> None:
        self.data[key] = value


def norm_role(role: Any) -> str:
    """The record role for a source role; unknown roles are rejects, not guesses."""
    mapped = ROLE_MAP.get(role) if isinstance(role, str) else None
    if mapped is None:
        reject("unknown message role", repr(role)[:80])
    return mapped


def content_text(content: Any, notes: Notes) -> str | None:
    """Message content as text: strings kept, text parts joined, other parts noted in metadata."""
    if content is None or type(content) is str:
        return content
    if isinstance(content, dict):
        content = [content]
    if not isinstance(content, list):
        reject("malformed record", f"message content of type {type(content).__name__}")
    texts = []
    for part in content:
        if type(part) is str:
            texts.append(part)
            continue
        if not isinstance(part, dict):
            reject("malformed record", "content part is not an object")
        kind = part.get("type", "text")
        if kind in TEXT_PART_TYPES:
            text = part.get("text", part.get("content"))
            if isinstance(text, dict):  # {"type": "text", "text": {"value": ...}} (assistants API)
                text = text.get("value")
            if text is not None:
                texts.append(str(text))
        else:
            notes.count("non_text_parts", str(kind))
    return "\n".join(texts) if texts else None


def parse_arguments(raw: Any, where: str) -> dict:
    """Tool-call arguments as a JSON object; invalid JSON or a non-object is a reject."""
    if isinstance(raw, dict):
        return raw
    if raw is None:
        return {}
    if not isinstance(raw, str):
        reject("invalid tool-call arguments", f"{where}: arguments of type {type(raw).__name__}")
    if not raw.strip():
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        reject("invalid tool-call arguments", f"{where}: not valid JSON ({exc.msg} at char {exc.pos})")
    if not isinstance(value, dict):
        reject("invalid tool-call arguments", f"{where}: JSON {type(value).__name__}, not an object")
    return value


def tool_call(call_id: Any, name: Any, arguments: Any, where: str) -> dict:
    """One tool call in the record's OpenAI shape, arguments parsed."""
    if not isinstance(name, str) or not name:
        reject("malformed record", f"{where}: tool call without a function name")
    return {
        "id": str(call_id) if call_id is not None else "",
        "type": "function",
        "function": {"name": name, "arguments": parse_arguments(arguments, where)},
    }


def openai_tool_calls(calls: Any, where: str) -> list[dict] | None:
    """OpenAI `tool_calls` (id/type/function{name, arguments}) normalised; None when absent/empty."""
    if not calls:
        return None
    if not isinstance(calls, list):
        reject("malformed record", f"{where}: tool_calls is not a list")
    out = []
    for i, call in enumerate(calls):
        fn = call.get("function") or {}
        out.append(tool_call(call.get("id"), fn.get("name"), fn.get("arguments"), f"{where}.tool_calls[{i}]"))
    return out


def message(
    role: str,
    content: str | None = None,
    tool_calls: list[dict] | None = None,
    tool_call_id: str | None = None,
    name: str | None = None,
) -> dict:
    """A request message with every key of the record schema present."""
    return {"role": role, "content": content, "tool_calls": tool_calls, "tool_call_id": tool_call_id, "name": name}


_PLAIN_KEYS = frozenset(("role", "content"))


def openai_message(raw: Any, where: str, notes: Notes) -> dict:
    """An OpenAI chat message (current or legacy function-calling form) in record shape."""
    if type(raw) is dict and raw.keys() <= _PLAIN_KEYS and type(raw.get("content")) is str:
        return message(norm_role(raw.get("role")), raw["content"])  # the common case, fast
    if not isinstance(raw, dict):
        reject("malformed record", f"{where} is not an object")
    role = norm_role(raw.get("role"))
    calls = openai_tool_calls(raw.get("tool_calls"), where)
    legacy = raw.get("function_call")
    if calls is None and isinstance(legacy, dict):
        calls = [tool_call(None, legacy.get("name"), legacy.get("arguments"), f"{where}.function_call")]
    if raw.get("refusal"):
        notes.set("refusal", str(raw["refusal"])[:500])
    return message(
        role,
        content_text(raw.get("content"), notes),
        calls,
        raw.get("tool_call_id"),
        raw.get("name"),
    )


def openai_messages(raw: Any, notes: Notes, field: str = "messages") -> list[dict]:
    """A list of OpenAI chat messages; legacy function results get the id of their call."""
    if not isinstance(raw, list):
        reject("malformed record", f"{field} is not a list")
    out = [openai_message(m, f"{field}[{i}]", notes) for i, m in enumerate(raw)]
    link_legacy_function_results(out)
    return out


def link_legacy_function_results(messages: list[dict]) -> None:
    """Legacy `function_call`s carry no ids: give calls and their results matching synthetic ids."""
    pending: dict[str, str] = {}
    for n, msg in enumerate(messages):
        for call in msg["tool_calls"] or ():
            if not call["id"]:
                call["id"] = f"call_{n}_{call['function']['name']}"
                pending[call["function"]["name"]] = call["id"]
        if msg["role"] == "tool" and msg["tool_call_id"] is None and msg["name"] in pending:
            msg["tool_call_id"] = pending.pop(msg["name"])


def output_message(content: str | None, tool_calls: list[dict] | None) -> dict:
    """The assistant output of a call (empty text beside tool calls is no text: None, as OpenAI has it)."""
    if tool_calls and not content:
        content = None
    return {"role": "assistant", "content": content, "tool_calls": tool_calls}


def function_tool(name: Any, description: Any, parameters: Any, strict: Any = None) -> dict:
    """An OpenAI function-tool schema; missing description/parameters get empty defaults."""
    if not isinstance(name, str) or not name:
        reject("malformed record", "tool definition without a name")
    fn: dict[str, Any] = {
        "name": name,
        "description": description if isinstance(description, str) else "",
        "parameters": parameters if isinstance(parameters, dict) else {"type": "object", "properties": {}},
    }
    if strict is not None:
        fn["strict"] = strict
    return {"type": "function", "function": fn}


def _is_record_tool(tool: Any) -> bool:
    if type(tool) is not dict or len(tool) != 2 or tool.get("type") != "function":
        return False
    fn = tool.get("function")
    return (
        type(fn) is dict
        and 3 <= len(fn) <= 4
        and type(fn.get("name")) is str
        and fn["name"] != ""
        and type(fn.get("description")) is str
        and type(fn.get("parameters")) is dict
        and (len(fn) == 3 or "strict" in fn)
    )


def openai_tools(tools: Any, functions: Any, notes: Notes) -> list[dict]:
    """`tools` (or legacy `functions`) as function-tool schemas; other tool types noted, not kept."""
    if type(tools) is KnownTools and not functions:
        return tools  # checked when first seen (see toolcache)
    out = []
    for tool in tools or ():
        if _is_record_tool(tool):  # already in record shape (the common case): keep as is
            out.append(tool)
            continue
        if not isinstance(tool, dict):
            reject("malformed record", "tool definition is not an object")
        if tool.get("type", "function") != "function":
            notes.count("non_function_tools", str(tool.get("type")))
            continue
        fn = tool.get("function") or tool  # some loggers flatten {"type":"function","name":...}
        out.append(function_tool(fn.get("name"), fn.get("description"), fn.get("parameters"), fn.get("strict")))
    for fn in functions or ():
        if not isinstance(fn, dict):
            reject("malformed record", "function definition is not an object")
        out.append(function_tool(fn.get("name"), fn.get("description"), fn.get("parameters")))
    return out


# Sampling/control parameters worth keeping in metadata (never free text that could hold PII).
REQUEST_PARAMS = (
    "temperature", "top_p", "top_k", "max_tokens", "max_completion_tokens", "max_output_tokens", "n",
    "stop", "stop_sequences", "seed", "presence_penalty", "frequency_penalty", "parallel_tool_calls",
    "stream", "logprobs", "top_logprobs", "reasoning_effort", "service_tier",
)


def request_params(request: dict) -> dict:
    """The whitelisted control parameters present in a request."""
    return {k: request[k] for k in REQUEST_PARAMS if k in request}


def usage(prompt: Any, completion: Any) -> dict:
    """The record's usage block."""
    return {"prompt_tokens": to_int(prompt), "completion_tokens": to_int(completion)}


def new_call(
    *,
    model: Any,
    messages: list[dict],
    output: dict | None = None,
    tools: list[dict] | None = None,
    tool_choice: Any = None,
    response_format: Any = None,
    finish_reason: Any = None,
    usage_: dict | None = None,
    latency_ms: float | None = None,
    timestamp: str | None = None,
    workload_id: Any = None,
    client_id: Any = None,
    metadata: dict | None = None,
) -> dict:
    """A partial record (everything but call_id, source and cost) with every field present."""
    return {
        "timestamp": timestamp,
        "workload_id": str_or_none(workload_id),
        "client_id": str_or_none(client_id),
        "model": str_or_none(model),
        "messages": messages,
        "tools": tools or [],
        "tool_choice": tool_choice,
        "response_format": response_format,
        "output": output if output is not None else output_message(None, None),
        "finish_reason": str_or_none(finish_reason),
        "usage": usage_ or usage(None, None),
        "latency_ms": latency_ms,
        "metadata": metadata or {},
    }


def error_text(error: Any) -> str:
    """A provider error object as one bounded line for metadata."""
    if isinstance(error, dict):
        inner = error.get("error", error)
        if isinstance(inner, dict):
            parts = [str(inner.get(k)) for k in ("type", "code", "message") if inner.get(k)]
            return ": ".join(parts)[:500] or "error"
        return str(inner)[:500]
    return str(error)[:500]


def error_call(base: dict, error: Any) -> dict:
    """Mark a call as an LLM error response (kept so curate can count and filter it)."""
    base["output"] = output_message(None, None)
    base["finish_reason"] = "error"
    base["metadata"]["error"] = error_text(error)
    return base
