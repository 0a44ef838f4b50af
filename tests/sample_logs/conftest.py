"""Fixtures for the sample-log tests: a small generated set, read back into one format-neutral view."""

from __future__ import annotations

import gzip
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SMALL_CALLS = 400


@dataclass
class View:
    """One logged call in a format-neutral shape (what the tests check the "LLM outputs" against)."""

    file: str
    line: int
    truth: dict
    raw: dict
    system: str = ""
    messages: list[dict] = field(
        default_factory=list
    )  # role, content (str), tool_calls [{id,name,arguments}], tool_call_id
    tools: list[dict] = field(default_factory=list)  # OpenAI function tools
    output: dict = field(
        default_factory=dict
    )  # content, tool_calls [{id, name, arguments(str|dict)}]
    response_format: dict | None = None


def read_lines(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return fh.read().splitlines()


def _oai_messages(msgs: list[dict]) -> tuple[str, list[dict]]:
    system, out = "", []
    for m in msgs:
        if m["role"] == "system":
            system = m["content"]
            continue
        tcs = [
            {
                "id": tc["id"],
                "name": tc["function"]["name"],
                "arguments": tc["function"]["arguments"],
            }
            for tc in m.get("tool_calls") or []
        ]
        out.append(
            {
                "role": m["role"],
                "content": m.get("content"),
                "tool_calls": tcs,
                "tool_call_id": m.get("tool_call_id"),
            }
        )
    return system, out


def _oai_output(resp: dict | list) -> dict:
    if isinstance(
        resp, list
    ):  # streamed chunks: reassemble content and tool-call argument fragments
        content, calls = "", {}
        for chunk in resp:
            for choice in chunk["choices"]:
                delta = choice["delta"]
                content += delta.get("content") or ""
                for tc in delta.get("tool_calls") or []:
                    slot = calls.setdefault(
                        tc["index"], {"id": None, "name": None, "arguments": ""}
                    )
                    slot["id"] = tc.get("id") or slot["id"]
                    slot["name"] = tc.get("function", {}).get("name") or slot["name"]
                    slot["arguments"] += tc.get("function", {}).get("arguments", "")
        return {"content": content or None, "tool_calls": [calls[i] for i in sorted(calls)]}
    if "choices" not in resp:
        return {}
    msg = resp["choices"][0]["message"]
    return {
        "content": msg.get("content"),
        "tool_calls": [
            {
                "id": tc["id"],
                "name": tc["function"]["name"],
                "arguments": tc["function"]["arguments"],
            }
            for tc in msg.get("tool_calls") or []
        ],
    }


def _anth_blocks(role: str, content) -> list[dict]:
    if isinstance(content, str):
        return [{"role": role, "content": content, "tool_calls": [], "tool_call_id": None}]
    out, texts, uses = [], [], []
    for b in content:
        if b["type"] == "text":
            texts.append(b["text"])
        elif b["type"] == "tool_use":
            uses.append({"id": b["id"], "name": b["name"], "arguments": b["input"]})
        elif b["type"] == "tool_result":
            out.append(
                {
                    "role": "tool",
                    "content": b["content"],
                    "tool_calls": [],
                    "tool_call_id": b["tool_use_id"],
                }
            )
    if texts or uses:
        out.append(
            {
                "role": role,
                "content": "\n".join(texts) or None,
                "tool_calls": uses,
                "tool_call_id": None,
            }
        )
    return out


def view(file: str, line: int, truth: dict, rec: dict, batch_out: dict | None = None) -> View:
    fmt = truth["format"]
    v = View(file, line, truth, rec)
    if fmt == "openai_chat" or fmt == "batch":
        req = rec["request"] if fmt == "openai_chat" else rec["body"]
        v.system, v.messages = _oai_messages(req["messages"])
        v.tools, v.response_format = req.get("tools", []), req.get("response_format")
        if fmt == "openai_chat":
            v.output = _oai_output(rec["response"])
        elif (
            batch_out and batch_out.get("response") and batch_out["response"]["status_code"] == 200
        ):
            v.output = _oai_output(batch_out["response"]["body"])
    elif fmt == "finetune":
        v.system, msgs = _oai_messages(rec["messages"])
        v.messages, last = msgs[:-1], msgs[-1]
        v.output = {"content": last["content"], "tool_calls": last["tool_calls"]}
        v.tools = rec.get("tools", [])
    else:
        req = rec["request"]
        sys_ = req["system"]
        v.system = sys_ if isinstance(sys_, str) else "".join(b["text"] for b in sys_)
        for m in req["messages"]:
            v.messages += _anth_blocks(m["role"], m["content"])
        v.tools = [
            {
                "type": "function",
                "function": {
                    "name": t["name"],
                    "description": t["description"],
                    "parameters": t["input_schema"],
                },
            }
            for t in req.get("tools", [])
        ]
        if rec["response"].get("type") == "message":
            (v.output,) = [
                {"content": m["content"], "tool_calls": m["tool_calls"]}
                for m in _anth_blocks("assistant", rec["response"]["content"])
            ] or [{}]
    return v


@dataclass
class Sample:
    out: Path
    summary: dict
    truth: list[dict]
    lines: dict[str, list[str]]
    views: list[View]

    def ok(self, task: str | None = None) -> list[View]:
        return [
            v
            for v in self.views
            if v.truth["kind"] == "ok" and (task is None or v.truth["task"] == task)
        ]


def load(out: Path, summary: dict) -> Sample:
    truth = [json.loads(x) for x in read_lines(out / "_truth.jsonl")]
    lines = {
        p.name: read_lines(p)
        for p in sorted(out.iterdir())
        if p.name.endswith((".jsonl", ".jsonl.gz"))
        and p.name not in ("_truth.jsonl", "malformed.jsonl")
    }
    views = []
    for row in truth:
        if row["kind"] == "malformed":
            continue
        rec = json.loads(lines[row["file"]][row["line"] - 1])
        out_rec = (
            json.loads(lines[row["output_file"]][row["output_line"] - 1])
            if "output_file" in row
            else None
        )
        views.append(view(row["file"], row["line"], row, rec, out_rec))
    return Sample(out, summary, truth, lines, views)


@pytest.fixture(scope="session")
def sample(tmp_path_factory) -> Sample:
    """A small set (SMALL_CALLS successful calls, all formats) generated once per test session."""
    from sample_logs.generate import generate

    out = tmp_path_factory.mktemp("sample_logs")
    summary = generate(out, seed=11, n_calls=SMALL_CALLS, truth_values=True)
    return load(out, summary)
