"""Task `drafting`: open-ended marketing copy, escalation plans and memos: long, varied text for the LLM."""

from __future__ import annotations

from datetime import date, timedelta

from .catalog import PRODUCTS, WAREHOUSES, short_name
from .entities import Ent
from .model import Call, single
from .text import pick

SYSTEM = (
    "You are the writing partner of ShopRight's marketing, customer-experience and operations teams. Draft "
    "what you are asked for in ShopRight's voice: warm, direct, never pushy, no exaggerated claims, no fake "
    "urgency. Use concrete details from the request; invent nothing about prices, dates or policies that "
    "is not given. Prefer short paragraphs and clear headings for internal documents. Offer alternatives "
    "when the request is ambiguous."
)
KINDS = (
    "campaign_email",
    "escalation_plan",
    "ops_memo",
    "apology_letter",
    "social_series",
    "experiment_plan",
)
TONES = (
    "playful",
    "warm and calm",
    "premium",
    "no-nonsense",
    "celebratory",
    "reassuring",
    "witty but kind",
)
AUDIENCES = (
    "lapsed customers who haven't ordered in 6 months",
    "Gold loyalty members",
    "first-time buyers",
    "parents shopping for the holidays",
    "remote workers",
    "campers and hikers",
    "small-business buyers",
)
INCIDENTS = (
    "a regional UPS outage delaying ~{n} parcels out of {wh}",
    "a sprinkler failure that soaked zone {z} at {wh}",
    "our payment provider declining ~{p}% of cards for two hours",
    "a pricing bug that showed the {prod} at $0.99",
    "a phishing e-mail impersonating ShopRight sent to customers",
    "the WMS going down for {h} hours at {wh}",
)
OPENERS = (
    "Here's a first draft you can tweak.",
    "Below is a draft; I kept it short so it scans well on mobile.",
    "Happy to help. Here's one version, with a couple of alternatives at the end.",
    "Here's a draft that follows the brief. I flagged two places where you may want real numbers.",
    "Sure. I went for a {tone} tone as requested.",
    "Draft below. Feel free to cut the second section if it runs long.",
)
SENT = {
    "hook": (
        "Our {aud} deserve a little something, and this {season} we're making it easy.",
        "Some things are worth the wait. The {prod} isn't one of them.",
        "We noticed it's been a while, and honestly, we've missed you.",
        "Good gear makes good days. Our {cat} edit is back, and it's better than ever.",
        "You told us what you wanted. We listened, and the {prod} is the result.",
        "Cold mornings, long weekends, full calendars: the {cat} range was built for all of it.",
        "If your {use} could use an upgrade, start here.",
        "Small upgrades add up, and this one starts with the {prod}.",
        "We're celebrating {k} orders this {season} with the easiest deal we've ever run.",
    ),
    "offer": (
        "From {start} to {end}, use code {code} for {pct}% off everything in {cat}.",
        "Take {pct}% off with code {code}, valid until {end}, no minimum spend.",
        "Gold members get early access on {start}; everyone else from {start2}, with code {code} for {pct}% off.",
        "Free expedited shipping on the {prod} until {end}, plus {pct}% off with {code}.",
        "Bundle any two {cat} items and save {pct}% at checkout with {code} (ends {end}).",
        "Members save {pct}% and earn double points through {end}; just enter {code}.",
    ),
    "proof": (
        "Over {k} customers rated the {prod} 4.8 stars or higher.",
        "It's the most-returned-to item in our {cat} range, and not the bad kind of return.",
        "Our team tested it for {w} weeks on real {use}.",
        "It ships from {wh} in one business day, so it arrives before the weekend.",
        "Returns are free for 30 days, so there's no risk in trying it.",
        "Reviewers keep mentioning the same thing: it just works, {w} weeks in.",
        "{k} people added it to their wishlist last month alone.",
    ),
    "cta": ("Shop the {cat} edit", "Find your {prod}", "Claim your {pct}% off", "See what's new"),
    "risk": (
        "The biggest risk is customer contacts spiking {x}x; we should pre-load macros.",
        "If {wh} can't clear the backlog by {end}, we reroute new orders to {wh2}.",
        "Refund costs could reach ${money}; finance has approved up to that amount.",
        "We don't yet know the root cause, so external messaging must avoid promising a date.",
        "Social sentiment is the leading indicator; we'll watch mentions hourly.",
        "Chat wait times could pass {s} seconds at peak unless we pull in weekend staff.",
        "A second wave of contacts usually follows {x} days later when refunds post.",
        "Carrier capacity at {wh2} is tight, so rerouting only buys us a day.",
        "We may see chargebacks if customers don't hear from us within 24 hours.",
    ),
    "action": (
        "{owner} owns customer comms and sends the first update by {time}.",
        "{owner} coordinates with the carrier account team and reports twice a day.",
        "{owner} prepares a goodwill credit of ${credit} for affected orders.",
        "{owner} updates the status page and the chat banner.",
        "{owner} pulls the list of affected orders from the warehouse and shares it in #cx-incidents.",
        "{owner} briefs the support team at the start of each shift.",
        "{owner} drafts the FAQ entry and gets legal sign-off by {time}.",
        "{owner} monitors refund volume and flags anything above ${money}.",
        "{owner} schedules a retro for next week and collects the timeline.",
        "{owner} checks that affected Gold members get a personal e-mail.",
    ),
    "metric": (
        "Orders shipped: {k} ({d:+d}% week over week).",
        "On-time delivery: {p2}% against a target of 95%.",
        "Contacts per 100 orders: {c} (goal: under 6).",
        "Average first-response time in chat: {s} seconds.",
        "Pick accuracy at {wh}: 99.{p}%.",
        "Refunds issued: ${money} ({d2:+d}% week over week).",
        "Dock-to-stock time: {h}.{p} hours (target 6).",
        "Units per labour hour: {s} ({d:+d}% vs. plan).",
        "Damaged-in-transit rate: 0.{p}% of parcels.",
    ),
}
APOLOGY = (
    "I'm writing personally to apologise for {inc}. You trusted us with your order, and we let you down.",
    "I know how frustrating it is to plan around a delivery and then be left waiting.",
    "What happened was our mistake, not yours, and you shouldn't have had to chase us for answers.",
    "We've already changed how we handle this, so it doesn't happen again.",
    "As a small thank-you for your patience, I've added ${credit} of store credit to your account; it's there now.",
    "If anything about your order still isn't right, reply to this e-mail and it comes straight to me.",
    "You've been a Gold member for years, and that means a lot to everyone here.",
    "Our team at {wh} has been working through every affected order one by one.",
)
CLOSERS = (
    "Let me know if you'd like a shorter version for SMS.",
    "Want me to draft the follow-up for non-openers too?",
    "I can also prepare a version in Spanish.",
    "Happy to adjust the tone once you've run it past legal.",
    "If useful, I can turn this into a one-page brief for the exec sync.",
)


