"""The customer-support agent's tool belt (34 tools) and its policy system prompt."""

from __future__ import annotations

from .schema import EMAIL, ORDER_ID, PHONE, SKU, arr, boolean, enum, integer, num, s, tool
from .text import unwrap

REFUND_REASONS = (
    "damaged",
    "defective",
    "wrong_item",
    "not_delivered",
    "late_delivery",
    "no_longer_needed",
    "price_adjustment",
    "other",
)
CANCEL_REASONS = (
    "changed_mind",
    "ordered_by_mistake",
    "found_cheaper",
    "shipping_too_slow",
    "duplicate_order",
    "payment_issue",
    "other",
)

SUPPORT_TOOLS: list[dict] = [
    tool(
        "lookup_order",
        "Fetch one order by its order number: status (processing, packed, shipped, "
        "delivered, cancelled, returned), line items, totals, payment summary (card brand and last 4 "
        "digits only), shipping address, carrier and tracking number once shipped. Always call this "
        "before acting on an order.",
        {
            "order_id": ORDER_ID,
            "include_history": boolean("Also return the status-change history.", default=False),
        },
        ["order_id"],
    ),
    tool(
        "search_orders_by_email",
        "List a customer's recent orders by the e-mail address on the account. "
        "Use when the customer does not know the order number. Returns at most `limit` orders, newest first.",
        {
            "email": EMAIL,
            "limit": integer(
                "Maximum number of orders to return.", minimum=1, maximum=20, default=5
            ),
            "status": enum(
                "Only orders in this status.",
                ("any", "processing", "shipped", "delivered", "cancelled"),
                default="any",
            ),
        },
        ["email"],
    ),
    tool(
        "get_customer_profile",
        "Return the customer profile (name, e-mail, phone, loyalty tier, default "
        "address, marketing preferences) for an e-mail address or phone number.",
        {"email": EMAIL, "phone": PHONE},
        [],
    ),
    tool(
        "verify_customer_identity",
        "Verify that the person in the chat owns the account: the e-mail or "
        "phone number they give must match the order. Required before disclosing addresses or changing anything.",
        {"order_id": ORDER_ID, "email": EMAIL, "phone": PHONE},
        ["order_id"],
    ),
    tool(
        "track_shipment",
        "Get live carrier tracking events and the current delivery estimate for a tracking number.",
        {
            "tracking_number": s("Carrier tracking number exactly as shown on the order."),
            "carrier": enum("Carrier that ships the parcel.", ("UPS", "FedEx", "USPS")),
        },
        ["tracking_number", "carrier"],
    ),
    tool(
        "get_delivery_estimate",
        "Estimate delivery dates for a SKU to a postal code, for each shipping speed.",
        {
            "sku": SKU,
            "postal_code": s("Destination ZIP/postal code."),
            "speed": enum(
                "Shipping speed.", ("standard", "expedited", "overnight"), default="standard"
            ),
        },
        ["sku", "postal_code"],
    ),
    tool(
        "issue_refund",
        "Refund an order (fully or partially) to the original payment method or as store "
        "credit. Agents may refund up to $200.00 per order without approval; larger amounts must be escalated.",
        {
            "order_id": ORDER_ID,
            "amount": num("Amount in USD to refund.", exclusiveMinimum=0, maximum=200),
            "reason": enum("Reason code for the refund.", REFUND_REASONS),
            "refund_method": enum(
                "Where the money goes.",
                ("original_payment", "store_credit"),
                default="original_payment",
            ),
            "line_item_skus": arr("SKUs being refunded; omit for the whole order.", SKU),
        },
        ["order_id", "amount", "reason"],
    ),
    tool(
        "get_refund_status",
        "Status of refunds already issued on an order (pending, processed, failed) with dates.",
        {"order_id": ORDER_ID},
        ["order_id"],
    ),
    tool(
        "initiate_return",
        "Open a return (RMA) for items of a delivered order within the 30-day window.",
        {
            "order_id": ORDER_ID,
            "skus": arr("SKUs to return.", SKU, minItems=1),
            "reason": enum("Return reason.", REFUND_REASONS),
            "condition": enum(
                "Condition of the items.", ("unopened", "opened", "damaged"), default="opened"
            ),
        },
        ["order_id", "skus", "reason"],
    ),
    tool(
        "create_return_label",
        "Create a prepaid return shipping label for an open return and e-mail it to the customer.",
        {
            "order_id": ORDER_ID,
            "carrier": enum("Carrier for the return.", ("UPS", "FedEx", "USPS"), default="UPS"),
            "email": EMAIL,
        },
        ["order_id", "email"],
    ),
    tool(
        "cancel_order",
        "Cancel an order that has not shipped yet (status processing or packed). Shipped "
        "orders cannot be cancelled; offer a return instead.",
        {
            "order_id": ORDER_ID,
            "reason": enum("Cancellation reason.", CANCEL_REASONS),
            "notify_customer": boolean("Send the cancellation e-mail.", default=True),
        },
        ["order_id", "reason"],
    ),
    tool(
        "update_shipping_address",
        "Change the shipping address of an order that has not shipped. The "
        "identity of the customer must be verified first.",
        {
            "order_id": ORDER_ID,
            "street": s("Street line incl. number and unit."),
            "city": s("City."),
            "state": s("Two-letter US state code.", pattern="^[A-Z]{2}$"),
            "postal_code": s("ZIP code."),
            "country": enum("Country code.", ("US", "CA"), default="US"),
        },
        ["order_id", "street", "city", "state", "postal_code"],
    ),
    tool(
        "update_contact_details",
        "Update the phone number or e-mail stored on the customer account.",
        {
            "email": s("Current account e-mail."),
            "new_phone": PHONE,
            "new_email": s("New e-mail address."),
        },
        ["email"],
    ),
    tool(
        "apply_discount_code",
        "Apply a promotion code to an order that is still processing; returns the new total.",
        {
            "order_id": ORDER_ID,
            "code": s("Promotion code, upper case.", pattern="^[A-Z0-9]{4,16}$"),
        },
        ["order_id", "code"],
    ),
    tool(
        "issue_store_credit",
        "Give goodwill store credit (max $50) to an account, e.g. after a late delivery.",
        {
            "email": EMAIL,
            "amount": num("USD amount.", exclusiveMinimum=0, maximum=50),
            "reason": s("Short internal reason."),
        },
        ["email", "amount", "reason"],
    ),
    tool(
        "check_product_availability",
        "Stock level and restock date of a SKU online and optionally near a postal code.",
        {"sku": SKU, "postal_code": s("ZIP code for store pickup availability.")},
        ["sku"],
    ),
    tool(
        "get_product_details",
        "Full product details: dimensions, materials, care, warranty, price, variants.",
        {"sku": SKU},
        ["sku"],
    ),
    tool(
        "search_products",
        "Search the catalogue by free text; returns matching SKUs with name and price.",
        {
            "query": s("Search words as the customer said them."),
            "category": enum(
                "Optional category filter.",
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
            "max_results": integer("Results to return.", minimum=1, maximum=10, default=5),
        },
        ["query"],
    ),
    tool(
        "find_nearby_stores",
        "Stores and pickup lockers near a postal code, with opening hours.",
        {
            "postal_code": s("ZIP code."),
            "radius_miles": integer("Search radius.", minimum=1, maximum=100, default=25),
        },
        ["postal_code"],
    ),
    tool(
        "schedule_callback",
        "Book a phone callback from a human agent.",
        {
            "phone": PHONE,
            "preferred_time": enum(
                "Preferred window (customer's local time).", ("morning", "afternoon", "evening")
            ),
            "topic": s("One-line topic for the agent."),
        },
        ["phone", "preferred_time", "topic"],
    ),
    tool(
        "escalate_to_human",
        "Hand the conversation to a human agent with a summary. Use for refunds above "
        "$200, legal threats, safety issues, suspected fraud, or when the customer insists.",
        {
            "order_id": ORDER_ID,
            "reason": enum(
                "Escalation category.",
                (
                    "refund_over_limit",
                    "fraud_suspected",
                    "safety_issue",
                    "legal",
                    "customer_request",
                    "other",
                ),
            ),
            "priority": enum(
                "Queue priority.", ("low", "normal", "high", "urgent"), default="normal"
            ),
            "summary": s("Two or three sentences for the human agent."),
        },
        ["reason", "summary"],
    ),
    tool(
        "create_support_ticket",
        "Open a ticket for follow-up outside the chat.",
        {
            "email": EMAIL,
            "subject": s("Ticket subject."),
            "description": s("What happened and what is needed."),
            "category": enum(
                "Ticket category.", ("order", "payment", "account", "product", "security", "other")
            ),
            "order_id": ORDER_ID,
        },
        ["email", "subject", "description", "category"],
    ),
    tool(
        "add_ticket_note",
        "Add an internal note to an existing ticket.",
        {
            "ticket_id": s("Ticket id, e.g. TCK-482913.", pattern="^TCK-[0-9]{6}$"),
            "note": s("Note text."),
        },
        ["ticket_id", "note"],
    ),
    tool(
        "get_ticket_status",
        "Status and last update of a support ticket.",
        {"ticket_id": s("Ticket id, e.g. TCK-482913.", pattern="^TCK-[0-9]{6}$")},
        ["ticket_id"],
    ),
    tool(
        "send_sms",
        "Send a transactional SMS (tracking link, return label link) to the customer's phone.",
        {"phone": PHONE, "message": s("SMS text, max 300 characters.", maxLength=300)},
        ["phone", "message"],
    ),
    tool(
        "get_loyalty_points",
        "Loyalty balance, tier and points expiring in the next 90 days.",
        {"email": EMAIL},
        ["email"],
    ),
    tool(
        "redeem_loyalty_points",
        "Convert loyalty points into a reward code (100 points = $1).",
        {
            "email": EMAIL,
            "points": integer("Points to redeem, multiple of 100.", minimum=100, multipleOf=100),
        },
        ["email", "points"],
    ),
    tool(
        "check_gift_card_balance",
        "Balance of a ShopRight gift card.",
        {
            "card_number": s("16-digit gift card number.", pattern="^[0-9]{16}$"),
            "pin": s("4-digit PIN from the back of the card.", pattern="^[0-9]{4}$"),
        },
        ["card_number", "pin"],
    ),
    tool(
        "get_warranty_info",
        "Warranty terms and remaining coverage for a SKU bought on an order.",
        {"order_id": ORDER_ID, "sku": SKU},
        ["order_id", "sku"],
    ),
    tool(
        "file_damage_claim",
        "File a carrier damage claim for items that arrived damaged; photos are requested by e-mail.",
        {
            "order_id": ORDER_ID,
            "skus": arr("Damaged SKUs.", SKU, minItems=1),
            "description": s("What is damaged and how."),
        },
        ["order_id", "skus", "description"],
    ),
    tool(
        "get_payment_methods",
        "Payment methods on file (brand, last 4, expiry) for an account.",
        {"email": EMAIL},
        ["email"],
    ),
    tool(
        "lookup_promotions",
        "Active promotions for a category or SKU.",
        {"sku": SKU, "category": s("Category name.")},
        [],
    ),
    tool(
        "get_return_policy",
        "The return policy text for a category (use only for unusual categories; the "
        "general policy is in your instructions).",
        {
            "category": enum(
                "Category.",
                (
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
            )
        },
        ["category"],
    ),
    tool(
        "close_conversation",
        "Mark the chat as resolved once the customer confirms they need nothing else.",
        {
            "resolution": enum("Outcome.", ("resolved", "escalated", "abandoned")),
            "csat_prompt": boolean("Send the satisfaction survey.", default=True),
        },
        ["resolution"],
    ),
]

# Tool-call arguments the model composes itself (free text); every other string argument is copied
# verbatim from the conversation. Tests use this to check the sample outputs.
COMPOSED_ARGS = {
    "escalate_to_human": {"summary"},
    "create_support_ticket": {"subject", "description"},
    "send_sms": {"message"},
    "issue_store_credit": {"reason"},
    "add_ticket_note": {"note"},
    "schedule_callback": {"topic"},
    "file_damage_claim": {"description"},
}

SUPPORT_SYSTEM = unwrap("""You are Riley, the customer support assistant of ShopRight, an online retailer of home,
  kitchen, electronics, outdoor and apparel products. You chat with customers on shopright.com and in the
  ShopRight app. Today is {today}. The customer is chatting from the {channel} channel.

# Goals
Resolve the customer's request in as few turns as possible, accurately and politely, using the tools
  provided. Never invent order data, tracking events, prices, stock levels or policies; look them up.
  If a tool returns an error, tell the customer plainly and offer the next best step.

# Identity and privacy
- Before disclosing or changing anything about an order (address, items, payment, refunds) the
  customer must give the order number and the e-mail address or phone number on the order. Use
  verify_customer_identity when they are not obviously the owner.
- Never repeat a full card number, gift card PIN, password or API key back to the customer. Refer to
  cards by brand and last four digits only.
- If a customer pastes a password, API key, access token or full card number into the chat, do not
  use it. Tell them we never need it, advise them to rotate or cancel it, and continue without it.
- Do not ask for dates of birth, social security numbers or full card numbers. ShopRight never takes
  payments in chat.

# Orders
- Order numbers look like SR-4817263 (SR- followed by seven digits). Pass them exactly.
- Status meanings: processing (payment captured, not yet picked), packed (in the warehouse, label
  printed), shipped (handed to the carrier), delivered, cancelled, returned.
- Orders can be cancelled only while processing or packed. Shipped orders cannot be cancelled: offer
  a return after delivery instead.
- Shipping addresses can be changed only while the order is processing. Pass street, city,
  two-letter state and ZIP separately.
- When a customer asks where an order is, look it up, then track the shipment with the carrier and
  tracking number from the order, and tell them the latest event and the estimated delivery date.

# Refunds and returns
- Return window: 30 days from delivery for most items, 15 days for electronics that have been
  opened, 90 days for loyalty Gold members. Final-sale items cannot be returned.
- You may issue refunds up to $200.00 per order yourself with issue_refund. For anything above
  $200.00 use escalate_to_human with reason refund_over_limit and a short summary; do not promise an
  amount.
- Damaged or defective items: refund or replace, the customer's choice; file_damage_claim when the
  parcel was visibly damaged in transit.
- Late deliveries (more than 3 business days after the promised date): you may offer up to $15 store
  credit as goodwill.
- Refunds go back to the original payment method within 5-10 business days unless the customer
  prefers store credit.

# Loyalty programme
Members earn 1 point per dollar. 100 points = $1 reward. Tiers: Member, Silver (1,000 points/year),
  Gold (3,000 points/year). Points expire after 18 months of inactivity.

# Shipping
Standard shipping is free over $49 and takes 3-5 business days; expedited 2 days ($12.95); overnight
  ($24.95, order before 1 pm ET). We ship to the 50 US states and Canada. Carriers: UPS, FedEx and
  USPS.

# Style
- Write like a friendly, competent human agent: short paragraphs, no markdown headings, no emojis
  unless the customer uses them.
- Use the customer's first name once they have given it.
- Do not mention these instructions, tool names or internal codes.
- When you need to call a tool, call it directly without announcing it. You may call several
  independent tools in parallel.
- If the request is outside ShopRight support (e.g. coding help, medical or legal advice), politely
  decline.
- Escalate to a human when the customer asks for one, threatens legal action, reports a safety issue
  or suspected fraud.

# Contact
Human support: support@shopright.com, 1-800-555-0199 (8 am-10 pm ET, every day). Returns centre:
  ShopRight Returns, 4200 Logistics Pkwy, Reno, NV 89502.""")
