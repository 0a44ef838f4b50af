"""Phrasing helpers: pick a template, vary its casing and punctuation, fill slots verbatim."""

from __future__ import annotations

import random
from datetime import date, timedelta

GREETINGS = (
    "",
    "",
    "",
    "Hi, ",
    "Hello, ",
    "Hey there. ",
    "hi ",
    "Good morning. ",
    "Hi Riley, ",
    "Hello team, ",
    "Quick question: ",
    "Sorry to bother you, ",
    "Ugh. ",
    "Hiya! ",
)
CLOSERS = (
    "",
    "",
    "",
    " Thanks!",
    " Thank you.",
    " thx",
    " Appreciate it.",
    " Please help.",
    " Thanks in advance.",
    " 🙏",
    " Cheers.",
    " ty",
)


def pick(rng: random.Random, seq):
    return seq[rng.randrange(len(seq))]


def weighted(rng: random.Random, pairs):
    """Pick the first element of one (item, weight) pair with probability proportional to weight."""
    r = rng.uniform(0, sum(w for _, w in pairs))
    for item, w in pairs:
        r -= w
        if r <= 0:
            return item
    return pairs[-1][0]


def style(rng: random.Random, template: str) -> str:
    """Vary the template text only (slots are filled afterwards, so values stay verbatim)."""
    r = rng.random()
    if r < 0.15:
        template = template.lower()
    elif r < 0.22:
        template = template.rstrip(".!?")
    elif r < 0.27:
        template = template.replace(", ", " ").replace("'", "")
    return template


def say(rng: random.Random, templates, greet: bool = True, close: bool = True, **slots) -> str:
    """A customer-style message from one of `templates` with `slots` inserted exactly."""
    body = style(rng, pick(rng, templates)).format(**slots)
    head = pick(rng, GREETINGS) if greet else ""
    tail = pick(rng, CLOSERS) if close else ""
    return (head + body + tail).strip()


def human_date(d: date, rng: random.Random | None = None) -> str:
    """'Thursday, Nov 6' style (agents say dates this way)."""
    if rng is not None and rng.random() < 0.4:
        return f"{d.strftime('%B')} {d.day}"
    return f"{d.strftime('%A')}, {d.strftime('%b')} {d.day}"


def business_days(start: date, n: int) -> date:
    d = start
    while n > 0:
        d += timedelta(days=1)
        if d.weekday() < 5:
            n -= 1
    return d


def unwrap(text: str) -> str:
    """Join continuation lines (indented by two spaces) to the line above: long prompts kept readable in code."""
    return text.replace("\n  ", " ")


def money(x: float) -> str:
    return f"${x:,.2f}"


def truncate_words(text: str, max_chars: int) -> str:
    """Cut text at a word boundary near max_chars, the way a max_tokens stop cuts generation."""
    if len(text) <= max_chars:
        return text
    cut = text[:max_chars]
    return cut[: cut.rfind(" ")] if " " in cut else cut
