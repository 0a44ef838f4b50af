"""One canary-laden agent conversation, written out in every log format collect reads.

`Conversation` holds the fields in OpenAI terms (system prompt, user message, assistant history
with a tool call, tool result, tool schema, output); an encoder per format maps them onto that
format's shape, including the format's own places for tags, metadata, errors and streaming.
Every field gets one canary of every kind; id-like fields (workload_id, client_id, `user`,
message names, custom_id, trace names) get one value each, rotating over the kinds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tests.hostile.plant import Planter

TOOL = "lookup_customer"
MODEL = "gpt-4o-mini"
CLAUDE = "claude-3-5-haiku-20241022"
TS = 1793520000  # 2026-11-02 UTC


@dataclass
class Conversation:
    """The canary-laden fields of one agent call, format-neutral."""

    fmt: str
    system: str
    user: str
    user_name: str
    history: str
    call_args: dict
    tool_result: str
    tool_description: str
    param_description: str
    output_text: str | None
    output_args: dict | None

    def tool_schema(self) -> dict:
        return {"type": "object", "properties": {
            "email": {"type": "string", "description": self.param_description},
            "customer_name": {"type": "string"}}, "required": ["email"]}

    def openai_tools(self) -> list[dict]:
        return [{"type": "function", "function": {"name": TOOL, "description": self.tool_description,
                                                  "parameters": self.tool_schema()}}]

    def openai_messages(self) -> list[dict]:
        return [
            {"role": "system", "content": self.system},
            {"role": "user", "content": self.user, "name": self.user_name},
            {"role": "assistant", "content": self.history, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": TOOL, "arguments": json.dumps(self.call_args)}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": self.tool_result},
        ]

    def openai_output(self) -> dict:
        if self.output_args is not None:
            return {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_2", "type": "function", "function": {"name": TOOL, "arguments": json.dumps(self.output_args)}}]}
        return {"role": "assistant", "content": self.output_text}

    def finish(self) -> str:
        return "tool_calls" if self.output_args is not None else "stop"


def conversation(p: Planter, fmt: str, tool_output: bool, streamed: bool = False) -> Conversation:
    """Every field with one canary of every kind (streamed: the output arrives in 5-character chunks)."""
    how = " (streamed, split across chunks)" if streamed else ""
    return Conversation(
        fmt=fmt,
        system=p.text(fmt, "system prompt", lead="You are ShopRight's support agent. On-call staff and credentials:"),
        user=p.text(fmt, "user message", lead="Hi, my parcel never arrived."),
        user_name=p.tag(fmt, "user message `name` field", "username"),
        history=p.text(fmt, "assistant history text", lead="Let me look that up."),
        call_args=p.mapping(fmt, "tool-call arguments in history (JSON string values)"),
        tool_result=json.dumps({"customer": p.mapping(fmt, "tool result (JSON values)"),
                                "notes": p.text(fmt, "tool result (free text inside a JSON value)")},
                               separators=(",", ":")),
        tool_description=p.text(fmt, "tool description", lead="Look up a customer account."),
        param_description=p.text(fmt, "tool parameter description", kinds=("email", "person", "phone"),
                                 lead="The customer's e-mail, e.g."),
        output_text=None if tool_output else p.text(fmt, "assistant output text" + how, lead="I found your account."),
        output_args=p.mapping(fmt, "tool-call arguments in the output" + how) if tool_output else None,
    )


def _usage() -> dict:
    return {"prompt_tokens": 900, "completion_tokens": 60, "total_tokens": 960}


def completion(conv: Conversation, refusal: str | None = None) -> dict:
    message = conv.openai_output()
    if refusal:
        message["refusal"] = refusal
    return {"id": "chatcmpl-hostile", "object": "chat.completion", "created": TS, "model": MODEL,
            "choices": [{"index": 0, "message": message, "finish_reason": conv.finish()}], "usage": _usage()}


def openai_request(conv: Conversation, p: Planter, response_format: bool = False) -> dict:
    request: dict[str, Any] = {"model": MODEL, "messages": conv.openai_messages(), "tools": conv.openai_tools(),
                               "user": p.tag(conv.fmt, "request.user"),
                               "metadata": p.mapping(conv.fmt, "request.metadata", kinds=("email", "username", "person"))}
    if response_format:
        request["response_format"] = {"type": "json_schema", "json_schema": {
            "name": "reply", "description": p.text(conv.fmt, "response_format description", kinds=("email", "person")),
            "schema": {"type": "object", "properties": {"reply": {"type": "string"}}}}}
    return request


def stream_chunks(conv: Conversation, sse: bool) -> list:
    """The output as chat.completion.chunk deltas of 5 characters, so canaries cross chunk boundaries."""
    base = {"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": TS, "model": MODEL}
    chunks: list[dict] = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]}]
    if conv.output_args is not None:
        args = json.dumps(conv.output_args)
        chunks.append({**base, "choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "id": "call_s", "type": "function", "function": {"name": TOOL, "arguments": ""}}]}}]})
        chunks += [{**base, "choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "function": {"arguments": args[i:i + 5]}}]}}]} for i in range(0, len(args), 5)]
    else:
        text = conv.output_text or ""
        chunks += [{**base, "choices": [{"index": 0, "delta": {"content": text[i:i + 5]}}]}
                   for i in range(0, len(text), 5)]
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": conv.finish()}]})
    chunks.append({**base, "choices": [], "usage": _usage()})
    if sse:
        return [f"data: {json.dumps(c)}" for c in chunks] + ["data: [DONE]"]
    return chunks


# -- encoders: one function per format, each yielding the JSON objects of its lines one by one -----------------

def openai_chat_lines(p: Planter) -> Iterator[dict]:
    fmt = "openai_chat"
    for tool_output, stream in ((False, None), (True, None), (False, "chunks"), (True, "chunks"), (False, "sse")):
        conv = conversation(p, fmt, tool_output, streamed=stream is not None)
        request = openai_request(conv, p, response_format=not tool_output and stream is None)
        refusal = p.text(fmt, "response refusal text", kinds=("person", "phone")) if not tool_output and not stream else None
        response = stream_chunks(conv, stream == "sse") if stream else completion(conv, refusal)
        yield ({"timestamp": TS, "workload_id": p.tag(fmt, "workload_id"), "client_id": p.tag(fmt, "client_id"),
                "latency_ms": 850, "request": request, "response": response,
                "metadata": p.mapping(fmt, "line metadata", kinds=("email", "username", "person", "phone", "public_ip"))})
    error_text = p.text(fmt, "error response message", kinds=("person", "email", "openai_key"),
                        lead="Content rejected.")
    yield ({"timestamp": TS, "workload_id": p.tag(fmt, "workload_id"), "client_id": p.tag(fmt, "client_id"),
                  "request": {"model": MODEL, "messages": [{"role": "user", "content": p.text(fmt, "user message of an error call")}]},
                  "response": {"error": {"message": error_text, "type": "invalid_request_error"}}})


def anthropic_lines(p: Planter) -> Iterator[dict]:
    fmt = "anthropic"
    for tool_output, stream in ((False, False), (True, False), (False, True), (True, True)):
        conv = conversation(p, fmt, tool_output, streamed=stream)
        request = {
            "model": CLAUDE, "max_tokens": 1024,
            "system": [{"type": "text", "text": conv.system, "cache_control": {"type": "ephemeral"}}],
            "messages": [
                {"role": "user", "content": conv.user},
                {"role": "assistant", "content": [{"type": "text", "text": conv.history},
                                                  {"type": "tool_use", "id": "toolu_1", "name": TOOL, "input": conv.call_args}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": conv.tool_result}]},
            ],
            "tools": [{"name": TOOL, "description": conv.tool_description, "input_schema": conv.tool_schema()}],
            "metadata": {"user_id": p.tag(fmt, "request.metadata.user_id")},
        }
        stop = "tool_use" if tool_output else "end_turn"
        block = ({"type": "tool_use", "id": "toolu_2", "name": TOOL, "input": conv.output_args} if tool_output
                 else {"type": "text", "text": conv.output_text})
        usage = {"input_tokens": 900, "output_tokens": 60}
        if stream:
            response: Any = _anthropic_events(block, stop, usage)
        else:
            response = {"id": "msg_hostile", "type": "message", "role": "assistant", "model": CLAUDE,
                        "content": [block], "stop_reason": stop, "usage": usage}
        yield ({"timestamp": "2026-11-02T10:00:00Z", "service": "support",
                      "workload_id": p.tag(fmt, "workload_id"), "client_id": p.tag(fmt, "client_id"),
                      "request": request, "response": response, "latency_ms": 900,
                      "metadata": p.mapping(fmt, "record metadata", kinds=("email", "username"))})
    yield ({"timestamp": "2026-11-02T10:01:00Z", "request": {
        "model": CLAUDE, "system": "Support agent.", "max_tokens": 100,
        "messages": [{"role": "user", "content": p.text(fmt, "user message of an error call")}]},
        "response": {"type": "error", "error": {"type": "invalid_request_error", "message": p.text(
            fmt, "error response message", kinds=("person", "email"))}}})


def _anthropic_events(block: dict, stop: str, usage: dict) -> list[dict]:
    """A streamed Messages response whose text or tool input arrives in 5-character deltas."""
    events: list[dict] = [{"type": "message_start", "message": {"id": "msg_s", "type": "message", "role": "assistant",
                                                                "model": CLAUDE, "content": [], "usage": usage}}]
    if block["type"] == "text":
        events.append({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
        text = block["text"]
        events += [{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text[i:i + 5]}}
                   for i in range(0, len(text), 5)]
    else:
        events.append({"type": "content_block_start", "index": 0, "content_block": {
            "type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}})
        raw = json.dumps(block["input"])
        events += [{"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta",
                                                                          "partial_json": raw[i:i + 5]}}
                   for i in range(0, len(raw), 5)]
    events += [{"type": "content_block_stop", "index": 0},
               {"type": "message_delta", "delta": {"stop_reason": stop}, "usage": {"output_tokens": 60}},
               {"type": "message_stop"}]
    return events


def finetune_lines(p: Planter) -> Iterator[dict]:
    fmt = "openai_finetune"
    for tool_output in (False, True):
        conv = conversation(p, fmt, tool_output)
        output = conv.openai_output()
        yield ({"messages": conv.openai_messages() + [output], "tools": conv.openai_tools(),
                      "parallel_tool_calls": False,
                      "workload_id": p.tag(fmt, "workload_id"), "client_id": p.tag(fmt, "client_id")})


def batch_pairs(p: Planter) -> Iterator[tuple[dict, dict | None]]:
    """(input line, output line or None for a request whose output never came)."""
    fmt = "openai_batch"
    for n, tool_output in enumerate((False, True, False)):
        conv = conversation(p, fmt, tool_output)
        custom_id = f"req-{p.tag(fmt, 'custom_id', 'username')}-{n}"
        body = openai_request(conv, p)
        inp = {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body}
        if n == 2:
            yield inp, None
            continue
        out = {"id": f"batch_req_{n}", "custom_id": custom_id, "error": None,
               "response": {"status_code": 200, "request_id": f"r{n}", "body": completion(conv)}}
        yield inp, out
    custom_id = f"req-{p.tag(fmt, 'custom_id', 'username')}-err"
    inp = {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions",
           "body": {"model": MODEL, "messages": [{"role": "user", "content": p.text(fmt, "user message of an error call")}]}}
    out = {"id": "batch_req_err", "custom_id": custom_id, "response": None,
           "error": {"code": "invalid_request", "message": p.text(fmt, "error response message", kinds=("email", "person"))}}
    yield inp, out


def _kv(key: str, value: Any) -> dict:
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    return {"key": key, "value": {"stringValue": value}}


def otel_lines(p: Planter) -> Iterator[dict]:
    fmt = "otel_genai"
    for tool_output in (False, True):
        conv = conversation(p, fmt, tool_output)
        out_parts = ([{"type": "tool_call", "id": "call_2", "name": TOOL, "arguments": conv.output_args}]
                     if tool_output else [{"type": "text", "content": conv.output_text}])
        attrs = [
            _kv("gen_ai.operation.name", "chat"), _kv("gen_ai.provider.name", "openai"),
            _kv("gen_ai.request.model", MODEL), _kv("gen_ai.response.model", MODEL),
            _kv("gen_ai.system_instructions", json.dumps([{"type": "text", "content": conv.system}])),
            _kv("gen_ai.input.messages", json.dumps([
                {"role": "user", "parts": [{"type": "text", "content": conv.user}]},
                {"role": "assistant", "parts": [{"type": "text", "content": conv.history},
                                                {"type": "tool_call", "id": "call_1", "name": TOOL, "arguments": conv.call_args}]},
                {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_1", "response": conv.tool_result}]},
            ])),
            _kv("gen_ai.output.messages", json.dumps([{"role": "assistant", "parts": out_parts,
                                                       "finish_reason": conv.finish()}])),
            _kv("gen_ai.tool.definitions", json.dumps([{"type": "function", "name": TOOL,
                                                        "description": conv.tool_description,
                                                        "parameters": conv.tool_schema()}])),
            _kv("gen_ai.usage.input_tokens", 900), _kv("gen_ai.usage.output_tokens", 60),
            _kv("workload_id", p.tag(fmt, "span attribute workload_id")),
            _kv("enduser.id", p.tag(fmt, "span attribute enduser.id")),
        ]
        tool_span = {"traceId": "a1" * 16, "spanId": "b2" * 8, "name": "execute_tool lookup_customer",
                     "startTimeUnixNano": str(TS * 10**9), "endTimeUnixNano": str(TS * 10**9 + 10**8),
                     "attributes": [_kv("gen_ai.operation.name", "execute_tool"),
                                    _kv("gen_ai.tool.call.arguments", json.dumps(p.mapping(fmt, "non-LLM tool span arguments (skipped)")))]}
        span = {"traceId": "a1" * 16, "spanId": "c3" * 8, "name": f"chat {MODEL}", "kind": 3,
                "startTimeUnixNano": str(TS * 10**9), "endTimeUnixNano": str(TS * 10**9 + 9 * 10**8),
                "attributes": attrs, "status": {"code": 1}}
        yield ({"resourceSpans": [{"resource": {"attributes": [
            _kv("service.name", "support-agent"), _kv("client_id", p.tag(fmt, "resource attribute client_id"))]},
            "scopeSpans": [{"scope": {"name": "opentelemetry.instrumentation.openai"}, "spans": [span, tool_span]}]}]})
    legacy = [_kv("llm.request.type", "chat"), _kv("gen_ai.request.model", MODEL),
              _kv("gen_ai.prompt.0.role", "system"), _kv("gen_ai.prompt.0.content", p.text(fmt, "legacy gen_ai.prompt system")),
              _kv("gen_ai.prompt.1.role", "user"), _kv("gen_ai.prompt.1.content", p.text(fmt, "legacy gen_ai.prompt user")),
              _kv("gen_ai.completion.0.role", "assistant"),
              _kv("gen_ai.completion.0.content", p.text(fmt, "legacy gen_ai.completion content")),
              _kv("gen_ai.completion.0.finish_reason", "stop")]
    yield ({"resourceSpans": [{"resource": {"attributes": [_kv("service.name", "ops")]}, "scopeSpans": [{"spans": [
        {"traceId": "d4" * 16, "spanId": "e5" * 8, "name": "openai.chat", "startTimeUnixNano": str(TS * 10**9),
         "endTimeUnixNano": str(TS * 10**9 + 5 * 10**8), "attributes": legacy}]}]}]})


def langfuse_lines(p: Planter) -> Iterator[dict]:
    fmt = "langfuse"
    for n, tool_output in enumerate((False, True)):
        conv = conversation(p, fmt, tool_output)
        obs = {"id": f"obs-{n}", "traceId": f"trace-{n}", "type": "GENERATION", "name": p.tag(fmt, "observation name"),
               "startTime": "2026-11-02T10:00:00.000Z", "endTime": "2026-11-02T10:00:00.900Z", "model": MODEL,
               "modelParameters": {"temperature": 0}, "level": "DEFAULT",
               "input": {"messages": conv.openai_messages(), "tools": conv.openai_tools()},
               "output": conv.openai_output(), "usageDetails": {"input": 900, "output": 60},
               "userId": p.tag(fmt, "userId"),
               "metadata": {"workload_id": p.tag(fmt, "metadata.workload_id"), "client_id": p.tag(fmt, "metadata.client_id"),
                            **p.mapping(fmt, "metadata (other keys)", kinds=("email", "phone"))}}
        yield (obs if n == 0 else {"id": "trace-x", "name": p.tag(fmt, "trace name"), "observations": [
            {"id": "span-1", "type": "SPAN", "name": "retrieve", "input": p.text(fmt, "non-generation observation (skipped)")},
            obs,
            {"id": "gen-err", "type": "GENERATION", "input": [{"role": "user", "content": p.text(fmt, "user message of an error call")}],
             "output": None, "level": "ERROR", "statusMessage": p.text(fmt, "error statusMessage", kinds=("email", "person"))}]})


def _lc(kind: str, **kwargs: Any) -> dict:
    return {"lc": 1, "type": "constructor", "id": ["langchain", "schema", "messages", kind], "kwargs": kwargs}


def langsmith_lines(p: Planter) -> Iterator[dict]:
    fmt = "langsmith"
    for n, tool_output in enumerate((False, True)):
        conv = conversation(p, fmt, tool_output)
        messages = [
            _lc("SystemMessage", content=conv.system, type="system"),
            _lc("HumanMessage", content=conv.user, type="human", name=conv.user_name),
            _lc("AIMessage", content=conv.history, type="ai",
                tool_calls=[{"name": TOOL, "args": conv.call_args, "id": "call_1", "type": "tool_call"}]),
            _lc("ToolMessage", content=conv.tool_result, tool_call_id="call_1", type="tool"),
        ]
        out = (_lc("AIMessage", content="", type="ai", tool_calls=[{"name": TOOL, "args": conv.output_args,
                                                                       "id": "call_2", "type": "tool_call"}])
               if tool_output else _lc("AIMessage", content=conv.output_text, type="ai"))
        yield ({
            "id": f"run-{n}", "name": p.tag(fmt, "run name"), "run_type": "llm", "trace_id": f"t-{n}",
            "start_time": "2026-11-02T10:00:00.000000", "end_time": "2026-11-02T10:00:01.200000",
            "inputs": {"messages": [messages]},
            "outputs": {"generations": [[{"text": conv.output_text or "", "message": out,
                                          "generation_info": {"finish_reason": conv.finish()}}]],
                        "llm_output": {"model_name": MODEL, "token_usage": {"prompt_tokens": 900, "completion_tokens": 60}}},
            "extra": {"invocation_params": {"model": MODEL, "temperature": 0, "tools": conv.openai_tools()},
                      "metadata": {"workload_id": p.tag(fmt, "extra.metadata.workload_id"),
                                   "client_id": p.tag(fmt, "extra.metadata.client_id"), "ls_provider": "openai",
                                   **p.mapping(fmt, "extra.metadata (other keys)", kinds=("email", "username"))}},
            "error": None,
        })
    yield ({"id": "run-err", "name": "ChatOpenAI", "run_type": "llm", "inputs": {"messages": [
        {"role": "user", "content": p.text(fmt, "user message of an error call")}]}, "outputs": None,
        "error": p.text(fmt, "run error", kinds=("email", "openai_key"))})


def llm_cli_elements(p: Planter) -> Iterator[dict]:
    fmt = "llm_cli"
    for n, tool_output in enumerate((False, True)):
        conv = conversation(p, fmt, tool_output)
        element = {
            "id": f"01jhostile{n}", "model": MODEL, "resolved_model": None, "prompt": conv.user, "system": conv.system,
            "prompt_json": None, "options_json": {}, "response": conv.output_text,
            "response_json": {"choices": [{"finish_reason": conv.finish()}]}, "conversation_id": f"01jconv{n}",
            "duration_ms": 900, "datetime_utc": "2026-11-02T10:00:00.000000", "input_tokens": 900, "output_tokens": 60,
            "tools": [{"name": TOOL, "description": conv.tool_description, "input_schema": json.dumps(conv.tool_schema())}],
            "tool_calls": ([{"name": TOOL, "arguments": conv.output_args, "tool_call_id": "call_2"}] if tool_output else []),
            "tool_results": [{"name": TOOL, "output": conv.tool_result, "tool_call_id": "call_1"}],
        }
        yield (element)
    yield ({"id": "01jbroken", "model": MODEL, "system": p.text(fmt, "element without prompt or response (rejected)",
                                                                     kinds=("email", "ssn"))})


def tag_lines(p: Planter, count: int) -> Iterator[dict]:
    """Small OpenAI-chat calls whose tags (workload_id, client_id, user, name) carry one canary each."""
    fmt = "openai_chat"
    asks = ("Where is my order SR-{n}?", "Can I change the delivery date of SR-{n}?", "Has SR-{n} shipped yet?",
            "Please cancel order SR-{n}.", "What is the refund status of SR-{n}?")
    for i in range(count):
        order = 4_100_000 + i * 37
        user = asks[i % len(asks)].format(n=order)
        reply = f"Order SR-{order} is on its way and should arrive within three business days."
        yield ({"timestamp": TS + i * 60, "workload_id": p.tag(fmt, "workload_id (tag call)"),
                      "client_id": p.tag(fmt, "client_id (tag call)"),
                      "request": {"model": MODEL, "user": p.tag(fmt, "request.user (tag call)"), "messages": [
                          {"role": "system", "content": "You are ShopRight's order-status assistant."},
                          {"role": "user", "content": user, "name": p.tag(fmt, "user message `name` (tag call)")}]},
                      "response": {"id": f"chatcmpl-t{i}", "object": "chat.completion", "created": TS + i * 60,
                                   "model": MODEL, "choices": [{"index": 0, "message": {"role": "assistant", "content": reply},
                                                                "finish_reason": "stop"}],
                                   "usage": {"prompt_tokens": 40, "completion_tokens": 20}}})


__all__ = ["anthropic_lines", "batch_pairs", "finetune_lines", "langfuse_lines", "langsmith_lines",
           "llm_cli_elements", "openai_chat_lines", "otel_lines", "tag_lines"]
