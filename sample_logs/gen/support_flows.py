"""Less frequent `order_support` chats: policy questions, pasted secrets, parallel lookups, escalations."""

from __future__ import annotations

from datetime import date, timedelta

from . import support_backend as be
from .entities import Ent
from .model import Call, Convo
from .text import human_date, money, pick, say
from .tools_support import SUPPORT_SYSTEM, SUPPORT_TOOLS

CHANNELS = ("web chat", "iOS app", "Android app", "web chat")
POLICY_QA = (
    (
        (
            "What's your return policy?",
            "how long do I have to return stuff",
            "Can I still return something I bought 3 weeks ago?",
        ),
        "You can return most items within 30 days of delivery for a full refund (90 days if you're a Gold member). "
        "Opened electronics have a 15-day window, and final-sale items can't be returned. Just send me the order "
        "number when you're ready and I'll set up a free return label.",
    ),
    (
        ("Do you ship to Canada?", "do u deliver to canada", "Can I order from Toronto?"),
        "Yes, we ship to Canada as well as all 50 US states. Delivery times and costs are shown at checkout once you "
        "enter your postal code.",
    ),
    (
        (
            "How much is overnight shipping?",
            "what does express delivery cost",
            "Is there next-day delivery?",
        ),
        "Overnight shipping is $24.95 if you order before 1 pm ET; expedited (2 days) is $12.95. Standard shipping "
        "(3-5 business days) is free on orders over $49.",
    ),
    (
        (
            "How do loyalty points work?",
            "what are the loyalty tiers",
            "how many points do I need for silver",
        ),
        "You earn 1 point per dollar, and every 100 points is worth $1. Silver starts at 1,000 points a year and Gold "
        "at 3,000; Gold members get 90-day returns. Points expire after 18 months without activity.",
    ),
    (
        (
            "Can you help me write a python script to scrape your prices?",
            "what's the weather in Denver tomorrow",
            "Can you recommend a good lawyer? I'm in a dispute with my landlord",
        ),
        "Sorry, that's outside what I can help with here. I'm happy to help with anything about your ShopRight "
        "orders, returns, deliveries or products, though!",
    ),
)
SECRET_T = (
    "I'm building an integration with your order API and my key {secret} keeps getting 401. Can you check it?",
    "my developer said to send you this so you can fix my account: {secret}",
    "Here's the token from the app's settings page, maybe it helps you debug: {secret}",
    "Our webhook stopped working. Config: {secret} - is something wrong on your side?",
)
CARD_T = (
    "Can I just pay for the remaining balance here? Card {card}, exp 0{m}/2{y}, cvv {cvv}",
    "Please charge my new card instead: {card} (expires {m}/2{y})",
    "the payment failed, try this card {card} please",
)


def open_chat(e: Ent, today: date) -> tuple[Convo, object, object]:
    system = SUPPORT_SYSTEM.format(
        today=f"{today.strftime('%A')}, {today.isoformat()}", channel=pick(e.rng, CHANNELS)
    )
    cv = Convo(
        "order_support",
        system,
        e,
        SUPPORT_TOOLS,
        max_tokens=pick(e.rng, (800, 1024, 1024, 2048)),
        temperature=pick(e.rng, (0.0, 0.2, 0.3)),
    )
    return cv, e.person(), e.address()


def lookup(cv: Convo, order: dict) -> None:
    (cid,) = cv.act_tools(("lookup_order", {"order_id": order["order_id"]}))
    cv.result(cid, "lookup_order", order)


def policy_question(e: Ent, today: date) -> list[Call]:
    cv, _, _ = open_chat(e, today)
    questions, answer = pick(e.rng, POLICY_QA)
    cv.user(say(e.rng, questions))
    cv.reply(answer)
    return cv.calls


