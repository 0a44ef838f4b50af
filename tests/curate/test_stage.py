"""curate end to end through the runner: collect -> curate, canaries, audit, CLI."""

from __future__ import annotations

import json

import orjson
import pyarrow.parquet as pq
import pytest
from rich.console import Console
from typer.testing import CliRunner

from slmconvert.cli.app import app
from slmconvert.collect.params import CollectParams
from slmconvert.curate.params import CurateParams
from slmconvert.stages import curate as curate_stage
from slmconvert.stages.runner import execute
from slmconvert.util.tables import read_table
from slmconvert.workspace import Workspace

NAME, FIRST_NAME = "Zephyrine Quackenbush", "Zephyrine"
CANARIES = {
    NAME, "zephyrine.q@gmail.com", "(503) 618-2297", "4539 5781 2345 6786", "618-27-4410",
    "sk-proj-Zq9Xw8Vu7Ts6Rr5Qp4On3Mm2Ll1Kk0Jj", "AKIAZQ7WX3VU2TS6RR5Q", "8817 Quillfeather Lane",
    "98.137.11.164", "Hx7#kLm2pQ9", "ghp_Q1w2E3r4T5y6U7i8O9p0A1s2D3f4G5h6J7k8",
}


def flywheel_lines() -> list[dict]:
    tool_args = {"customer_name": NAME, "email": "zephyrine.q@gmail.com", "phone": "(503) 618-2297"}
    tool_result = json.dumps({"customer": {"name": NAME, "card": "4539 5781 2345 6786", "ssn": "618-27-4410",
                                           "address": {"line1": "8817 Quillfeather Lane", "city": "Boise"}},
                              "last_login_ip": "98.137.11.164"})
    tools = [{"type": "function", "function": {"name": "find_customer", "description": "Find a customer.",
              "parameters": {"type": "object", "properties": {"customer_name": {"type": "string"},
                             "email": {"type": "string"}, "phone": {"type": "string"}}}}}]
    messages = [
        {"role": "system", "content": "Support agent. Escalations go to the on-call key AKIAZQ7WX3VU2TS6RR5Q."},
        {"role": "user", "content": f"Hi, I'm {NAME} (zephyrine.q@gmail.com, (503) 618-2297). "
                                    "My login is postgres://zq:Hx7#kLm2pQ9@db.example.net/app and my token "
                                    "sk-proj-Zq9Xw8Vu7Ts6Rr5Qp4On3Mm2Ll1Kk0Jj."},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "find_customer", "arguments": json.dumps(tool_args)}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": tool_result},
    ]
    ok = {"timestamp": 1760000000, "workload_id": "support", "client_id": "ghp_Q1w2E3r4T5y6U7i8O9p0A1s2D3f4G5h6J7k8",
          "request": {"model": "gpt-4o-mini", "messages": messages,
          "tools": tools},
          "response": {"id": "r1", "created": 1760000000, "model": "gpt-4o-mini", "choices": [{"index": 0,
                       "message": {"role": "assistant", "content": f"Thanks {FIRST_NAME}, I found your account; "
                                   "the GitHub token ghp_Q1w2E3r4T5y6U7i8O9p0A1s2D3f4G5h6J7k8 was revoked."},
                       "finish_reason": "stop"}], "usage": {"prompt_tokens": 300, "completion_tokens": 30}}}
    error = {"timestamp": 1760000001, "request": {"model": "gpt-4o-mini", "messages": messages[:2]},
             "response": {"error": {"message": f"Content rejected for user {NAME} <zephyrine.q@gmail.com>",
                                    "type": "invalid_request_error"}}}
    call = {"timestamp": 1760000002, "request": {"model": "gpt-4o-mini", "messages": messages[:2], "tools": tools},
            "response": {"id": "r3", "created": 1760000002, "model": "gpt-4o-mini", "choices": [{"index": 0,
                         "message": {"role": "assistant", "content": None, "tool_calls": [{"id": "call_9",
                                     "type": "function", "function": {"name": "find_customer",
                                                                      "arguments": json.dumps(tool_args)}}]},
                         "finish_reason": "tool_calls"}], "usage": {"prompt_tokens": 200, "completion_tokens": 20}}}
    return [ok, error, call]


@pytest.fixture
def workspace(tmp_path):
    logs = tmp_path / "logs.jsonl"
    logs.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in flywheel_lines()))
    ws = Workspace(tmp_path / "work")
    console = Console(stderr=True, quiet=True)
    execute("collect", ws, CollectParams(), extra={"paths": [str(logs)]}, console=console, quiet=True)
    return ws


