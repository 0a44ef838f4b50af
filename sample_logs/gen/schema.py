"""Compact builders for OpenAI function-tool schemas (JSON Schema parameters)."""

from __future__ import annotations

from typing import Any


def s(desc: str, **kw: Any) -> dict:
    return {"type": "string", "description": desc, **kw}


def enum(desc: str, values: list[str] | tuple[str, ...], **kw: Any) -> dict:
    return {"type": "string", "description": desc, "enum": list(values), **kw}


def num(desc: str, **kw: Any) -> dict:
    return {"type": "number", "description": desc, **kw}


def integer(desc: str, **kw: Any) -> dict:
    return {"type": "integer", "description": desc, **kw}


def boolean(desc: str, **kw: Any) -> dict:
    return {"type": "boolean", "description": desc, **kw}


def arr(desc: str, items: dict, **kw: Any) -> dict:
    return {"type": "array", "description": desc, "items": items, **kw}


def obj(props: dict, required: list[str] | tuple[str, ...] = (), desc: str | None = None) -> dict:
    out: dict[str, Any] = {"type": "object"}
    if desc:
        out["description"] = desc
    out["properties"] = props
    out["required"] = list(required)
    out["additionalProperties"] = False
    return out


def tool(
    name: str, description: str, props: dict, required: list[str] | tuple[str, ...] = ()
) -> dict:
    """One tool in the OpenAI chat-completions `tools` shape."""
    return {
        "type": "function",
        "function": {"name": name, "description": description, "parameters": obj(props, required)},
    }


ORDER_ID = s(
    "ShopRight order number, format SR-NNNNNNN (e.g. SR-4817263).", pattern="^SR-[0-9]{7}$"
)
EMAIL = s("Customer e-mail address exactly as given by the customer.", format="email")
PHONE = s("Phone number as given by the customer, any common format.")
SKU = s("Catalogue SKU, e.g. HOM-10482-BLK.", pattern="^[A-Z]{3}-[0-9]{5}-[A-Z0-9]{1,4}$")
WAREHOUSE = enum("Fulfilment centre code.", ("RNO1", "ATL2", "EWR1", "DFW3", "ORD1", "PHX2"))
ISO_DATE = s("Calendar date, ISO 8601 (YYYY-MM-DD).", format="date")