def orders_by_email(e: Ent, today: date) -> list[Call]:
    cv, person, addr = open_chat(e, today)
    cv.user(
        say(
            e.rng,
            (
                "I lost my order number. My email is {email}",
                "can't find the confirmation email, I'm {name}, {email}. what did I order last week?",
                "Which orders do I have open? Account: {email}",
            ),
            email=person.email,
            name=person.name,
        )
    )
    (cid,) = cv.act_tools(("search_orders_by_email", {"email": person.email}))
    rows = be.order_summaries(e, today, person, addr, e.rng.randint(1, 3))
    cv.result(cid, "search_orders_by_email", {"orders": rows})
    listing = "; ".join(
        f"{r['order_id']} ({', '.join(r['items'])}, {r['status']}, {money(r['total'])})"
        for r in rows
    )
    cv.reply(
        f"I found {len(rows)} recent order{'s' if len(rows) > 1 else ''} on {person.email}: {listing}. "
        "Which one can I help you with?"
    )
    return cv.calls


def loyalty(e: Ent, today: date) -> list[Call]:
    cv, person, _ = open_chat(e, today)
    cv.user(
        say(
            e.rng,
            (
                "How many loyalty points do I have? {email}",
                "points balance for {email} pls",
                "Hi, I'm {name}. Can you check my rewards points? Account email is {email}.",
            ),
            email=person.email,
            name=person.name,
        )
    )
    (cid,) = cv.act_tools(("get_loyalty_points", {"email": person.email}))
    points = e.rng.randrange(300, 6000, 10)
    cv.result(
        cid,
        "get_loyalty_points",
        {
            "email": person.email,
            "points": points,
            "tier": pick(e.rng, ("Member", "Silver", "Gold")),
            "expiring_90d": e.rng.choice((0, 0, 120, 450)),
        },
    )
    cv.reply(
        f"You have {points:,} points, worth {money(points / 100)} in rewards. Want me to turn some into a reward code?"
    )
    if points >= 500 and e.rng.random() < 0.45:
        amount = (points // 100 // 2) * 100
        cv.user(
            say(
                e.rng,
                ("Yes, redeem {n} points please.", "sure, use {n} of them", "ok redeem {n}"),
                greet=False,
                n=amount,
            )
        )
        (cid,) = cv.act_tools(("redeem_loyalty_points", {"email": person.email, "points": amount}))
        code = f"SRW{e.chars('ABCDEFGHJKLMNPQRSTUVWXYZ23456789', 8)}"
        cv.result(cid, "redeem_loyalty_points", {"reward_code": code, "value": amount / 100})
        cv.reply(
            f"Done! Your reward code is {code}, worth {money(amount / 100)}. Enter it at checkout."
        )
    return cv.calls


def pasted_secret(e: Ent, today: date) -> list[Call]:
    cv, person, _ = open_chat(e, today)
    _, secret = e.secret()
    cv.user(say(e.rng, SECRET_T, secret=secret))
    cv.reply(
        "Please don't share keys or tokens in chat: treat that one as exposed and rotate it in your developer "
        "settings right away. We never need your credentials to help. For API access problems, our developer "
        "support team at support@shopright.com can look into the 401 errors once you have a new key."
    )
    if e.rng.random() < 0.5:
        cv.user(
            say(
                e.rng,
                (
                    "ok, rotated it. can you open a ticket for the api team? my email is {email}",
                    "Fine. Please create a ticket then, reach me at {email}",
                ),
                greet=False,
                email=person.email,
            )
        )
        (cid,) = cv.act_tools(
            (
                "create_support_ticket",
                {
                    "email": person.email,
                    "subject": "Order API returns 401 for customer integration",
                    "description": "Customer's order API calls fail with 401; key has been rotated by the customer. "
                    "Please verify API access for the account.",
                    "category": "security",
                },
            )
        )
        cv.result(
            cid, "create_support_ticket", {"ticket_id": f"TCK-{e.digits(6)}", "status": "open"}
        )
        cv.reply(
            f"I've opened a ticket for our API team; they'll reply to {person.email} within one business day."
        )
    return cv.calls


def pasted_card(e: Ent, today: date) -> list[Call]:
    cv, _, _ = open_chat(e, today)
    cv.user(
        say(
            e.rng,
            CARD_T,
            card=e.card(),
            m=e.rng.randint(1, 9),
            y=e.rng.randint(6, 9),
            cvv=e.digits(3),
        )
    )
    cv.reply(
        "For your security, please don't share card numbers here. I'd recommend removing that message from "
        "your screen. We can't take payments in chat: you can update your card under Account > Payment methods, "
        "and the order will be retried automatically."
    )
    return cv.calls


def gift_card(e: Ent, today: date) -> list[Call]:
    cv, _, _ = open_chat(e, today)
    number, pin = e.rec("GIFT_CARD", e.digits(16)), e.digits(4)
    cv.user(
        say(
            e.rng,
            (
                "What's the balance on gift card {n}? PIN {pin}",
                "gift card {n} pin {pin} - how much is left?",
            ),
            n=number,
            pin=pin,
        )
    )
    (cid,) = cv.act_tools(("check_gift_card_balance", {"card_number": number, "pin": pin}))
    bal = round(e.rng.choice((0, 12.5, 25, 37.18, 50, 100)) * 1.0, 2)
    cv.result(cid, "check_gift_card_balance", {"balance": bal, "currency": "USD", "expires": None})
    cv.reply(
        f"That gift card has {money(bal)} left."
        + (
            " It can be combined with another payment method at checkout."
            if bal
            else " It looks fully used, I'm afraid."
        )
    )
    return cv.calls


def callback(e: Ent, today: date) -> list[Call]:
    cv, person, _ = open_chat(e, today)
    when = pick(e.rng, ("morning", "afternoon", "evening"))
    topic = pick(
        e.rng,
        ("a warranty claim", "my last invoice", "a bulk order for my office", "a missing refund"),
    )
    cv.user(
        say(
            e.rng,
            (
                "Can someone call me at {phone} in the {when}? It's about {topic}.",
                "please have an agent phone me, {phone}, {when} works best. re: {topic}",
            ),
            phone=person.phone,
            when=when,
            topic=topic,
        )
    )
    (cid,) = cv.act_tools(
        (
            "schedule_callback",
            {"phone": person.phone, "preferred_time": when, "topic": topic[0].upper() + topic[1:]},
        )
    )
    cv.result(cid, "schedule_callback", {"callback_id": f"CB-{e.digits(6)}", "window": when})
    cv.reply(
        f"Booked! One of our agents will call you at {person.phone} in the {when} about {topic}."
    )
    return cv.calls


def parallel_orders(e: Ent, today: date) -> list[Call]:
    cv, person, addr = open_chat(e, today)
    orders = [be.make_order(e, today, "shipped", person, addr) for _ in range(2)]
    cv.user(
        say(
            e.rng,
            (
                "Where are my two orders, {a} and {b}?",
                "can you check both {a} and {b}? neither has arrived",
                "I have two packages coming ({a}, {b}). Status please?",
            ),
            a=orders[0]["order_id"],
            b=orders[1]["order_id"],
        )
    )
    ids = cv.act_tools(*[("lookup_order", {"order_id": o["order_id"]}) for o in orders])
    cv.results(ids, ["lookup_order"] * 2, orders)
    ids = cv.act_tools(
        *[
            ("track_shipment", {"tracking_number": o["tracking_number"], "carrier": o["carrier"]})
            for o in orders
        ]
    )
    tracks = [be.tracking_result(e, o, today) for o in orders]
    cv.results(ids, ["track_shipment"] * 2, tracks)
    parts = [
        f"{o['order_id']} is expected {human_date(date.fromisoformat(t['estimated_delivery']), e.rng)} "
        f"({o['carrier']}: {t['events'][0]['description']})"
        for o, t in zip(orders, tracks, strict=True)
    ]
    cv.reply(f"Both are on the way, {person.first}. " + "; ".join(parts) + ".")
    return cv.calls


def damaged_in_transit(e: Ent, today: date) -> list[Call]:
    cv, person, addr = open_chat(e, today)
    order = be.make_order(e, today, "delivered", person, addr)
    line = min(order["items"], key=lambda li: li["line_total"])
    if line["line_total"] > 200:
        return policy_question(e, today)
    cv.user(
        say(
            e.rng,
            (
                "The box for {oid} was completely crushed and the {prod} inside is broken.",
                "delivery guy threw my parcel ({oid}), the {prod} is smashed",
            ),
            oid=order["order_id"],
            prod=line["name"].split(",")[0],
        )
    )
    lookup(cv, order)
    ids = cv.act_tools(
        (
            "file_damage_claim",
            {
                "order_id": order["order_id"],
                "skus": [line["sku"]],
                "description": "Parcel arrived crushed; item broken.",
            },
        ),
        (
            "issue_refund",
            {
                "order_id": order["order_id"],
                "amount": line["line_total"],
                "reason": "damaged",
                "line_item_skus": [line["sku"]],
            },
        ),
    )
    cv.results(
        ids,
        ["file_damage_claim", "issue_refund"],
        [
            {"claim_id": f"CLM-{e.digits(7)}", "status": "filed"},
            {"refund_id": f"RF-{e.digits(8)}", "status": "pending", "amount": line["line_total"]},
        ],
    )
    cv.reply(
        f"I'm sorry, {person.first}! I've filed a damage claim with the carrier and refunded "
        f"{money(line['line_total'])} to your {order['payment']['brand']} ending in {order['payment']['last4']}. "
        "You'll get an e-mail asking for a photo of the box; no need to send anything back."
    )
    return cv.calls


def late_delivery(e: Ent, today: date) -> list[Call]:
    cv, person, addr = open_chat(e, today)
    order = be.make_order(e, today, "shipped", person, addr)
    order["promised_delivery"] = be.iso(today - timedelta(days=e.rng.randint(4, 6)))
    cv.user(
        say(
            e.rng,
            (
                "{oid} was promised days ago and still isn't here. This is ridiculous. My email is {email}.",
                "Very disappointed - order {oid} is late again. ({email})",
            ),
            oid=order["order_id"],
            email=person.email,
        )
    )
    lookup(cv, order)
    (cid,) = cv.act_tools(
        (
            "track_shipment",
            {"tracking_number": order["tracking_number"], "carrier": order["carrier"]},
        )
    )
    trk = be.tracking_result(e, order, today, late=True)
    cv.result(cid, "track_shipment", trk)
    (cid,) = cv.act_tools(
        (
            "issue_store_credit",
            {"email": person.email, "amount": 15, "reason": "Late delivery goodwill"},
        )
    )
    cv.result(cid, "issue_store_credit", {"credit_id": f"SC-{e.digits(7)}", "amount": 15})
    cv.reply(
        f"You're right to be frustrated, {person.first}. {order['carrier']} reports a delay and now expects "
        f"delivery {human_date(date.fromisoformat(trk['estimated_delivery']), e.rng)}. I've added $15.00 store "
        "credit to your account for the inconvenience."
    )
    return cv.calls


def wants_human(e: Ent, today: date) -> list[Call]:
    cv, person, addr = open_chat(e, today)
    order = be.make_order(e, today, "delivered", person, addr)
    cv.user(
        say(
            e.rng,
            (
                "I want to speak to a real person about {oid}. Now.",
                "Get me a human. Order {oid}, I'm done with bots.",
                "Can I talk to a manager? {oid} has been a nightmare and I'm considering legal action.",
            ),
            oid=order["order_id"],
        )
    )
    legal = "legal" in cv.msgs[-1]["content"].lower()
    (cid,) = cv.act_tools(
        (
            "escalate_to_human",
            {
                "order_id": order["order_id"],
                "reason": "legal" if legal else "customer_request",
                "priority": "high" if legal else "normal",
                "summary": f"Customer asked for a human agent about order {order['order_id']}.",
            },
        )
    )
    cv.result(
        cid,
        "escalate_to_human",
        {"ticket_id": f"TCK-{e.digits(6)}", "queue": "tier2", "eta_minutes": 12},
    )
    cv.reply(
        "Of course. I've passed your conversation to a member of our team; they'll join this chat in about "
        "12 minutes. Thanks for your patience."
    )
    return cv.calls


SIDE_FLOWS = (
    (policy_question, 9),
    (orders_by_email, 6),
    (loyalty, 5),
    (pasted_secret, 4),
    (pasted_card, 2),
    (gift_card, 3),
    (callback, 3),
    (parallel_orders, 5),
    (damaged_in_transit, 3),
    (late_delivery, 3),
    (wants_human, 2),
)
