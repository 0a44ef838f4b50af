"""The collect stage end to end: dedupe, --append, --strict, skip-unchanged, stats and CLI --json."""

from __future__ import annotations

import orjson
import pytest
from rich.console import Console
from typer.testing import CliRunner

from slmconvert.cli.app import app
from slmconvert.collect.params import CollectParams
from slmconvert.errors import BadInputError
from slmconvert.stages import collect as collect_stage
from slmconvert.stages.runner import execute
from slmconvert.util.tables import read_table
from slmconvert.workspace import Workspace


def flywheel(n: int, model: str = "gpt-4o-mini", workload: str = "classify") -> dict:
    return {
        "timestamp": 1760000000 + n, "workload_id": workload, "client_id": "web",
        "request": {"model": model, "messages": [{"role": "user", "content": f"ticket {n}"}]},
        "response": {"id": f"c{n}", "created": 1760000000 + n, "model": model,
                     "choices": [{"index": 0, "message": {"role": "assistant", "content": f"label {n % 3}"},
                                  "finish_reason": "stop"}],
                     "usage": {"prompt_tokens": 100, "completion_tokens": 5}},
    }


def write(path, records, extra: bytes = b""):
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records) + extra)
    return str(path)


def test_dedupe_keeps_first_and_counts(run_collect):
    a = [flywheel(1), flywheel(2), flywheel(1)]
    b = [flywheel(2), flywheel(3)]
    out = run_collect({"a.jsonl": a, "b.jsonl": b})
    assert [c["source"]["line"] for c in out.calls] == [1, 2, 2]
    assert [f["duplicates"] for f in out.summary["files"]] == [1, 1]
    assert out.summary["duplicates"] == 2 and out.summary["calls"] == 3
    assert len({c["call_id"] for c in out.calls}) == 3
    kept = run_collect({"a.jsonl": a}, dedupe=False)
    assert kept.summary["calls"] == 3 and kept.summary["duplicates"] == 0


def test_call_id_is_content_hash_stable_across_sources(run_collect):
    first = run_collect({"x.jsonl": [flywheel(7)]})
    moved = dict(flywheel(7), timestamp=1, client_id="other")  # same content, other tags
    second = run_collect({"y.jsonl": [moved]})
    assert first.calls[0]["call_id"] == second.calls[0]["call_id"]
    assert first.calls[0]["call_id"].startswith("sha256:") and len(first.calls[0]["call_id"]) == 71


def test_stats_tokens_cost_and_unknown_models(run_collect):
    out = run_collect({"m.jsonl": [flywheel(1), flywheel(2, model="acme-llm-7b", workload="route")]})
    s = out.summary
    assert s["tokens"] == {"prompt": 200, "completion": 10, "calls_without_usage": 0}
    assert s["cost_usd"] == pytest.approx((100 * 0.15 + 5 * 0.6) / 1e6)
    assert s["unknown_price_models"] == [{"model": "acme-llm-7b", "calls": 1}]
    assert [c["cost_usd"] for c in out.calls][1] is None
    assert {w["workload_id"] for w in s["by_workload"]} == {"classify", "route"}
    assert s["by_tool"] == [{"tool": "(text answer)", "calls": 2}]
    stats = orjson.loads((out.out_dir / "stats.json").read_bytes())
    assert stats["calls"] == 2 and stats["rejects"] == 0


def run_stage(workspace, paths, append=False, **params):
    roles = {"append_from": workspace.artifact("collect")} if append else None
    return execute("collect", workspace, CollectParams(**params), extra={"paths": paths}, quiet=True,
                   role_inputs=roles)


def test_stage_append_unions_and_reprices(tmp_path):
    ws = Workspace(tmp_path / "work")
    week1 = write(tmp_path / "week1.jsonl", [flywheel(i) for i in range(5)])
    first = run_stage(ws, [week1])
    assert first.summary["calls"] == 5 and not first.skipped
    again = run_stage(ws, [week1])
    assert again.skipped and again.artifact.version == first.artifact.version
    week2 = write(tmp_path / "week2.jsonl", [flywheel(i) for i in range(3, 9)])
    second = run_stage(ws, [week2], append=True, prices={"gpt-4o-mini": {"input": 1.0, "output": 1.0}})
    s = second.summary
    assert (s["calls"], s["new_calls"], s["carried_calls"], s["duplicates"]) == (9, 4, 5, 2)
    assert s["append_from"] == first.artifact.ref
    rows = read_table(second.artifact.file("calls.parquet"))
    assert len({r["call_id"] for r in rows}) == 9
    assert all(r["cost_usd"] == pytest.approx(105 / 1e6) for r in rows)  # carried rows repriced too
    assert second.artifact.metrics["calls"] == 9
    assert len(ws.versions("collect")) == 2


