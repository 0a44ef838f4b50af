"""One wall-clock budget for a run: parsing "15m" / "90s" / "2h" / "3h30m", and the deadline that
every stage of the run reads (so a stage re-plans with what is left, not with fixed seconds)."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([hms])", re.IGNORECASE)
_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0}
DEFAULT_BUDGET = "15m"


def parse_duration(text: str | float | int) -> float:
    """Seconds in a duration such as "15m", "90s", "2h", "3h30m" or a bare number of seconds."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    else:
        raw = str(text).strip().replace(" ", "")
        if re.fullmatch(r"\d+(?:\.\d+)?", raw):
            seconds = float(raw)
        elif raw and _PART.sub("", raw) == "" and _PART.findall(raw):
            seconds = sum(float(n) * _UNIT[u.lower()] for n, u in _PART.findall(raw))
        else:
            raise ValueError(f"{text!r} is not a duration (e.g. 90s, 15m, 2h, 3h30m)")
    if seconds <= 0:
        raise ValueError(f"a budget must be positive, got {text!r}")
    return seconds


def check_budget(value: object) -> str:
    """A params validator: the budget as given (a string), after checking that it parses."""
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration (e.g. 90s, 15m, 2h, 3h30m)")
    parse_duration(value)
    return str(value)


def format_duration(seconds: float) -> str:
    """A short human form: 75 -> "1m15s", 5400 -> "1h30m"."""
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else "", f"{secs}s" if secs else ""]
    return "".join(parts) or "0s"


@dataclass(frozen=True)
class Deadline:
    """A point in wall-clock time (time.time()) a run must end by; `left()` is what remains of it."""

    at: float

    @classmethod
    def after(cls, budget: str | float, start: float | None = None) -> Deadline:
        return cls((time.time() if start is None else start) + parse_duration(budget))

    def left(self) -> float:
        return max(0.0, self.at - time.time())


def stage_deadline(budget: str | float, given: float | None) -> Deadline:
    """The deadline a stage runs under: the one run-all handed down, else its own budget from now
    (a stage run alone gets the same behaviour as under run-all)."""
    return Deadline(float(given)) if given is not None else Deadline.after(budget)
