"""Each file follows its format's public documentation, and _truth.jsonl describes every line."""

from __future__ import annotations

import json
from collections import Counter

ANTH_BLOCKS = {"text", "tool_use", "tool_result"}


def _records(sample, fmt: str):
    for v in sample.views:
        if v.truth["format"] == fmt:
            yield v


def test_every_log_line_has_exactly_one_truth_row(sample):
    seen = Counter((r["file"], r["line"]) for r in sample.truth if r["kind"] != "malformed")
    seen.update((r["output_file"], r["output_line"]) for r in sample.truth if "output_file" in r)
    expected = Counter(
        (name, i) for name, lines in sample.lines.items() for i in range(1, len(lines) + 1)
    )
    assert seen == expected
    assert sample.summary["calls_total"] == sum(r["kind"] == "ok" for r in sample.truth)


def test_openai_chat_request_response_pairs(sample):
    streamed = 0
    for v in _records(sample, "openai_chat"):
        rec = v.raw
        assert isinstance(rec["timestamp"], int) and rec["workload_id"] and rec["client_id"]
        req, resp = rec["request"], rec["response"]
        assert req["model"] and req["messages"][0]["role"] == "system"
        for tool in req.get("tools", []):
            assert tool["type"] == "function" and {"name", "description", "parameters"} <= set(
                tool["function"]
            )
        if v.truth["kind"] == "error":
            body = resp.get("error", resp)
            assert body["message"] and "choices" not in resp
            continue
        if isinstance(resp, list):
            streamed += 1
            assert req["stream"] is True and all(
                c["object"] == "chat.completion.chunk" for c in resp
            )
            assert resp[-1]["choices"] == [] and resp[-1]["usage"]["total_tokens"] > 0
            continue
        assert resp["object"] == "chat.completion" and isinstance(resp["created"], int)
        choice = resp["choices"][0]
        assert choice["finish_reason"] in ("stop", "tool_calls", "length")
        assert (choice["finish_reason"] == "tool_calls") == bool(
            choice["message"].get("tool_calls")
        )
        for tc in choice["message"].get("tool_calls") or []:
            assert tc["type"] == "function" and tc["id"].startswith("call_")
            assert isinstance(tc["function"]["arguments"], str)
        usage = resp["usage"]
        assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert streamed > 0


def test_anthropic_messages_pairs(sample):
    for v in _records(sample, "anthropic"):
        req, resp = v.raw["request"], v.raw["response"]
        assert req["max_tokens"] > 0 and req["model"].startswith("claude")
        roles = [m["role"] for m in req["messages"]]
        assert roles[0] == "user" and all(a != b for a, b in zip(roles, roles[1:], strict=False))
        for m in req["messages"]:
            if isinstance(m["content"], list):
                assert {b["type"] for b in m["content"]} <= ANTH_BLOCKS
        for tool in req.get("tools", []):
            assert {"name", "description", "input_schema"} <= set(tool)
        if v.truth["kind"] == "error":
            assert resp["type"] == "error" and resp["error"]["type"].endswith("_error")
            continue
        assert (
            resp["type"] == "message"
            and resp["role"] == "assistant"
            and resp["id"].startswith("msg_")
        )
        uses = [b for b in resp["content"] if b["type"] == "tool_use"]
        assert (resp["stop_reason"] == "tool_use") == bool(uses)
        assert all(isinstance(b["input"], dict) for b in uses)
        assert {"input_tokens", "output_tokens"} <= set(resp["usage"])


def test_finetune_records(sample):
    records = list(_records(sample, "finetune"))
    assert records
    for v in records:
        msgs = v.raw["messages"]
        assert set(v.raw) <= {"messages", "tools", "parallel_tool_calls"}
        assert msgs[-1]["role"] == "assistant"
        for m in msgs:
            for tc in m.get("tool_calls") or []:
                assert isinstance(json.loads(tc["function"]["arguments"]), dict)


def test_batch_input_and_output_join_by_custom_id(sample):
    inputs = {
        name: [json.loads(x) for x in lines]
        for name, lines in sample.lines.items()
        if "_input" in name
    }
    assert inputs
    for name, rows in inputs.items():
        outputs = [json.loads(x) for x in sample.lines[name.replace("_input", "_output")]]
        assert sorted(r["custom_id"] for r in rows) == sorted(o["custom_id"] for o in outputs)
        assert len({r["custom_id"] for r in rows}) == len(rows)
        for r in rows:
            assert (
                r["method"] == "POST"
                and r["url"] == "/v1/chat/completions"
                and r["body"]["messages"]
            )
        for o in outputs:
            assert o["id"].startswith("batch_req_")
            assert (o["response"] is None) != (o["error"] is None)


def test_fault_kinds_look_like_their_kind(sample):
    kinds = Counter(r["kind"] for r in sample.truth)
    assert kinds["ok"] > 350 and kinds["malformed"] >= 25
    for v in sample.views:
        kind, text = v.truth["kind"], sample.lines[v.file][v.line - 1]
        if "output_file" in v.truth:  # Batch API: the outcome is in the output file
            text = sample.lines[v.truth["output_file"]][v.truth["output_line"] - 1]
        if kind == "duplicate":
            assert text == sample.lines[v.file][v.truth["duplicate_of"] - 1]
        elif kind == "truncated":
            assert '"finish_reason":"length"' in text or '"stop_reason":"max_tokens"' in text
        elif kind == "invalid_args":
            bad = [tc for tc in v.output["tool_calls"] if not _parses(tc["arguments"])]
            assert bad


def _parses(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except json.JSONDecodeError:
        return False


def test_usage_is_consistent_with_text_length(sample):
    for v in sample.ok():
        if v.truth["format"] != "openai_chat" or isinstance(v.raw["response"], list):
            continue
        usage, req = v.raw["response"]["usage"], v.raw["request"]
        chars = len(json.dumps(req["messages"])) + len(json.dumps(req.get("tools", [])))
        assert 0.5 < usage["prompt_tokens"] * 4 / chars < 1.5, (v.file, v.line)


def test_malformed_file_has_many_kinds_of_breakage(sample):
    raw = (sample.out / "malformed.jsonl").read_bytes().split(b"\n")[:-1]
    rows = [r for r in sample.truth if r["kind"] == "malformed"]
    assert len(raw) == len(rows) >= 25
    assert len({r["reason"] for r in rows}) == len(rows)
    assert b"" in raw and any(len(x) > 20000 for x in raw)
    undecodable = 0
    for x in raw:
        try:
            x.decode("utf-8")
        except UnicodeDecodeError:
            undecodable += 1
    assert undecodable == 1
    assert all(len(x) < 100_000 for x in raw)
