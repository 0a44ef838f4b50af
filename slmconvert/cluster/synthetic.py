"""Seeded synthetic call records with known tasks, for the cluster tests and the scale benchmark.

Eight tasks of an e-commerce agent: two tool-calling intents and a tool-result answer sharing one
system prompt and toolset, JSON extraction with a response schema, intent classification,
ticket summaries, text-to-SQL and open-ended planning. Slots (ids, amounts, dates, names) vary
per call; `vocabulary` scales how many distinct phrasings (hence signatures) exist.
"""

from __future__ import annotations

import hashlib
import json
import random

SUPPORT_SYSTEM = ("You are ShopBot, the customer support agent of Acme Outfitters. Use the tools to look up "
                  "orders, track shipments, issue refunds and cancel orders. Today is {date}. Policy v{num}.")
SUPPORT_TOOLS = ["lookup_order", "track_shipment", "issue_refund", "cancel_order", "update_address"]
PRODUCTS = ["hiking boots", "rain jacket", "tent", "sleeping bag", "backpack", "water bottle", "headlamp",
            "trail shoes", "fleece", "gloves", "camping stove", "trekking poles"]
NAMES = ["Alice Martin", "Bob Chen", "Carla Diaz", "Deepak Rao", "Emma Stone", "Farid Haddad", "Grace Kim",
         "Hugo Weber", "Ines Costa", "Jonas Berg"]
TOPICS = ["expanding into the Nordic market", "a loyalty programme for hikers", "reducing return rates",
          "a winter sale campaign", "partnering with national parks", "a repair-and-reuse service",
          "switching carriers for Europe", "launching a kids' line", "sustainable packaging",
          "a subscription box", "pop-up stores in ski resorts", "an ambassador programme"]

NOISE_WORDS = ("poem haiku recipe soup garden quantum physics football match lyrics guitar chess opening "
               "astronomy telescope novel chapter villain painting watercolor yoga stretch budget travel "
               "itinerary kyoto volcano geology sourdough bread cocktail mojito dragon fantasy riddle "
               "crossword trivia history empire rome pharaoh pyramid jazz saxophone bicycle repair marathon "
               "training diet vegan cheese wine pairing origami crane knitting scarf puppy training aquarium "
               "coral reef bird migration calculus integral proof prime number sonnet limerick wedding toast "
               "eulogy resume cover letter interview tax return mortgage lullaby bedtime story").split()
TASKS = ("order_status", "refund", "tool_answer", "extract_invoice", "classify_intent",
         "summarize_ticket", "text_to_sql", "plan")


AGENT_TASKS = ("order_status", "refund", "tool_answer")


def agent_task(record: dict) -> str:
    """The true task at agent-step granularity: order-status and refund requests are the support
    agent replying to a user (same prompt, tools and step), tool-result answers its next step."""
    task = record["metadata"]["task"]
    if task not in AGENT_TASKS:
        return task
    return "support_agent/continue" if task == "tool_answer" else "support_agent/reply"


