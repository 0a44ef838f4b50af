"""UTF-16/32 logs are read, a NUL byte costs one line only, JSON-array rejects name their element,
and every path passed over while expanding a directory is listed with its reason."""

from __future__ import annotations

import os
import socket

import orjson
import pytest
from rich.console import Console

from slmconvert.collect.encoding import looks_binary
from slmconvert.collect.inputs import scan_inputs
from slmconvert.stages import collect as collect_stage


def good(n: int) -> dict:
    return {"messages": [{"role": "user", "content": f"café {n} ✓"}, {"role": "assistant", "content": f"pong {n}"}]}


TEXT = "".join(orjson.dumps(good(i)).decode() + "\r\n" for i in range(6))


@pytest.mark.parametrize("codec, mark", [
    ("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff"), ("utf-32-le", b"\xff\xfe\x00\x00"),
    ("utf-32-be", b"\x00\x00\xfe\xff"), ("utf-8", b"\xef\xbb\xbf"), ("utf-16-le", b""), ("utf-32-be", b""),
])
def test_unicode_encodings_are_decoded(run_collect, codec, mark):
    out = run_collect({"win.jsonl": mark + TEXT.encode(codec)})
    assert out.summary["calls"] == 6 and not out.rejects
    assert [c["messages"][0]["content"] for c in out.calls] == [f"café {i} ✓" for i in range(6)]
    assert [c["source"]["line"] for c in out.calls] == [1, 2, 3, 4, 5, 6]


def test_utf16_json_array_and_gzip(run_collect):
    import gzip

    array = orjson.dumps([good(i) for i in range(10, 14)], option=orjson.OPT_INDENT_2).decode()
    out = run_collect({"arr.json": b"\xff\xfe" + array.encode("utf-16-le"),
                       "lines.jsonl.gz": gzip.compress(b"\xfe\xff" + TEXT.encode("utf-16-be"))})
    assert out.summary["calls"] == 10 and not out.rejects


def test_bad_utf16_unit_rejects_its_line_only(run_collect):
    body = TEXT.encode("utf-16-le")
    second = body.index("\n".encode("utf-16-le")) + 2
    broken = body[:second + 8] + b"\x00\xd8" + body[second + 8:]  # a lone high surrogate in line 2
    out = run_collect({"bad16.jsonl": b"\xff\xfe" + broken})
    assert out.summary["calls"] == 5
    (reject,) = out.rejects
    assert reject["line"] == 2 and reject["reason"] == "invalid JSON"


def test_nul_byte_rejects_that_line_and_keeps_the_rest(run_collect):
    lines = [orjson.dumps(good(i)) for i in range(5)]
    lines[1] = lines[1][:20] + b"\x00" + lines[1][20:]
    nul_head = b"\x00" * 300 + lines[0]  # e.g. the hole copytruncate leaves at the start
    out = run_collect({"nul.jsonl": b"\n".join([nul_head] + lines[1:]) + b"\n"})
    assert out.summary["calls"] == 3
    assert [(r["line"], r["reason"]) for r in out.rejects] == [(1, "NUL bytes"), (2, "NUL bytes")]
    assert "300 NUL byte(s) from offset 0" in out.rejects[0]["detail"]


