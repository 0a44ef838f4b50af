"""Hostile inputs end as clear rejects (file, line, reason, bounded excerpt), never a crash or hang."""

from __future__ import annotations

import gzip

import orjson
import pytest

from slmconvert.collect.reader import LogFile, resolve_inputs
from slmconvert.errors import BadInputError

GOOD = {"messages": [{"role": "user", "content": "ping"}, {"role": "assistant", "content": "pong"}]}


def good(n: int) -> dict:
    return {"messages": [{"role": "user", "content": f"ping {n}"}, {"role": "assistant", "content": "pong"}]}


def reasons(outcome) -> list[tuple[int, str]]:
    return [(r["line"], r["reason"]) for r in outcome.rejects]


def test_broken_lines_each_get_a_reason(run_collect):
    lines = [
        orjson.dumps(good(1)),
        b"",  # blank
        b"   \t",
        b'{"messages": [',  # truncated JSON
        b'{"a": 1} trailing',
        b"[1, 2, 3]",
        b'"just a string"',
        b'{"hello": "world"}',
        b'{"messages": [{"role": "user", "content": "caf\xe9"}, {"role": "assistant", "content": "x"}]}',  # latin-1
        b'{"n": 123456789012345678901234567890, "messages": [{"role": "user", "content": "big"}, {"role": "assistant", "content": "int"}]}',
        orjson.dumps(good(2)),
    ]
    out = run_collect({"mixed.jsonl": b"\n".join(lines) + b"\n"})
    assert out.summary["calls"] == 3
    assert reasons(out) == [(4, "invalid JSON"), (5, "invalid JSON"), (6, "not a JSON object"),
                            (7, "not a JSON object"), (8, "unknown format"), (9, "invalid UTF-8")]
    assert out.summary["files"][0]["blank_lines"] == 2 and out.summary["files"][0]["lines"] == 11
    assert all(r["format_guess"] == "openai_finetune" for r in out.rejects if r["line"] != 8)
    assert "byte at offset" in out.rejects[-1]["detail"]


def test_deep_nesting_does_not_crash(run_collect):
    deep = b'{"messages": ' + b"[" * 10000 + b"]" * 10000 + b"}"
    mid = {"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{\"a\": " + "[" * 600 + "]" * 600 + "}"}}]}]}
    out = run_collect({"deep.jsonl": deep + b"\n" + orjson.dumps(mid) + b"\n" + orjson.dumps(GOOD) + b"\n"})
    assert out.summary["calls"] == 1
    assert reasons(out) == [(1, "JSON nested too deep"), (2, "JSON nested too deep")]


def test_ten_megabyte_line_is_accepted_and_excerpts_are_bounded(run_collect):
    huge = {"messages": [{"role": "user", "content": "x" * (10 << 20)}, {"role": "assistant", "content": "ok"}]}
    broken = b'{"messages": "' + b"y" * (2 << 20)
    out = run_collect({"big.jsonl": orjson.dumps(huge) + b"\n" + broken + b"\n"})
    assert out.summary["calls"] == 1
    assert len(out.calls[0]["messages"][0]["content"]) == 10 << 20
    (reject,) = out.rejects
    assert reject["reason"] == "invalid JSON" and len(reject["excerpt"]) == 500


def test_line_longer_than_limit_is_skipped_without_reading_it_whole(run_collect):
    data = orjson.dumps(good(1)) + b"\n" + b"z" * 3000 + b"\n" + orjson.dumps(good(2)) + b"\n"
    out = run_collect({"long.jsonl": data}, max_line_bytes=1024)
    assert out.summary["calls"] == 2
    assert reasons(out) == [(2, "line too long")]
    assert len(out.rejects[0]["excerpt"]) == 500


