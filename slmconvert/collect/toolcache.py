"""Parse, check and encode each distinct request tool list once, not once per call.

An agent sends the same 20-40 tool schemas with every call of a task: most of a log line's
bytes. The first time a list is seen, its exact JSON text is remembered with the checked list
and its canonical JSON. A later line that holds the same bytes right after `"tools":` is parsed
with that span replaced by a one-off placeholder string; when the placeholder comes back as
`request.tools`, the span was that value and the cached list goes in its place. Anything else
(placeholder elsewhere, parse error) falls back to parsing the whole line, so records are exactly
what a full parse gives.
"""

from __future__ import annotations

import json
import os

import orjson

KEY = b'"tools":'
PREFIX_BYTES = 64  # bytes of a tools text that pick its candidates
MAX_ENTRIES = 64  # distinct tool lists remembered (memory stays bounded; cleared when full)
LEARN_BUDGET = 64  # failed attempts to learn a spelling before learning becomes rare
RETRY_EVERY = 1024  # with the budget spent, try to learn on one miss in this many


class KnownTools(list):
    """A request tool list already in record shape, with its canonical JSON attached.

    Shared by every call that carries it: nothing may modify it.
    """

    __slots__ = ("canonical",)

    def __init__(self, tools: list, canonical: bytes) -> None:
        super().__init__(tools)
        self.canonical = canonical


class ToolsCache:
    """Tool lists of recent requests by their raw JSON text (one per process)."""

    def __init__(self) -> None:
        self.nonce = "slmconvert-tools-" + os.urandom(16).hex()
        self._placeholder = b'"' + self.nonce.encode() + b'"'
        self._by_prefix: dict[bytes, list[tuple[bytes, KnownTools]]] = {}
        self._entries = 0
        self._budget = LEARN_BUDGET
        self._misses = 0
        self.hits = 0

    def parse(self, data: bytes) -> dict | None:
        """The parsed record with a known tool list put back, or None (caller parses in full)."""
        start = _tools_start(data) if self._by_prefix else None
        if start is None:
            return None
        for raw, known in self._by_prefix.get(data[start:start + PREFIX_BYTES], ()):
            if data.startswith(raw, start):
                try:
                    record = orjson.loads(b"".join((data[:start], self._placeholder, data[start + len(raw):])))
                except orjson.JSONDecodeError:
                    return None
                request = record.get("request") if type(record) is dict else None
                if type(request) is not dict or request.get("tools") != self.nonce:
                    return None
                request["tools"] = known
                self.hits += 1
                return record
        return None

    def learn(self, data: bytes, record: dict, tools: list, canonical: bytes) -> None:
        """Remember `request.tools` of a fully parsed line whose normalised tools are that same list."""
        request = record.get("request")
        raw = request.get("tools") if type(request) is dict else None
        if type(raw) is not list or not raw or len(raw) != len(tools) or any(a is not b for a, b in zip(raw, tools)):
            return  # not taken as is (converted, or legacy functions added): nothing to reuse
        self._misses += 1
        if self._budget <= 0 and self._misses % RETRY_EVERY:
            return
        start = _tools_start(data)
        if start is None:
            return
        text = _spelling(data, start, raw)
        if text is None:
            self._budget -= 1
            return
        self._budget = LEARN_BUDGET
        candidates = self._by_prefix.get(text[:PREFIX_BYTES], ())
        if any(known_text == text for known_text, _ in candidates):
            return
        if self._entries >= MAX_ENTRIES:
            self._by_prefix.clear()
            self._entries = 0
        self._by_prefix.setdefault(text[:PREFIX_BYTES], []).append((text, KnownTools(raw, canonical)))
        self._entries += 1


def _tools_start(data: bytes) -> int | None:
    """Offset of the value after the first `"tools":` in a line (None when there is none)."""
    at = data.find(KEY)
    if at < 0:
        return None
    start = at + len(KEY)
    return start + 1 if data[start:start + 1] == b" " else start


def _spelling(data: bytes, start: int, raw: list) -> bytes | None:
    """The exact JSON text of `raw` at data[start:], when it is written compactly (orjson,
    JavaScript) or with Python's default separators; None otherwise."""
    compact = orjson.dumps(raw)
    if data.startswith(compact, start):
        return compact
    if b'": ' in data[start:start + PREFIX_BYTES]:
        spaced = json.dumps(raw).encode()
        if data.startswith(spaced, start):
            return spaced
    return None


TOOLS = ToolsCache()
