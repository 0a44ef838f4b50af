"""The streaming JSON splitter and the price table."""

from __future__ import annotations

import orjson
import pytest

from slmconvert.collect.jsonscan import JsonSplitter, split_json_stream
from slmconvert.collect.pricing import PriceTable


def pieces(text: bytes, chunk: int, max_bytes: int = 1 << 20):
    chunks = (text[i:i + chunk] for i in range(0, len(text), chunk))
    return list(split_json_stream(chunks, max_bytes))


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 1 << 16])
def test_splitter_is_chunking_independent(chunk):
    records = [{"a": "x,]}\\\"[{", "n": [1, {"b": None}]}, {"c": "line\\nbreak"}, {"e": "\u00e9\u4e2d"}]
    text = orjson.dumps(records, option=orjson.OPT_INDENT_2)
    got = pieces(text, chunk)
    assert [orjson.loads(p.data) for p in got] == records
    assert [p.index for p in got] == [0, 1, 2]
    lines = text.split(b"\n")
    assert [lines[p.line - 1].strip() for p in got] == [b"{", b"{", b"{"]
    assert not any(p.problem for p in got)


def test_splitter_scalars_concatenated_values_and_truncation():
    got = pieces(b'[1, "two", true, {"x": 1}]\n{"y": 2}\n{"z": [\n', 5)
    assert [p.data for p in got[:5]] == [b"1", b'"two"', b"true", b'{"x": 1}', b'{"y": 2}']
    assert got[5].problem == "JSON record truncated at end of file" and got[5].line == 3


def test_splitter_oversized_record_and_unclosed_array():
    splitter = JsonSplitter(max_bytes=50)
    out = splitter.feed(b'[{"a": "' + b"x" * 200 + b'"}, {"b": 1}')
    out += splitter.finish()
    assert out[0].problem.startswith("record longer than 50 bytes") and len(out[0].data) <= 500
    assert out[1].data == b'{"b": 1}' and out[2].problem == "JSON array not closed at end of file"


@pytest.mark.parametrize(
    ("model", "entry"),
    [
        ("gpt-4o", "gpt-4o"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("GPT-4.1-mini", "gpt-4.1-mini"),
        ("gpt-4.1-2025-04-14", "gpt-4.1"),
        ("openai/gpt-4o", "gpt-4o"),
        ("claude-3-5-sonnet-20241022", "claude-3-5-sonnet"),
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("us.anthropic.claude-3-5-haiku-20241022-v1:0", "claude-3-5-haiku"),
        ("claude-3.5-sonnet-latest", "claude-3-5-sonnet"),
        ("o3-pro-2025-06-10", "o3-pro"),
        ("gpt-4o-custom", "gpt-4o"),
        ("gpt-4", "gpt-4"),
        ("gpt-4.5-preview", "gpt-4.5"),
        ("gpt-40", None),
        ("llama-3.1-8b-instruct", None),
        ("meta/llama-3.3-70b-instruct", None),
        (None, None),
    ],
)
def test_price_matching(model, entry):
    assert PriceTable.load().match(model) == entry


def test_cost_and_overrides():
    table = PriceTable.load({"meta/llama-3.3-70b-instruct": {"input": 0.6, "output": 0.6}, "gpt-4o": {"input": 1, "output": 2}})
    assert table.cost("gpt-4o-2024-11-20", 1_000_000, 500_000) == pytest.approx(2.0)
    assert table.cost("meta/llama-3.3-70b-instruct", 1000, 1000) == pytest.approx(0.0012)
    assert table.cost("unknown-model", 10, 10) is None
    assert table.cost("gpt-4o", None, 10) is None
