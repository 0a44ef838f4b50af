"""Task `email_extraction`: inbound support e-mail -> JSON fields (response_format json_schema, strict)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from .catalog import product, short_name
from .entities import Ent
from .model import Call, compact, single
from .text import pick

REQUEST_TYPES = (
    "order_status",
    "return_request",
    "refund_request",
    "cancellation",
    "address_change",
    "product_question",
    "complaint",
    "other",
)
NULLABLE = {"type": ["string", "null"]}
SCHEMA = {
    "name": "inbound_email",
    "strict": True,
    "schema": {
        "type": "object",
        "properties": {
            "customer_name": {**NULLABLE, "description": "Sender's full name as written, or null."},
            "email": {"type": "string", "description": "Sender e-mail address."},
            "phone": {**NULLABLE, "description": "Phone number as written, or null."},
            "order_ids": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Order numbers (SR-NNNNNNN).",
            },
            "request_type": {"type": "string", "enum": list(REQUEST_TYPES)},
            "products": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Products mentioned, as written.",
            },
            "shipping_address": {
                **NULLABLE,
                "description": "New or referenced street address as written, or null.",
            },
            "urgency": {"type": "string", "enum": ["low", "normal", "high"]},
        },
        "required": [
            "customer_name",
            "email",
            "phone",
            "order_ids",
            "request_type",
            "products",
            "shipping_address",
            "urgency",
        ],
        "additionalProperties": False,
    },
}
RESPONSE_FORMAT = {"type": "json_schema", "json_schema": SCHEMA}
SYSTEM = (
    "You extract structured data from inbound customer e-mails sent to ShopRight support. Return only JSON "
    "that matches the schema. Copy names, e-mail addresses, phone numbers, order numbers, product names and "
    "addresses exactly as they appear in the e-mail; never normalise or guess them, and use null (or an empty "
    "list) when a field is absent. Ignore quoted earlier messages and e-mail signatures of ShopRight staff. "
    "request_type is the customer's main request. urgency is high when the customer asks for action today or "
    "uses words like urgent or ASAP, low for general questions, normal otherwise."
)
BODIES = {
    "order_status": (
        "I placed order {oid} for the {prod} and haven't received any shipping update. Can you tell me where it is?",
        "Just checking on {oid} ({prod}). The tracking page shows nothing.",
    ),
    "return_request": (
        "I'd like to return the {prod} from order {oid}. It doesn't fit the space I had in mind.",
        "How do I send back the {prod}? Order number {oid}. It's unopened.",
    ),
    "refund_request": (
        "The {prod} (order {oid}) stopped working after two days. I want a refund please.",
        "I returned the {prod} two weeks ago ({oid}) and still no refund.",
    ),
    "cancellation": (
        "Please cancel order {oid}, I ordered the {prod} twice by mistake.",
        "I need to cancel {oid} before it ships. Don't need the {prod} anymore.",
    ),
    "address_change": (
        "Please ship order {oid} to my new address: {addr}. We moved last weekend.",
        "The {prod} in {oid} should go to {addr} instead of my old place.",
    ),
    "product_question": (
        "Does the {prod} come with a warranty? Thinking about buying two.",
        "Is the {prod} dishwasher safe / machine washable? The page doesn't say.",
    ),
    "complaint": (
        "Third time I'm writing about {oid}. The {prod} arrived scratched and nobody answers. Very disappointed.",
        "Your courier left the {prod} in the rain (order {oid}). The box was soaked. Not acceptable.",
    ),
    "other": (
        "Can you remove me from the SMS marketing list? I still want order e-mails.",
        "Do you offer corporate accounts? We'd buy the {prod} in bulk for our office.",
    ),
}
URGENT = (" I need this sorted today.", " This is urgent!", " Please respond ASAP.")
SIGNOFFS = (
    "Thanks,",
    "Best regards,",
    "Cheers,",
    "Kind regards,",
    "Sent from my iPhone",
    "Thank you,",
    "-",
)


def _header(e: Ent, person, sent: datetime, subject: str, display: bool) -> str:
    frm = f'"{person.name}" <{person.email}>' if display else person.email
    return (
        f"From: {frm}\nTo: support@shopright.com\nSubject: {subject}\n"
        f"Date: {sent.strftime('%a, %d %b %Y %H:%M:%S')} {pick(e.rng, ('-0800', '-0500', '-0600', '+0000'))}\n"
    )


def call(e: Ent, today: date) -> Call:
    rng = e.rng
    person = e.person()
    rtype = pick(rng, REQUEST_TYPES)
    p, oid = product(rng), e.order_id()
    addr = e.address().one_line() if rtype == "address_change" else None
    body = pick(rng, BODIES[rtype]).format(oid=oid, prod=short_name(p), addr=addr)
    urgency = "low" if rtype in ("product_question", "other") else "normal"
    if rtype not in ("product_question", "other") and rng.random() < 0.3:
        body += pick(rng, URGENT)
        urgency = "high"
    display = rng.random() < 0.7
    name_in_sig = not display or rng.random() < 0.5
    show_phone = rng.random() < 0.45
    sig = [pick(rng, SIGNOFFS)]
    if name_in_sig:
        sig.append(person.name)
    if show_phone:
        sig.append(pick(rng, ("", "Tel: ", "Mobile: ", "ph ")) + person.phone)
    products = [short_name(p)] if short_name(p) in body else []
    subject = pick(
        rng,
        (
            f"Order {oid}",
            "Help with my order",
            f"Re: {short_name(p)}",
            "Question",
            "URGENT" if urgency == "high" else "Support request",
            f"Fwd: Your ShopRight order {oid}",
        ),
    )
    order_ids = [oid] if oid in body or oid in subject else []
    sent = datetime.combine(today, datetime.min.time()) + timedelta(
        minutes=rng.randrange(6 * 60, 23 * 60)
    )
    text = (
        _header(e, person, sent, subject, display)
        + "\n"
        + pick(rng, ("Hi,\n\n", "Hello ShopRight team,\n\n", "", "Dear Sir/Madam,\n\n"))
    )
    text += body + "\n\n" + "\n".join(sig)
    if rng.random() < 0.2:
        text += (
            f"\n\n> On {(sent - timedelta(days=2)).strftime('%a, %b %d, %Y')}, "
            "ShopRight Support <support@shopright.com> wrote:"
            "\n> Thanks for contacting ShopRight! A member of our team will reply within 24 hours."
        )
    out = {
        "customer_name": person.name if (display or name_in_sig) else None,
        "email": person.email,
        "phone": person.phone if show_phone else None,
        "order_ids": order_ids,
        "request_type": rtype,
        "products": products,
        "shipping_address": addr,
        "urgency": urgency,
    }
    return single(
        "email_extraction",
        SYSTEM,
        e,
        text,
        compact(out),
        response_format=RESPONSE_FORMAT,
        max_tokens=400,
        temperature=0.0,
    )
