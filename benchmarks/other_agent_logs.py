"""Seeded call logs of an agent shaped unlike the sample logs' ShopRight agent, to check run-all's
defaults on it: a personal assistant over four API domains in one conversation (calendar, mail,
travel, expenses, plus contacts and weather), tool chains of two to five steps, parallel calls, and
terse final answers. One OpenAI request/response log line per LLM call, as the agent would log it.

    python benchmarks/other_agent_logs.py --out /tmp/other --conversations 150 --seed 3
    slmconvert run-all /tmp/other --workdir /tmp/other-work

Only the product's own seeded generators make test data (see the brief); nothing here is tuned on.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

MODEL = "gpt-4o"

CITIES = ["Lisbon", "Oslo", "Denver", "Osaka", "Nairobi", "Porto", "Austin", "Vienna", "Seoul", "Lima"]
CODES = {"Lisbon": "LIS", "Oslo": "OSL", "Denver": "DEN", "Osaka": "KIX", "Nairobi": "NBO", "Porto": "OPO",
         "Austin": "AUS", "Vienna": "VIE", "Seoul": "ICN", "Lima": "LIM"}
CONTACTS = ["Priya Raman", "Tomas Berg", "Ines Duarte", "Kwame Mensah", "Yuki Sato", "Lena Vogel", "Omar Haddad"]
CATEGORIES = ["meals", "lodging", "transport", "software", "training"]
MONTHS = ["2026-08", "2026-09", "2026-10", "2026-11"]
TOPICS = ["conference hotel", "team dinner", "taxi to airport", "annual license", "workshop fee"]


def _tool(tool: str, description: str, **properties: str) -> dict[str, Any]:
    types = {"int": {"type": "integer"}, "str": {"type": "string"}, "num": {"type": "number"},
             "list": {"type": "array", "items": {"type": "string"}}}
    return {"type": "function", "function": {
        "name": tool, "description": description,
        "parameters": {"type": "object", "properties": {k: dict(types[v]) for k, v in properties.items()},
                       "required": list(properties)}}}


TOOLS = [
    _tool("list_events", "List calendar events on a date (YYYY-MM-DD).", date="str"),
    _tool("find_free_slot", "First free slot of a length on a date.", date="str", duration_min="int"),
    _tool("create_event", "Create a calendar event.", title="str", date="str", time="str", duration_min="int",
          attendees="list"),
    _tool("cancel_event", "Cancel a calendar event.", event_id="str"),
    _tool("search_mail", "Search the mailbox.", query="str"),
    _tool("read_mail", "Read one message.", message_id="str"),
    _tool("send_mail", "Send an email.", to="str", subject="str", body="str"),
    _tool("search_flights", "Search flights (IATA codes).", origin="str", destination="str", date="str"),
    _tool("book_flight", "Book a flight for the user.", flight_id="str"),
    _tool("get_booking", "Look up a booking.", booking_ref="str"),
    _tool("search_hotels", "Search hotels.", city="str", checkin="str", nights="int"),
    _tool("list_expenses", "List expenses of a month (YYYY-MM) and category.", month="str", category="str"),
    _tool("get_policy_limit", "Monthly policy limit of an expense category.", category="str"),
    _tool("submit_expense", "Submit an expense.", amount="num", currency="str", category="str", date="str"),
    _tool("attach_receipt", "Attach an email's receipt to an expense.", expense_id="str", message_id="str"),
    _tool("lookup_contact", "Find a contact's email.", name="str"),
    _tool("get_weather", "Weather forecast for a city and date.", city="str", date="str"),
]
SYSTEM = "\n".join([
    "You are Atlas, a personal assistant with access to the user's calendar, mailbox, travel and expense accounts.",
    "Use the tools to act; never invent ids, times or amounts: read them from tool results.",
    "Book only the cheapest direct flight unless the user asks otherwise.",
    "Meetings default to 30 minutes; invite attendees by the email lookup_contact returns.",
    "Expenses use the currency of the receipt; categories: " + ", ".join(CATEGORIES) + ".",
    "When several independent lookups are needed, call the tools in parallel.",
    "Answer in one short sentence once the task is done. No greetings, no offers of further help.",
    "If a request is outside these accounts, say so in one sentence.",
])


class Conversation:
    """One session: the log lines of each step as the conversation grows."""

    def __init__(self, rng: random.Random, today: str, user: str) -> None:
        self.rng = rng
        self.messages: list[dict[str, Any]] = [
            {"role": "system", "content": f"{SYSTEM}\nToday is {today}. The user is {user}."}]
        self.lines: list[dict[str, Any]] = []
        self.n = 0

    def user(self, text: str) -> None:
        self.messages.append({"role": "user", "content": text})

    def call(self, *calls: tuple[str, dict[str, Any], Any]) -> None:
        """The LLM calls these tools (in parallel when several); their results follow."""
        tool_calls = []
        for name, args, _ in calls:
            self.n += 1
            tool_calls.append({"id": f"call_{self.rng.getrandbits(48):012x}", "type": "function",
                               "function": {"name": name, "arguments": json.dumps(args)}})
        self._log({"role": "assistant", "content": None, "tool_calls": tool_calls}, "tool_calls")
        for call, (_, _, result) in zip(tool_calls, calls, strict=True):
            self.messages.append({"role": "tool", "tool_call_id": call["id"], "content": json.dumps(result)})

    def answer(self, text: str) -> None:
        self._log({"role": "assistant", "content": text}, "stop")

    def _log(self, message: dict[str, Any], finish: str) -> None:
        prompt = sum(len(json.dumps(m)) for m in self.messages) // 4 + 900  # the tool schemas
        completion = len(json.dumps(message)) // 4
        self.lines.append({
            "request": {"model": MODEL, "messages": json.loads(json.dumps(self.messages)), "tools": TOOLS},
            "response": {"id": f"chatcmpl-{self.rng.getrandbits(64):016x}", "object": "chat.completion",
                         "model": MODEL, "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                         "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                                   "total_tokens": prompt + completion}},
        })
        self.messages.append(message)


def _date(rng: random.Random) -> str:
    return f"2026-12-{rng.randint(7, 28):02d}"


def flight_and_calendar(c: Conversation, rng: random.Random) -> None:
    a, b = rng.sample(CITIES, 2)
    date = _date(rng)
    c.user(rng.choice(["Book me a flight from {a} to {b} on {d} and put it in my calendar.",
                       "fly {a} -> {b} {d}, book it + calendar pls",
                       "Need to get from {a} to {b} on {d}. Book the flight and block my calendar."]).format(a=a, b=b, d=date))
    flights = [{"flight_id": f"{CODES[a]}{CODES[b]}{rng.randint(100, 999)}", "depart": f"{rng.randint(6, 20):02d}:{rng.choice(['05', '30', '45'])}",
                "price_usd": rng.randint(90, 900), "stops": rng.choice([0, 0, 1])} for _ in range(3)]
    c.call(("search_flights", {"origin": CODES[a], "destination": CODES[b], "date": date}, {"flights": flights}))
    direct = [f for f in flights if f["stops"] == 0] or flights
    best = min(direct, key=lambda f: f["price_usd"])
    ref = f"BK{rng.randint(10000, 99999)}"
    c.call(("book_flight", {"flight_id": best["flight_id"]}, {"booking_ref": ref, "status": "confirmed"}))
    event = f"ev_{rng.randint(1000, 9999)}"
    c.call(("create_event", {"title": f"Flight {best['flight_id']} to {b}", "date": date, "time": best["depart"],
                             "duration_min": 180, "attendees": []}, {"event_id": event}))
    c.answer(f"Booked {best['flight_id']} ({ref}), {date} {best['depart']}; on your calendar.")


def receipt_to_expense(c: Conversation, rng: random.Random) -> None:
    contact, topic = rng.choice(CONTACTS), rng.choice(TOPICS)
    c.user(rng.choice(["Find the email from {p} about the {t} and file the receipt as an expense.",
                       "expense the {t} receipt {p} sent me",
                       "{p} emailed a receipt for the {t}, submit it please"]).format(p=contact, t=topic))
    msg = f"msg_{rng.randint(100000, 999999)}"
    c.call(("search_mail", {"query": f"{topic} from:{contact}"}, {"messages": [{"message_id": msg, "subject": f"Receipt: {topic}"}]}))
    amount, currency = round(rng.uniform(12, 640), 2), rng.choice(["EUR", "USD", "NOK"])
    category = CATEGORIES[TOPICS.index(topic)]
    date = f"2026-11-{rng.randint(1, 28):02d}"
    c.call(("read_mail", {"message_id": msg}, {"from": contact, "body": f"Total {amount} {currency}, paid {date}."}))
    exp = f"EXP-{rng.randint(1000, 9999)}"
    c.call(("submit_expense", {"amount": amount, "currency": currency, "category": category, "date": date},
            {"expense_id": exp}))
    c.call(("attach_receipt", {"expense_id": exp, "message_id": msg}, {"ok": True}))
    c.answer(f"Filed {amount} {currency} as {category} ({exp}).")


def meeting(c: Conversation, rng: random.Random) -> None:
    contact, date = rng.choice(CONTACTS), _date(rng)
    minutes = rng.choice([30, 30, 45, 60])
    c.user(rng.choice(["Set up a {m} min meeting with {p} on {d}.", "meet {p} {d}, {m} min",
                       "Can you find time with {p} on {d}? {m} minutes."]).format(m=minutes, p=contact, d=date))
    email, time = contact.lower().replace(" ", ".") + "@example.com", f"{rng.randint(9, 16):02d}:00"
    c.call(("lookup_contact", {"name": contact}, {"email": email}),
           ("find_free_slot", {"date": date, "duration_min": minutes}, {"time": time}))
    c.call(("create_event", {"title": f"Meeting with {contact}", "date": date, "time": time, "duration_min": minutes,
                             "attendees": [email]}, {"event_id": f"ev_{rng.randint(1000, 9999)}"}))
    c.answer(f"Done: {date} {time}, invite sent to {contact}.")


def weather_and_day(c: Conversation, rng: random.Random) -> None:
    city, date = rng.choice(CITIES), _date(rng)
    c.user(rng.choice(["What's the weather in {c} on {d}, and what do I have that day?",
                       "{c} forecast {d} + my agenda"]).format(c=city, d=date))
    sky, temp, n = rng.choice(["sunny", "rain", "cloudy", "snow"]), rng.randint(-5, 30), rng.randint(0, 4)
    c.call(("get_weather", {"city": city, "date": date}, {"sky": sky, "high_c": temp}),
           ("list_events", {"date": date}, {"events": [{"title": f"Event {i + 1}"} for i in range(n)]}))
    c.answer(f"{sky.capitalize()}, {temp}°C; {n} event{'s' if n != 1 else ''}.")


def spend_check(c: Conversation, rng: random.Random) -> None:
    category, month = rng.choice(CATEGORIES), rng.choice(MONTHS)
    c.user(rng.choice(["How much did I spend on {c} in {m}? Am I over the limit?",
                       "{c} spend {m} vs policy?"]).format(c=category, m=month))
    total, limit = round(rng.uniform(40, 900), 2), rng.choice([200, 300, 500, 800])
    c.call(("list_expenses", {"month": month, "category": category}, {"total": total, "currency": "USD"}),
           ("get_policy_limit", {"category": category}, {"limit": limit, "currency": "USD"}))
    c.answer(f"{total} of {limit} USD; {'over' if total > limit else 'under'} the limit.")


def out_of_scope(c: Conversation, rng: random.Random) -> None:
    c.user(rng.choice(["Write me a poem about autumn.", "What's the capital of Peru?", "Can you order pizza?"]))
    c.answer("That's outside what I can do with your accounts.")


FLOWS: list[tuple[Callable[[Conversation, random.Random], None], int]] = [
    (flight_and_calendar, 3), (receipt_to_expense, 3), (meeting, 3), (weather_and_day, 2), (spend_check, 2),
    (out_of_scope, 1)]


def generate(conversations: int, seed: int) -> list[dict[str, Any]]:
    """Log lines of `conversations` sessions (one to two tasks each), in time order."""
    rng = random.Random(seed)
    lines, clock = [], 1796000000
    for _ in range(conversations):
        c = Conversation(rng, "2026-12-04", rng.choice(["Ana Costa", "Ben Ode", "Chen Wei", "Dana Roy"]))
        for _ in range(rng.choice([1, 1, 2])):
            flow = rng.choices([f for f, _ in FLOWS], weights=[w for _, w in FLOWS])[0]
            flow(c, rng)
        for line in c.lines:
            clock += rng.randint(2, 90)
            lines.append({"timestamp": clock, "client_id": "atlas-assistant", **line,
                          "latency_ms": round(rng.uniform(400, 4000), 1)})
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="Directory for atlas_calls.jsonl.gz.")
    parser.add_argument("--conversations", type=int, default=150)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    lines = generate(args.conversations, args.seed)
    with gzip.open(args.out / "atlas_calls.jsonl.gz", "wt", encoding="utf-8") as fh:
        for line in lines:
            fh.write(json.dumps(line) + "\n")
    print(f"{len(lines)} calls from {args.conversations} conversations -> {args.out / 'atlas_calls.jsonl.gz'}")


if __name__ == "__main__":
    main()
