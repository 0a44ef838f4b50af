"""The warehouse-operations copilot's tool belt (24 tools) and its system prompt."""

from __future__ import annotations

from .schema import ISO_DATE, ORDER_ID, SKU, WAREHOUSE, arr, boolean, enum, integer, s, tool
from .text import unwrap

SUPPLIER_ID = s("Supplier id, e.g. SUP-1042.", pattern="^SUP-[0-9]{4}$")
TRANSFER_ID = s("Transfer id, e.g. TRF-58213.", pattern="^TRF-[0-9]{5}$")
ADJUST_REASONS = (
    "cycle_count",
    "damaged",
    "lost",
    "found",
    "returned_to_stock",
    "expired",
    "other",
)

OPS_TOOLS: list[dict] = [
    tool(
        "check_stock",
        "On-hand, reserved and available units of a SKU in one fulfilment centre (or all "
        "centres when warehouse_id is omitted).",
        {"sku": SKU, "warehouse_id": WAREHOUSE},
        ["sku"],
    ),
    tool(
        "get_sku_details",
        "Master data of a SKU: name, dimensions, weight, hazmat flag, supplier, case pack.",
        {"sku": SKU},
        ["sku"],
    ),
    tool(
        "search_skus",
        "Find SKUs by free-text product name.",
        {
            "query": s("Words from the product name."),
            "limit": integer("Max results.", minimum=1, maximum=25, default=10),
        },
        ["query"],
    ),
    tool(
        "reserve_item",
        "Reserve units of a SKU in a fulfilment centre for a customer order.",
        {
            "sku": SKU,
            "warehouse_id": WAREHOUSE,
            "quantity": integer("Units to reserve.", minimum=1, maximum=500),
            "order_id": ORDER_ID,
        },
        ["sku", "warehouse_id", "quantity", "order_id"],
    ),
    tool(
        "release_reservation",
        "Release a reservation so the units become available again.",
        {"reservation_id": s("Reservation id, e.g. RSV-880123.", pattern="^RSV-[0-9]{6}$")},
        ["reservation_id"],
    ),
    tool(
        "create_transfer",
        "Create a stock transfer between two fulfilment centres. Needs available stock "
        "at the source; check_stock first when unsure.",
        {
            "sku": SKU,
            "from_warehouse": WAREHOUSE,
            "to_warehouse": WAREHOUSE,
            "quantity": integer("Units to move.", minimum=1, maximum=5000),
            "priority": enum(
                "Linehaul priority.", ("standard", "expedited", "urgent"), default="standard"
            ),
        },
        ["sku", "from_warehouse", "to_warehouse", "quantity"],
    ),
    tool(
        "get_transfer_status",
        "Status, carrier and ETA of a transfer.",
        {"transfer_id": TRANSFER_ID},
        ["transfer_id"],
    ),
    tool(
        "cancel_transfer",
        "Cancel a transfer that has not left the source centre.",
        {"transfer_id": TRANSFER_ID, "reason": s("Why it is cancelled.")},
        ["transfer_id", "reason"],
    ),
    tool(
        "create_purchase_order",
        "Raise a purchase order with a supplier for one SKU.",
        {
            "supplier_id": SUPPLIER_ID,
            "sku": SKU,
            "quantity": integer("Units to order (multiple of case pack).", minimum=1),
            "deliver_to": WAREHOUSE,
            "expedite": boolean("Pay for expedited freight.", default=False),
        },
        ["supplier_id", "sku", "quantity", "deliver_to"],
    ),
    tool(
        "get_supplier_info",
        "Supplier contact, lead time and minimum order quantity.",
        {"supplier_id": SUPPLIER_ID},
        ["supplier_id"],
    ),
    tool(
        "list_low_stock",
        "SKUs whose available units in a centre are below a threshold.",
        {
            "warehouse_id": WAREHOUSE,
            "threshold": integer("Available-units threshold.", minimum=0, default=20),
            "category": enum(
                "Optional category.",
                (
                    "any",
                    "furniture",
                    "kitchen",
                    "electronics",
                    "outdoor",
                    "apparel",
                    "beauty",
                    "toys",
                    "pets",
                    "garden",
                ),
                default="any",
            ),
        },
        ["warehouse_id"],
    ),
    tool(
        "adjust_inventory",
        "Post an inventory adjustment (positive or negative) with a reason code.",
        {
            "sku": SKU,
            "warehouse_id": WAREHOUSE,
            "delta": integer("Signed change in units."),
            "reason": enum("Adjustment reason.", ADJUST_REASONS),
        },
        ["sku", "warehouse_id", "delta", "reason"],
    ),
    tool(
        "schedule_cycle_count",
        "Schedule a cycle count of a zone.",
        {
            "warehouse_id": WAREHOUSE,
            "zone": s("Zone letter, e.g. A.", pattern="^[A-H]$"),
            "date": ISO_DATE,
        },
        ["warehouse_id", "zone", "date"],
    ),
    tool(
        "get_bin_location",
        "Bin locations holding a SKU in a centre.",
        {"sku": SKU, "warehouse_id": WAREHOUSE},
        ["sku", "warehouse_id"],
    ),
    tool(
        "move_bin",
        "Record a move of units between two bins.",
        {
            "sku": SKU,
            "warehouse_id": WAREHOUSE,
            "from_bin": s("Bin, e.g. A-12-03."),
            "to_bin": s("Bin, e.g. C-02-11."),
            "quantity": integer("Units.", minimum=1),
        },
        ["sku", "warehouse_id", "from_bin", "to_bin", "quantity"],
    ),
    tool(
        "get_inbound_shipments",
        "Inbound ASNs expected at a centre on a date.",
        {"warehouse_id": WAREHOUSE, "date": ISO_DATE},
        ["warehouse_id"],
    ),
    tool(
        "receive_shipment",
        "Mark an inbound ASN as received at a dock door.",
        {
            "asn_id": s(
                "Advance shipping notice id, e.g. ASN-2026-04417.",
                pattern="^ASN-[0-9]{4}-[0-9]{5}$",
            ),
            "warehouse_id": WAREHOUSE,
            "dock_door": integer("Dock door number.", minimum=1, maximum=60),
        },
        ["asn_id", "warehouse_id"],
    ),
    tool(
        "create_pick_list",
        "Create a pick list (wave) for a set of orders in one centre.",
        {"warehouse_id": WAREHOUSE, "order_ids": arr("Orders in the wave.", ORDER_ID, minItems=1)},
        ["warehouse_id", "order_ids"],
    ),
    tool(
        "get_order_fulfillment_status",
        "Where an order is in the warehouse flow (allocated, picked, packed, shipped) and which centre fulfils it.",
        {"order_id": ORDER_ID},
        ["order_id"],
    ),
    tool(
        "flag_damaged_stock",
        "Quarantine damaged units and open a damage report.",
        {
            "sku": SKU,
            "warehouse_id": WAREHOUSE,
            "quantity": integer("Damaged units.", minimum=1),
            "note": s("What happened."),
        },
        ["sku", "warehouse_id", "quantity"],
    ),
    tool(
        "get_sales_velocity",
        "Average units sold per day for a SKU over a window.",
        {"sku": SKU, "days": integer("Window length in days.", minimum=7, maximum=180, default=28)},
        ["sku"],
    ),
    tool(
        "forecast_demand",
        "Demand forecast for a SKU for the next horizon_days.",
        {
            "sku": SKU,
            "horizon_days": integer("Forecast horizon.", minimum=7, maximum=90, default=30),
        },
        ["sku"],
    ),
    tool(
        "notify_team",
        "Post a message to an operations Slack channel.",
        {
            "channel": enum(
                "Channel.",
                (
                    "#ops-rno1",
                    "#ops-atl2",
                    "#ops-ewr1",
                    "#ops-dfw3",
                    "#ops-ord1",
                    "#ops-phx2",
                    "#inventory-control",
                    "#wms-incidents",
                ),
            ),
            "message": s("Message text."),
        },
        ["channel", "message"],
    ),
    tool(
        "create_incident",
        "Open an incident for a WMS or integration failure.",
        {
            "title": s("Short title."),
            "severity": enum("Severity.", ("sev1", "sev2", "sev3", "sev4")),
            "system": enum(
                "Affected system.",
                ("wms", "erp_sync", "carrier_api", "scanner_fleet", "label_printing"),
            ),
            "description": s("What is failing."),
        },
        ["title", "severity", "system", "description"],
    ),
]

