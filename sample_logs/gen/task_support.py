"""Task `order_support`: multi-turn customer chats where the agent's next step is a tool call or a reply."""

from __future__ import annotations

from datetime import date, timedelta

from . import support_backend as be
from .catalog import Product, product, short_name
from .entities import Ent
from .model import Call
from .support_flows import SIDE_FLOWS, lookup, open_chat
from .text import human_date, money, pick, say, weighted
from .tools_support import CANCEL_REASONS

WHERE_T = (
    "where is my order {oid}?",
    "Order {oid} still hasn't arrived, can you check?",
    "I ordered something a week ago ({oid}) and have no idea where it is.",
    "Can you tell me the status of {oid}? My email is {email}.",
    "tracking for {oid} hasn't updated in days. what's going on",
    "My name is {name}, order number {oid}. When will it be delivered?",
    "hey, any update on {oid}? it was supposed to be here by now",
    "I need my package ({oid}) before the weekend, is it going to make it?",
    "Hello, I'm {name} ({email}). Could you check on order {oid} for me?",
)
CANCEL_T = {
    "changed_mind": "I changed my mind, please cancel order {oid}.",
    "ordered_by_mistake": "I ordered {prod} by mistake, can you cancel {oid}?",
    "found_cheaper": "Please cancel {oid}, I found the {prod} cheaper elsewhere.",
    "shipping_too_slow": "Cancel {oid} please, the delivery date is way too late for me.",
    "duplicate_order": "I think I ordered twice by accident. Please cancel {oid}, it's the duplicate.",
    "payment_issue": "Can you cancel {oid}? I used the wrong card.",
    "other": "I need to cancel order {oid}. Email on the order is {email}.",
}
REFUND_T = (
    "The {prod} from order {oid} arrived broken. I'd like a refund.",
    "Order {oid}: the {prod} is damaged, the box was fine but the item is cracked. Refund please.",
    "hi, {prod} in {oid} came damaged. can i get my money back? email {email}",
    "I received my order {oid} today and the {prod} is damaged. I want a refund, not a replacement.",
)
ADDRESS_T = (
    "I need to change the shipping address on {oid} to {addr}.",
    "Can you ship {oid} to my work address instead? {addr}",
    "We moved! Please update order {oid}, new address: {addr}. Email: {email}",
    "Wrong address on {oid}, it should go to {addr}",
)


def where_is_order(e: Ent, today: date) -> list[Call]:
    cv, person, addr = open_chat(e, today)
    status = pick(e.rng, ("shipped", "shipped", "shipped", "delivered", "processing", "packed"))
    order = be.make_order(e, today, status, person, addr)
    cv.user(say(e.rng, WHERE_T, oid=order["order_id"], email=person.email, name=person.name))
    lookup(cv, order)
    first = person.first
    if status in ("processing", "packed"):
        ship_by = human_date(today + timedelta(days=1), e.rng)
        cv.reply(
            f"Thanks, {first}. Order {order['order_id']} hasn't shipped yet: it's {status} in our warehouse and "
            f"should leave by {ship_by}. You'll get an e-mail with the tracking number as soon as it ships."
        )
        return cv.calls
    if status == "delivered":
        cv.reply(
            f"Hi {first}, order {order['order_id']} was delivered on "
            f"{human_date(date.fromisoformat(order['delivered_at']), e.rng)} to {order['shipping_address']['street']}. "
            "If you can't find it, check with neighbours or your building's mailroom and let me know."
        )
        return cv.calls
    (cid,) = cv.act_tools(
        (
            "track_shipment",
            {"tracking_number": order["tracking_number"], "carrier": order["carrier"]},
        )
    )
    trk = be.tracking_result(e, order, today)
    cv.result(cid, "track_shipment", trk)
    eta = human_date(date.fromisoformat(trk["estimated_delivery"]), e.rng)
    last = trk["events"][0]
    cv.reply(
        pick(
            e.rng,
            (
                f"Good news, {first}: your order is {last['description'].lower()} ({last['location']}) "
                f"with {order['carrier']}, tracking {order['tracking_number']}. Estimated delivery: {eta}.",
                f'I checked with {order["carrier"]}. The latest update is "{last["description"]}" in '
                f"{last['location']}, and it's expected {eta}. Tracking number: {order['tracking_number']}.",
                f"Order {order['order_id']} is on its way! {order['carrier']} expects to deliver it {eta}. "
                f"Last scan: {last['description']} - {last['location']}.",
            ),
        )
    )
    if e.rng.random() < 0.35:
        cv.user(
            say(
                e.rng,
                (
                    "Can you text me the tracking link? {phone}",
                    "pls send that to my phone {phone}",
                    "Could you SMS the tracking number to {phone}?",
                ),
                greet=False,
                phone=person.phone,
            )
        )
        (cid,) = cv.act_tools(
            (
                "send_sms",
                {
                    "phone": person.phone,
                    "message": f"ShopRight: your order "
                    f"{order['order_id']} ships with {order['carrier']}, tracking {order['tracking_number']}.",
                },
            )
        )
        cv.result(cid, "send_sms", {"status": "queued", "message_id": f"sms_{e.digits(10)}"})
        cv.reply(
            f"Done, I've texted the tracking details to {person.phone}. Anything else I can help with?"
        )
    if e.rng.random() < 0.3:
        cv.user(
            say(
                e.rng,
                ("No, that's all, thanks!", "thats it thanks", "All good, thank you.", "nope, bye"),
                greet=False,
                close=False,
            )
        )
        cv.act_tools(("close_conversation", {"resolution": "resolved"}))
    return cv.calls