def test_stage_changed_file_is_not_skipped(tmp_path):
    ws = Workspace(tmp_path / "work")
    path = tmp_path / "log.jsonl"
    write(path, [flywheel(1)])
    first = run_stage(ws, [str(path)])
    write(path, [flywheel(1), flywheel(2)])
    second = run_stage(ws, [str(path)])
    assert not second.skipped and second.summary["calls"] == 2 and first.summary["calls"] == 1


def test_stage_with_every_record_rejected_keeps_its_rejects_and_is_bad_input(tmp_path):
    ws = Workspace(tmp_path / "work")
    junk = write(tmp_path / "junk.jsonl", [{"foo": 1}, {"bar": 2}])
    with pytest.raises(BadInputError, match=r"all 2 input records were rejected: unknown format x2 \(first at .*junk.jsonl:1\)") as err:
        run_stage(ws, [junk])
    (kept,) = ws.versions("collect")  # published, so the rejects can be inspected
    assert f"{kept.path}/rejects.jsonl" in err.value.hint
    rejects = [orjson.loads(line) for line in kept.file("rejects.jsonl").read_bytes().splitlines()]
    assert [(r["line"], r["reason"]) for r in rejects] == [(1, "unknown format"), (2, "unknown format")]
    assert kept.metrics["calls"] == 0 and kept.metrics["rejects"] == 2
    with pytest.raises(BadInputError, match="all 2 input records were rejected"):  # reused, still exit 4
        run_stage(ws, [junk])
    assert len(ws.versions("collect")) == 1
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    with pytest.raises(BadInputError, match="hold no records"):  # nothing to inspect: nothing published
        run_stage(ws, [str(empty)])
    assert len(ws.versions("collect")) == 1


def test_cli_all_rejected_exits_4_with_the_rejects_path(tmp_path):
    junk = write(tmp_path / "junk.jsonl", [{"foo": 1}])
    result = CliRunner().invoke(app, ["collect", junk, "--workdir", str(tmp_path / "w")])
    assert result.exit_code == 4, result.output
    (kept,) = Workspace(tmp_path / "w").versions("collect")
    assert kept.file("rejects.jsonl").read_bytes().count(b"\n") == 1


def test_render_shows_rejects_and_costs(tmp_path):
    ws = Workspace(tmp_path / "work")
    path = write(tmp_path / "log.jsonl", [flywheel(1), flywheel(2, model="acme-llm")], extra=b"{broken\n")
    outcome = run_stage(ws, [path])
    console = Console(record=True, width=200)
    collect_stage.render(outcome.summary, console)
    text = console.export_text()
    for expected in ("Input files", "invalid JSON", "log.jsonl:3", "gpt-4o-mini", "no price for 1 model name(s)",
                     "2 calls"):
        assert expected in text
    assert "acme-llm" not in text  # an unpriced name is raw log data: counted, named in stats.json only


def test_cli_json_and_strict_exit_code(tmp_path):
    path = write(tmp_path / "log.jsonl", [flywheel(1)], extra=b"not json\n")
    runner = CliRunner()
    result = runner.invoke(app, ["collect", path, "--workdir", str(tmp_path / "w"), "--json"])
    assert result.exit_code == 0, result.output
    payload = orjson.loads(result.stdout)
    assert payload["summary"]["calls"] == 1 and payload["summary"]["rejects"] == 1
    strict = runner.invoke(app, ["collect", path, "--workdir", str(tmp_path / "w"), "--strict", "--json"])
    assert strict.exit_code == 4
    assert len(Workspace(tmp_path / "w").versions("collect")) == 1  # published once, reused


def test_worker_processes_give_identical_outputs(run_collect, monkeypatch):
    from slmconvert.collect import parallel

    monkeypatch.setattr(parallel, "CHUNK_UNITS", 3)  # many chunks in flight, out-of-order completion
    records = [flywheel(i % 9) for i in range(40)]
    files = {"a.jsonl": orjson.dumps({"x": 1}) + b"\n{bad\n" + b"".join(orjson.dumps(r) + b"\n" for r in records),
             "b.jsonl": [flywheel(i, workload="route") for i in range(5, 20)]}
    serial = run_collect(files, workers=1)
    parallel_run = run_collect(files, workers=2)
    for name in ("calls.parquet", "rejects.jsonl", "stats.json"):
        assert (serial.out_dir / name).read_bytes() == (parallel_run.out_dir / name).read_bytes(), name
    assert serial.summary["calls"] == 9 + 15 - 4 and serial.summary["rejects"] == 2
