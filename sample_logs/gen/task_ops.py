"""Task `inventory_ops`: warehouse staff ask the ops copilot in Slack; the next step is a tool call or a reply."""

from __future__ import annotations

from datetime import date, timedelta

from .catalog import PRODUCTS, SUPPLIERS, WAREHOUSES, product
from .entities import Ent
from .model import Call, Convo
from .text import pick, say, weighted
from .tools_ops import OPS_SYSTEM, OPS_TOOLS

ROLES = (
    "inventory planner",
    "shift lead",
    "warehouse manager",
    "ops desk analyst",
    "receiving lead",
)
CHANNEL = {w: f"#ops-{w.lower()}" for w in WAREHOUSES}


def _open(e: Ent, today: date) -> tuple[Convo, str]:
    site = pick(e.rng, WAREHOUSES)
    staff = e.person()
    system = OPS_SYSTEM.format(
        today=today.isoformat(), role=f"{staff.name} ({pick(e.rng, ROLES)})", site=site
    )
    return Convo("inventory_ops", system, e, OPS_TOOLS, max_tokens=1024, temperature=0.0), site


def _stock(e: Ent, sku: str, wh: str) -> dict:
    on_hand = e.rng.randrange(0, 900)
    reserved = min(on_hand, e.rng.randrange(0, 60))
    return {
        "sku": sku,
        "warehouse_id": wh,
        "on_hand": on_hand,
        "reserved": reserved,
        "available": on_hand - reserved,
    }


def stock_check(e: Ent, today: date) -> list[Call]:
    cv, site = _open(e, today)
    p, wh = product(e.rng), pick(e.rng, WAREHOUSES)
    cv.user(
        say(
            e.rng,
            (
                "how many {sku} do we have in {wh}?",
                "stock check {sku} @ {wh} pls",
                "{wh}: available units of {sku}?",
                "Can you pull current inventory for {sku} at {wh}",
            ),
            sku=p.sku,
            wh=wh,
            greet=False,
        )
    )
    (cid,) = cv.act_tools(("check_stock", {"sku": p.sku, "warehouse_id": wh}))
    st = _stock(e, p.sku, wh)
    cv.result(cid, "check_stock", st)
    cv.reply(
        f"{st['available']} available at {wh} ({st['on_hand']} on hand, {st['reserved']} reserved) for {p.sku}."
    )
    return cv.calls


def multi_site(e: Ent, today: date) -> list[Call]:
    cv, _ = _open(e, today)
    p = product(e.rng)
    sites = e.rng.sample(WAREHOUSES, e.rng.randint(2, 3))
    cv.user(
        say(
            e.rng,
            ("check {sku} at {sites} please", "what's {sku} looking like in {sites}?"),
            sku=p.sku,
            sites=", ".join(sites),
            greet=False,
        )
    )
    ids = cv.act_tools(*[("check_stock", {"sku": p.sku, "warehouse_id": w}) for w in sites])
    stocks = [_stock(e, p.sku, w) for w in sites]
    cv.results(ids, ["check_stock"] * len(sites), stocks)
    cv.reply(
        f"{p.sku} available: "
        + ", ".join(f"{s['warehouse_id']} {s['available']}" for s in stocks)
        + "."
    )
    return cv.calls


def transfer(e: Ent, today: date) -> list[Call]:
    cv, _ = _open(e, today)
    p = product(e.rng)
    src, dst = e.rng.sample(WAREHOUSES, 2)
    qty = e.rng.choice((12, 24, 40, 50, 60, 80, 100, 150, 200, 240))
    urgent = e.rng.random() < 0.3
    cv.user(
        say(
            e.rng,
            (
                "move {q} units of {sku} from {a} to {b}{u}",
                "Need a transfer: {sku} x{q}, {a} -> {b}{u}",
                "can you set up a transfer of {q} {sku} {a} to {b}{u}",
            ),
            q=qty,
            sku=p.sku,
            a=src,
            b=dst,
            u=pick(e.rng, (", urgent", " asap - stockout", " today please")) if urgent else "",
            greet=False,
        )
    )
    (cid,) = cv.act_tools(("check_stock", {"sku": p.sku, "warehouse_id": src}))
    st = _stock(e, p.sku, src)
    cv.result(cid, "check_stock", st)
    if st["available"] < qty:
        cv.reply(
            f"Only {st['available']} of {p.sku} available at {src}, not enough for {qty}. Want me to move "
            f"{st['available']} now, or check another centre?"
        )
        return cv.calls
    args = {"sku": p.sku, "from_warehouse": src, "to_warehouse": dst, "quantity": qty}
    if urgent:
        args["priority"] = "urgent"
    (cid,) = cv.act_tools(("create_transfer", args))
    tid = f"TRF-{e.digits(5)}"
    eta = today + timedelta(days=e.rng.randint(1, 4))
    cv.result(
        cid, "create_transfer", {"transfer_id": tid, "status": "created", "eta": eta.isoformat()}
    )
    cv.reply(f"Transfer {tid} created: {qty} x {p.sku} {src} -> {dst}, ETA {eta.isoformat()}.")
    return cv.calls