def _fill(e: Ent, today: date) -> dict:
    rng = e.rng
    p = PRODUCTS[rng.randrange(len(PRODUCTS))]
    start = today + timedelta(days=rng.randint(3, 20))
    owners = [e.person() for _ in range(3)]
    owner = owners[0]
    return {
        "prod": short_name(p),
        "cat": p.category,
        "aud": pick(rng, AUDIENCES),
        "season": pick(rng, ("winter", "holiday season", "weekend", "month")),
        "start": start.strftime("%b %d"),
        "start2": (start + timedelta(days=1)).strftime("%b %d"),
        "end": (start + timedelta(days=rng.randint(4, 14))).strftime("%b %d"),
        "pct": pick(rng, (10, 15, 20, 25, 30)),
        "code": pick(rng, ("COZY", "TRAIL", "HELLO", "GOLD", "DESK", "WARM"))
        + str(rng.randint(10, 40)),
        "k": f"{rng.randint(2, 90)},{rng.randint(100, 999)}",
        "w": rng.randint(2, 12),
        "use": pick(rng, ("hikes", "kitchens", "home offices", "commutes")),
        "wh": pick(rng, WAREHOUSES),
        "wh2": pick(rng, WAREHOUSES),
        "x": rng.randint(2, 6),
        "money": f"{rng.randint(3, 120)},{rng.randint(100, 999)}",
        "owner": owner.first,
        "owners": [o.first for o in owners],
        "owner_full": owner.name,
        "owner_email": owner.email,
        "time": f"{rng.randint(8, 17)}:00 ET",
        "credit": pick(rng, (5, 10, 15)),
        "d": rng.randint(-12, 18),
        "d2": rng.randint(-20, 25),
        "p2": rng.randint(86, 99),
        "c": round(rng.uniform(3, 9), 1),
        "s": rng.randint(20, 140),
        "p": rng.randint(1, 9),
        "tone": pick(rng, TONES),
        "z": pick(rng, "ABCDEFGH"),
        "h": rng.randint(2, 7),
        "n": rng.randint(400, 9000),
    }


def _sentences(rng, key: str, n: int, v: dict) -> list[str]:
    """n distinct sentences of one kind; each action gets its own owner."""
    picks = rng.sample(SENT[key], min(n, len(SENT[key])))
    return [s.format(**(v | {"owner": pick(rng, v["owners"])})) for s in picks]


def _para(rng, key: str, n: int, v: dict) -> str:
    return " ".join(_sentences(rng, key, n, v))


