"""SLM confidence from token log-probabilities, and its threshold calibrated on validation outputs.

The default measure is the mean log-probability of the tokens that spell the tool call(s) — the
part that does harm when wrong — falling back to the whole output for text answers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from slmconvert.models.toolspec import TOOL_CALL_CLOSE, TOOL_CALL_OPEN

MEASURES = ("tool_span_mean_logprob", "mean_logprob", "min_logprob", "none")


def token_end_offsets(tokenizer: Any, token_ids: Sequence[int]) -> list[int]:
    """Character offset where each generated token ends in the decoded text (cumulative decode,
    so multi-token UTF-8 characters and merged spaces come out right)."""
    ends, previous = [], 0
    for i in range(len(token_ids)):
        length = len(tokenizer.decode(list(token_ids[: i + 1]), skip_special_tokens=False))
        previous = max(previous, length)
        ends.append(previous)
    return ends


def tool_span(text: str) -> tuple[int, int] | None:
    """Character span covering the tool call(s): tagged blocks, else a bare JSON call body."""
    start = text.find(TOOL_CALL_OPEN)
    if start >= 0:
        close = text.rfind(TOOL_CALL_CLOSE)
        end = close + len(TOOL_CALL_CLOSE) if close >= start else len(text)
        return start, end
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        first = text.find(stripped[0])
        last = max(text.rfind("}"), text.rfind("]"))
        if last > first:
            return first, last + 1
    return None


def confidence(
    text: str,
    logprobs: Sequence[float] | None,
    ends: Sequence[int] | None,
    measure: str,
    has_tool_calls: bool,
) -> float | None:
    """The confidence score of one output (None when the measure is off or cannot be computed)."""
    if measure == "none" or not logprobs:
        return None
    values = [float(v) for v in logprobs if v is not None and math.isfinite(v)]
    if not values:
        return None
    if measure == "mean_logprob":
        return sum(values) / len(values)
    if measure == "min_logprob":
        return min(values)
    if measure != "tool_span_mean_logprob":
        raise ValueError(f"unknown confidence measure {measure!r} (use one of {', '.join(MEASURES)})")
    span = tool_span(text) if has_tool_calls else None
    if span is None or not ends:
        return sum(values) / len(values)
    start, end = span
    picked, begin = [], 0
    for lp, stop in zip(logprobs, ends, strict=False):
        if begin < end and stop > start and lp is not None and math.isfinite(lp):
            picked.append(float(lp))
        begin = stop
    return sum(picked) / len(picked) if picked else sum(values) / len(values)


def calibrate_threshold(
    scores: Sequence[float | None], agreement: Sequence[float], target: float
) -> dict[str, Any]:
    """The lowest confidence threshold whose kept validation outputs agree with the LLM at >= target.

    `scores` are confidences of the outputs that passed the rule checks, `agreement` their
    per-call primary metric (0/1 or a [0, 1] score). Threshold None = no confidence escalation
    is needed (everything kept already meets the target) or possible (no scores).
    """
    pairs = sorted(((s, a) for s, a in zip(scores, agreement, strict=True) if s is not None), key=lambda p: -p[0])
    n = len(pairs)
    base = {"n": n, "target": target}
    if not n:
        return {**base, "threshold": None, "kept_share": None, "kept_agreement": None, "why": "no scored outputs"}
    overall = sum(a for _, a in pairs) / n
    if overall >= target:
        return {**base, "threshold": None, "kept_share": 1.0, "kept_agreement": overall,
                "why": "validation outputs already meet the target"}
    best: tuple[float, int, float] | None = None
    total = 0.0
    for k, (score, agree) in enumerate(pairs, start=1):
        total += agree
        # only cut between distinct scores: ties are kept or escalated together
        if k < n and pairs[k][0] == score:
            continue
        if total / k >= target:
            best = (score, k, total / k)
    if best is None:
        top = pairs[0][0]
        return {**base, "threshold": _above(top), "kept_share": 0.0, "kept_agreement": None,
                "why": "no confidence level meets the target: every output escalates"}
    threshold, kept, kept_agreement = best
    return {**base, "threshold": threshold, "kept_share": kept / n, "kept_agreement": kept_agreement,
            "why": f"keeps {kept}/{n} validation outputs"}


def _above(value: float) -> float:
    return math.nextafter(value, math.inf)
