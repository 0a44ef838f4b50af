"""OpenTelemetry GenAI semantic-convention spans in OTLP JSON (`resourceSpans` payloads).

One payload line may hold many spans; every chat/text-completion span becomes one record and
other spans (HTTP, tool execution, agents) are skipped and counted. Both content conventions
are read: the newer `gen_ai.input.messages` / `gen_ai.output.messages` JSON (with
`gen_ai.system_instructions`, `gen_ai.tool.definitions`), on the span or on its
`gen_ai.client.inference.operation.details` event, and the older indexed attributes
`gen_ai.prompt.N.*` / `gen_ai.completion.N.*` (with `llm.request.functions.N.*`).
"""

from __future__ import annotations

import base64
from typing import Any

import orjson

from slmconvert.collect.formats.common import (
    Notes,
    RecordRejected,
    error_call,
    message,
    new_call,
    norm_role,
    openai_tools,
    output_message,
    reject,
    tool_call,
    usage,
)
from slmconvert.collect.formats.values import iso_utc, latency_between

NAME = "otel_genai"
LLM_OPERATIONS = frozenset(("chat", "text_completion", "generate_content", "completion"))
FINISH_REASONS = {"tool_call": "tool_calls", "tool_use": "tool_calls", "max_tokens": "length", "end_turn": "stop"}
DETAILS_EVENT = "gen_ai.client.inference.operation.details"
REQUEST_PARAMS = ("temperature", "top_p", "top_k", "max_tokens", "seed", "frequency_penalty", "presence_penalty", "stop_sequences")


def any_value(value: Any) -> Any:
    """Decode an OTLP JSON AnyValue (int64 arrives as a string)."""
    if not isinstance(value, dict):
        return value
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "arrayValue" in value:
        return [any_value(v) for v in (value["arrayValue"] or {}).get("values", [])]
    if "kvlistValue" in value:
        return attributes((value["kvlistValue"] or {}).get("values", []))
    if "bytesValue" in value:
        return base64.b64decode(value["bytesValue"]).decode("utf-8", "replace")
    return None


def attributes(items: Any) -> dict[str, Any]:
    """An OTLP attribute list as a flat dict."""
    return {kv["key"]: any_value(kv.get("value")) for kv in items or () if isinstance(kv, dict) and "key" in kv}


def iter_spans(payload: dict):
    """(resource attributes, span) for every span of an OTLP traces payload."""
    for resource_spans in payload.get("resourceSpans") or ():
        resource = attributes((resource_spans.get("resource") or {}).get("attributes"))
        scopes = resource_spans.get("scopeSpans") or resource_spans.get("instrumentationLibrarySpans") or ()
        for scope in scopes:
            for span in scope.get("spans") or ():
                yield resource, span


def _json_attr(value: Any, name: str) -> Any:
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            reject("invalid JSON", f"attribute {name}: {exc.msg}")
    return value


def _parts_text(parts: list) -> str | None:
    texts = [str(p.get("content", p.get("text", ""))) for p in parts if p.get("type") == "text"]
    return "\n".join(texts) if texts else None


def parts_message(raw: dict, where: str, notes: Notes) -> list[dict]:
    """One semconv message ({role, parts}) as record messages (tool responses split out)."""
    role = norm_role(raw.get("role"))
    parts = raw.get("parts")
    if parts is None and "content" in raw:  # some emitters keep OpenAI-style content
        parts = [{"type": "text", "content": raw["content"]}] if raw["content"] is not None else []
    if not isinstance(parts, list):
        reject("malformed record", f"{where}.parts is not a list")
    calls, tool_msgs = [], []
    for i, part in enumerate(parts):
        kind = part.get("type")
        if kind == "tool_call":
            calls.append(tool_call(part.get("id"), part.get("name"), part.get("arguments"), f"{where}.parts[{i}]"))
        elif kind == "tool_call_response":
            result = part.get("response", part.get("result"))
            text = result if isinstance(result, str) or result is None else orjson.dumps(result).decode()
            tool_msgs.append(message("tool", text, None, part.get("id"), part.get("name")))
        elif kind != "text":
            notes.count("non_text_parts", str(kind))
    text = _parts_text(parts)
    if tool_msgs and role == "tool" and text is None:
        return tool_msgs
    return tool_msgs + [message(role, text, calls or None, None, raw.get("name"))]


def _indexed(attrs: dict, prefix: str) -> list[dict]:
    """`prefix.N.key...` attributes grouped into a list of {key...: value} by N."""
    groups: dict[int, dict[str, Any]] = {}
    cut = len(prefix) + 1
    for key, value in attrs.items():
        if key.startswith(prefix + "."):
            index, _, rest = key[cut:].partition(".")
            if index.isdigit() and rest:
                groups.setdefault(int(index), {})[rest] = value
    return [groups[i] for i in sorted(groups)]


def _indexed_calls(fields: dict, where: str) -> list[dict] | None:
    calls = _indexed(fields, "tool_calls")
    if not calls and "function_call.name" in fields:
        calls = [{"id": None, "name": fields["function_call.name"], "arguments": fields.get("function_call.arguments")}]
    out = [tool_call(c.get("id"), c.get("name"), c.get("arguments"), f"{where}.tool_calls[{j}]") for j, c in enumerate(calls)]
    return out or None


