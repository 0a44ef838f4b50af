"""Render a Call as an Anthropic Messages API request/response pair."""

from __future__ import annotations

import random
import string

from .model import Call

B62 = string.ascii_letters + string.digits
PREFACES = (
    "Let me look that up for you.",
    "I'll check that now.",
    "Let me pull that up.",
    "One moment while I check.",
    "Sure, checking now.",
)


def _rand(rng: random.Random, n: int) -> str:
    return "".join(B62[rng.randrange(62)] for _ in range(n))


def tool_use_id(neutral: str) -> str:
    return "toolu_01" + neutral[:22]


def tools(call: Call) -> list[dict]:
    out = [
        {
            "name": t["function"]["name"],
            "description": t["function"]["description"],
            "input_schema": t["function"]["parameters"],
        }
        for t in call.tools
    ]
    if out:
        out[-1] = {**out[-1], "cache_control": {"type": "ephemeral"}}
    return out


def _blocks(m: dict, plain_user: bool) -> list[dict] | str:
    if m["role"] == "tool":
        return [
            {
                "type": "tool_result",
                "tool_use_id": tool_use_id(m["tool_call_id"]),
                "content": m["content"],
            }
        ]
    if m["role"] == "user":
        return m["content"] if plain_user else [{"type": "text", "text": m["content"]}]
    blocks: list[dict] = [{"type": "text", "text": m["content"]}] if m.get("content") else []
    blocks += [
        {
            "type": "tool_use",
            "id": tool_use_id(tc["id"]),
            "name": tc["name"],
            "input": tc["arguments"],
        }
        for tc in m.get("tool_calls") or []
    ]
    return blocks


def messages(call: Call, plain_user: bool) -> list[dict]:
    """Anthropic roles alternate: tool results become user turns and consecutive same-role turns merge."""
    out: list[dict] = []
    for m in call.messages:
        role = "assistant" if m["role"] == "assistant" else "user"
        content = _blocks(m, plain_user and m["role"] == "user")
        if out and out[-1]["role"] == role:
            prev = out[-1]["content"]
            prev = [{"type": "text", "text": prev}] if isinstance(prev, str) else prev
            out[-1]["content"] = prev + (
                [{"type": "text", "text": content}] if isinstance(content, str) else content
            )
        else:
            out.append({"role": role, "content": content})
    return out


def request(call: Call, rng: random.Random, plain_user: bool) -> dict:
    req: dict = {"model": call.model, "max_tokens": call.max_tokens}
    if call.tools:
        req["system"] = [
            {"type": "text", "text": call.system, "cache_control": {"type": "ephemeral"}}
        ]
    else:
        req["system"] = call.system
    req["messages"] = messages(call, plain_user)
    if call.tools:
        req["tools"] = tools(call)
        req["tool_choice"] = {"type": "auto"}
    req["temperature"] = call.temperature
    req["metadata"] = {"user_id": "u_" + _rand(rng, 20)}
    return req


def response(call: Call, rng: random.Random) -> dict:
    content: list[dict] = (
        [{"type": "text", "text": call.output["content"]}] if call.output.get("content") else []
    )
    content += [
        {
            "type": "tool_use",
            "id": tool_use_id(tc["id"]),
            "name": tc["name"],
            "input": tc["arguments"],
        }
        for tc in call.output.get("tool_calls") or []
    ]
    stop = {"tool_calls": "tool_use", "length": "max_tokens"}.get(call.finish_reason, "end_turn")
    cached = (
        call.prefix_tokens if call.tools else 0
    )  # only the tool-bearing requests set cache_control
    read, created = (cached, 0) if call.cache_hit else (0, cached)
    usage = {
        "input_tokens": call.prompt_tokens - read - created,
        "cache_creation_input_tokens": created,
        "cache_read_input_tokens": read,
        "output_tokens": call.completion_tokens,
        "service_tier": "standard",
    }
    return {
        "id": "msg_01" + _rand(rng, 22),
        "type": "message",
        "role": "assistant",
        "model": call.model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": usage,
    }


def error_response(call: Call, rng: random.Random) -> dict:
    return {
        "type": "error",
        "error": {"type": call.error["type"], "message": call.error["message"]},
        "request_id": "req_011C" + _rand(rng, 20),
    }
