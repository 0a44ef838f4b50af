"""Task `ticket_summary`: a support ticket thread -> a 2-3 sentence handoff summary built from its facts."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from .catalog import product, short_name
from .entities import Ent
from .model import Call, single
from .text import money, pick

SYSTEM = (
    "You summarise ShopRight support tickets for the next agent on shift. Write 2-3 sentences in plain "
    "text: the customer's problem (with the order number and product), what has been done so far, and the "
    "next step. Do not include the customer's contact details, card data or anything not in the ticket. "
    "No greetings, no bullet points."
)
ISSUES = {
    "damaged": (
        "arrived damaged",
        "The {prod} arrived with a cracked {part}. Photos attached. I want this fixed.",
    ),
    "missing": (
        "was marked delivered but never received",
        "Tracking says {oid} was delivered yesterday but there is nothing at my door or with my neighbours.",
    ),
    "wrong_item": (
        "arrived as the wrong item",
        "I ordered the {prod} but received something completely different.",
    ),
    "late": (
        "is more than a week late",
        "Order {oid} was promised for last week and still hasn't shipped.",
    ),
    "refund_delay": (
        "has a refund that has not arrived",
        "I returned the {prod} on {ret} and the refund still isn't on my card.",
    ),
    "defective": ("stopped working", "The {prod} stopped working after {n} days of normal use."),
}
ACTIONS = {
    "refund": ("issued a refund of {amt} to the original card", "refund of {amt} issued"),
    "replacement": ("shipped a replacement {prod} with expedited shipping", "replacement shipped"),
    "label": ("sent a prepaid UPS return label by e-mail", "return label sent"),
    "claim": ("opened a carrier claim with the courier", "carrier claim opened"),
    "escalated": (
        "escalated the case to the refunds team because the amount exceeds the agent limit",
        "escalated to refunds team",
    ),
}
NEXT = {
    "refund": "confirm the refund posted within 5-10 business days",
    "replacement": "check that the replacement is delivered and close the ticket",
    "label": "wait for the return scan, then issue the refund",
    "claim": "follow up on the carrier's decision within 3 business days",
    "escalated": "wait for the refunds team's decision and update the customer",
}
PARTS = ("handle", "lid", "screen", "leg", "base", "glass panel", "zip")


def call(e: Ent, today: date) -> Call:
    rng = e.rng
    person = e.person()
    p, oid, tck = product(rng), e.order_id(), f"TCK-{e.digits(6)}"
    issue = pick(rng, tuple(ISSUES))
    action = pick(rng, tuple(ACTIONS))
    amt = money(p.price)
    agent = pick(rng, ("Dana", "Marcus", "Priyanka", "Tom", "Lucía", "Kenji"))
    opened = datetime.combine(today, datetime.min.time()) - timedelta(
        days=rng.randint(0, 4), minutes=rng.randrange(1440)
    )
    ret = (today - timedelta(days=rng.randint(10, 20))).strftime("%b %d")
    cust_msg = ISSUES[issue][1].format(
        prod=short_name(p), part=pick(rng, PARTS), oid=oid, ret=ret, n=rng.randint(3, 20)
    )
    lines = [
        f"Ticket {tck} | channel: {pick(rng, ('email', 'chat', 'phone', 'web form'))} | priority: "
        f"{pick(rng, ('normal', 'normal', 'high'))}",
        f"Customer: {person.name} <{person.email}> {person.phone}",
        f"Order: {oid} | Item: {p.name} ({p.sku}) | Paid: {amt}",
        "",
        f"[{opened.strftime('%Y-%m-%d %H:%M')}] Customer: {cust_msg}",
    ]
    if rng.random() < 0.4:
        lines.append(
            f"[{(opened + timedelta(hours=2)).strftime('%Y-%m-%d %H:%M')}] Customer: "
            + pick(
                rng,
                (
                    "Any update??",
                    "Hello? It's been hours.",
                    f"You can reach me at {person.phone}.",
                    "I'd prefer a refund over a replacement.",
                    f"The charge was on my card {e.card()}, please check.",
                ),
            )
        )
    did = ACTIONS[action][0].format(amt=amt, prod=short_name(p))
    lines.append(
        f"[{(opened + timedelta(hours=5)).strftime('%Y-%m-%d %H:%M')}] Agent {agent}: Sorry about this, "
        f"{person.first}. I've {did}."
    )
    lines.append(
        f"[{(opened + timedelta(hours=5, minutes=3)).strftime('%Y-%m-%d %H:%M')}] Internal note ({agent}): "
        f"{ACTIONS[action][1]}; next: {NEXT[action]}."
    )
    problem = (
        f"order {oid} ({p.name})" if rng.random() < 0.5 else f"the {short_name(p)} on order {oid}"
    )
    first = pick(
        rng,
        (
            f"Customer reports that {problem} {ISSUES[issue][0]}.",
            f"The customer's {problem} {ISSUES[issue][0]}.",
            f"Issue: {problem} {ISSUES[issue][0]}.",
        ),
    )
    second = pick(rng, (f"{agent} {did}.", f"Agent {agent} has {did}.", f"So far, {agent} {did}."))
    third = pick(
        rng,
        (
            f"Next step: {NEXT[action]}.",
            f"Next agent should {NEXT[action]}.",
            f"Remaining: {NEXT[action]}.",
        ),
    )
    return single(
        "ticket_summary",
        SYSTEM,
        e,
        "\n".join(lines),
        " ".join((first, second, third)),
        max_tokens=pick(rng, (200, 300, 300)),
        temperature=0.2,
    )
