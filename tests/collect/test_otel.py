"""OpenTelemetry GenAI spans in OTLP JSON.

Attribute names follow the GenAI semantic conventions: gen_ai.operation.name,
gen_ai.request/response.model, gen_ai.usage.input/output_tokens,
gen_ai.response.finish_reasons, the JSON attributes gen_ai.input.messages /
gen_ai.output.messages / gen_ai.system_instructions / gen_ai.tool.definitions (parts: text,
tool_call, tool_call_response), and the older indexed gen_ai.prompt.N.* / gen_ai.completion.N.*
attributes (OpenLLMetry). OTLP JSON encodes int64 values as strings.
"""

from __future__ import annotations

import orjson

from slmconvert.collect.formats import detect, otel


def attr(key, value):
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    if isinstance(value, float):
        return {"key": key, "value": {"doubleValue": value}}
    if isinstance(value, list):
        return {"key": key, "value": {"arrayValue": {"values": [{"stringValue": v} for v in value]}}}
    return {"key": key, "value": {"stringValue": value}}


def span(span_id, attributes, events=(), status=None):
    return {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": span_id, "name": "chat gpt-4o", "kind": 3,
            "startTimeUnixNano": "1730000000000000000", "endTimeUnixNano": "1730000001250000000",
            "attributes": attributes, "events": list(events), "status": status or {}}


def payload(*spans):
    return {"resourceSpans": [{"resource": {"attributes": [attr("service.name", "support-agent")]},
                               "scopeSpans": [{"scope": {"name": "opentelemetry.instrumentation.openai"}, "spans": list(spans)}]}]}


