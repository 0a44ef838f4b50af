"""Seeded synthetic call records (collect's schema) of a support agent, with PII and secrets
placed in every field kind; for tests and the throughput benchmark when no sample logs exist."""

from __future__ import annotations

import hashlib
import json
import random
from typing import Any

from slmconvert.curate.labelled import _Values

SYSTEM_PROMPT = (
    "You are the customer support and operations assistant of ShopRight, an online retailer. "
    "Resolve the customer's request accurately and politely using the tools provided. Never invent "
    "order data, tracking events, prices or policies; look them up. Refunds above $500 need a human. "
    "Keep answers under 120 words, confirm any change you make, and never reveal internal notes. "
) * 3
TOOLS = [
    {"type": "function", "function": {
        "name": "lookup_order", "description": "Find an order by id and the customer's e-mail.",
        "parameters": {"type": "object", "properties": {
            "order_id": {"type": "string", "pattern": "^SR-[0-9]{7}$"},
            "email": {"type": "string", "format": "email"}}, "required": ["order_id", "email"],
            "additionalProperties": False}}},
    {"type": "function", "function": {
        "name": "update_address", "description": "Change an order's delivery address.",
        "parameters": {"type": "object", "properties": {
            "order_id": {"type": "string"}, "customer_name": {"type": "string"},
            "street": {"type": "string"}, "city": {"type": "string"},
            "phone": {"type": "string", "pattern": "^[0-9()+. -]{7,20}$"}},
            "required": ["order_id", "street"], "additionalProperties": False}}},
]


def _call(rng: random.Random, messages: list[dict], output: dict, finish: str, meta: dict) -> dict[str, Any]:
    body = json.dumps([messages, output], sort_keys=True)
    return {
        "call_id": "sha256:" + hashlib.sha256(body.encode()).hexdigest(),
        "source": {"file": "synthetic.jsonl", "line": rng.randrange(1, 10**6), "format": "openai_chat"},
        "timestamp": "2026-11-02T10:11:12Z", "workload_id": "support", "client_id": "web",
        "model": "gpt-4.1", "messages": messages, "tools": TOOLS, "tool_choice": "auto",
        "response_format": None, "output": output, "finish_reason": finish,
        "usage": {"prompt_tokens": len(body) // 4, "completion_tokens": 40},
        "latency_ms": 850.0, "cost_usd": 0.001, "metadata": meta,
    }


def conversation(rng: random.Random) -> list[dict[str, Any]]:
    """Three calls of one support conversation; later calls repeat the earlier turns."""
    v = _Values(rng)
    name, email, phone, street = v.person(), v.email(), v.phone(), v.street()
    order = f"SR-{v.digits(7)}"
    system = {"role": "system", "content": SYSTEM_PROMPT}
    user = {"role": "user", "content": f"Hi, I'm {name}. Order {order} should go to {street}, Austin "
                                       f"instead. Reach me at {phone} or {email}."}
    lookup = {"id": f"call_{v.digits(8)}", "type": "function",
              "function": {"name": "lookup_order", "arguments": {"order_id": order, "email": email}}}
    first = _call(rng, [system, user], {"role": "assistant", "content": None, "tool_calls": [lookup]},
                  "tool_calls", {"session": v.digits(6)})
    result = {"order_id": order, "status": "processing", "customer": {"name": name, "email": email,
              "phone": phone}, "ship_to": {"street": v.street(), "city": "Denver"}, "total": 84.5}
    history = [system, user, {"role": "assistant", "content": None, "tool_calls": [lookup]},
               {"role": "tool", "tool_call_id": lookup["id"], "name": "lookup_order", "content": json.dumps(result)}]
    update = {"id": f"call_{v.digits(8)}", "type": "function", "function": {
        "name": "update_address", "arguments": {"order_id": order, "customer_name": name, "street": street,
                                                "city": "Austin", "phone": phone}}}
    second = _call(rng, history, {"role": "assistant", "content": None, "tool_calls": [update]}, "tool_calls",
                   {"session": v.digits(6), "user_email": email})
    done = history + [{"role": "assistant", "content": None, "tool_calls": [update]},
                      {"role": "tool", "tool_call_id": update["id"], "name": "update_address",
                       "content": json.dumps({"ok": True, "order_id": order})}]
    first_name = name.split()[0]
    third = _call(rng, done, {"role": "assistant", "content": f"Done, {first_name}! {order} will ship to {street}. "
                                                             f"We'll text {phone} when it leaves."},
                  "stop", {"session": v.digits(6)})
    return [first, second, third]


def synthetic_calls(n_conversations: int, seed: int = 0) -> list[dict[str, Any]]:
    """Calls of n conversations (3 calls each)."""
    rng = random.Random(seed)
    return [call for _ in range(n_conversations) for call in conversation(rng)]
