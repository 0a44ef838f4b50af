"""Log-derived strings made safe for the terminal: no Rich markup, no escape or control bytes.

Labels, workload ids, model and file names and reasons come from logs that anyone may have
written; printed raw, `[bold red]x[/]` restyles the console and `\\x1b[2J` clears the screen.
"""

from __future__ import annotations

import re
from typing import Any

from rich.markup import escape

# C0 and C1 controls, DEL, and the Unicode bidi overrides/isolates that reorder what is shown.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def plain_text(value: object, keep_newlines: bool = False) -> str:
    """`value` as text with every control character shown as a visible escape (e.g. `\\x1b`)."""
    text = str(value)
    if keep_newlines:
        return "\n".join(_UNSAFE.sub(_visible, line) for line in text.split("\n"))
    return _UNSAFE.sub(_visible, text)


def safe_text(value: object, keep_newlines: bool = False) -> str:
    """`value` ready for console.print with markup on: controls made visible, markup escaped."""
    return escape(plain_text(value, keep_newlines))


def safe_tree(value: Any) -> Any:
    """Every string (dict keys included) in a JSON-like summary passed through safe_text."""
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, dict):
        return {safe_tree(k) if isinstance(k, str) else k: safe_tree(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(safe_tree(v) for v in value)
    return value
