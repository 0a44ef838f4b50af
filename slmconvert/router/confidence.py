"""SLM confidence from token log-probabilities, and the thresholds that validation outputs support.

Signals: the mean log-probability of the tokens that spell the tool call(s) (the part that does
harm when wrong; the whole output for text answers), of the whole output, and its minimum. Iterate
picks one per cluster (AUROC against strict agreement on validation calls); `keeps` is the rule the
router serves by and iterate promotes by.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from slmconvert.models.toolspec import TOOL_CALL_CLOSE, TOOL_CALL_OPEN

MEASURES = ("tool_span_mean_logprob", "mean_logprob", "min_logprob", "none")
SIGNALS = MEASURES[:-1]  # the measures that give a score


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


def signals(text: str, logprobs: Sequence[float] | None, ends: Sequence[int] | None,
            has_tool_calls: bool) -> dict[str, float | None]:
    """Every confidence signal of one output (iterate compares them per cluster by AUROC)."""
    return {m: confidence(text, logprobs, ends, m, has_tool_calls) for m in SIGNALS}


def keeps(score: float | None, threshold: float | None) -> bool:
    """The cascade rule shared by the router and iterate: with a threshold, an output is kept only
    when its confidence is known and at least the threshold; without one, every output is kept."""
    return threshold is None or (score is not None and score >= threshold)


def lowest_threshold(scores: Sequence[float | None], agreement: Sequence[float], level: float) -> dict[str, Any] | None:
    """The lowest threshold whose kept outputs agree with the LLM at least `level` on average.

    `scores`/`agreement` are the outputs that passed the rule checks. Threshold None = keep all
    (already at the level). Cuts fall only between distinct scores (ties are kept or escalated
    together); outputs without a score are escalated by any threshold. None when no cut reaches it.
    """
    n = len(scores)
    if not n:
        return None
    if sum(agreement) / n >= level:
        return {"threshold": None, "kept": n, "kept_agreement": sum(agreement) / n}
    pairs = sorted(((s, a) for s, a in zip(scores, agreement, strict=True) if s is not None), key=lambda p: -p[0])
    best = None
    total = 0.0
    for k, (score, agree) in enumerate(pairs, start=1):
        total += agree
        if k < len(pairs) and pairs[k][0] == score:
            continue
        if total / k >= level:
            best = {"threshold": score, "kept": k, "kept_agreement": total / k}
    return best
