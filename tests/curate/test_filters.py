"""Each filter reason, on hand-made calls."""

from __future__ import annotations

import copy

from slmconvert.curate.filters import Filters, error_reason, estimated_tokens
from slmconvert.curate.params import CurateParams
from slmconvert.curate.synthetic import synthetic_calls

BASE = synthetic_calls(1, seed=1)[0]  # a valid lookup_order tool call


def variant(**changes):
    record = copy.deepcopy(BASE)
    record.update(changes)
    return record


def reason(record, **params):
    return Filters(CurateParams(**params)).reason(record, record, "key")


def test_valid_call_is_kept():
    assert reason(BASE) is None


def test_error_empty_truncated():
    assert error_reason(variant(finish_reason="error", output=None)) == "error_response"
    assert error_reason(variant(metadata={"error": "rate limited"})) == "error_response"
    assert error_reason(variant(output={"role": "assistant", "content": "  ", "tool_calls": None})) == "empty_output"
    assert error_reason(variant(finish_reason="length")) == "truncated"


def test_invalid_tool_calls():
    unknown = variant()
    unknown["output"]["tool_calls"][0]["function"]["name"] = "delete_everything"
    assert reason(unknown) == "unknown_tool"
    bad_args = variant()
    bad_args["output"]["tool_calls"][0]["function"]["arguments"] = {"order_id": "not-an-order"}
    assert reason(bad_args) == "invalid_tool_arguments"
    assert reason(bad_args, filters=["truncated"]) is None


def test_scrubbing_that_breaks_a_schema_is_named():
    scrubbed = variant()
    scrubbed["output"]["tool_calls"][0]["function"]["arguments"]["order_id"] = "<ORDER_1>"
    assert Filters(CurateParams()).reason(BASE, scrubbed, "k") == "scrub_broke_schema"


def test_too_long_uses_usage_or_an_estimate():
    assert reason(variant(usage={"prompt_tokens": 20000, "completion_tokens": 10})) == "too_long"
    no_usage = variant(usage=None)
    assert 100 < estimated_tokens(no_usage) < 2000
    assert reason(no_usage, max_tokens=100) == "too_long"


def test_too_long_measures_the_text_when_usage_under_reports():
    huge = variant(usage={"prompt_tokens": 283, "completion_tokens": 12})
    huge["messages"][-1]["content"] = "lorem ipsum dolor " * 600_000  # ~10 MB logged as 283 tokens
    assert estimated_tokens(huge) > 2_000_000
    assert reason(huge) == "too_long"
    assert estimated_tokens(variant(usage={"prompt_tokens": 9000, "completion_tokens": 10})) == 9010  # usage wins


def test_near_duplicates_after_the_first():
    filters = Filters(CurateParams())
    assert filters.reason(BASE, BASE, "same") is None
    assert filters.reason(BASE, BASE, "same") == "near_duplicate"
    assert filters.reason(BASE, BASE, "other") is None


def test_near_duplicate_key_ignores_entities_numbers_and_spaces(scrubber):
    a, b = synthetic_calls(2, seed=12)[0::3]  # first call of two different conversations
    b["messages"][1]["content"] = b["messages"][1]["content"].replace(" ", "  ")
    keys = [r.request_key for r in scrubber.scrub([a, b])]
    assert keys[0] == keys[1]
    c = copy.deepcopy(a)
    c["messages"][1]["content"] += " Also, can you gift-wrap it?"
    assert scrubber.scrub([c])[0].request_key != keys[0]


def test_answers_our_own_specialists_served_do_not_train_them_again():
    from slmconvert.serve.gateway import slm_model_name

    served = variant(model=slm_model_name(3))
    assert reason(served) == "served_by_slm"
    assert reason(served, filters=["too_long"]) is None
    assert reason(variant(model="gpt-4o-mini")) is None
