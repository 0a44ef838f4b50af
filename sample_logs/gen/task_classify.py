"""Task `intent_classification`: one customer message -> exactly one label from a fixed set."""

from __future__ import annotations

from datetime import date

from .catalog import product, short_name
from .entities import Ent
from .model import Call, single
from .text import pick, say

LABELS = {
    "order_status": "asks where an order is or when it will arrive",
    "cancel_order": "wants to cancel an order",
    "return_request": "wants to return or exchange an item",
    "refund_status": "asks about a refund already requested or issued",
    "address_change": "wants to change a delivery address",
    "payment_problem": "payment declined, double charge, wrong amount, invoice",
    "product_question": "question about a product before or after buying",
    "account_access": "cannot log in, password reset, account locked, e-mail change",
    "damaged_item": "item arrived broken, defective or damaged",
    "delivery_problem": "marked delivered but missing, wrong address, courier issue",
    "complaint": "general dissatisfaction without a concrete request",
    "praise": "thanks or positive feedback",
}
TEMPLATES = {
    "order_status": (
        "where's my order {oid}",
        "Any idea when {oid} will show up?",
        "It's been 6 days and {oid} still says processing.",
        "can u check the status of my {prod} order",
        "Has {oid} shipped yet?",
        "tracking number for {oid} please",
    ),
    "cancel_order": (
        "please cancel {oid}",
        "I want to cancel my order for the {prod}.",
        "Cancel order {oid} before it ships!!",
        "changed my mind about the {prod}, can I cancel?",
        "how do I cancel an order I placed an hour ago",
    ),
    "return_request": (
        "I want to return the {prod}",
        "How do I send back {oid}? Wrong size.",
        "can I exchange the {prod} for another colour",
        "need a return label for {oid}",
        "The {prod} doesn't fit my desk, I'd like to return it.",
    ),
    "refund_status": (
        "I returned {oid} two weeks ago, where is my refund?",
        "still no refund for the {prod}",
        "When will the refund for {oid} hit my card?",
        "you said refund in 5 days, it's been 12. {email}",
    ),
    "address_change": (
        "I need to change the delivery address for {oid}",
        "can you send {oid} to {addr} instead",
        "Wrong address on my order! It should be {addr}.",
        "update shipping address pls, moved to {addr}",
    ),
    "payment_problem": (
        "I was charged twice for {oid}",
        "you charged my card {card} twice for the same order",
        "my card keeps getting declined at checkout",
        "Why was I charged $14 more than the total on {oid}?",
        "I need an invoice with VAT for {oid}, company {company}",
    ),
    "product_question": (
        "is the {prod} dishwasher safe?",
        "Does the {prod} come in other colours?",
        "what are the dimensions of the {prod}",
        "Will the {prod} work with 220V?",
        "Is there a warranty on the {prod}?",
    ),
    "account_access": (
        "can't log in, password reset email never arrives ({email})",
        "my account is locked",
        "I want to change the email on my account from {email}",
        "Someone changed my password?? {email}",
    ),
    "damaged_item": (
        "the {prod} arrived broken",
        "{oid} came with a cracked screen",
        "box was crushed and the {prod} is dented",
        "One of the items in {oid} is defective, it won't turn on.",
    ),
    "delivery_problem": (
        "says delivered but nothing here. {oid}",
        "courier left my parcel at the wrong house ({addr})",
        "The driver never rang, and now {oid} is back at the depot.",
        "package stolen from porch, order {oid}",
    ),
    "complaint": (
        "Worst customer service ever.",
        "I'm really unhappy with how {oid} was handled.",
        "Your website is so slow and confusing",
        "This is the third time something goes wrong with my orders.",
    ),
    "praise": (
        "Thanks so much, the {prod} is great!",
        "Just wanted to say Riley was super helpful yesterday.",
        "Delivery was fast, love the {prod}",
        "great service, thank you!! - {name}",
    ),
}
SYSTEM = (
    "You are the intent router of ShopRight customer support. Classify the customer's message into exactly "
    "one intent from this list and reply with the label only, nothing else:\n"
    + "\n".join(f"- {k}: {v}" for k, v in LABELS.items())
    + "\nIf several apply, choose the one the customer most needs resolved. Messages may contain typos, "
    "slang or several sentences."
)


def call(e: Ent, today: date) -> Call:
    rng = e.rng
    label = pick(rng, tuple(LABELS))
    person = e.person()
    text = say(
        rng,
        TEMPLATES[label],
        oid=e.order_id(),
        prod=short_name(product(rng)),
        email=person.email,
        addr=e.address().one_line(),
        name=person.first,
        card=e.card(),
        company=pick(
            rng, ("Brightwave LLC", "Kestrel Design GmbH", "Oakline Dental", "Pixel & Pine Studio")
        ),
    )
    if rng.random() < 0.12:
        text += f"\n\n{person.name}\n{person.phone}"
    return single("intent_classification", SYSTEM, e, text, label, max_tokens=8, temperature=0.0)
