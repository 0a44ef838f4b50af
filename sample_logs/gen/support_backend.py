"""Simulated ShopRight back end: the records that support tools return (orders, tracking, ...)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from .catalog import CARRIERS, PRODUCTS, Product, product
from .entities import Address, Ent, Person
from .text import business_days

CARD_BRANDS = ("Visa", "Mastercard", "Amex", "Discover")
HUBS = (
    "Memphis, TN",
    "Louisville, KY",
    "Indianapolis, IN",
    "Reno, NV",
    "Atlanta, GA",
    "Newark, NJ",
    "Dallas, TX",
    "Chicago, IL",
    "Phoenix, AZ",
    "Salt Lake City, UT",
    "Columbus, OH",
    "Kansas City, MO",
)


def iso(d: date | datetime) -> str:
    return (
        d.isoformat()
        if isinstance(d, date) and not isinstance(d, datetime)
        else d.strftime("%Y-%m-%dT%H:%M:%SZ")
    )


def make_order(
    e: Ent,
    today: date,
    status: str,
    person: Person,
    addr: Address,
    items: list[Product] | None = None,
) -> dict:
    """An order record as lookup_order returns it; ids are fresh, PII is the customer's."""
    rng = e.rng
    items = items or [product(rng) for _ in range(1 if rng.random() < 0.6 else rng.randint(2, 3))]
    placed = today - timedelta(
        days=rng.randint(1, 12) if status != "processing" else rng.randint(0, 1)
    )
    lines = []
    for p in items:
        qty = 1 if rng.random() < 0.85 else 2
        lines.append(
            {
                "sku": p.sku,
                "name": p.name,
                "quantity": qty,
                "unit_price": p.price,
                "line_total": round(p.price * qty, 2),
            }
        )
    subtotal = round(sum(li["line_total"] for li in lines), 2)
    shipping = 0.0 if subtotal >= 49 else 6.95
    tax = round(subtotal * 0.0725, 2)
    order = {
        "order_id": e.order_id(),
        "status": status,
        "placed_at": iso(placed),
        "customer": {"name": person.name, "email": person.email, "phone": person.phone},
        "items": lines,
        "subtotal": subtotal,
        "shipping": shipping,
        "tax": tax,
        "total": round(subtotal + shipping + tax, 2),
        "payment": {"brand": e.pick(CARD_BRANDS), "last4": e.digits(4)},
        "shipping_address": {
            "name": person.name,
            "street": addr.street,
            "city": addr.city,
            "state": addr.state,
            "postal_code": addr.postal_code,
            "country": addr.country,
        },
        "promised_delivery": iso(business_days(placed, rng.randint(3, 6))),
    }
    if status in ("shipped", "delivered", "returned"):
        carrier = e.pick(CARRIERS)
        order["carrier"] = carrier
        order["tracking_number"] = e.tracking(carrier)
        order["shipped_at"] = iso(placed + timedelta(days=1))
    if status == "delivered":
        order["delivered_at"] = iso(min(today, placed + timedelta(days=rng.randint(2, 6))))
    return order


def tracking_result(e: Ent, order: dict, today: date, late: bool = False) -> dict:
    """Carrier tracking events for a shipped order, newest first."""
    rng = e.rng
    eta = date.fromisoformat(order["promised_delivery"])
    if late:
        eta = max(eta, today) + timedelta(days=rng.randint(2, 4))
    state = (
        "delivered"
        if order["status"] == "delivered"
        else e.pick(("in_transit", "in_transit", "out_for_delivery"))
    )
    if late:
        state = "exception"
    dest = f"{order['shipping_address']['city']}, {order['shipping_address']['state']}"
    stamps = sorted({today - timedelta(days=k) for k in range(rng.randint(2, 4))})
    descs = [
        "Shipment information received",
        f"Departed facility {e.pick(HUBS)}",
        f"Arrived at {e.pick(HUBS)}",
        "In transit to destination",
    ]
    events = [
        {
            "time": f"{iso(d)}T{rng.randint(5, 21):02d}:{rng.randint(0, 59):02d}:00Z",
            "location": e.pick(HUBS),
            "description": descs[min(i, len(descs) - 1)],
        }
        for i, d in enumerate(stamps)
    ]
    last = {
        "in_transit": "In transit",
        "out_for_delivery": "Out for delivery",
        "delivered": "Delivered, front door",
        "exception": "Delay: weather/operational exception",
    }[state]
    events.append(
        {
            "time": f"{iso(today)}T{rng.randint(6, 11):02d}:{rng.randint(0, 59):02d}:00Z",
            "location": dest,
            "description": last,
        }
    )
    return {
        "tracking_number": order["tracking_number"],
        "carrier": order["carrier"],
        "status": state,
        "estimated_delivery": iso(eta),
        "events": list(reversed(events)),
    }


def order_summaries(e: Ent, today: date, person: Person, addr: Address, n: int) -> list[dict]:
    """What search_orders_by_email returns: compact rows, newest first."""
    rows = []
    for _ in range(n):
        o = make_order(
            e, today, e.pick(("processing", "shipped", "delivered", "delivered")), person, addr
        )
        rows.append(
            {
                "order_id": o["order_id"],
                "placed_at": o["placed_at"],
                "status": o["status"],
                "total": o["total"],
                "items": [li["name"] for li in o["items"]],
            }
        )
    return sorted(rows, key=lambda r: r["placed_at"], reverse=True)


def availability(e: Ent, p: Product, postal_code: str | None, today: date) -> dict:
    rng = e.rng
    online = rng.choice((0, 0, 3, 12, 48, 150, 320))
    out = {
        "sku": p.sku,
        "name": p.name,
        "price": p.price,
        "online_available": online,
        "restock_date": iso(today + timedelta(days=rng.randint(5, 25))) if online == 0 else None,
    }
    if postal_code:
        out["stores"] = [
            {
                "store": f"ShopRight {e.pick(('Downtown', 'Mall', 'Crossing', 'Outlet'))}",
                "distance_miles": round(rng.uniform(1, 24), 1),
                "available": rng.randint(0, 6),
            }
        ]
    return out


def search_results(rng, query_product: Product) -> dict:
    same = [p for p in PRODUCTS if p.category == query_product.category and p != query_product]
    rng.shuffle(same)
    hits = [query_product] + same[: rng.randint(1, 3)]
    return {"results": [{"sku": p.sku, "name": p.name, "price": p.price} for p in hits]}
