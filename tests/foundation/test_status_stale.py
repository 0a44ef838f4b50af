"""`status` says when a version was built from an upstream that is no longer LATEST."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from slmconvert.cli.app import app
from slmconvert.util.jsonio import atomic_write_json
from slmconvert.workspace import Workspace


def _version(ws: Workspace, stage: str, version: str, inputs: dict[str, str], created: str) -> None:
    manifest = {"stage": stage, "version": version, "created_at": created, "metrics": {},
                "inputs": {k: {"stage": k, "version": v, "manifest_hash": "sha256:0"} for k, v in inputs.items()}}
    atomic_write_json(ws.stage_dir(stage) / version / "manifest.json", manifest)
    ws.set_latest(stage, version)


def test_stale_upstream_in_table_and_json(tmp_path):
    ws = Workspace(tmp_path / "w")
    _version(ws, "collect", "c1", {}, "2026-01-01T00:00:00Z")
    _version(ws, "curate", "k1", {"collect": "c1"}, "2026-01-01T00:01:00Z")
    _version(ws, "cluster", "g1", {"curate": "k1"}, "2026-01-01T00:02:00Z")
    _version(ws, "collect", "c2", {}, "2026-01-02T00:00:00Z")  # new logs collected, not curated yet

    state = json.loads(CliRunner().invoke(app, ["status", "--workdir", str(ws.root), "--json"]).stdout)
    curate = state["stages"]["curate"]["versions"][0]
    assert curate["stale"] == [{"stage": "collect", "version": "c1", "latest": "c2"}]
    assert state["stages"]["cluster"]["versions"][0]["stale"] == []  # its own upstream is current
    assert [v["stale"] for v in state["stages"]["collect"]["versions"]] == [[], []]

    result = CliRunner().invoke(app, ["status", "--workdir", str(ws.root)], env={"COLUMNS": "250"})
    assert result.exit_code == 0
    assert "stale: collect@c1 is not LATEST (c2)" in result.stderr
    assert result.stderr.count("stale:") == 1
