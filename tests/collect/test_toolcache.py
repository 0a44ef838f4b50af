"""The tool-list cache: repeated `request.tools` reused, never a record that differs from a full parse."""

from __future__ import annotations

import json

import orjson

from slmconvert.collect import toolcache
from slmconvert.collect.formats import openai_chat
from slmconvert.collect.identity import encode_identity
from slmconvert.collect.toolcache import KnownTools, ToolsCache
from slmconvert.collect.units import CALL, process_unit
from slmconvert.util.jsonio import canonical_json, sha256_text


def tool(name: str, **extra) -> dict:
    params = {"type": "object", "properties": {"id": {"type": "string", **extra}}, "additionalProperties": False}
    return {"type": "function", "function": {"name": name, "description": f"Run {name}", "parameters": params}}


TOOLS = [tool("lookup_order"), tool("issue_refund")]


def line(n: int, tools: list = TOOLS, dumps=orjson.dumps, **top) -> bytes:
    record = {
        "timestamp": 1760000000 + n,
        "request": {"model": "gpt-4o", "tools": tools, "messages": [{"role": "user", "content": f"order {n}"}]},
        "response": {"model": "gpt-4o", "choices": [{"index": 0, "finish_reason": "stop",
                                                      "message": {"role": "assistant", "content": f"ok {n}"}}]},
        **top,
    }
    data = dumps(record)
    return data.encode() if isinstance(data, str) else data


def learned(cache: ToolsCache, data: bytes) -> None:
    record = orjson.loads(data)
    partial = openai_chat.normalise(record)[0]
    cache.learn(data, record, partial["tools"], encode_identity(partial)[1]["tools"])


def same(a: object, b: object) -> bool:
    """Equal including JSON types (1, 1.0 and true differ)."""
    return orjson.dumps(a, option=orjson.OPT_SORT_KEYS) == orjson.dumps(b, option=orjson.OPT_SORT_KEYS)


def test_repeated_tools_are_reused_and_records_match_a_full_parse():
    cache = ToolsCache()
    assert cache.parse(line(0)) is None  # nothing learned yet
    learned(cache, line(0))
    for n in range(1, 5):
        got = cache.parse(line(n))
        assert type(got["request"]["tools"]) is KnownTools
        assert same(got, orjson.loads(line(n)))
    assert cache.hits == 4
    known = cache.parse(line(9))["request"]["tools"]
    assert known.canonical == canonical_json(TOOLS).encode()


def test_python_json_dumps_spelling_is_learned_too():
    cache = ToolsCache()
    learned(cache, line(0, dumps=json.dumps))
    got = cache.parse(line(1, dumps=json.dumps))
    assert got is not None and same(got, json.loads(line(1, dumps=json.dumps)))


def test_other_tool_lists_and_number_types_are_not_mistaken():
    cache = ToolsCache()
    learned(cache, line(0, [tool("a", maxLength=1)]))
    for variant in ([tool("a", maxLength=1.0)], [tool("a", maxLength=True)], [tool("a", maxLength=1), tool("b")]):
        data = line(1, variant)
        got = cache.parse(data)
        assert got is None or same(got, orjson.loads(data))
    assert cache.hits == 0


def test_same_tools_text_elsewhere_falls_back_to_a_full_parse():
    cache = ToolsCache()
    learned(cache, line(0))
    # the first `"tools":` of the line is inside metadata, and request.tools differs
    data = line(1, [tool("other")]).replace(b'"timestamp"', b'"metadata":{"tools":' + orjson.dumps(TOOLS) + b'},"timestamp"', 1)
    assert cache.parse(data) is None
    # duplicate keys: the parser keeps the last one, so must the cache
    dup_last_null = line(2).replace(b'"tools":' + orjson.dumps(TOOLS), b'"tools":' + orjson.dumps(TOOLS) + b',"tools":null')
    assert orjson.loads(dup_last_null)["request"]["tools"] is None
    assert cache.parse(dup_last_null) is None
    dup_first_null = line(3).replace(b'"tools":', b'"tools":null,"tools":', 1)
    got = cache.parse(dup_first_null)  # only the first `"tools":` is looked at: a plain miss
    assert got is None or same(got, orjson.loads(dup_first_null))
    assert cache.hits == 0


def test_broken_line_after_the_tools_falls_back():
    cache = ToolsCache()
    learned(cache, line(0))
    assert cache.parse(line(1)[:-20]) is None


def test_memory_stays_bounded(monkeypatch):
    monkeypatch.setattr(toolcache, "MAX_ENTRIES", 4)
    cache = ToolsCache()
    for n in range(10):
        learned(cache, line(n, [tool(f"t{n}")]))
        assert cache._entries <= 4
    assert cache.parse(line(20, [tool("t9")])) is not None


def test_unlearnable_spelling_stops_costing(monkeypatch):
    cache = ToolsCache()
    calls = []
    real = toolcache._spelling
    monkeypatch.setattr(toolcache, "_spelling", lambda *a: calls.append(1) or real(*a))
    pretty = line(0, dumps=lambda r: json.dumps(r, indent=1))
    for _ in range(toolcache.LEARN_BUDGET + 500):
        learned(cache, pretty)
    assert len(calls) == toolcache.LEARN_BUDGET


def test_pipeline_records_match_independent_call_ids(run_collect):
    variants = [TOOLS, [tool("lookup_order")], TOOLS[::-1]]
    lines = [line(n, variants[n % 3] if n % 7 else [tool("x", minimum=n)]) for n in range(60)]
    result = run_collect({"a.jsonl": b"".join(data + b"\n" for data in lines)})
    assert len(result.calls) == 60
    for data, call in zip(lines, result.calls):
        source = orjson.loads(data)
        assert same(call["tools"], source["request"]["tools"])
        identity = {k: call[k] for k in ("model", "messages", "tools", "tool_choice", "response_format", "output")}
        assert call["call_id"] == sha256_text(canonical_json(identity))


def test_process_unit_outcomes_equal_with_and_without_cache(monkeypatch):
    data = [line(n) for n in range(5)]
    hits = toolcache.TOOLS.hits
    warm = [process_unit(n, d, None, None) for n, d in enumerate(data)]
    assert toolcache.TOOLS.hits >= hits + 4
    monkeypatch.setattr(toolcache.TOOLS, "parse", lambda d: None)
    cold = [process_unit(n, d, None, None) for n, d in enumerate(data)]
    assert warm == cold and all(o[0][0] == CALL for o in warm)