COMPOSED_ARGS = {
    "notify_team": {"message"},
    "flag_damaged_stock": {"note"},
    "cancel_transfer": {"reason"},
    "create_incident": {"title", "description"},
}

OPS_SYSTEM = unwrap("""You are Atlas, ShopRight's fulfilment operations copilot. You help warehouse leads, inventory
  planners and the operations desk in Slack. Today is {today}; the user is {role} at {site}.

Rules:
1. Use the tools for every fact about stock, transfers, purchase orders and shipments. Never guess
  quantities.
2. Fulfilment centres: RNO1 (Reno NV), ATL2 (Atlanta GA), EWR1 (Newark NJ), DFW3 (Dallas TX), ORD1
  (Chicago IL), PHX2 (Phoenix AZ). Use the codes in tool calls.
3. SKUs look like HOM-10482-BLK. Pass them exactly as the user wrote them (upper case).
4. Transfers: check available stock at the source before creating a transfer unless the user already
  gave the number. Priority urgent only when the user says so (urgent, asap, today, stockout).
5. Purchase orders go to the SKU's supplier; quantities are rounded up to the case pack by the ERP,
  so pass what the user asked for.
6. Inventory adjustments above 100 units need a cycle count first: schedule one instead of
  adjusting.
7. Independent lookups can be done in parallel (e.g. stock in several centres, several purchase
  orders).
8. If a user pastes credentials, connection strings or tokens, do not repeat them; tell them to
  rotate the secret and open an incident if a system is failing.
9. Answer in short Slack-style messages: the number first, then one line of context. Use the centre
  codes.
10. Safety first: damaged pallets, spills and blocked fire exits are reported to the site lead
  immediately via notify_team.

Escalation: WMS or integration failures -> create_incident (sev2 if picking is blocked, sev3
  otherwise). Carrier API outages -> sev2.
Working hours: centres run two shifts, 06:00-14:30 and 14:30-23:00 local time. Cut-off for same-day
  linehaul transfers is 13:00 local.""")
