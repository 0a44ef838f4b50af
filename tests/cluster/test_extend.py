"""Extending a cluster version with new calls: ids, labels and old splits kept, new calls assigned and split."""

from __future__ import annotations

import copy
import filecmp
import json

import pytest
from rich.console import Console

from slmconvert.cluster import pipeline
from slmconvert.cluster.params import ClusterParams
from slmconvert.cluster.signature import request_key
from slmconvert.cluster.synthetic import synthetic_calls
from slmconvert.stages import cluster as stage
from slmconvert.stages.runner import execute
from slmconvert.util.tables import read_table
from slmconvert.workspace import Workspace

from .conftest import HashingEmbedder, publish_curate

QUIET = Console(stderr=True, quiet=True)
PARAMS = ClusterParams(map_points=60)


@pytest.fixture
def grown(tmp_path, monkeypatch):
    """(workspace, first cluster outcome, extended outcome, old records, new records)."""
    monkeypatch.setattr(pipeline, "make_embedder", lambda params: HashingEmbedder())
    ws = Workspace(tmp_path / "work")
    old = synthetic_calls(640, seed=4, noise=0.03)
    publish_curate(ws, old)
    first = execute("cluster", ws, PARAMS, console=QUIET, quiet=True)
    new = [{**r, "call_id": f"sha256:new{i}"} for i, r in enumerate(synthetic_calls(160, seed=11))]
    repeat = copy.deepcopy(old[0])  # the same request again: must land in its group's split
    new.append({**repeat, "call_id": "sha256:repeat"})
    publish_curate(ws, old + new)
    extended = execute("cluster", ws, PARAMS, role_inputs={"extend_from": first.artifact}, console=QUIET, quiet=True)
    return ws, first, extended, old, new


def test_old_calls_keep_cluster_and_split_and_new_ones_are_assigned(grown):
    _, first, extended, old, new = grown
    before = {a["call_id"]: a for a in read_table(first.artifact.file("assignments.parquet"))}
    after = {a["call_id"]: a for a in read_table(extended.artifact.file("assignments.parquet"))}
    assert set(after) == {r["call_id"] for r in old + new}
    assert all(after[c] == before[c] for c in before)
    split_before = {s["call_id"]: s["split"] for s in read_table(first.artifact.file("splits.parquet"))}
    split_after = {s["call_id"]: s["split"] for s in read_table(extended.artifact.file("splits.parquet"))}
    assert all(split_after[c] == split_before[c] for c in split_before)
    assert set(split_after) == {c for c, a in after.items() if a["cluster_id"] >= 0}
    assigned = [after[r["call_id"]]["cluster_id"] for r in new]
    assert sum(cid >= 0 for cid in assigned) >= 0.9 * len(new)
    assert {cid for cid in assigned if cid >= 0} <= {a["cluster_id"] for a in before.values()}
    assert after["sha256:repeat"]["cluster_id"] == before[old[0]["call_id"]]["cluster_id"]
    assert split_after["sha256:repeat"] == split_before[old[0]["call_id"]]
    assert extended.artifact.metrics["new_calls"] == len(new)


def test_new_request_groups_never_straddle_splits(grown):
    ws, _, extended, old, new = grown
    by_id = {r["call_id"]: r for r in old + new}
    sides: dict[tuple[int, str], set[str]] = {}
    for row in read_table(extended.artifact.file("splits.parquet")):
        sides.setdefault((row["cluster_id"], request_key(by_id[row["call_id"]])), set()).add(row["split"])
    assert all(len(s) == 1 for s in sides.values())
    assert {s for v in sides.values() for s in v} == {"train", "validation", "test"}


def test_clusters_and_seed_are_carried_over_and_recounted(grown):
    _, first, extended, _, _ = grown
    earlier = json.loads(first.artifact.file("clusters.json").read_text())
    document = json.loads(extended.artifact.file("clusters.json").read_text())
    assert [(c["id"], c["label"], c["candidate"]) for c in document["clusters"]] == \
        [(c["id"], c["label"], c["candidate"]) for c in earlier["clusters"]]
    sizes = {}
    for a in read_table(extended.artifact.file("assignments.parquet")):
        sizes[a["cluster_id"]] = sizes.get(a["cluster_id"], 0) + 1
    assert all(c["size"] == sizes.get(c["id"], 0) and sum(c["splits"].values()) == c["size"]
               for c in document["clusters"])
    assert sum(c["size"] for c in document["clusters"]) > sum(c["size"] for c in earlier["clusters"])
    assert document["extended_from"] == first.artifact.ref
    seed_old, seed_new = first.artifact.path / "router_seed", extended.artifact.path / "router_seed"
    assert not filecmp.dircmp(seed_old, seed_new).diff_files
    console = Console(record=True, width=140)
    stage.render(extended.summary, console)
    assert f"extended {first.artifact.ref}" in console.export_text()
