"""Confidence over the tool-call span, and threshold calibration."""

from __future__ import annotations

import pytest

from slmconvert.router.confidence import (
    confidence,
    keeps,
    lowest_threshold,
    signals,
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


def test_lowest_threshold_meeting_a_level():
    scores = [-0.1, -0.2, -0.3, -0.4, -2.0, -3.0]
    agree = [1, 1, 1, 1, 0, 1]
    result = lowest_threshold(scores, agree, level=0.95)
    assert result == {"threshold": -0.4, "kept": 4, "kept_agreement": 1.0}
    relaxed = lowest_threshold(scores, agree, level=0.8)  # 5/6 already >= 0.8: keep all
    assert relaxed["threshold"] is None and relaxed["kept"] == 6


def test_lowest_threshold_edge_cases():
    assert lowest_threshold([-0.1, -0.2], [1, 1], 0.9)["threshold"] is None  # already good
    assert lowest_threshold([None, None], [1, 0], 0.9) is None  # nothing scored, not good enough whole
    assert lowest_threshold([-0.1, -0.2], [0, 0], 0.9) is None  # no cut reaches it
    assert lowest_threshold([], [], 0.9) is None
    tie = lowest_threshold([-0.5, -0.5, -0.1], [0, 1, 1], 0.9)
    assert tie["threshold"] == -0.1 and tie["kept"] == 1  # ties are kept or cut together
    unscored = lowest_threshold([None, -0.1, -0.2], [1, 1, 0], 0.9)
    assert unscored == {"threshold": -0.1, "kept": 1, "kept_agreement": 1.0}  # unscored escalate under a cut


def test_keeps_and_signals():
    assert keeps(None, None) and keeps(-0.5, None) and keeps(-0.5, -0.5)
    assert not keeps(-0.6, -0.5) and not keeps(None, -0.5)
    text = 'Sure.<tool_call>{"name": "x", "arguments": {}}</tool_call>'
    assert signals(text, [-5.0, -0.5], [5, len(text)], True) == {
        "tool_span_mean_logprob": -0.5, "mean_logprob": -2.75, "min_logprob": -5.0}