def reserve(e: Ent, today: date) -> list[Call]:
    cv, _ = _open(e, today)
    p, wh, qty, oid = product(e.rng), pick(e.rng, WAREHOUSES), e.rng.randint(1, 6), e.order_id()
    cv.user(
        say(
            e.rng,
            (
                "reserve {q} x {sku} at {wh} for order {oid}",
                "Please hold {q} units of {sku} in {wh}, it's for {oid}",
                "{oid} is a VIP order, reserve {q} {sku} from {wh}",
            ),
            q=qty,
            sku=p.sku,
            wh=wh,
            oid=oid,
            greet=False,
        )
    )
    (cid,) = cv.act_tools(
        ("reserve_item", {"sku": p.sku, "warehouse_id": wh, "quantity": qty, "order_id": oid})
    )
    rid = f"RSV-{e.digits(6)}"
    cv.result(
        cid, "reserve_item", {"reservation_id": rid, "status": "reserved", "expires_in_hours": 48}
    )
    cv.reply(f"Reserved {qty} x {p.sku} at {wh} for {oid} ({rid}, holds for 48h).")
    return cv.calls


def low_stock(e: Ent, today: date) -> list[Call]:
    cv, _ = _open(e, today)
    wh, thr = pick(e.rng, WAREHOUSES), e.rng.choice((10, 15, 20, 25, 30, 50))
    cv.user(
        say(
            e.rng,
            (
                "what's running low in {wh}? anything under {t}",
                "low stock report for {wh}, threshold {t}",
                "Which SKUs at {wh} are below {t} units?",
            ),
            wh=wh,
            t=thr,
            greet=False,
        )
    )
    (cid,) = cv.act_tools(("list_low_stock", {"warehouse_id": wh, "threshold": thr}))
    rows = []
    for p in e.rng.sample(PRODUCTS, e.rng.randint(2, 4)):
        sup = SUPPLIERS[PRODUCTS.index(p) % len(SUPPLIERS)]
        rows.append(
            {
                "sku": p.sku,
                "name": p.name,
                "available": e.rng.randrange(0, thr),
                "supplier_id": sup[0],
            }
        )
    cv.result(cid, "list_low_stock", {"warehouse_id": wh, "items": rows})
    cv.reply(
        f"{len(rows)} SKUs under {thr} at {wh}: "
        + "; ".join(f"{r['sku']} ({r['available']})" for r in rows)
        + "."
    )
    if e.rng.random() < 0.6:
        qty = e.rng.choice((100, 200, 250, 500))
        cv.user(
            say(
                e.rng,
                (
                    "raise POs for the first two, {q} each",
                    "ok order {q} of the top 2 please",
                    "PO the first two SKUs, {q} units each, deliver to {wh}",
                ),
                q=qty,
                wh=wh,
                greet=False,
            )
        )
        ids = cv.act_tools(
            *[
                (
                    "create_purchase_order",
                    {
                        "supplier_id": r["supplier_id"],
                        "sku": r["sku"],
                        "quantity": qty,
                        "deliver_to": wh,
                    },
                )
                for r in rows[:2]
            ]
        )
        pos = [{"po_number": f"PO-{e.digits(7)}", "status": "submitted"} for _ in ids]
        cv.results(ids, ["create_purchase_order"] * 2, pos)
        cv.reply(
            "Submitted "
            + " and ".join(
                f"{po['po_number']} ({r['sku']})" for po, r in zip(pos, rows[:2], strict=True)
            )
            + f", {qty} units each to {wh}."
        )
    return cv.calls