def cancel_order(e: Ent, today: date) -> list[Call]:
    cv, person, addr = open_chat(e, today)
    status = pick(e.rng, ("processing", "processing", "packed", "shipped"))
    order = be.make_order(e, today, status, person, addr)
    reason = pick(e.rng, CANCEL_REASONS)
    prod = order["items"][0]["name"].split(",")[0]
    cv.user(say(e.rng, [CANCEL_T[reason]], oid=order["order_id"], prod=prod, email=person.email))
    lookup(cv, order)
    if status == "shipped":
        cv.reply(
            f"I'm sorry, {person.first}, order {order['order_id']} has already shipped with {order['carrier']}, so I "
            "can't cancel it anymore. Once it arrives you can return it within 30 days for a full refund; "
            "just message us and I'll set up a free return label."
        )
        return cv.calls
    (cid,) = cv.act_tools(("cancel_order", {"order_id": order["order_id"], "reason": reason}))
    cv.result(
        cid,
        "cancel_order",
        {
            "order_id": order["order_id"],
            "status": "cancelled",
            "refund_amount": order["total"],
            "refund_eta_days": 5,
        },
    )
    cv.reply(
        f"Done! Order {order['order_id']} is cancelled and {money(order['total'])} will go back to your "
        f"{order['payment']['brand']} ending in {order['payment']['last4']} within 5-10 business days. "
        "You'll get a confirmation e-mail shortly."
    )
    return cv.calls