def _request(e: Ent, kind: str, v: dict) -> str:
    rng = e.rng
    inc = v["inc"]
    base = {
        "campaign_email": f"Write a {v['tone']} marketing e-mail for {v['aud']} about our {v['cat']} range, "
        "featuring the "
        f"{v['prod']}. Offer: {v['pct']}% off with code {v['code']} from {v['start']} to {v['end']}.",
        "escalation_plan": f"We have {inc}. Draft an escalation plan for the next 48 hours: owners, customer comms, "
        f"goodwill policy. {v['owner_full']} ({v['owner_email']}) is incident lead.",
        "ops_memo": f"Draft the weekly ops review memo for {v['wh']} for the leadership team. "
        "Include KPIs, wins, risks "
        f"and asks. Author: {v['owner_full']}.",
        "apology_letter": f"Draft an apology letter to {v['customer']}, a Gold customer affected by {inc}. "
        "Keep it personal, offer "
        f"${v['credit']} credit, sign as {v['owner_full']}, Customer Experience.",
        "social_series": f"Give me 5 social posts (Instagram + X) for the {v['prod']} launch, "
        f"{v['tone']} tone, aimed at "
        f"{v['aud']}. Mention code {v['code']}.",
        "experiment_plan": f"Write an A/B test plan for showing delivery dates on product pages for {v['cat']} items. "
        f"Owner {v['owner_full']}; we have about {v['k']} weekly visitors to those pages.",
    }[kind]
    extra = pick(
        rng,
        (
            "",
            "",
            " Keep it under 300 words.",
            " Use headings.",
            " Our CMO hates exclamation marks.",
            f" Brand guide: {pick(rng, TONES)}, never 'cheap'.",
            " Two options please.",
        ),
    )
    return base + extra


def _draft(e: Ent, kind: str, v: dict) -> str:
    rng = e.rng
    parts = [pick(rng, OPENERS).format(**v), ""]
    if kind in ("campaign_email", "social_series"):
        parts.append(
            f"Subject: {pick(rng, ('Your', 'A', 'This'))} {v['season']} {pick(rng, ('upgrade', 'treat', 'pick'))}: "
            f"{v['pct']}% off {v['cat']}"
        )
        parts += [
            _para(rng, "hook", rng.randint(1, 2), v),
            _para(rng, "offer", 1, v),
            _para(rng, "proof", rng.randint(1, 3), v),
            f"[{pick(rng, SENT['cta']).format(**v)}]",
        ]
        if kind == "social_series":
            parts += [
                f"{i}. {_para(rng, pick(rng, ('hook', 'proof', 'offer')), 1, v)} #ShopRight"
                for i in range(1, 6)
            ]
    elif kind == "apology_letter":
        body = [x.format(**v) for x in rng.sample(APOLOGY, rng.randint(4, 7))]
        cut = rng.randint(1, len(body) - 1)
        parts += [
            f"Dear {v['customer']},",
            "",
            " ".join(body[:cut]),
            "",
            " ".join(body[cut:]),
            "",
            pick(rng, ("Warm regards,", "With apologies,", "Sincerely,")),
            v["owner_full"],
            "Customer Experience, ShopRight",
        ]
    elif kind == "escalation_plan":
        parts += [
            "Situation",
            _para(rng, "risk", rng.randint(1, 3), v),
            "Owners and actions",
            "\n".join(f"- {a}" for a in _sentences(rng, "action", rng.randint(2, 5), v)),
            "Goodwill",
            f"Affected customers receive ${v['credit']} store credit automatically; agents can add up "
            f"to ${v['credit'] * 2} more for repeat issues.",
            f"- {v['owner_full']}",
        ]
    else:
        parts += [
            "KPIs" if kind == "ops_memo" else "Hypothesis",
            _para(rng, "metric", rng.randint(2, 5), v),
            "Risks",
            _para(rng, "risk", rng.randint(1, 3), v),
            "Asks" if kind == "ops_memo" else "Plan",
            "\n".join(f"- {a}" for a in _sentences(rng, "action", rng.randint(1, 3), v)),
        ]
    parts += ["", pick(rng, CLOSERS)]
    return "\n".join(parts)


def call(e: Ent, today: date) -> Call:
    kind = pick(e.rng, KINDS)
    v = _fill(e, today)
    v["inc"] = pick(e.rng, INCIDENTS).format(**v)
    v["customer"] = e.person().name
    return single(
        "drafting",
        SYSTEM,
        e,
        _request(e, kind, v),
        _draft(e, kind, v),
        max_tokens=pick(e.rng, (1500, 2000, 4096)),
        temperature=pick(e.rng, (0.7, 0.8, 1.0)),
    )
