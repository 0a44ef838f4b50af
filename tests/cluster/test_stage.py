"""The cluster stage and command: curate@LATEST in, every named output written."""

from __future__ import annotations

import json

import pytest
from rich.console import Console
from typer.testing import CliRunner

from slmconvert.cli.app import app
from slmconvert.cluster import pipeline
from slmconvert.cluster.assign import ClusterAssigner
from slmconvert.cluster.params import ClusterParams
from slmconvert.cluster.synthetic import synthetic_calls
from slmconvert.stages import cluster as stage
from slmconvert.stages.runner import execute
from slmconvert.util.tables import read_table
from slmconvert.workspace import Workspace

from .conftest import HashingEmbedder, publish_curate


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline, "make_embedder", lambda params: HashingEmbedder())
    ws = Workspace(tmp_path / "work")
    publish_curate(ws, synthetic_calls(640, seed=4, noise=0.03), filtered=7)
    return ws


def test_stage_writes_every_output(workspace):
    outcome = execute("cluster", workspace, ClusterParams(map_points=80), console=Console(stderr=True, quiet=True),
                      quiet=True)
    out = outcome.artifact.path
    assignments = read_table(out / "assignments.parquet")
    kept = [r for r in read_table(workspace.artifact("curate").file("curated.parquet")) if r["status"] == "kept"]
    assert [a["call_id"] for a in assignments] == [r["call_id"] for r in kept]  # filtered rows left out
    assert set(assignments[0]) == {"call_id", "cluster_id", "probability"}
    document = json.loads((out / "clusters.json").read_text())
    assert document["schema"] == "slmconvert.clusters/1" and document["clusters"]
    first = document["clusters"][0]
    for key in ("id", "label", "size", "share_calls", "share_tokens", "share_cost", "top_tools", "output_type",
                "keywords", "candidate", "why_not", "splits", "router_threshold"):
        assert key in first
    assert document["noise"]["share"] == outcome.summary["noise_share"] > 0
    splits = read_table(out / "splits.parquet")
    assert set(splits[0]) == {"call_id", "cluster_id", "split"}
    clustered = {a["call_id"] for a in assignments if a["cluster_id"] >= 0}
    assert {s["call_id"] for s in splits} == clustered
    assert (out / "map.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(out.rglob("*.pkl")) and not list(out.rglob("*.pickle"))
    decisions = ClusterAssigner.load(out / "router_seed", embedder=HashingEmbedder()).assign(kept[:50])
    by_call = {a["call_id"]: a["cluster_id"] for a in assignments}
    assert sum(cid == by_call[r["call_id"]] for r, (cid, _) in zip(kept, decisions, strict=False)) >= 48
    assert outcome.artifact.metrics["clusters"] == len(document["clusters"])
    assert outcome.summary["embedding_cache_hits"] == 0
    rerun = execute("cluster", workspace, ClusterParams(map_points=80), force=True,
                    console=Console(stderr=True, quiet=True), quiet=True)
    assert rerun.summary["embedding_cache_hits"] > 0  # the workspace cache survives versions


def test_render_prints_the_clusters_table(workspace):
    outcome = execute("cluster", workspace, ClusterParams(map_points=50), console=Console(stderr=True, quiet=True),
                      quiet=True)
    console = Console(record=True, width=140)
    stage.render(outcome.summary, console)
    text = console.export_text()
    assert "Task clusters" in text and "noise (left on the LLM)" in text and "open-ended" in text
    assert outcome.summary["clusters_table"][0]["label"][:20] in text


def test_cli_cluster_json(workspace):
    result = CliRunner().invoke(app, ["cluster", "--workdir", str(workspace.root), "--json",
                                      "--set", "cluster.map_points=40", "--min-cluster-size", "25"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["stage"] == "cluster" and payload["summary"]["min_cluster_size"] == 25
    again = CliRunner().invoke(app, ["cluster", "--workdir", str(workspace.root), "--json",
                                     "--set", "cluster.map_points=40", "--min-cluster-size", "25"])
    assert json.loads(again.stdout)["skipped"] is True


def test_cli_without_curate_says_what_to_do(tmp_path):
    result = CliRunner().invoke(app, ["cluster", "--workdir", str(tmp_path / "empty")])
    assert result.exit_code == 5
    assert "curate" in result.output


def test_unknown_param_is_a_config_error(workspace):
    result = CliRunner().invoke(app, ["cluster", "--workdir", str(workspace.root), "--set", "cluster.nope=1"])
    assert result.exit_code == 3
    bad_weights = CliRunner().invoke(app, ["cluster", "--workdir", str(workspace.root),
                                           "--set", "cluster.request_weight=0.9", "--set", "cluster.structure_weight=0.3"])
    assert bad_weights.exit_code == 3