def refund_damaged(e: Ent, today: date) -> list[Call]:
    cv, person, addr = open_chat(e, today)
    order = be.make_order(e, today, "delivered", person, addr)
    line = order["items"][0]
    cv.user(
        say(
            e.rng,
            REFUND_T,
            oid=order["order_id"],
            prod=line["name"].split(",")[0],
            email=person.email,
        )
    )
    lookup(cv, order)
    oid = order["order_id"]
    if line["line_total"] > 200:
        (cid,) = cv.act_tools(
            (
                "escalate_to_human",
                {
                    "order_id": oid,
                    "reason": "refund_over_limit",
                    "priority": "normal",
                    "summary": f"Customer reports {line['name']} arrived damaged on order {oid}; refund of "
                    f"{money(line['line_total'])} requested, above agent limit.",
                },
            )
        )
        cv.result(
            cid,
            "escalate_to_human",
            {"ticket_id": f"TCK-{e.digits(6)}", "queue": "refunds", "eta_hours": 24},
        )
        cv.reply(
            f"I'm so sorry about that, {person.first}. Because of the amount I've passed this to a senior agent, "
            "who will review it and e-mail you within 24 hours. You don't need to send the item back yet."
        )
        return cv.calls
    method = "store_credit" if e.rng.random() < 0.2 else "original_payment"
    args = {
        "order_id": oid,
        "amount": line["line_total"],
        "reason": "damaged",
        "line_item_skus": [line["sku"]],
    }
    if method == "store_credit":
        cv.user(
            say(
                e.rng,
                (
                    "Actually, store credit is fine.",
                    "can you do store credit instead? faster for me",
                ),
                greet=False,
            )
        )
        args["refund_method"] = "store_credit"
    (cid,) = cv.act_tools(("issue_refund", args))
    cv.result(
        cid,
        "issue_refund",
        {
            "refund_id": f"RF-{e.digits(8)}",
            "status": "pending",
            "amount": line["line_total"],
            "method": method,
        },
    )
    where = (
        "as store credit on your account"
        if method == "store_credit"
        else (
            f"to your {order['payment']['brand']} ending in {order['payment']['last4']} within 5-10 business days"
        )
    )
    cv.reply(
        f"I've refunded {money(line['line_total'])} for the {line['name'].split(',')[0]} {where}. "
        "No need to return the damaged item. Sorry again for the trouble!"
    )
    return cv.calls


def change_address(e: Ent, today: date) -> list[Call]:
    cv, person, addr = open_chat(e, today)
    status = pick(e.rng, ("processing", "processing", "processing", "shipped"))
    order = be.make_order(e, today, status, person, addr)
    new = e.address()
    cv.user(say(e.rng, ADDRESS_T, oid=order["order_id"], addr=new.one_line(), email=person.email))
    lookup(cv, order)
    if status == "shipped":
        cv.reply(
            f"Unfortunately order {order['order_id']} has already shipped to {addr.street}, so I can't change "
            f"the address here. You can redirect it with {order['carrier']} using tracking number "
            f"{order['tracking_number']}."
        )
        return cv.calls
    (cid,) = cv.act_tools(
        (
            "update_shipping_address",
            {
                "order_id": order["order_id"],
                "street": new.street,
                "city": new.city,
                "state": new.state,
                "postal_code": new.postal_code,
            },
        )
    )
    cv.result(cid, "update_shipping_address", {"order_id": order["order_id"], "updated": True})
    cv.reply(
        f"All set: order {order['order_id']} will now ship to {new.one_line()}. It's still on track to leave "
        "our warehouse in the next day or so."
    )
    return cv.calls


def availability(e: Ent, today: date) -> list[Call]:
    cv, person, addr = open_chat(e, today)
    p: Product = product(e.rng)
    q = short_name(p)
    cv.user(
        say(
            e.rng,
            (
                "Do you have the {q} in stock? I'm near {zip}.",
                "is the {q} available for pickup around {zip}",
                "Looking for a {q}. Any in stock near {zip}?",
            ),
            q=q,
            zip=addr.postal_code,
        )
    )
    (cid,) = cv.act_tools(("search_products", {"query": q}))
    cv.result(cid, "search_products", be.search_results(e.rng, p))
    (cid,) = cv.act_tools(
        ("check_product_availability", {"sku": p.sku, "postal_code": addr.postal_code})
    )
    av = be.availability(e, p, addr.postal_code, today)
    cv.result(cid, "check_product_availability", av)
    store = av["stores"][0]
    online = (
        f"{av['online_available']} available online"
        if av["online_available"]
        else f"sold out online until about {human_date(date.fromisoformat(av['restock_date']), e.rng)}"
    )
    pickup = (
        f"{store['available']} at {store['store']} ({store['distance_miles']} mi)"
        if store["available"]
        else f"none at {store['store']} right now"
    )
    cv.reply(f"The {p.name} ({money(p.price)}) is {online}, and there are {pickup}.")
    return cv.calls


SCENARIOS = (
    (where_is_order, 26),
    (cancel_order, 10),
    (refund_damaged, 11),
    (change_address, 8),
    (availability, 8),
) + SIDE_FLOWS


def session(e: Ent, today: date) -> list[Call]:
    return weighted(e.rng, SCENARIOS)(e, today)
