"""Input resolution follows lineage: one stage run never mixes versions, and a stale parent is an error."""

from __future__ import annotations

import pytest

from slmconvert.errors import MissingArtifactError
from slmconvert.stages.lineage import resolve_inputs
from slmconvert.workspace import Workspace
from tests.artifacts import publish

FINETUNE_UPSTREAM = ("select", "cluster", "curate")


def _ref(artifact) -> dict:
    return {"version": artifact.version}


@pytest.fixture
def ws(tmp_path) -> Workspace:
    return Workspace(tmp_path / "work")


def _chain(ws: Workspace) -> dict:
    curate = publish(ws, "curate", {})
    cluster = publish(ws, "cluster", {}, inputs={"curate": _ref(curate)})
    select = publish(ws, "select", {}, inputs={"cluster": _ref(cluster), "curate": _ref(curate)})
    return {"curate": curate, "cluster": cluster, "select": select}


def _versions(resolved: dict) -> dict:
    return {name: r.artifact.version for name, r in resolved.items()}


def test_a_consistent_chain_resolves_to_latest(ws):
    chain = _chain(ws)
    resolved = resolve_inputs(ws, "finetune", FINETUNE_UPSTREAM)
    assert _versions(resolved) == {name: a.version for name, a in chain.items()}
    assert list(resolved) == list(FINETUNE_UPSTREAM)


def test_reclustering_after_select_makes_finetune_refuse(ws):
    """`slmconvert cluster --set ...` then `slmconvert finetune`: the selection names the old cluster ids."""
    chain = _chain(ws)
    publish(ws, "cluster", {}, inputs={"curate": _ref(chain["curate"])})
    with pytest.raises(MissingArtifactError) as caught:
        resolve_inputs(ws, "finetune", FINETUNE_UPSTREAM)
    assert caught.value.exit_code == 5
    assert f"select@{chain['select'].version}" in caught.value.message
    assert "rerun `slmconvert select`" in caught.value.hint


def test_pinning_the_parent_goes_on_with_its_own_lineage(ws):
    chain = _chain(ws)
    publish(ws, "cluster", {}, inputs={"curate": _ref(chain["curate"])})
    resolved = resolve_inputs(ws, "finetune", FINETUNE_UPSTREAM, {"select": chain["select"].version})
    assert _versions(resolved) == {name: a.version for name, a in chain.items()}
    assert all(r.pinned for r in resolved.values())


def test_the_nearest_descendant_decides(ws):
    """Pinning select (old) and cluster (new): curate comes from the cluster, its nearest child."""
    chain = _chain(ws)
    newer_curate = publish(ws, "curate", {})
    newer_cluster = publish(ws, "cluster", {}, inputs={"curate": _ref(newer_curate)})
    pins = {"select": chain["select"].version, "cluster": newer_cluster.version}
    resolved = resolve_inputs(ws, "finetune", FINETUNE_UPSTREAM, pins)
    assert resolved["curate"].artifact.version == newer_curate.version


def test_a_rerun_curate_is_stale_for_select(ws):
    _chain(ws)
    publish(ws, "curate", {})
    with pytest.raises(MissingArtifactError, match="rerun `slmconvert cluster`"):
        resolve_inputs(ws, "select", ("cluster", "curate"))
