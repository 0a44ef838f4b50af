"""Render a Call in OpenAI shapes: chat-completions request/response (flywheel log line), streamed chunks,
Batch API input/output lines and the fine-tuning chat format."""

from __future__ import annotations

import random
import string

from .model import Call, compact

ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
VLLM_PREFIX = "meta-llama/"


def _rand(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(alphabet[rng.randrange(len(alphabet))] for _ in range(n))


def tool_call_id(neutral: str) -> str:
    return "call_" + neutral


def _tool_calls(tcs: list[dict]) -> list[dict]:
    return [
        {
            "id": tool_call_id(tc["id"]),
            "type": "function",
            "function": {
                "name": tc["name"],
                "arguments": tc.get("raw_arguments") or compact(tc["arguments"]),
            },
        }
        for tc in tcs
    ]


def _message(m: dict) -> dict:
    if m["role"] == "tool":
        return {
            "role": "tool",
            "tool_call_id": tool_call_id(m["tool_call_id"]),
            "content": m["content"],
        }
    if m["role"] == "assistant":
        out: dict = {"role": "assistant", "content": m.get("content")}
        if m.get("tool_calls"):
            out["tool_calls"] = _tool_calls(m["tool_calls"])
        return out
    return {"role": m["role"], "content": m["content"]}


def messages(call: Call) -> list[dict]:
    return [{"role": "system", "content": call.system}] + [_message(m) for m in call.messages]


def request(call: Call, rng: random.Random) -> dict:
    """The chat-completions request body as the client sent it."""
    req: dict = {"model": call.model, "messages": messages(call)}
    if call.tools:
        req["tools"] = call.tools
        req["tool_choice"] = "auto"
        req["parallel_tool_calls"] = True
    if call.response_format:
        req["response_format"] = call.response_format
    req["temperature"] = call.temperature
    req["max_completion_tokens" if call.model.startswith("gpt-4.1") else "max_tokens"] = (
        call.max_tokens
    )
    if call.stream:
        req["stream"] = True
        req["stream_options"] = {"include_usage": True}
    if call.task == "order_support":
        req["user"] = "cust_" + _rand(rng, HEX, 16)
    return req


def response_model(call: Call) -> str:
    return {
        "gpt-4o": "gpt-4o-2024-08-06",
        "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
        "gpt-4.1": "gpt-4.1-2025-04-14",
        "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
    }.get(call.model, call.model)


def _assistant(call: Call) -> dict:
    msg: dict = {"role": "assistant", "content": call.output.get("content")}
    if call.output.get("tool_calls"):
        msg["tool_calls"] = _tool_calls(call.output["tool_calls"])
    return msg


def _usage(call: Call, vllm: bool) -> dict:
    usage: dict = {
        "prompt_tokens": call.prompt_tokens,
        "completion_tokens": call.completion_tokens,
        "total_tokens": call.prompt_tokens + call.completion_tokens,
    }
    if vllm:
        usage["prompt_tokens_details"] = None
        return usage
    cached = (
        (call.prefix_tokens // 128) * 128 if call.cache_hit and call.prompt_tokens >= 1024 else 0
    )
    usage["prompt_tokens_details"] = {"cached_tokens": cached, "audio_tokens": 0}
    usage["completion_tokens_details"] = {
        "reasoning_tokens": 0,
        "audio_tokens": 0,
        "accepted_prediction_tokens": 0,
        "rejected_prediction_tokens": 0,
    }
    return usage


def response(call: Call, rng: random.Random) -> dict:
    """A non-streamed chat.completion object (vLLM's variant for self-hosted models)."""
    vllm = call.model.startswith(VLLM_PREFIX)
    created = int(call.ts + call.latency_ms / 1000)
    msg = _assistant(call)
    if vllm:
        msg.setdefault("tool_calls", [])
        choice = {
            "index": 0,
            "message": msg,
            "logprobs": None,
            "finish_reason": call.finish_reason,
            "stop_reason": None,
        }
        return {
            "id": "chatcmpl-" + _rand(rng, HEX, 32),
            "object": "chat.completion",
            "created": created,
            "model": call.model,
            "choices": [choice],
            "usage": _usage(call, True),
            "prompt_logprobs": None,
        }
    msg["refusal"] = None
    msg["annotations"] = []
    choice = {"index": 0, "message": msg, "logprobs": None, "finish_reason": call.finish_reason}
    return {
        "id": "chatcmpl-" + _rand(rng, ALNUM, 29),
        "object": "chat.completion",
        "created": created,
        "model": response_model(call),
        "choices": [choice],
        "usage": _usage(call, False),
        "service_tier": "default",
        "system_fingerprint": "fp_" + _rand(rng, HEX, 10),
    }


def _pieces(rng: random.Random, text: str) -> list[str]:
    out, i = [], 0
    while i < len(text):
        n = rng.randint(2, 14)
        out.append(text[i : i + n])
        i += n
    return out


def chunks(call: Call, rng: random.Random) -> list[dict]:
    """The same completion as a list of chat.completion.chunk objects (stream_options.include_usage)."""
    base = {
        "id": "chatcmpl-" + _rand(rng, ALNUM, 29),
        "object": "chat.completion.chunk",
        "created": int(call.ts),
        "model": response_model(call),
        "service_tier": "default",
        "system_fingerprint": "fp_" + _rand(rng, HEX, 10),
    }

    def chunk(delta: dict, finish: str | None = None) -> dict:
        return {
            **base,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            "usage": None,
        }

    out = []
    tcs = call.output.get("tool_calls")
    if tcs:
        out.append(chunk({"role": "assistant", "content": None, "refusal": None}))
        for i, tc in enumerate(_tool_calls(tcs)):
            out.append(
                chunk(
                    {
                        "tool_calls": [
                            {
                                "index": i,
                                "id": tc["id"],
                                "type": "function",
                                "function": {"name": tc["function"]["name"], "arguments": ""},
                            }
                        ]
                    }
                )
            )
            for piece in _pieces(rng, tc["function"]["arguments"]):
                out.append(chunk({"tool_calls": [{"index": i, "function": {"arguments": piece}}]}))
    else:
        out.append(chunk({"role": "assistant", "content": "", "refusal": None}))
        out += [
            chunk({"content": piece}) for piece in _pieces(rng, call.output.get("content") or "")
        ]
    out.append(chunk({}, call.finish_reason))
    out.append({**base, "choices": [], "usage": _usage(call, False)})
    return out


def batch_input(call: Call, rng: random.Random, custom_id: str) -> dict:
    return {
        "custom_id": custom_id,
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": request(call, rng),
    }


def batch_output(call: Call, rng: random.Random, custom_id: str) -> dict:
    line: dict = {"id": "batch_req_" + _rand(rng, ALNUM, 32), "custom_id": custom_id}
    if call.error and call.error.get("batch_code"):
        line.update(
            response=None,
            error={"code": call.error["batch_code"], "message": call.error["message"]},
        )
        return line
    if call.error:
        line.update(
            response={
                "status_code": call.error["status"],
                "request_id": _rand(rng, HEX, 32),
                "body": error_body(call),
            },
            error=None,
        )
        return line
    line.update(
        response={
            "status_code": 200,
            "request_id": _rand(rng, HEX, 32),
            "body": response(call, rng),
        },
        error=None,
    )
    return line


def finetune(call: Call, rng: random.Random) -> dict:
    """OpenAI fine-tuning chat format: the conversation with the output as the last assistant turn."""
    msgs = messages(call)
    if any(m["role"] == "assistant" for m in msgs) and rng.random() < 0.3:
        for m in msgs:
            if m["role"] == "assistant":
                m["weight"] = 0
    last = _assistant(call)
    if last.get("tool_calls"):
        last.pop("content")
    msgs.append(last)
    line: dict = {"messages": msgs}
    if call.tools:
        line["tools"] = call.tools
        line["parallel_tool_calls"] = True
    return line


def error_body(call: Call) -> dict:
    return {"error": {k: call.error[k] for k in ("message", "type", "param", "code")}}