def decoded_strings(path) -> str:
    """Every file of a version as text: Parquet decoded cell by cell, JSON and text as is."""
    if path.suffix == ".parquet":
        table = pq.read_table(path)
        return json.dumps(table.to_pylist(), ensure_ascii=False, default=str) + str(table.schema)
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("style", ["surrogate", "typed"])
def test_canaries_never_reach_the_curate_version(workspace, style):
    calls = workspace.artifact("collect").file("calls.parquet")
    assert FIRST_NAME in decoded_strings(calls)  # the canaries really went in
    outcome = execute("curate", workspace, CurateParams(placeholder_style=style),
                      console=Console(stderr=True, quiet=True), quiet=True)
    files = [p for p in outcome.artifact.path.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"curated.parquet", "audit.json", "manifest.json"}
    for path in files:
        text = decoded_strings(path)
        leaked = [c for c in CANARIES | {FIRST_NAME, "Quackenbush"} if c.lower() in text.lower()]
        assert leaked == [], f"{path.name} leaks {leaked}"


def test_curated_rows_and_audit(workspace):
    outcome = execute("curate", workspace, CurateParams(), console=Console(stderr=True, quiet=True), quiet=True)
    rows = read_table(outcome.artifact.file("curated.parquet"))
    collected = read_table(workspace.artifact("collect").file("calls.parquet"))
    assert [r["call_id"] for r in rows] == [c["call_id"] for c in collected]
    assert [(r["status"], r["reason"]) for r in rows] == [("kept", None), ("filtered", "error_response"),
                                                          ("kept", None)]
    kept = rows[2]
    assert kept["output"]["tool_calls"][0]["function"]["name"] == "find_customer"
    assert kept["output"]["tool_calls"][0]["function"]["arguments"]["customer_name"] in \
        kept["messages"][1]["content"]
    audit = json.loads(outcome.artifact.file("audit.json").read_text())
    assert audit["records"] == 3 and audit["filtered_by_reason"] == {"error_response": 1}
    assert audit["entities_by_field"]["tool_arguments"] >= 3 and audit["entities_by_field"]["metadata"] >= 1
    assert audit["entities_by_type"]["SECRET_OPENAI_KEY"] >= 1
    assert outcome.artifact.metrics["records"] == 3
    console = Console(record=True, width=120)
    curate_stage.render(outcome.summary, console)
    shown = console.export_text()
    assert "SECRET_OPENAI_KEY" in shown and "filtered: error_response" in shown and "tool-call arguments" in shown


def test_rerun_is_skipped_and_keyed_deterministically(workspace):
    first = execute("curate", workspace, CurateParams(), console=Console(stderr=True, quiet=True), quiet=True)
    again = execute("curate", workspace, CurateParams(), console=Console(stderr=True, quiet=True), quiet=True)
    assert again.skipped
    forced = execute("curate", workspace, CurateParams(), force=True, console=Console(stderr=True, quiet=True), quiet=True)
    def content(artifact):
        return [{k: v for k, v in r.items()} for r in read_table(artifact.file("curated.parquet"))]

    assert content(forced.artifact) == content(first.artifact)
    assert not (first.artifact.path / ".keys").exists()


def test_cli_json(workspace):
    result = CliRunner().invoke(app, ["curate", "--workdir", str(workspace.root), "--json",
                                      "--set", "curate.placeholder_style=typed"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["stage"] == "curate" and payload["summary"]["records"] == 3


def test_out_of_range_threshold_exits_3(workspace):
    result = CliRunner().invoke(app, ["curate", "--workdir", str(workspace.root),
                                      "--set", "curate.default_score_threshold=7"])
    assert result.exit_code == 3, result.output
    assert "default_score_threshold" in result.output


def test_recall_lowering_settings_warn_and_are_audited(workspace):
    result = CliRunner().invoke(app, ["curate", "--workdir", str(workspace.root), "--set", "curate.propagate=false",
                                      "--set", "curate.allow_list=[\"zephyrine.q@gmail.com\"]"])
    assert result.exit_code == 0, result.output
    assert "find less than the defaults" in result.stderr and "propagate=False" in result.stderr
    assert "zephyrine" not in result.output.lower()
    audit = json.loads(workspace.artifact("curate").file("audit.json").read_text())
    assert {s["setting"] for s in audit["recall_lowering_settings"]} == {"propagate", "allow_list"}
    assert "zephyrine" not in json.dumps(audit).lower()


def test_a_broken_analyzer_fails_the_stage_and_publishes_nothing(workspace, monkeypatch):
    from slmconvert.curate.analyzer import PiiAnalyzer
    from slmconvert.errors import MissingArtifactError, SlmError

    def broken(self, units):
        raise TypeError(f"unhashable: {NAME}")
    monkeypatch.setattr(PiiAnalyzer, "analyze", broken)
    with pytest.raises(SlmError) as raised:
        execute("curate", workspace, CurateParams(), console=Console(stderr=True, quiet=True), quiet=True)
    assert "could not scrub 3 of 3 calls" in str(raised.value) and "TypeError" in str(raised.value)
    assert FIRST_NAME not in str(raised.value)
    with pytest.raises(MissingArtifactError):  # no curate version was published
        workspace.artifact("curate")
