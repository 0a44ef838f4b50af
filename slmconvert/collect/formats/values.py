"""Scalar values as logs spell them: numbers as strings, epoch or ISO timestamps, empty tags."""

from __future__ import annotations

import datetime as dt
import re
import time
from typing import Any


def to_int(value: Any) -> int | None:
    """Token counts and the like; strings of digits accepted (OTLP encodes int64 as strings)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def to_float(value: Any) -> float | None:
    """A number or numeric string as float, else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


_ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_time(value: Any) -> dt.datetime | None:
    """Epoch seconds/ms/µs/ns or an ISO 8601 string as an aware UTC datetime (None if unusable)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if text.replace(".", "", 1).isdigit():
            return parse_time(float(text))
        text = _FRACTION.sub(r"\1", text.replace("Z", "+00:00").replace("z", "+00:00"))
        try:
            parsed = dt.datetime.fromisoformat(text.replace(" ", "T", 1))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.timezone.utc)
        return parsed.astimezone(dt.timezone.utc)
    if isinstance(value, (int, float)):
        seconds = float(value)
        for _ in range(3):  # ns -> µs -> ms -> s
            if seconds < 1e11:
                break
            seconds /= 1000.0
        try:
            return dt.datetime.fromtimestamp(seconds, tz=dt.timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    return None


def iso_utc(value: Any) -> str | None:
    """A timestamp in the record's form, e.g. "2026-11-02T10:11:12Z"."""
    if type(value) is int and 0 <= value < 100_000_000_000:  # epoch seconds, the usual case
        return time.strftime(_ISO_FORMAT, time.gmtime(value))
    parsed = parse_time(value)
    return parsed.strftime(_ISO_FORMAT) if parsed else None


def latency_between(start: Any, end: Any) -> float | None:
    """Milliseconds between two timestamps, when both parse and end is not before start."""
    a, b = parse_time(start), parse_time(end)
    if a is None or b is None or b < a:
        return None
    return round((b - a).total_seconds() * 1000.0, 3)


def str_or_none(value: Any) -> str | None:
    """Tags (workload, client) as strings; empty values become None."""
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else str(value)
