"""Fewer kept calls than min_cluster_size: the stage finishes with every call as noise and says why."""

from __future__ import annotations

import json

import numpy as np
import pytest
from rich.console import Console

from slmconvert.cluster import pipeline
from slmconvert.cluster.assign import ClusterAssigner
from slmconvert.cluster.hdb import cluster_signatures
from slmconvert.cluster.params import ClusterParams
from slmconvert.cluster.synthetic import synthetic_calls
from slmconvert.errors import BadInputError
from slmconvert.stages import cluster as stage
from slmconvert.stages.runner import execute
from slmconvert.util.jsonio import atomic_write_json
from slmconvert.util.tables import read_table, write_table
from slmconvert.workspace import MANIFEST, Workspace, new_version_id

from .conftest import HashingEmbedder, publish_curate


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline, "make_embedder", lambda params: HashingEmbedder())
    return Workspace(tmp_path / "work")


def run(ws: Workspace, **params):
    return execute("cluster", ws, ClusterParams(map_points=40, **params), console=Console(stderr=True, quiet=True),
                   quiet=True)


@pytest.mark.parametrize("n", [1, 2, 7, 19])
def test_fewer_calls_than_min_cluster_size_are_all_noise(workspace, n):
    records = synthetic_calls(40, seed=5)[:n]
    publish_curate(workspace, records)
    outcome = run(workspace)  # min_cluster_size: default, at least 20 calls
    out = outcome.artifact.path
    assignments = read_table(out / "assignments.parquet")
    assert [a["call_id"] for a in assignments] == [r["call_id"] for r in records]
    assert {a["cluster_id"] for a in assignments} == {-1} and {a["probability"] for a in assignments} == {0.0}
    document = json.loads((out / "clusters.json").read_text())
    assert document["clusters"] == [] and document["noise"] == {"calls": n, "share": 1.0}
    assert f"only {n} kept call(s), fewer than min_cluster_size=20" in document["why_no_clusters"]
    assert outcome.summary["why_no_clusters"] == document["why_no_clusters"]
    assert outcome.artifact.metrics["clusters"] == 0 and outcome.artifact.metrics["noise_share"] == 1.0
    assert read_table(out / "splits.parquet") == []
    assigner = ClusterAssigner.load(out / "router_seed", embedder=HashingEmbedder())
    assert [cid for cid, _ in assigner.assign(records)] == [-1] * n  # the empty seed routes all to the LLM
    console = Console(record=True, width=200)
    stage.render(outcome.summary, console)
    assert "no cluster found" in console.export_text()


def test_explicit_min_cluster_size_above_the_calls(workspace):
    publish_curate(workspace, synthetic_calls(60, seed=6))
    outcome = run(workspace, min_cluster_size=61)
    assert outcome.artifact.metrics["clusters"] == 0
    assert "only 60 kept call(s), fewer than min_cluster_size=61" in outcome.summary["why_no_clusters"]


def test_enough_calls_found_clusters_say_nothing(workspace):
    publish_curate(workspace, synthetic_calls(200, seed=6))
    outcome = run(workspace, min_cluster_size=5)
    assert outcome.artifact.metrics["clusters"] > 0 and outcome.summary["why_no_clusters"] is None


def test_no_kept_call_is_bad_input(workspace):
    version = new_version_id()
    tmp = workspace.new_temp_dir("curate", version)
    rows = [{**r, "status": "filtered", "reason": "error_response"} for r in synthetic_calls(3, seed=7)]
    write_table(tmp / "curated.parquet", rows)
    atomic_write_json(tmp / MANIFEST, {"stage": "curate", "version": version, "created_at": version, "inputs": {}})
    workspace.publish("curate", version, tmp)
    with pytest.raises(BadInputError, match="no kept calls to cluster") as err:
        run(workspace)
    assert err.value.exit_code == 4 and "audit.json" in err.value.hint
    assert workspace.versions("cluster") == []


def test_cluster_signatures_short_circuits_below_the_size():
    vectors = np.random.default_rng(0).normal(size=(4, 8))
    found = cluster_signatures(vectors, np.array([3, 5, 2, 9]), min_cluster_size=20)
    assert found.labels.tolist() == [-1] * 4 and found.probabilities.tolist() == [0.0] * 4
    assert found.fitted_points == 0  # HDBSCAN never ran
    enough = cluster_signatures(vectors, np.array([3, 5, 2, 25]), min_cluster_size=20)
    assert enough.fitted_points == 4 and (enough.labels >= 0).any()


def test_why_no_clusters_words():
    assert pipeline.why_no_clusters(50, 20, 2) is None
    assert "fewer than min_cluster_size=20" in pipeline.why_no_clusters(3, 20, 0)
    assert "no group of at least min_cluster_size=20" in pipeline.why_no_clusters(500, 20, 0)
