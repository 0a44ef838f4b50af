"""BFCL-style AST match, schema validation, JSON-leaf F1."""

from __future__ import annotations

import pytest

from slmconvert.evaluation.matching import (
    calls_match,
    extract_json,
    field_f1,
    json_equal,
    schema_errors,
    validate_tool_calls,
)

TOOLS = [
    {"type": "function", "function": {"name": "refund", "parameters": {
        "type": "object",
        "properties": {
            "order_id": {"type": "string"},
            "amount": {"type": "number"},
            "qty": {"type": "integer"},
            "notify": {"type": "boolean", "default": True},
            "currency": {"type": "string", "default": "EUR"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "address": {"type": "object", "properties": {"city": {"type": "string"}, "zip": {"type": "string"}}},
        },
        "required": ["order_id", "amount"],
    }}},
    {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]}}},
]


def call(name, **arguments):
    return {"name": name, "arguments": arguments}


REF = call("refund", order_id="A-17", amount=12.0)


@pytest.mark.parametrize(
    ("predicted", "ok"),
    [
        (call("refund", order_id="A-17", amount=12.0), True),
        (call("refund", order_id="a17", amount=12), True),  # string normalisation; int for float
        (call("refund", order_id="A-17", amount=12.0, notify=True), True),  # explicit default
        (call("refund", order_id="A-17", amount=12.0, currency="eur"), True),  # default, normalised
        (call("refund", order_id="A-17", amount=12.0, notify=False), False),  # non-default extra
        (call("refund", order_id="A-17", amount=12.5), False),
        (call("refund", order_id="A-18", amount=12.0), False),
        (call("refund", order_id="A-17"), False),  # required missing
        (call("refund", order_id="A-17", amount="12"), False),  # string for number
        (call("refund", order_id="A-17", amount=12.0, bogus=1), False),  # not in schema
        (call("lookup", id="A-17"), False),  # wrong function
    ],
)
def test_single_call_ast_match(predicted, ok):
    assert calls_match([predicted], [REF], TOOLS) is ok


def test_reference_default_may_be_omitted_by_the_model():
    ref = call("refund", order_id="A-17", amount=1.0, notify=True)
    assert calls_match([call("refund", order_id="A-17", amount=1.0)], [ref], TOOLS)
    ref_non_default = call("refund", order_id="A-17", amount=1.0, notify=False)
    assert not calls_match([call("refund", order_id="A-17", amount=1.0)], [ref_non_default], TOOLS)


def test_values_are_typed_strictly_where_bfcl_is():
    ref = call("refund", order_id="A", amount=1.0, qty=2, notify=False, tags=["x", "y"], address={"city": "Paris", "zip": "75001"})
    same = call("refund", order_id="A", amount=1, qty=2, notify=False, tags=["X", "y"], address={"zip": "75001", "city": "paris"})
    assert calls_match([same], [ref], TOOLS)
    assert not calls_match([{**same, "arguments": {**same["arguments"], "notify": 0}}], [ref], TOOLS)  # bool vs int
    assert not calls_match([{**same, "arguments": {**same["arguments"], "qty": 2.5}}], [ref], TOOLS)
    assert not calls_match([{**same, "arguments": {**same["arguments"], "tags": ["y", "x"]}}], [ref], TOOLS)  # list order
    assert not calls_match([{**same, "arguments": {**same["arguments"], "address": {"city": "Lyon", "zip": "75001"}}}], [ref], TOOLS)


def test_parallel_calls_are_order_free_but_counted():
    a, b = call("lookup", id="1"), call("lookup", id="2")
    assert calls_match([b, a], [a, b], TOOLS)
    assert not calls_match([a, a], [a, b], TOOLS)
    assert not calls_match([a], [a, b], TOOLS)
    assert calls_match([], [], TOOLS)


def test_schema_validation_of_calls():
    assert validate_tool_calls([REF], TOOLS) == []
    assert "not offered" in validate_tool_calls([call("delete_everything")], TOOLS)[0]
    problems = validate_tool_calls([call("refund", order_id="A", amount="lots")], TOOLS)
    assert problems and "amount" in problems[0]
    assert schema_errors({"a": 1}, {"type": "object", "required": ["b"]})


@pytest.mark.parametrize(
    ("text", "value", "ok"),
    [
        ('{"a": 1}', {"a": 1}, True),
        ('```json\n{"a": [1, 2]}\n```', {"a": [1, 2]}, True),
        ('Here you go: {"a": 1} hope it helps', {"a": 1}, True),
        ("no json here", None, False),
        ('{"a": ', None, False),
        (None, None, False),
    ],
)
def test_extract_json(text, value, ok):
    assert extract_json(text) == (value, ok)


def test_field_f1_partial_credit():
    ref = {"name": "Jane Doe", "email": "jane@x.io", "items": [1, 2], "meta": {"vip": True}}
    assert field_f1(ref, ref) == 1.0
    assert field_f1({"name": "jane  doe", "email": "jane@x.io", "items": [2, 1], "meta": {"vip": True}}, ref) == 1.0
    half = field_f1({"name": "Jane Doe", "email": "other@x.io", "items": [1, 3], "meta": {"vip": False}}, ref)
    assert 0.0 < half < 1.0 and half == pytest.approx(0.4)  # 2 of 5 leaves, both sides
    assert field_f1({"unrelated": 1}, ref) == 0.0
    assert field_f1({"name": "Jane Doe"}, ref) == pytest.approx(2 * (1 * 0.2) / 1.2)


def test_json_equal():
    assert json_equal({"a": [1, "X "]}, {"a": [1.0, "x"]})
    assert not json_equal({"a": [2, 1]}, {"a": [1, 2]})
    assert not json_equal({"a": 1, "b": 2}, {"a": 1})
    assert not json_equal({"a": 1}, {"a": True})


# -- strict agreement ------------------------------------------------------------------------


def test_canonical_json_sorts_keys_and_equates_integral_numbers():
    from slmconvert.evaluation.matching import canonical_json

    assert canonical_json({"b": 1, "a": [1.0, {"y": 2, "x": None}]}) == canonical_json({"a": [1, {"x": None, "y": 2.0}], "b": 1.0})
    assert canonical_json({"n": 1}) != canonical_json({"n": True})  # booleans are not numbers
    assert canonical_json({"n": 1.5}) != canonical_json({"n": 1})
    assert canonical_json([1, 2]) != canonical_json([2, 1])  # list order counts
    assert canonical_json({"s": "Paris"}) != canonical_json({"s": "paris"})  # strings exact
    assert canonical_json({"a": None}) != canonical_json({})  # null is not a missing key


def test_strict_tool_call_equality():
    from slmconvert.evaluation.matching import calls_equal_strict

    ref = [{"name": "f", "arguments": {"a": 1, "b": "x"}}, {"name": "g", "arguments": {}}]
    assert calls_equal_strict([{"name": "g", "arguments": {}}, {"name": "f", "arguments": {"b": "x", "a": 1.0}}], ref)
    assert calls_equal_strict([{"name": "f", "arguments": '{"b": "x", "a": 1}'}, {"name": "g", "arguments": None}], ref)
    assert not calls_equal_strict([{"name": "f", "arguments": {"a": 1, "b": "X"}}, {"name": "g", "arguments": {}}], ref)
    assert not calls_equal_strict([{"name": "f", "arguments": {"a": 1, "b": "x"}}], ref)  # one call missing
    twice = [{"name": "g", "arguments": {}}] * 2
    assert not calls_equal_strict(twice, [{"name": "g", "arguments": {}}])  # a multiset, not a set
