"""Task `sql_generation`: analysts' questions -> one PostgreSQL query over the ShopRight warehouse schema."""

from __future__ import annotations

from datetime import date, timedelta

from .catalog import WAREHOUSES
from .entities import Ent
from .model import Call, single
from .text import pick

SCHEMA_DDL = """CREATE TABLE customers (customer_id bigint PRIMARY KEY, email text UNIQUE NOT NULL, full_name text,
  phone text,
  state char(2), loyalty_tier text CHECK (loyalty_tier IN ('member','silver','gold')), created_at timestamptz NOT NULL);
CREATE TABLE orders (order_id text PRIMARY KEY, -- e.g. 'SR-4817263'
  customer_id bigint REFERENCES customers, placed_at timestamptz NOT NULL,
  status text NOT NULL, -- processing|packed|shipped|delivered|cancelled|returned
  subtotal numeric(10,2), shipping numeric(10,2), tax numeric(10,2), total numeric(10,2), warehouse_id text,
  channel text);
CREATE TABLE order_items (order_id text REFERENCES orders, sku text REFERENCES products, quantity int,
  unit_price numeric(10,2));
CREATE TABLE products (sku text PRIMARY KEY, name text, category text, price numeric(10,2), supplier_id text);
CREATE TABLE shipments (order_id text REFERENCES orders, carrier text, tracking_number text, shipped_at timestamptz,
  delivered_at timestamptz, promised_at date);
CREATE TABLE refunds (refund_id text PRIMARY KEY, order_id text REFERENCES orders, amount numeric(10,2), reason text,
  created_at timestamptz);
CREATE TABLE returns (rma_id text PRIMARY KEY, order_id text REFERENCES orders, sku text, reason text,
  received_at timestamptz);"""
SYSTEM = (
    "You are ShopRight's analytics assistant. Translate the analyst's question into a single PostgreSQL query "
    "over this schema. Return only the SQL, no explanation and no code fences. Use explicit JOINs, half-open "
    "date ranges (>= start AND < end) on timestamptz columns, and ORDER BY + LIMIT for top-N questions.\n\n"
    + SCHEMA_DDL
)
CATEGORIES = (
    "furniture",
    "kitchen",
    "electronics",
    "outdoor",
    "apparel",
    "beauty",
    "toys",
    "pets",
    "garden",
)
CARRIERS = ("UPS", "FedEx", "USPS")
STATUSES = ("processing", "shipped", "delivered", "cancelled", "returned")


def _month(rng, today: date) -> tuple[str, str, str]:
    first = (today.replace(day=1) - timedelta(days=rng.choice((1, 32, 62)))).replace(day=1)
    nxt = (first + timedelta(days=32)).replace(day=1)
    return first.strftime("%B %Y"), first.isoformat(), nxt.isoformat()


def _question(e: Ent, today: date) -> tuple[str, str]:
    rng = e.rng
    label, start, end = _month(rng, today)
    cat, n, wh = pick(rng, CATEGORIES), pick(rng, (3, 5, 10, 20)), pick(rng, WAREHOUSES)
    since = (today - timedelta(days=pick(rng, (7, 14, 30, 90)))).isoformat()
    x = pick(rng, (100, 250, 500, 1000))
    status, email, days = pick(rng, STATUSES), e.person().email, pick(rng, (7, 14, 30))
    choices = (
        (
            f"How many orders were placed in {label}?",
            f"SELECT COUNT(*) AS orders\nFROM orders\nWHERE placed_at >= '{start}' AND placed_at < '{end}';",
        ),
        (
            f"Top {n} {cat} products by revenue since {since}",
            "SELECT p.sku, p.name, SUM(oi.quantity * oi.unit_price) AS revenue\n"
            "FROM order_items oi\nJOIN orders o ON o.order_id = oi.order_id\nJOIN products p ON p.sku = oi.sku\n"
            f"WHERE p.category = '{cat}' AND o.placed_at >= '{since}' AND o.status <> 'cancelled'\n"
            f"GROUP BY p.sku, p.name\nORDER BY revenue DESC\nLIMIT {n};",
        ),
        (
            f"average order value by state for {label}",
            "SELECT c.state, ROUND(AVG(o.total), 2) AS avg_order_value\n"
            "FROM orders o\nJOIN customers c ON c.customer_id = o.customer_id\n"
            f"WHERE o.placed_at >= '{start}' AND o.placed_at < '{end}'\n"
            "GROUP BY c.state\nORDER BY avg_order_value DESC;",
        ),
        (
            f"which customers spent more than ${x} since {since}? emails please",
            "SELECT c.email, SUM(o.total) AS spent\n"
            "FROM customers c\nJOIN orders o ON o.customer_id = c.customer_id\n"
            f"WHERE o.placed_at >= '{since}' AND o.status <> 'cancelled'\nGROUP BY c.email\nHAVING SUM(o.total) > {x}\n"
            "ORDER BY spent DESC;",
        ),
        (
            f"On-time delivery rate per carrier in {label}",
            "SELECT s.carrier, ROUND(AVG(CASE WHEN s.delivered_at::date <= "
            "s.promised_at THEN 1.0 ELSE 0.0 END), 3) AS on_time_rate\nFROM shipments s\n"
            f"WHERE s.delivered_at >= '{start}' AND s.delivered_at < '{end}'\n"
            "GROUP BY s.carrier\nORDER BY on_time_rate DESC;",
        ),
        (
            f"total refunds over ${x} in {label}",
            "SELECT COUNT(*) AS refunds, SUM(amount) AS refunded\nFROM refunds\n"
            f"WHERE amount > {x} AND created_at >= '{start}' AND created_at < '{end}';",
        ),
        (
            f"Return rate by category since {since}",
            "SELECT p.category, ROUND(COUNT(DISTINCT r.rma_id)::numeric / "
            "NULLIF(COUNT(DISTINCT oi.order_id), 0), 4) AS return_rate\nFROM order_items oi\n"
            "JOIN products p ON p.sku = oi.sku\nJOIN orders o ON o.order_id = oi.order_id\n"
            "LEFT JOIN returns r ON r.order_id = oi.order_id AND r.sku = oi.sku\n"
            f"WHERE o.placed_at >= '{since}'\nGROUP BY p.category\nORDER BY return_rate DESC;",
        ),
        (
            f"how many orders from {wh} are still {status}?",
            f"SELECT COUNT(*) AS orders\nFROM orders\nWHERE warehouse_id = '{wh}' AND status = '{status}';",
        ),
        (
            f"list all orders for customer {email}",
            "SELECT o.order_id, o.placed_at, o.status, o.total\nFROM orders o\n"
            f"JOIN customers c ON c.customer_id = o.customer_id\nWHERE c.email = '{email}'\nORDER BY o.placed_at DESC;",
        ),
        (
            f"daily order count for the last {days} days",
            "SELECT placed_at::date AS day, COUNT(*) AS orders\nFROM orders\n"
            f"WHERE placed_at >= CURRENT_DATE - INTERVAL '{days} days'\nGROUP BY day\nORDER BY day;",
        ),
    )
    return pick(rng, choices)


def call(e: Ent, today: date) -> Call:
    q, sql = _question(e, today)
    prefix = pick(
        e.rng, ("", "", "Q: ", "quick one - ", "For the weekly report: ", "Can you write SQL for: ")
    )
    return single("sql_generation", SYSTEM, e, prefix + q, sql, max_tokens=600, temperature=0.0)