INPUT_MESSAGES = [
    {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]},
    {"role": "assistant", "parts": [{"type": "tool_call", "id": "call_1", "name": "get_weather", "arguments": {"location": "Paris"}}]},
    {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_1", "response": "rainy, 57F"}]},
]
OUTPUT_MESSAGES = [{"role": "assistant", "parts": [{"type": "text", "content": "It is rainy, 57F."}], "finish_reason": "stop"}]
TOOL_DEFS = [{"type": "function", "name": "get_weather", "description": "Weather now",
              "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}}]

NEW_STYLE = span("00f067aa0ba902b7", [
    attr("gen_ai.operation.name", "chat"), attr("gen_ai.provider.name", "openai"),
    attr("gen_ai.request.model", "gpt-4o"), attr("gen_ai.response.model", "gpt-4o-2024-08-06"),
    attr("gen_ai.request.temperature", 0.5), attr("gen_ai.usage.input_tokens", 97),
    attr("gen_ai.usage.output_tokens", 52), attr("gen_ai.response.finish_reasons", ["stop"]),
    attr("gen_ai.system_instructions", orjson.dumps([{"type": "text", "content": "You are a weather bot."}]).decode()),
    attr("gen_ai.input.messages", orjson.dumps(INPUT_MESSAGES).decode()),
    attr("gen_ai.output.messages", orjson.dumps(OUTPUT_MESSAGES).decode()),
    attr("gen_ai.tool.definitions", orjson.dumps(TOOL_DEFS).decode()),
])
OLD_STYLE = span("11f067aa0ba902b7", [
    attr("gen_ai.system", "openai"), attr("llm.request.type", "chat"), attr("gen_ai.request.model", "gpt-4o-mini"),
    attr("gen_ai.usage.prompt_tokens", 30), attr("gen_ai.usage.completion_tokens", 12),
    attr("gen_ai.prompt.0.role", "system"), attr("gen_ai.prompt.0.content", "Route the ticket."),
    attr("gen_ai.prompt.1.role", "user"), attr("gen_ai.prompt.1.content", "My parcel never arrived"),
    attr("gen_ai.completion.0.role", "assistant"), attr("gen_ai.completion.0.finish_reason", "tool_calls"),
    attr("gen_ai.completion.0.tool_calls.0.id", "call_x"), attr("gen_ai.completion.0.tool_calls.0.name", "open_ticket"),
    attr("gen_ai.completion.0.tool_calls.0.arguments", "{\"category\": \"delivery\"}"),
    attr("llm.request.functions.0.name", "open_ticket"),
    attr("llm.request.functions.0.parameters", "{\"type\": \"object\", \"properties\": {\"category\": {\"type\": \"string\"}}}"),
])
HTTP_SPAN = span("22f067aa0ba902b7", [attr("http.request.method", "POST")])
TOOL_SPAN = span("33f067aa0ba902b7", [attr("gen_ai.operation.name", "execute_tool"), attr("gen_ai.tool.name", "get_weather")])


def test_one_payload_many_spans_both_conventions():
    record = payload(HTTP_SPAN, NEW_STYLE, TOOL_SPAN, OLD_STYLE)
    assert detect(record) == "otel_genai"
    new, old = otel.normalise(record)
    assert [m["role"] for m in new["messages"]] == ["system", "user", "assistant", "tool"]
    assert new["messages"][2]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": {"location": "Paris"}}
    assert new["messages"][3]["tool_call_id"] == "call_1" and new["messages"][3]["content"] == "rainy, 57F"
    assert new["output"] == {"role": "assistant", "content": "It is rainy, 57F.", "tool_calls": None}
    assert new["model"] == "gpt-4o-2024-08-06" and new["finish_reason"] == "stop"
    assert new["usage"] == {"prompt_tokens": 97, "completion_tokens": 52}
    assert new["latency_ms"] == 1250.0 and new["timestamp"] == "2024-10-27T03:33:20Z"
    assert new["tools"][0]["function"]["name"] == "get_weather"
    assert new["metadata"]["service_name"] == "support-agent" and new["metadata"]["temperature"] == 0.5

    assert [(m["role"], m["content"]) for m in old["messages"]] == [
        ("system", "Route the ticket."), ("user", "My parcel never arrived")]
    assert old["output"]["tool_calls"][0]["function"] == {"name": "open_ticket", "arguments": {"category": "delivery"}}
    assert old["finish_reason"] == "tool_calls" and old["usage"] == {"prompt_tokens": 30, "completion_tokens": 12}
    assert old["tools"][0]["function"]["parameters"]["properties"] == {"category": {"type": "string"}}


def test_content_on_inference_details_event_and_tool_call_finish():
    output = [{"role": "assistant", "parts": [{"type": "tool_call", "id": "c2", "name": "get_weather",
                                                "arguments": "{\"location\": \"Oslo\"}"}], "finish_reason": "tool_call"}]
    event = {"name": "gen_ai.client.inference.operation.details", "timeUnixNano": "1730000001000000000", "attributes": [
        attr("gen_ai.input.messages", orjson.dumps([{"role": "user", "parts": [{"type": "text", "content": "Oslo?"}]}]).decode()),
        attr("gen_ai.output.messages", orjson.dumps(output).decode())]}
    s = span("44", [attr("gen_ai.operation.name", "chat"), attr("gen_ai.request.model", "gpt-4.1")], events=[event])
    (call,) = otel.normalise(payload(s))
    assert call["output"]["tool_calls"][0]["function"]["arguments"] == {"location": "Oslo"}
    assert call["finish_reason"] == "tool_calls"


def test_failed_span_is_error_call_and_span_problems_are_per_span():
    failed = span("55", [attr("gen_ai.operation.name", "chat"), attr("gen_ai.request.model", "gpt-4o"),
                         attr("error.type", "timeout"),
                         attr("gen_ai.input.messages", orjson.dumps([{"role": "user", "parts": [{"type": "text", "content": "hi"}]}]).decode())],
                  status={"code": 2, "message": "Request timed out"})
    incomplete = span("66", [attr("gen_ai.operation.name", "chat"), attr("gen_ai.request.model", "gpt-4o")])
    error_call, rejected = otel.normalise(payload(failed, incomplete))
    assert error_call["finish_reason"] == "error" and "timed out" in error_call["metadata"]["error"]
    assert rejected.reason == "missing field" and "span 66" in rejected.detail


def test_payload_without_llm_spans_rejects(run_collect):
    out = run_collect({"traces.jsonl": [payload(HTTP_SPAN, TOOL_SPAN), payload(NEW_STYLE)]})
    assert out.summary["calls"] == 1
    (reject,) = out.rejects
    assert reject["reason"] == "no LLM spans" and reject["line"] == 1 and reject["format_guess"] == "otel_genai"