def damaged(e: Ent, today: date) -> list[Call]:
    cv, _ = _open(e, today)
    p, wh, n = product(e.rng), pick(e.rng, WAREHOUSES), e.rng.randint(2, 30)
    cv.user(
        say(
            e.rng,
            (
                "forklift clipped a pallet of {sku} in {wh}, {n} units damaged",
                "{n} x {sku} damaged at {wh} (water leak in aisle 14)",
                "Damaged stock: {sku}, qty {n}, {wh}. Crushed cartons.",
            ),
            sku=p.sku,
            wh=wh,
            n=n,
            greet=False,
        )
    )
    ids = cv.act_tools(
        (
            "flag_damaged_stock",
            {
                "sku": p.sku,
                "warehouse_id": wh,
                "quantity": n,
                "note": "Reported damaged via ops copilot.",
            },
        ),
        (
            "notify_team",
            {
                "channel": CHANNEL[wh],
                "message": f"{n} units of {p.sku} damaged and quarantined at {wh}; please inspect.",
            },
        ),
    )
    cv.results(
        ids,
        ["flag_damaged_stock", "notify_team"],
        [
            {"report_id": f"DMG-{e.digits(6)}", "quarantined": n},
            {"ok": True, "ts": f"{e.digits(10)}.{e.digits(6)}"},
        ],
    )
    cv.reply(f"Quarantined {n} x {p.sku} at {wh} and posted in {CHANNEL[wh]}.")
    return cv.calls


def inbound(e: Ent, today: date) -> list[Call]:
    cv, _ = _open(e, today)
    wh, day = pick(e.rng, WAREHOUSES), today + timedelta(days=e.rng.randint(0, 2))
    cv.user(
        say(
            e.rng,
            ("what's arriving at {wh} on {d}?", "inbound ASNs for {wh} {d}"),
            wh=wh,
            d=day.isoformat(),
            greet=False,
        )
    )
    (cid,) = cv.act_tools(("get_inbound_shipments", {"warehouse_id": wh, "date": day.isoformat()}))
    asns = [
        {
            "asn_id": f"ASN-2026-{e.digits(5)}",
            "supplier": pick(e.rng, SUPPLIERS)[1],
            "pallets": e.rng.randint(2, 26),
            "eta": f"{e.rng.randint(6, 15):02d}:00",
        }
        for _ in range(e.rng.randint(1, 3))
    ]
    cv.result(
        cid,
        "get_inbound_shipments",
        {"warehouse_id": wh, "date": day.isoformat(), "shipments": asns},
    )
    cv.reply(
        f"{len(asns)} inbound at {wh} on {day.isoformat()}: "
        + "; ".join(
            f"{a['asn_id']} {a['supplier']} ({a['pallets']} pallets, {a['eta']})" for a in asns
        )
        + "."
    )
    if e.rng.random() < 0.5:
        a, door = asns[0], e.rng.randint(1, 40)
        cv.user(
            say(
                e.rng,
                ("{asn} is at door {door}, mark it received", "received {asn} on dock {door}"),
                asn=a["asn_id"],
                door=door,
                greet=False,
            )
        )
        (cid,) = cv.act_tools(
            ("receive_shipment", {"asn_id": a["asn_id"], "warehouse_id": wh, "dock_door": door})
        )
        cv.result(
            cid,
            "receive_shipment",
            {"asn_id": a["asn_id"], "status": "receiving", "putaway_tasks": a["pallets"]},
        )
        cv.reply(
            f"{a['asn_id']} marked received at door {door}; {a['pallets']} putaway tasks created."
        )
    return cv.calls


def fulfillment_status(e: Ent, today: date) -> list[Call]:
    cv, _ = _open(e, today)
    oid = e.order_id()
    cv.user(
        say(
            e.rng,
            (
                "where is {oid} in the building?",
                "customer care is asking about {oid}, status?",
                "Fulfilment status of {oid}",
            ),
            oid=oid,
            greet=False,
        )
    )
    (cid,) = cv.act_tools(("get_order_fulfillment_status", {"order_id": oid}))
    st, wh = pick(e.rng, ("allocated", "picked", "packed", "shipped")), pick(e.rng, WAREHOUSES)
    cv.result(
        cid, "get_order_fulfillment_status", {"order_id": oid, "status": st, "warehouse_id": wh}
    )
    cv.reply(f"{oid} is {st} at {wh}.")
    return cv.calls