def _tool(name: str) -> dict:
    return {"type": "function", "function": {
        "name": name, "description": f"{name.replace('_', ' ')} for a customer order",
        "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}}}


def _call(name: str, args: dict, n: int) -> dict:
    return {"id": f"call_{n}", "type": "function", "function": {"name": name, "arguments": args}}


class _Writer:
    """Variation helpers bound to one RNG and a vocabulary size."""

    def __init__(self, rng: random.Random, vocabulary: int) -> None:
        self.rng, self.vocabulary = rng, vocabulary

    def pick(self, items: list[str]) -> str:
        return items[self.rng.randrange(min(len(items), max(1, self.vocabulary)))]

    def order(self) -> str:
        return f"ORD-{self.rng.randint(10000, 99999)}"

    def date(self) -> str:
        return f"2026-{self.rng.randint(1, 12):02d}-{self.rng.randint(1, 28):02d}"

    def phrase(self, templates: list[str]) -> str:
        """A template, optionally with one of `vocabulary` filler openings (more distinct texts)."""
        openings = ["", "Hi,", "Hello there,", "Good morning,", "Hey,", "Quick question:", "Urgent:",
                    "Please help:", "Dear support,", "Hi team,"]
        extra = self.rng.randrange(self.vocabulary) if self.vocabulary > 10 else 0
        lead = self.pick(openings) + (f" (ticket {extra})" if extra else "")
        return (lead + " " + self.rng.choice(templates)).strip()


def _task_record(task: str, w: _Writer, n: int) -> tuple[list[dict], list[dict], dict | None, dict]:
    """(messages, tools, response_format, output) of one call of a task."""
    rng = w.rng
    support = {"role": "system", "content": SUPPORT_SYSTEM.format(date=w.date(), num=rng.randint(1, 9))}
    tools = [_tool(t) for t in SUPPORT_TOOLS]
    order, product = w.order(), w.pick(PRODUCTS)
    if task == "order_status":
        user = w.phrase([f"Where is my order {order}? It should have arrived on {w.date()}.",
                         f"My {product} (order {order}) still has not shown up, can you check?",
                         f"Can you tell me the delivery status of {order}?"])
        return [support, {"role": "user", "content": user}], tools, None, {
            "role": "assistant", "content": None, "tool_calls": [_call("lookup_order", {"order_id": order}, n)]}
    if task == "refund":
        user = w.phrase([f"I want a refund for order {order}, the {product} arrived broken.",
                         f"Please refund {order}. The {product} is damaged.",
                         f"The {product} I got in {order} is defective, I want my money back."])
        return [support, {"role": "user", "content": user}], tools, None, {
            "role": "assistant", "content": None,
            "tool_calls": [_call("issue_refund", {"order_id": order, "reason": "damaged"}, n)]}
    if task == "tool_answer":
        call = _call("track_shipment", {"order_id": order}, n)
        result = json.dumps({"order_id": order, "status": rng.choice(["in_transit", "delivered", "delayed"]),
                             "eta": w.date(), "carrier": rng.choice(["DHL", "UPS", "PostNord"])})
        messages = [support, {"role": "user", "content": f"Track my {product}, order {order}"},
                    {"role": "assistant", "content": None, "tool_calls": [call]},
                    {"role": "tool", "tool_call_id": call["id"], "name": "track_shipment", "content": result}]
        return messages, tools, None, {"role": "assistant", "content": f"Your order {order} is on its way "
                                       f"and should arrive by {w.date()}.", "tool_calls": None}
    if task == "extract_invoice":
        schema = {"type": "json_schema", "json_schema": {"name": "invoice", "schema": {
            "type": "object", "properties": {"vendor": {"type": "string"}, "total": {"type": "number"},
                                             "date": {"type": "string"}, "currency": {"type": "string"}}}}}
        total = round(rng.uniform(10, 900), 2)
        vendor = w.pick(["Northwind Traders", "Globex Supply", "Initech Logistics", "Umbrella Textiles"])
        user = w.phrase([f"Invoice no. {rng.randint(1000, 9999)} from {vendor}, dated {w.date()}. Total due: "
                         f"EUR {total}. Payment within 30 days.",
                         f"{vendor} billed us EUR {total} on {w.date()} (invoice {rng.randint(1000, 9999)})."])
        messages = [{"role": "system", "content": "Extract the invoice fields from the document as JSON."},
                    {"role": "user", "content": user}]
        out = json.dumps({"vendor": vendor, "total": total, "date": w.date(), "currency": "EUR"})
        return messages, [], schema, {"role": "assistant", "content": out, "tool_calls": None}
    if task == "classify_intent":
        label, text = rng.choice([("shipping", f"my {product} has not arrived yet"),
                                  ("billing", f"I was charged twice for the {product}"),
                                  ("returns", f"how do I send back the {product}?"),
                                  ("account", "I cannot log into my account")])
        messages = [{"role": "system", "content": "Classify the customer message into one of: billing, "
                     "shipping, returns, account, other. Answer with the label only."},
                    {"role": "user", "content": w.phrase([text])}]
        return messages, [], None, {"role": "assistant", "content": label, "tool_calls": None}
    if task == "summarize_ticket":
        name = w.pick(NAMES)
        ticket = (f"Customer {name} wrote on {w.date()} about order {order}: the {product} arrived late and "
                  f"the box was damaged. They called twice and were promised a callback that never came. "
                  f"They ask for a partial refund of {rng.randint(5, 40)} percent.")
        messages = [{"role": "system", "content": "Summarize the support ticket in two sentences for the "
                     "escalation queue."}, {"role": "user", "content": ticket}]
        return messages, [], None, {"role": "assistant", "content": f"{name} received a late, damaged "
                                    f"{product}. They want a partial refund and a callback.", "tool_calls": None}
    if task == "text_to_sql":
        name = w.pick(NAMES)
        user = w.phrase([f"How many orders did {name} place in {w.date()[:7]}?",
                         f"Total revenue from {product} sales since {w.date()}?"])
        messages = [{"role": "system", "content": "Translate the question into one SQLite query over the tables "
                     "orders(id, customer, product, amount, created_at) and customers(id, name). Reply with SQL only."},
                    {"role": "user", "content": user}]
        return messages, [], None, {"role": "assistant", "content": "SELECT COUNT(*) FROM orders o JOIN customers "
                                    "c ON o.customer = c.id WHERE c.name = ?;", "tool_calls": None}
    topic = w.pick(TOPICS)
    words = [rng.choice(["market", "growth", "customers", "risk", "budget", "timeline", "team", "channel",
                         "pricing", "brand", "logistics", "season"]) for _ in range(rng.randint(120, 420))]
    messages = [{"role": "system", "content": "You are a senior strategy advisor for an outdoor retailer. Think "
                 "broadly and write a thorough plan."},
                {"role": "user", "content": f"Draft a plan for {topic}. Consider {rng.choice(PRODUCTS)} and "
                 f"{rng.choice(NAMES)}'s team."}]
    return messages, [], None, {"role": "assistant", "content": " ".join(words).capitalize() + ".", "tool_calls": None}


PERSONAS = ("a poetry coach", "a travel agent", "a chess tutor", "a fitness trainer", "a sommelier",
            "a tax adviser", "a gardening expert", "a music teacher", "a history professor", "a chef")


def _noise_record(rng: random.Random) -> tuple[list[dict], list[dict], dict | None, dict]:
    """A one-off request on an unrelated subject, in a random shape: belongs to no task."""
    def words(k: int) -> str:
        return " ".join(rng.choice(NOISE_WORDS) for _ in range(k))

    messages = [{"role": "user", "content": f"{words(rng.randint(3, 12))}?"}]
    if rng.random() < 0.7:
        messages.insert(0, {"role": "system", "content": f"You are {rng.choice(PERSONAS)}. {words(rng.randint(3, 20))}."})
    tools = [_tool(f"{rng.choice(NOISE_WORDS)}_{rng.choice(NOISE_WORDS)}") for _ in range(rng.choice((0, 0, 1, 3)))]
    fmt = {"type": "json_object"} if rng.random() < 0.2 else None
    return messages, tools, fmt, {"role": "assistant", "content": words(rng.randint(20, 80)), "tool_calls": None}


def synthetic_calls(n: int, seed: int = 0, vocabulary: int = 10, tasks: tuple[str, ...] = TASKS,
                    weights: tuple[float, ...] | None = None, noise: float = 0.0) -> list[dict]:
    """n call records in the collect/curate shape; `metadata.task` holds the true task (tests only),
    "noise" for the share `noise` of one-off calls that belong to no task."""
    rng = random.Random(seed)
    writer = _Writer(rng, vocabulary)
    records = []
    for i in range(n):
        task = rng.choices(tasks, weights=weights)[0] if weights else tasks[i % len(tasks)]
        if noise and rng.random() < noise:
            task = "noise"
            messages, tools, fmt, output = _noise_record(rng)
        else:
            messages, tools, fmt, output = _task_record(task, writer, i)
        completion = max(1, len(str(output.get("content") or output.get("tool_calls"))) // 4)
        prompt = sum(len(str(m.get("content") or "")) for m in messages) // 4 + 40 * len(tools)
        body = json.dumps([messages, tools, fmt, output, i, seed], sort_keys=True)
        records.append({
            "call_id": "sha256:" + hashlib.sha256(body.encode()).hexdigest(),
            "source": {"file": "synthetic.jsonl", "line": i + 1, "format": "synthetic"},
            "timestamp": None, "workload_id": None, "client_id": None, "model": "gpt-4o",
            "messages": messages, "tools": tools, "tool_choice": None, "response_format": fmt,
            "output": output, "finish_reason": "tool_calls" if output.get("tool_calls") else "stop",
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion}, "latency_ms": 900.0,
            "cost_usd": round(prompt * 2.5e-6 + completion * 1e-5, 8), "metadata": {"task": task},
        })
    return records
