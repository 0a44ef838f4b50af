"""collect runs before curate: nothing it prints (Rich tables, --json, --verbose) may carry a value
read from a log record (issue 12). Workload ids, tool and model names and reject details are
counted on the console and kept, raw, in the owner-only stats.json."""

from __future__ import annotations

import orjson
from typer.testing import CliRunner

from slmconvert.cli.app import app
from slmconvert.stages.collect import UNPRICED, console_summary

from .test_stage import flywheel, write

# Made-up values in every log field collect summarises.
WORKLOAD = "+1 602 679 0752"
TOOL = "notify_hquennell4821"
PRICED_MODEL = "gpt-4o-mini-marisol.achterberg"  # resolves to the price entry gpt-4o-mini
UNPRICED_MODEL = "acme-llm-kpenhallow77"
ROLE = "tvantongeren3310"
SECRETS = (WORKLOAD, TOOL, "hquennell4821", "marisol.achterberg", UNPRICED_MODEL, "kpenhallow77", ROLE)


def _records() -> list[dict]:
    tool_call = flywheel(2, model=PRICED_MODEL, workload=WORKLOAD)
    tool_call["response"]["choices"][0]["message"] = {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": TOOL, "arguments": "{}"}}]}
    bad_role = flywheel(4)
    bad_role["request"]["messages"] = [{"role": ROLE, "content": "hi"}]  # rejected: the detail quotes the role
    return [flywheel(1, workload=WORKLOAD), tool_call, flywheel(3, model=UNPRICED_MODEL), bad_role]


def test_console_and_json_summary_carry_no_log_value(tmp_path):
    path = write(tmp_path / "log.jsonl", _records())
    runner = CliRunner()
    human = runner.invoke(app, ["collect", path, "--workdir", str(tmp_path / "w"), "--verbose"])
    assert human.exit_code == 0, human.output
    machine = runner.invoke(app, ["collect", path, "--workdir", str(tmp_path / "w"), "--json", "--force"])
    assert machine.exit_code == 0, machine.output
    for printed in (human.output, machine.output):
        assert [s for s in SECRETS if s in printed] == []
    assert "2 workload(s), 2 tool name(s)" in human.output and "no price for 1 model name(s)" in human.output
    summary = orjson.loads(machine.stdout)["summary"]
    assert summary["workload_count"] == 2 and summary["tool_count"] == 2 and summary["rejects"] == 1
    assert {m["model"]: m["calls"] for m in summary["by_model"]} == {"gpt-4o-mini": 2, UNPRICED: 1}
    assert summary["reject_reasons"][0]["examples"] == [{"at": f"{path}:4"}]  # where, never what
    # stats.json (raw data, owner-only) keeps the names for whoever owns the logs.
    stats = orjson.loads((tmp_path / "w" / "collect" / summary_version(machine.stdout) / "stats.json").read_bytes())
    assert {w["workload_id"] for w in stats["by_workload"]} == {WORKLOAD, "classify"}
    assert ROLE in orjson.dumps(stats["reject_reasons"]).decode()


def summary_version(stdout: str) -> str:
    return orjson.loads(stdout)["version"]


def test_console_summary_is_idempotent_and_hides_rows_without_a_price_entry():
    raw = {"by_model": [{"model": "old-name", "calls": 1, "prompt_tokens": 1, "completion_tokens": 1,
                         "cost_usd": None}], "by_workload": [{"workload_id": WORKLOAD, "calls": 1}],
           "by_tool": [], "unknown_price_models": [{"model": "old-name", "calls": 1}], "reject_reasons": []}
    once = console_summary(raw)
    assert once["by_model"] == [] and once["workload_count"] == 1 and once["unpriced_models"] == 1
    assert console_summary(once) == once
    assert WORKLOAD not in orjson.dumps(once).decode()
