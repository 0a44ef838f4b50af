"""history.json is carried forward from the previous iteration and numbered."""

from __future__ import annotations

from slmconvert.iterate.history import HISTORY_ROLE, extend, make_entry, previous_history
from slmconvert.stages import iterate as iterate_stage
from slmconvert.workspace import Artifact, Workspace
from tests.artifacts import publish


def test_entries_accumulate_and_renumber():
    summary = {"clusters_found": 3, "promoted": [1], "replay": {"escalation_rate": 0.1},
               "economics": {"share_calls_moved": 0.4, "cost_cut": 0.3},
               "clusters": [{"cluster_id": 1, "promoted": True, "escalation_rate": 0.1, "agreement": 0.95}]}
    first = extend([], make_entry("v1", {"cluster": "c1"}, summary))
    assert first["iterations"][0]["iteration"] == 1 and first["iterations"][0]["kind"] == "initial"
    weekly = {"drift": {"new_calls": 10}, "actions": {"recluster": False}}
    second = extend(first["iterations"], make_entry("v2", {"cluster": "c1"}, summary, weekly))
    assert [e["iteration"] for e in second["iterations"]] == [1, 2]
    assert second["iterations"][1]["kind"] == "weekly"
    assert second["iterations"][1]["per_cluster"]["1"]["agreement"] == 0.95
    again = extend(second["iterations"], make_entry("v2", {}, summary, weekly))  # same version: replaced
    assert len(again["iterations"]) == 2


def _iterate_on(ws: Workspace, upstream: dict[str, Artifact], history: list[str]) -> Artifact:
    inputs = {stage: {"version": a.version} for stage, a in upstream.items()}
    created_at = f"2026-12-06T00:00:{len(ws.versions('iterate')):02d}Z"  # versions of one second, in order
    return publish(ws, "iterate", {"history.json": {"iterations": [{"version": v} for v in history]}}, inputs,
                   created_at)


def test_history_extends_the_newest_iteration_on_other_upstreams(tmp_path):
    """A rerun on the same upstreams extends the same history (so it can be reused); new adapters or
    data extend the iteration before them. The previous iteration is a declared input, not LATEST."""
    ws = Workspace(tmp_path / "work")
    first = {stage: publish(ws, stage, {}) for stage in iterate_stage.UPSTREAM}
    assert iterate_stage.derived_inputs(ws, first) == {}
    v1 = _iterate_on(ws, first, ["v1"])
    rerun = _iterate_on(ws, first, ["v1-rerun"])
    assert iterate_stage.derived_inputs(ws, first) == {}  # reruns on the same upstreams: no earlier iteration
    second = {**first, "finetune": publish(ws, "finetune", {})}
    found = iterate_stage.derived_inputs(ws, second)
    assert found[HISTORY_ROLE].version == rerun.version  # the newest on other upstreams, not the first
    assert [e["version"] for e in previous_history(found[HISTORY_ROLE])] == ["v1-rerun"]
    v3 = _iterate_on(ws, second, ["v1-rerun", "v3"])
    assert iterate_stage.derived_inputs(ws, second)[HISTORY_ROLE].version == rerun.version
    ws.set_latest("iterate", v1.version)  # LATEST moved back by hand: history does not follow it
    assert iterate_stage.derived_inputs(ws, second)[HISTORY_ROLE].version == rerun.version
    assert iterate_stage.derived_inputs(ws, first)[HISTORY_ROLE].version == v3.version
    assert previous_history(None) == []
