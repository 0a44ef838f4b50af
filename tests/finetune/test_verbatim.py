"""The share of a cluster's calls a specialist is expected to answer exactly: structured answers and recurring
texts count whole, one-off free text less the longer it is."""

from __future__ import annotations

import pytest

from slmconvert.finetune.verbatim import TEXT_TOKEN_AGREEMENT, verbatim_share


def _text(content: str) -> dict:
    return {"output": {"role": "assistant", "content": content}}


def _call(name: str) -> dict:
    return {"output": {"role": "assistant", "content": None,
                       "tool_calls": [{"id": "c1", "type": "function",
                                       "function": {"name": name, "arguments": "{\"order_id\": \"A-1\"}"}}]}}


def test_structured_answers_and_labels_count_whole():
    labels = [_text(label) for label in ("refund", "praise", "refund", "praise ", "refund")]
    structured = [_call("lookup_order"), _text('{"name": "Ada", "city": "Oslo"}')]
    assert verbatim_share(labels + structured) == 1.0
    assert verbatim_share([]) == 1.0


def test_one_off_text_counts_less_the_longer_it_is():
    short = _text("Order A-1 ships today.")  # 23 characters: ~6 tokens
    long = _text("Order A-1 shipped on Monday from the Reno warehouse and should arrive on Thursday. " * 3)
    assert verbatim_share([short]) == pytest.approx(TEXT_TOKEN_AGREEMENT ** (len(short["output"]["content"]) / 4))
    assert verbatim_share([long]) < verbatim_share([short]) < 1.0
    mixed = verbatim_share([_call("lookup_order"), long])  # an agent step: half tool calls, half long answers
    assert mixed == pytest.approx((1.0 + verbatim_share([long])) / 2)


def test_a_json_response_format_is_structured_whatever_the_text():
    record = {**_text("not json at all, but asked for as JSON"), "response_format": {"type": "json_object"}}
    assert verbatim_share([record]) == 1.0
