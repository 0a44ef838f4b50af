"""Task `log_parsing`: one raw log line (nginx, WMS scanner, payment gateway) -> JSON fields."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from .catalog import WAREHOUSES, product
from .entities import Ent
from .model import Call, compact, single
from .text import pick, unwrap

SYSTEM = unwrap("""Parse the log line into one JSON object. Identify the source and emit exactly these keys:
- nginx access log: source="nginx", client_ip, timestamp, method, path, query, status (int), bytes
  (int), referrer, user_agent, request_time_s (number)
- WMS scanner log: source="wms", timestamp, warehouse_id, level, scanner_id, user, event, sku,
  quantity (int), bin, order_id
- payment gateway log: source="payments", timestamp, level, event, order_id, amount (number),
  currency, card_brand, card_last4, reason, customer_email
Copy values exactly as they appear (timestamps unchanged). Use null for a missing value or "-".
  Output JSON only.""")
AGENTS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.0 Safari/605.1.15",
    "ShopRightApp/5.12.0 (Android 15; Pixel 8)",
    "curl/8.5.0",
    "python-requests/2.32.3",
)
EVENTS = ("PICK", "PUTAWAY", "PACK", "RECEIVE", "COUNT", "MOVE")
PAY_EVENTS = (
    (
        "charge_failed",
        "WARN",
        ("insufficient_funds", "card_declined", "expired_card", "do_not_honor"),
    ),
    ("charge_succeeded", "INFO", (None,)),
    ("refund_issued", "INFO", (None,)),
    ("chargeback_opened", "ERROR", ("fraudulent", "product_not_received")),
)


def _nginx(e: Ent, ts: datetime) -> tuple[str, dict]:
    rng = e.rng
    ip, method = e.ip(), pick(rng, ("GET", "GET", "GET", "POST", "PUT", "DELETE"))
    oid = e.order_id()
    path, query = pick(
        rng,
        (
            (f"/api/v2/orders/{oid}", None),
            ("/api/v2/cart/items", None),
            ("/checkout/payment", None),
            (f"/account/orders/{oid}", None),
            ("/search", f"q={product(rng).name.split()[0].lower()}&page=2"),
            ("/api/v2/orders", "email=" + e.person().email.replace("@", "%40")),
            ("/api/v2/session", "access_token=" + e.secret("JWT")[1]),
        ),
    )
    status = pick(rng, (200, 200, 200, 201, 204, 301, 304, 400, 401, 404, 429, 500, 502))
    nbytes, rt = rng.randrange(0, 48000), round(rng.uniform(0.002, 2.5), 3)
    ref = pick(
        rng,
        (
            "-",
            "https://www.shopright.com/",
            "https://www.shopright.com/account",
            "https://www.google.com/",
        ),
    )
    ua = pick(rng, AGENTS)
    stamp = ts.strftime("%d/%b/%Y:%H:%M:%S +0000")
    target = path + (f"?{query}" if query else "")
    line = (
        f'{ip} - - [{stamp}] "{method} {target} HTTP/1.1" {status} {nbytes} "{ref}" "{ua}" rt={rt}'
    )
    return line, {
        "source": "nginx",
        "client_ip": ip,
        "timestamp": stamp,
        "method": method,
        "path": path,
        "query": query,
        "status": status,
        "bytes": nbytes,
        "referrer": None if ref == "-" else ref,
        "user_agent": ua,
        "request_time_s": rt,
    }


def _wms(e: Ent, ts: datetime) -> tuple[str, dict]:
    rng = e.rng
    wh, ev, p = pick(rng, WAREHOUSES), pick(rng, EVENTS), product(rng)
    stamp = ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{rng.randrange(1000):03d}Z"
    level = pick(rng, ("INFO", "INFO", "INFO", "WARN", "ERROR"))
    scanner, user = (
        f"SC-{rng.randrange(100, 999)}",
        pick(rng, ("jdoe", "mrivera", "a.khan", "tnguyen", "lpetrov", "ssmith2")),
    )
    qty, bin_ = (
        rng.randint(1, 48),
        f"{pick(rng, 'ABCDEFGH')}-{rng.randint(1, 40):02d}-{rng.randint(1, 12):02d}",
    )
    oid = e.order_id() if ev in ("PICK", "PACK") else None
    parts = [
        f"{stamp} WMS[{wh}] {level} scanner={scanner} user={user} event={ev} sku={p.sku} qty={qty} bin={bin_}"
    ]
    if oid:
        parts.append(f"order={oid}")
    return " ".join(parts), {
        "source": "wms",
        "timestamp": stamp,
        "warehouse_id": wh,
        "level": level,
        "scanner_id": scanner,
        "user": user,
        "event": ev,
        "sku": p.sku,
        "quantity": qty,
        "bin": bin_,
        "order_id": oid,
    }


def _payments(e: Ent, ts: datetime) -> tuple[str, dict]:
    rng = e.rng
    event, level, reasons = pick(rng, PAY_EVENTS)
    reason = pick(rng, reasons)
    oid, amount = e.order_id(), product(rng).price
    brand, last4 = pick(rng, ("visa", "mastercard", "amex", "discover")), e.digits(4)
    email = e.person().email
    stamp = ts.strftime("%Y-%m-%d %H:%M:%S,") + f"{rng.randrange(1000):03d}"
    line = (
        f"[{stamp}] {level} payments.gateway - {event} order={oid} amount={amount} currency=USD "
        f"card={brand} ****{last4}"
        + (f' reason="{reason}"' if reason else "")
        + f" customer_email={email}"
    )
    return line, {
        "source": "payments",
        "timestamp": stamp,
        "level": level,
        "event": event,
        "order_id": oid,
        "amount": amount,
        "currency": "USD",
        "card_brand": brand,
        "card_last4": last4,
        "reason": reason,
        "customer_email": email,
    }


def call(e: Ent, today: date) -> Call:
    ts = datetime.combine(today, datetime.min.time()) + timedelta(seconds=e.rng.randrange(86400))
    line, parsed = pick(e.rng, (_nginx, _nginx, _wms, _wms, _payments))(e, ts)
    return single(
        "log_parsing",
        SYSTEM,
        e,
        line,
        compact(parsed),
        response_format={"type": "json_object"},
        max_tokens=512,
        temperature=0.0,
    )