def sync_failure(e: Ent, today: date) -> list[Call]:
    cv, _ = _open(e, today)
    kind, secret = e.secret(
        pick(
            e.rng,
            ("DB_URL_PASSWORD", "AWS_ACCESS_KEY", "SLACK_TOKEN", "GITHUB_TOKEN", "BEARER_TOKEN"),
        )
    )
    cv.user(
        say(
            e.rng,
            (
                "ERP sync to the WMS keeps failing since 6am. it uses {s} - can you check?",
                "scanner fleet can't post picks, config has {s}. is that still valid?",
                "label printing job dies with auth error, creds: {s}",
            ),
            s=secret,
            greet=False,
        )
    )
    system = pick(e.rng, ("erp_sync", "scanner_fleet", "label_printing"))
    cv.reply(
        "Please don't paste credentials here: treat that secret as exposed and rotate it now. I can't test "
        "connections, but I can open an incident for the integration team. Is picking blocked?"
    )
    blocked = e.rng.random() < 0.5
    cv.user(
        say(
            e.rng,
            ("yes, picking is blocked", "yep, nothing moving")
            if blocked
            else ("no, just delayed. open the incident", "not blocked, but please raise it"),
            greet=False,
        )
    )
    (cid,) = cv.act_tools(
        (
            "create_incident",
            {
                "title": f"{system} failing with authentication errors",
                "severity": "sev2" if blocked else "sev3",
                "system": system,
                "description": "Integration failing since this morning; credential "
                "was exposed in chat and is being rotated.",
            },
        )
    )
    cv.result(cid, "create_incident", {"incident_id": f"INC-{e.digits(5)}", "status": "open"})
    cv.reply(
        f"Incident opened ({'sev2' if blocked else 'sev3'}). The integration on-call will pick it up."
    )
    return cv.calls


def big_adjustment(e: Ent, today: date) -> list[Call]:
    cv, _ = _open(e, today)
    p, wh = product(e.rng), pick(e.rng, WAREHOUSES)
    n, zone = e.rng.randint(5, 400), pick(e.rng, "ABCDEFGH")
    cv.user(
        say(
            e.rng,
            (
                "found {n} extra {sku} in zone {z} at {wh}, please adjust",
                "{wh} zone {z}: we're short {n} of {sku}, adjust it",
            ),
            n=n,
            sku=p.sku,
            z=zone,
            wh=wh,
            greet=False,
        )
    )
    delta = -n if "short" in cv.msgs[-1]["content"] else n
    if n <= 100:
        (cid,) = cv.act_tools(
            (
                "adjust_inventory",
                {
                    "sku": p.sku,
                    "warehouse_id": wh,
                    "delta": delta,
                    "reason": "found" if delta > 0 else "lost",
                },
            )
        )
        cv.result(
            cid,
            "adjust_inventory",
            {"adjustment_id": f"ADJ-{e.digits(6)}", "new_on_hand": e.rng.randint(50, 800)},
        )
        cv.reply(f"Adjusted {p.sku} at {wh} by {delta:+d}.")
        return cv.calls
    day = (today + timedelta(days=1)).isoformat()
    cv.reply(
        f"{n} units is above the 100-unit limit, so a cycle count comes first. Shall I schedule zone {zone} at {wh} "
        f"for {day}?"
    )
    cv.user(say(e.rng, ("yes do it", "ok go ahead", "sure"), greet=False))
    (cid,) = cv.act_tools(("schedule_cycle_count", {"warehouse_id": wh, "zone": zone, "date": day}))
    cv.result(cid, "schedule_cycle_count", {"count_id": f"CC-{e.digits(5)}", "status": "scheduled"})
    cv.reply(f"Cycle count of zone {zone} at {wh} scheduled for {day}.")
    return cv.calls


FLOWS = (
    (stock_check, 18),
    (multi_site, 8),
    (transfer, 16),
    (reserve, 10),
    (low_stock, 12),
    (damaged, 7),
    (inbound, 9),
    (fulfillment_status, 9),
    (sync_failure, 3),
    (big_adjustment, 8),
)


def session(e: Ent, today: date) -> list[Call]:
    return weighted(e.rng, FLOWS)(e, today)