def legacy_messages(attrs: dict) -> tuple[list[dict], dict | None, Any]:
    """Messages, output and finish reason from gen_ai.prompt.N.* / gen_ai.completion.N.*."""
    messages = []
    for i, fields in enumerate(_indexed(attrs, "gen_ai.prompt")):
        where = f"gen_ai.prompt.{i}"
        messages.append(message(
            norm_role(fields.get("role", "user")), fields.get("content"), _indexed_calls(fields, where),
            fields.get("tool_call_id"), fields.get("name"),
        ))
    completions = _indexed(attrs, "gen_ai.completion")
    if not completions:
        return messages, None, None
    first = completions[0]
    output = output_message(first.get("content"), _indexed_calls(first, "gen_ai.completion.0"))
    return messages, output, first.get("finish_reason")


def semconv_messages(attrs: dict, notes: Notes) -> tuple[list[dict], dict | None, Any]:
    """Messages, output and finish reason from gen_ai.input/output.messages (+ instructions)."""
    messages = []
    system = _json_attr(attrs.get("gen_ai.system_instructions"), "gen_ai.system_instructions")
    if isinstance(system, list):
        system = _parts_text(system)
    if system:
        messages.append(message("system", str(system)))
    inputs = _json_attr(attrs.get("gen_ai.input.messages"), "gen_ai.input.messages") or []
    for i, raw in enumerate(inputs):
        messages.extend(parts_message(raw, f"gen_ai.input.messages[{i}]", notes))
    outputs = _json_attr(attrs.get("gen_ai.output.messages"), "gen_ai.output.messages") or []
    if not outputs:
        return messages, None, None
    if len(outputs) > 1:
        notes.set("n_choices", len(outputs))
    produced = parts_message(outputs[0], "gen_ai.output.messages[0]", notes)[-1]
    return messages, output_message(produced["content"], produced["tool_calls"]), outputs[0].get("finish_reason")


def _content_attrs(span: dict, attrs: dict) -> dict:
    """Span attributes, plus content carried on the inference-details event when present."""
    for event in span.get("events") or ():
        if event.get("name") == DETAILS_EVENT:
            return {**attrs, **attributes(event.get("attributes"))}
    return attrs


def is_llm_span(attrs: dict) -> bool:
    """A model-inference span (not a tool, agent, embedding or plain HTTP span)."""
    operation = attrs.get("gen_ai.operation.name") or attrs.get("llm.request.type")
    if operation is not None:
        return operation in LLM_OPERATIONS
    return any(k.startswith(("gen_ai.prompt.", "gen_ai.completion.")) for k in attrs) or "gen_ai.input.messages" in attrs


def span_call(resource: dict, span: dict) -> dict:
    """One GenAI inference span -> one partial call record."""
    notes = Notes()
    attrs = _content_attrs(span, attributes(span.get("attributes")))
    if "gen_ai.input.messages" in attrs or "gen_ai.output.messages" in attrs:
        messages, output, finish = semconv_messages(attrs, notes)
    else:
        messages, output, finish = legacy_messages(attrs)
    definitions = _json_attr(attrs.get("gen_ai.tool.definitions"), "gen_ai.tool.definitions")
    functions = [
        {**f, "parameters": _json_attr(f.get("parameters"), "llm.request.functions")}
        for f in _indexed(attrs, "llm.request.functions")
    ]
    reasons = attrs.get("gen_ai.response.finish_reasons")
    finish = finish or (reasons[0] if isinstance(reasons, list) and reasons else reasons)
    metadata = {k: v for k, v in (
        ("trace_id", span.get("traceId")), ("span_id", span.get("spanId")), ("span_name", span.get("name")),
        ("provider", attrs.get("gen_ai.provider.name") or attrs.get("gen_ai.system")),
        ("service_name", resource.get("service.name")), ("response_id", attrs.get("gen_ai.response.id")),
    ) if v}
    metadata.update((k, attrs[f"gen_ai.request.{k}"]) for k in REQUEST_PARAMS if f"gen_ai.request.{k}" in attrs)
    call = new_call(
        model=attrs.get("gen_ai.response.model") or attrs.get("gen_ai.request.model"),
        messages=messages,
        tools=openai_tools(definitions, functions, notes),
        output=output,
        finish_reason=FINISH_REASONS.get(finish, finish),
        usage_=usage(
            attrs.get("gen_ai.usage.input_tokens", attrs.get("gen_ai.usage.prompt_tokens")),
            attrs.get("gen_ai.usage.output_tokens", attrs.get("gen_ai.usage.completion_tokens")),
        ),
        latency_ms=latency_between(span.get("startTimeUnixNano"), span.get("endTimeUnixNano")),
        timestamp=iso_utc(span.get("startTimeUnixNano")),
        workload_id=attrs.get("workload_id", resource.get("workload_id")),
        client_id=attrs.get("client_id", resource.get("client_id")),
        metadata=metadata,
    )
    status = span.get("status") or {}
    failed = status.get("code") in (2, "STATUS_CODE_ERROR") or "error.type" in attrs
    if output is None:
        if not failed:
            reject("missing field", f"span {span.get('spanId')}: no completion/output messages recorded")
        error_call(call, status.get("message") or attrs.get("error.type") or "span status ERROR")
    call["metadata"].update(notes.data)
    return call


def normalise(payload: dict) -> list[dict | RecordRejected]:
    """Every LLM span of one OTLP payload; per-span problems become per-span rejects."""
    out: list[dict | RecordRejected] = []
    total = 0
    for resource, span in iter_spans(payload):
        total += 1
        if not isinstance(span, dict):
            out.append(RecordRejected("malformed record", "span is not an object"))
            continue
        attrs = attributes(span.get("attributes"))
        if not is_llm_span(attrs):
            continue
        try:
            out.append(span_call(resource, span))
        except RecordRejected as exc:
            out.append(RecordRejected(exc.reason, f"span {span.get('spanId')}: {exc.detail}"))
    if not out:
        reject("no LLM spans", f"{total} span(s), none is a gen_ai chat/completion call")
    return out
