"""Long single-line tool results with canaries straddling every analysis cut at several offsets.

curate analyses very long texts in windows of about `PIECE` characters; a value cut in two is
missed by every recognizer. Each text here puts a canary across every multiple of the window
size and across every window end the product's own cutter reports for the text: the cut falls
after its first character, in its middle, or before its last character. Two layouts: a plain log
dump (no newline, no whitespace to snap to) and a minified JSON document with a canary leaf
across document offset PIECE and one long string leaf with canaries across its own cuts."""

from __future__ import annotations

import json

from tests.hostile.canaries import STRADDLE_KINDS
from tests.hostile.plant import Planter

try:  # overlapping windows: straddle the product's real window ends too
    from slmconvert.curate.windows import WINDOW_CHARS as PIECE
    from slmconvert.curate.windows import Windowing
except ImportError:  # pragma: no cover - the older fixed cut
    PIECE, Windowing = 50_000, None

# Log-dump filler with no whitespace and no line break: nothing there for a cutter to snap to.
FILLER = "ts=2026-11-02t10:{m:02d}:{s:02d}z;svc=wms-sync;op=reconcile;sku=sku-{n:05d};qty={q};status=ok;latency_ms={l}|"


def filler(length: int, seed: int = 0) -> str:
    """Log-like lowercase filler of exactly length characters (nothing sensitive)."""
    parts, size, n = [], 0, seed
    while size < length:
        piece = FILLER.format(m=n % 60, s=(n * 7) % 60, n=n % 99999, q=n % 17, l=10 + n % 90)
        parts.append(piece)
        size += len(piece)
        n += 1
    return "".join(parts)[:length]


def _window_ends(text: str) -> list[int]:
    """Where the product's analyzer cuts this text (its windows' ends), when it says."""
    if Windowing is None:
        return []
    return [end for _, end in Windowing().cuts(text)[:-1]]


class _Dump:
    """A long text being filled: canaries written over the filler across chosen cut positions."""

    def __init__(self, planter: Planter, fmt: str, field: str, kind: str, text: str) -> None:
        self.planter, self.fmt, self.field, self.kind, self.text = planter, fmt, field, kind, text
        self.spans: list[tuple[int, int]] = []
        self.turn = 0

    def across(self, cut: int, label: str) -> None:
        """One fresh canary of the dump's kind with the cut after 1, half, or all but one of its characters."""
        if any(a <= cut < b for a, b in self.spans):
            return
        canary = self.planter.one(self.fmt, f"{self.field}, across {label}", self.kind)
        value = canary.value.replace("\n", " ")  # a dump is one line: PEM lines joined by spaces
        before = (1, len(value) // 2, len(value) - 1)[self.turn % 3]
        self.turn += 1
        start = cut - before
        prefix = f";{canary.key}="
        self.text = self.text[: start - len(prefix)] + prefix + value + ";" + self.text[start + len(value) + 1:]
        self.spans.append((start - len(prefix), start + len(value) + 1))

    def fill(self, cuts: int) -> str:
        for k in range(1, cuts + 1):
            self.across(k * PIECE, f"offset {k * PIECE}")
        for end in _window_ends(self.text):
            self.across(end, f"window end {end}")
        return self.text


def plain_dump(planter: Planter, fmt: str, kind: str, cuts: int = 2) -> str:
    """A single-line log dump of cuts * PIECE + 2000 chars; `kind` canaries across every cut."""
    field = f"tool result, plain single line > {cuts * PIECE} chars"
    return _Dump(planter, fmt, field, kind, filler(cuts * PIECE + 2000, seed=len(kind))).fill(cuts)


def json_dump(planter: Planter, fmt: str, kind: str) -> str:
    """Minified JSON (> 2 * PIECE chars, no newline): a `kind` canary leaf across document offset PIECE,
    and a `log_dump` leaf whose own text has `kind` canaries across its cuts."""
    doc_canary = planter.one(fmt, f"tool result, minified JSON > {2 * PIECE} chars, leaf across document offset {PIECE}", kind)
    value = json.dumps(doc_canary.json_value())[1:-1]
    head = '{"status":"ok","events":[{"note":"'
    middle = f'","{doc_canary.key}":"'
    pad = PIECE - len(value) // 2 - len(head) - len(middle)
    text = head + filler(pad, seed=3) + middle + value + '"}],"log_dump":"'
    field = f"tool result JSON leaf log_dump > {2 * PIECE} chars"
    leaf = _Dump(planter, fmt, field, kind, filler(2 * PIECE + 1500, seed=5)).fill(2)
    return text + leaf + '"}'


def straddle_results(planter: Planter, fmt: str) -> list[str]:
    """Every straddling tool result for one format: a plain dump per kind, JSON dumps for some kinds."""
    out = [plain_dump(planter, fmt, kind) for kind in STRADDLE_KINDS]
    out += [json_dump(planter, fmt, kind) for kind in STRADDLE_KINDS[:4]]
    return out
