"""Confidence over the tool-call span, and threshold calibration."""

from __future__ import annotations

import math

import pytest

from slmconvert.router.confidence import (
    calibrate_threshold,
    confidence,
    token_end_offsets,
    tool_span,
)


def test_tool_span_and_mean_over_it():
    text = 'Sure.<tool_call>{"name": "x", "arguments": {}}</tool_call>'
    start, end = tool_span(text)
    assert text[start:end].startswith("<tool_call>") and text[start:end].endswith("</tool_call>")
    ends = [5, len(text)]  # token 1 = "Sure.", token 2 = the call
    assert confidence(text, [-5.0, -0.5], ends, "tool_span_mean_logprob", True) == pytest.approx(-0.5)
    assert confidence(text, [-5.0, -0.5], ends, "mean_logprob", True) == pytest.approx(-2.75)
    assert confidence(text, [-5.0, -0.5], ends, "min_logprob", True) == -5.0
    assert confidence(text, [-5.0, -0.5], ends, "none", True) is None
    assert confidence("plain", [-1.0, -3.0], [2, 5], "tool_span_mean_logprob", False) == pytest.approx(-2.0)
    assert confidence("plain", None, None, "mean_logprob", False) is None
    with pytest.raises(ValueError):
        confidence("x", [-1.0], [1], "bogus", False)


def test_bare_json_span():
    assert tool_span('  {"name": "x"} ') == (2, 15)
    assert tool_span("no call here") is None


def test_token_end_offsets_use_cumulative_decode():
    class Tok:
        pieces = {1: "ab", 2: "c", 3: "de"}

        def decode(self, ids, skip_special_tokens=False):
            return "".join(self.pieces[i] for i in ids)

    assert token_end_offsets(Tok(), [1, 2, 3]) == [2, 3, 5]


def test_calibration_picks_the_lowest_threshold_meeting_the_target():
    scores = [-0.1, -0.2, -0.3, -0.4, -2.0, -3.0]
    agree = [1, 1, 1, 1, 0, 1]
    result = calibrate_threshold(scores, agree, target=0.95)
    assert result["threshold"] == -0.4 and result["kept_share"] == pytest.approx(4 / 6)
    assert result["kept_agreement"] == 1.0
    relaxed = calibrate_threshold(scores, agree, target=0.8)  # 5/6 already >= 0.8: no threshold
    assert relaxed["threshold"] is None and relaxed["kept_share"] == 1.0


def test_calibration_edge_cases():
    assert calibrate_threshold([-0.1, -0.2], [1, 1], 0.9)["threshold"] is None  # already good
    assert calibrate_threshold([None, None], [1, 0], 0.9)["threshold"] is None  # nothing scored
    worst = calibrate_threshold([-0.1, -0.2], [0, 0], 0.9)
    assert worst["threshold"] > -0.1 and worst["kept_share"] == 0.0
    tie = calibrate_threshold([-0.5, -0.5, -0.1], [0, 1, 1], 0.9)
    assert tie["threshold"] == -0.1  # ties are kept or cut together
    assert all(math.isfinite(x) for x in (worst["threshold"], tie["threshold"]))
