"""The weekly loop's orchestration (which stages run, with which pins and extras), with the
stages and the drift measurement replaced by recorders; plus its cron-friendly CLI failure."""

from __future__ import annotations

import types

import pytest
from typer.testing import CliRunner

from slmconvert.cli.app import app
from slmconvert.errors import MissingArtifactError, UsageError
from slmconvert.iterate import drift
from slmconvert.iterate.params import IterateParams
from slmconvert.pipeline import weekly
from slmconvert.workspace import Workspace
from tests.iterate.fake_workspace import build as build_workspace


class Recorder:
    """Stands in for stages.runner.execute: records calls, returns the current LATEST (or a fake)."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.calls: list[tuple[str, dict, dict]] = []
        self.forced: list[bool] = []

    def __call__(self, stage, workspace, params, pins=None, extra=None, force=False, role_inputs=None, **kwargs):
        self.calls.append((stage, dict(pins or {}), {**(extra or {}), **(role_inputs or {})}))
        self.forced.append(force)
        if workspace.latest_version(stage) is None or stage in ("iterate", "collect"):
            path = workspace.stage_dir(stage) / f"new-{stage}-{len(self.calls)}"
            path.mkdir(parents=True, exist_ok=True)
            (path / "manifest.json").write_text('{"inputs": {}}')
            workspace.set_latest(stage, path.name)
        return types.SimpleNamespace(artifact=workspace.artifact(stage), skipped=False, summary={})

    @property
    def stages(self) -> list[str]:
        return [c[0] for c in self.calls]


@pytest.fixture
def ws(tmp_path, monkeypatch):
    ws = build_workspace(tmp_path / "work")
    # a previous iterate version built on the hand-made upstream versions
    path = ws.stage_dir("iterate") / "v-iterate"
    path.mkdir(parents=True)
    inputs = {s: {"version": f"v-{s}"} for s in ("curate", "cluster", "select", "finetune")}
    import json

    (path / "manifest.json").write_text(json.dumps({"inputs": inputs}))
    ws.set_latest("iterate", "v-iterate")
    collect = ws.stage_dir("collect") / "v-collect"
    collect.mkdir(parents=True)
    (collect / "manifest.json").write_text("{}")
    ws.set_latest("collect", "v-collect")
    return ws


def _run(ws, monkeypatch, report: drift.DriftReport, **kwargs) -> Recorder:
    recorder = Recorder(ws)
    monkeypatch.setattr(weekly, "execute", recorder)
    monkeypatch.setattr(weekly, "measure_drift", lambda *a, **k: report)
    monkeypatch.setattr(weekly, "_already_collected", lambda collect, logs: False)  # e2e tests the real one
    from slmconvert.config import resolve_all

    weekly.weekly(ws, ["new.jsonl"], resolve_all(), quiet=True, **kwargs)
    return recorder


def _report(**kwargs) -> drift.DriftReport:
    return drift.DriftReport(new_calls=10, ood_share=0.0, baseline_ood_share=0.0, mix_shift=0.0, **kwargs)


def test_quiet_week_reuses_clusters_and_adapters(ws, monkeypatch):
    rec = _run(ws, monkeypatch, _report())
    assert rec.stages == ["collect", "curate", "iterate"]
    assert rec.calls[0][2]["paths"] == ["new.jsonl"] and rec.calls[0][2]["append_from"].version == "v-collect"
    stage, pins, extra = rec.calls[-1]
    # the new curate version (old and new calls) is pinned: lineage alone would give the cluster's older one
    assert pins == {"cluster": "v-cluster", "select": "v-select", "finetune": "v-finetune", "curate": "v-curate"}
    assert extra["weekly"]["actions"] == {"recluster": False, "retrain": {}, "notes": []}


def test_drift_reclusters_and_rebuilds(ws, monkeypatch):
    rec = _run(ws, monkeypatch, _report(recluster=True, recluster_reasons=["new task"]))
    assert rec.stages == ["collect", "curate", "cluster", "select", "finetune", "iterate"]
    assert all(pins == {} for _, pins, _ in rec.calls)


def test_force_reaches_every_stage_and_appends_again(ws, monkeypatch):
    recorder = Recorder(ws)
    monkeypatch.setattr(weekly, "execute", recorder)
    monkeypatch.setattr(weekly, "measure_drift", lambda *a, **k: _report())
    monkeypatch.setattr(weekly, "_already_collected", lambda collect, logs: True)
    from slmconvert.config import resolve_all

    weekly.weekly(ws, ["new.jsonl"], resolve_all(), quiet=True, force=True)
    assert recorder.stages == ["collect", "curate", "iterate"] and all(recorder.forced)


def test_pins_choose_the_iteration_and_the_calls_to_append_to(ws, monkeypatch):
    older = ws.stage_dir("collect") / "v-older"
    older.mkdir(parents=True)
    (older / "manifest.json").write_text("{}")
    rec = _run(ws, monkeypatch, _report(), pins={"collect": "v-older", "iterate": "v-iterate"})
    assert rec.calls[0][2]["append_from"].version == "v-older"


def test_a_pin_the_loop_cannot_honour_is_a_usage_error(ws, monkeypatch):
    with pytest.raises(UsageError, match="cannot pin cluster"):
        _run(ws, monkeypatch, _report(), pins={"cluster": "v-cluster"})


def test_retrain_trains_only_those_clusters_on_extended_clusters(ws, monkeypatch):
    rec = _run(ws, monkeypatch, _report(retrain={0: "agreement fell"}))
    assert rec.stages == ["collect", "curate", "cluster", "finetune", "iterate"]
    assert rec.calls[2][2]["extend_from"].version == "v-cluster"
    _, pins, extra = rec.calls[3]
    assert extra["clusters"] == [0] and pins["select"] == "v-select"
    assert set(extra) == {"clusters", "deadline", "evidence"}  # one deadline for the loop; iterate's evidence
    _, pins, extra = rec.calls[4]
    assert pins["select"] == "v-select" and set(extra) == {"weekly", "deadline"}  # no adapter carried (only 0)
    assert rec.calls[4][2]["deadline"] == rec.calls[3][2]["deadline"]


def test_no_previous_iteration_is_a_clear_error(tmp_path):
    with pytest.raises(MissingArtifactError, match="no iterate version") as info:
        weekly.weekly(Workspace(tmp_path / "empty"), ["x.jsonl"], {"iterate": IterateParams()})
    assert "run-all" in info.value.hint


def test_cron_failure_is_one_line_and_nonzero(tmp_path):
    result = CliRunner().invoke(app, ["iterate", "--workdir", str(tmp_path / "empty"), "--logs", "x.jsonl", "--quiet"])
    assert result.exit_code == 5
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("slmconvert iterate: ") and "no iterate version" in lines[0]


def test_a_second_writer_is_refused_with_one_line(ws):
    with Workspace(ws.root).lock("another cron run"):
        result = CliRunner().invoke(app, ["iterate", "--workdir", str(ws.root), "--logs", "x.jsonl", "--quiet"])
    assert result.exit_code == 6
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "is locked by" in lines[0] and "another cron run" in lines[0]


def test_weekly_config_is_valid_and_only_touches_iterate():
    from pathlib import Path

    from slmconvert.config import load_config_file, resolve_all

    path = Path(__file__).resolve().parents[2] / "pipelines" / "weekly.yaml"
    assert set(load_config_file(path)) == {"iterate"}
    params = resolve_all(path)
    assert params["iterate"].drift_threshold == 0.15 and params["iterate"].budget == "3h"  # overnight
    assert params["cluster"] == resolve_all()["cluster"]  # earlier stages keep their fingerprints