def test_binary_detection():
    assert looks_binary(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert looks_binary(b"SQLite format 3\x00\x10\x00\x01\x01\x00@  ")
    assert not looks_binary(b'{"a": 1}\n{"b": "\x00"}\n')
    assert not looks_binary(b"\x00" * 4096)
    assert not looks_binary(b'{"plain": "text"}\n')


def test_json_array_rejects_name_their_element(run_collect):
    elements = [good(0), {"unknown": 1}, good(1), 7, good(2)] + [{"nope": i} for i in range(15)]
    out = run_collect({"minified.json": orjson.dumps(elements)})
    assert out.summary["calls"] == 3
    assert [r["element"] for r in out.rejects] == [1, 3] + list(range(5, 20))
    assert {r["line"] for r in out.rejects} == {1}
    examples = {g["reason"]: g["examples"][0]["at"] for g in out.summary["reject_reasons"]}
    assert examples["not a JSON object"].endswith("minified.json:1 (element 3)")
    pretty = orjson.dumps(elements[:3], option=orjson.OPT_INDENT_2)
    (reject,) = run_collect({"pretty.json": pretty}).rejects
    assert reject["element"] == 1 and pretty.splitlines()[reject["line"] - 1].strip() == b"{"
    plain = run_collect({"plain.jsonl": [{"unknown": 1}]}).rejects[0]
    assert "element" not in plain  # JSON Lines: the line says it all


def test_directory_listing_says_what_it_passed_over(tmp_path):
    logs = tmp_path / "logs"
    (logs / "sub").mkdir(parents=True)
    (logs / ".git").mkdir()
    (logs / ".git" / "x.json").write_bytes(b"{}")
    for name in ("a.jsonl", "sub/b.log", "README.md", ".hidden.jsonl", "notes.csv"):
        (logs / name).write_bytes(b"{}\n")
    os.symlink(tmp_path / "nowhere.jsonl", logs / "broken.jsonl")
    os.mkfifo(logs / "pipe.jsonl")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(logs / "s.jsonl"))
    try:
        inputs = scan_inputs([str(logs)])  # would hang here if it opened the FIFO
    finally:
        sock.close()
    assert [p.name for p in inputs.files] == ["a.jsonl", "b.log"]
    reasons = {os.path.basename(s["path"]): s["reason"] for s in inputs.skipped}
    assert reasons == {
        ".git": "hidden directory, not searched", ".hidden.jsonl": "hidden name", "README.md": "not a log file name",
        "notes.csv": "not a log file name", "broken.jsonl": "broken symlink",
        "pipe.jsonl": "named pipe (FIFO), not opened", "s.jsonl": "socket, not opened",
    }


def test_skipped_paths_reach_stats_and_console(run_collect, tmp_path):
    out = run_collect({"logs/a.jsonl": [good(1)], "logs/README.md": "# notes\n"}, paths=["logs"])
    assert out.summary["skipped_files_total"] == 1
    assert out.summary["skipped_files"][0]["reason"] == "not a log file name"
    stats = orjson.loads((out.out_dir / "stats.json").read_bytes())
    assert stats["skipped_files"] == out.summary["skipped_files"]
    console = Console(record=True, width=200)
    collect_stage.render(out.summary, console)
    text = console.export_text()
    assert "passed over 1 path(s)" in text and "README.md: not a log file name" in text


def test_explicit_fifo_is_passed_over_not_opened(tmp_path):
    os.mkfifo(tmp_path / "pipe.jsonl")
    (tmp_path / "a.jsonl").write_bytes(b"{}\n")
    inputs = scan_inputs([str(tmp_path / "pipe.jsonl"), str(tmp_path / "a.jsonl")])
    assert [p.name for p in inputs.files] == ["a.jsonl"]
    assert inputs.skipped[0]["reason"] == "named pipe (FIFO), not opened"


def test_unreadable_directory_is_passed_over_and_the_rest_read(tmp_path, monkeypatch):
    from slmconvert.collect import inputs as inputs_module

    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "x.jsonl").write_bytes(b"{}\n")
    (tmp_path / "open").mkdir()
    (tmp_path / "open" / "a.jsonl").write_bytes(b"{}\n")
    real = os.scandir

    def scandir(path):
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(inputs_module.os, "scandir", scandir)
    found = scan_inputs([str(tmp_path / "locked"), str(tmp_path / "open")])
    assert [p.name for p in found.files] == ["a.jsonl"]
    assert found.skipped == [{"path": str(tmp_path / "locked"), "reason": "unreadable directory: Permission denied"}]
