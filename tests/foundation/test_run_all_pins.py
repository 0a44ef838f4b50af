"""run-all honours --input pins for the stages before --from, and refuses pins it would ignore."""

from __future__ import annotations

import types

import pytest

from slmconvert.config import resolve_all
from slmconvert.errors import UsageError
from slmconvert.pipeline import run_all as pipeline
from slmconvert.workspace import Workspace


def test_a_pin_on_a_stage_run_all_rebuilds_is_refused():
    with pytest.raises(UsageError, match="rebuilds"):
        pipeline.check_from(None, {"collect": "v1"})
    assert pipeline.check_from("curate", {"collect": "v1"}) == 1


def test_pins_reach_the_stages_that_read_them(tmp_path, monkeypatch):
    calls = []

    def execute(stage, workspace, params, pins=None, **kwargs):
        calls.append((stage, dict(pins or {})))
        return types.SimpleNamespace(artifact=types.SimpleNamespace(version=f"v-{stage}"), skipped=False, peak_rss_mb=None)

    monkeypatch.setattr(pipeline, "execute", execute)
    monkeypatch.setattr(pipeline, "final_summary", lambda workspace, steps: {"steps": steps})
    ws = Workspace(tmp_path / "work")
    pipeline.run_all(ws, resolve_all(), {}, from_stage="cluster", quiet=True,
                     pins={"curate": "v-old", "collect": "v-raw"})
    assert calls[0] == ("cluster", {"curate": "v-old"})
    assert dict(calls)["select"] == {"curate": "v-old"} and dict(calls)["iterate"] == {"curate": "v-old"}


def test_the_dry_run_plan_counts_derived_inputs_as_the_run_did(tmp_path, monkeypatch):
    """iterate's fingerprint holds the earlier iteration it extends (a derived input): a plan that left
    it out would announce a rerun of an unchanged stage."""
    from slmconvert.stages import runner
    from slmconvert.stages.base import StageResult
    from tests.artifacts import publish

    stage = types.ModuleType("fake_stage")
    stage.UPSTREAM = ()
    stage.run = lambda ctx: StageResult(metrics={}, summary={})
    stage.fingerprint_extra = lambda extra: {}
    stage.derived_inputs = lambda workspace, inputs: {"earlier": workspace.versions("collect")[0]}
    for module in (runner, pipeline):
        monkeypatch.setattr(module, "load_stage", lambda name: stage)
    monkeypatch.setattr(pipeline, "execute", runner.execute)
    monkeypatch.setattr(pipeline, "final_summary", lambda workspace, steps: {"steps": steps})
    ws = Workspace(tmp_path / "work")
    publish(ws, "collect", {}, created_at="2000-01-01T00:00:00Z")  # the oldest version, before and after the run
    pipeline.run_all(ws, resolve_all(), {"collect": {"paths": ["logs"]}}, quiet=True)
    steps = pipeline.plan(ws, resolve_all(), {"collect": {"paths": ["logs"]}})
    assert [s.action for s in steps] == ["skip"] * len(steps)