def test_gzip_and_truncated_gzip(run_collect):
    def packed(first: int) -> bytes:
        return gzip.compress(b"".join(orjson.dumps(good(i)) + b"\n" for i in range(first, first + 200)))

    cut_bytes = packed(1000)
    out = run_collect({"ok.jsonl.gz": packed(0), "cut.jsonl.gz": cut_bytes[: len(cut_bytes) // 2], "noext": packed(2000)})
    files = {f["file"].rsplit("/", 1)[-1]: f for f in out.summary["files"]}
    assert files["ok.jsonl.gz"]["calls"] == 200 and files["ok.jsonl.gz"]["compressed"]
    assert files["noext"]["calls"] == 200  # gzip detected by magic bytes, not by name
    cut = files["cut.jsonl.gz"]
    assert 0 < cut["calls"] < 200
    assert [r["reason"] for r in out.rejects if r["file"].endswith("cut.jsonl.gz")][-1] == "truncated gzip"
    assert out.summary["calls"] == 400 + cut["calls"]


def test_corrupt_gzip_binary_and_empty_files(run_collect):
    out = run_collect({
        "bad.gz": b"\x1f\x8b\x08\x00garbage-garbage-garbage",
        "image.jsonl": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        "empty.jsonl": b"",
        "blank.jsonl": b"\n\n  \n",
        "ok.jsonl": orjson.dumps(GOOD) + b"\n",
    })
    by_file = {r["file"].rsplit("/", 1)[-1]: r["reason"] for r in out.rejects}
    assert by_file == {"bad.gz": "corrupt gzip", "image.jsonl": "binary file"}
    files = {f["file"].rsplit("/", 1)[-1]: f for f in out.summary["files"]}
    assert files["empty.jsonl"]["lines"] == 0 and files["blank.jsonl"]["blank_lines"] == 3
    assert out.summary["calls"] == 1


def test_unknown_format_file_rejects_every_line(run_collect):
    csv = "timestamp,model,prompt\n2025-01-01,gpt-4o,hello\n"
    out = run_collect({"calls.csv.log": csv})
    assert reasons(out) == [(1, "invalid JSON"), (2, "invalid JSON")]
    assert {r["format_guess"] for r in out.rejects} == {"unknown"}


def test_truncated_json_array_document(run_collect):
    text = b'[\n  {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]},\n  {"messages": [\n'
    out = run_collect({"cut.json": text})
    assert out.summary["calls"] == 1
    assert reasons(out) == [(3, "truncated JSON")]


def test_windows_newlines_and_byte_order_marks(run_collect):
    bom = b"\xef\xbb\xbf"
    data = bom + orjson.dumps(good(1)) + b"\r\n" + orjson.dumps(good(2)) + b"\r\n" + bom + orjson.dumps(good(3)) + b"\n"
    out = run_collect({"win.jsonl": data})
    assert out.summary["calls"] == 3 and not out.rejects


def test_lone_surrogate_escape_is_a_clear_reject(run_collect):
    line = b'{"messages": [{"role": "user", "content": "bad \\ud800 text"}, {"role": "assistant", "content": "x"}]}'
    out = run_collect({"s.jsonl": line + b"\n"})
    (reject,) = out.rejects
    assert reject["reason"] == "unsupported JSON value" and "surrogate" in reject["detail"]


def test_resolve_inputs_dirs_globs_and_missing(tmp_path):
    (tmp_path / "logs" / "sub").mkdir(parents=True)
    for name in ("logs/a.jsonl", "logs/sub/b.jsonl.gz", "logs/notes.md", "logs/.hidden.jsonl"):
        (tmp_path / name).write_bytes(b"")
    found = resolve_inputs([str(tmp_path / "logs"), str(tmp_path / "logs" / "*.jsonl")])
    assert [p.name for p in found] == ["a.jsonl", "b.jsonl.gz"]
    with pytest.raises(BadInputError, match="no such file"):
        resolve_inputs([str(tmp_path / "missing.jsonl")])
    with pytest.raises(BadInputError, match="no files match"):
        resolve_inputs([str(tmp_path / "*.parquet")])
    (tmp_path / "emptydir").mkdir()
    with pytest.raises(BadInputError, match="holds no log files"):
        resolve_inputs([str(tmp_path / "emptydir")])


def test_reader_streams_without_reading_the_file_whole(tmp_path):
    path = tmp_path / "many.jsonl"
    line = orjson.dumps(GOOD) + b"\n"
    path.write_bytes(line * 5000)
    log = LogFile(path, 1 << 20)
    units = log.units()
    next(units)
    assert log.position < path.stat().st_size  # only the first buffer has been read
    assert sum(1 for _ in units) == 4999
