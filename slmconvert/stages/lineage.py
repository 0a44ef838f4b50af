"""Input resolution that follows lineage, so one stage run never mixes versions.

A stage names its upstreams nearest first (finetune: select, cluster, curate). The first is the direct
parent: its pin, else LATEST. Every other upstream is taken from the manifest of its nearest resolved
descendant (finetune's cluster is the one its select was made on), or from its pin, or LATEST when no
resolved input records it. An unpinned chain that leads to a version that is no longer LATEST is stale
(e.g. `cluster` was rerun after `select`): that is an error naming the stage to rerun, because running
on would train the old selection's cluster ids on renumbered clusters.
"""

from __future__ import annotations

from dataclasses import dataclass

from slmconvert.errors import MissingArtifactError
from slmconvert.workspace import STAGES, Artifact, Workspace


@dataclass(frozen=True)
class ResolvedInput:
    """One upstream artifact and how it was chosen."""

    artifact: Artifact
    pinned: bool  # chosen by the user, directly or through a pinned descendant


def recorded_version(artifact: Artifact, stage: str) -> str | None:
    """The version of `stage` an artifact's manifest says it was built from."""
    return ((artifact.manifest.get("inputs") or {}).get(stage) or {}).get("version")


def resolve_inputs(
    workspace: Workspace, stage: str, upstream: tuple[str, ...], pins: dict[str, str] | None = None
) -> dict[str, ResolvedInput]:
    """Resolve a stage's upstreams along lineage; MissingArtifactError (exit 5) when stale."""
    pins = pins or {}
    resolved: dict[str, ResolvedInput] = {}
    for name in sorted(upstream, key=STAGES.index, reverse=True):
        if name in pins:
            resolved[name] = ResolvedInput(workspace.artifact(name, pins[name]), pinned=True)
            continue
        source = _nearest_recorder(resolved, name)
        if source is None:
            resolved[name] = ResolvedInput(workspace.artifact(name), pinned=False)
            continue
        child = resolved[source]
        version = recorded_version(child.artifact, name)
        artifact = workspace.artifact(name, version)
        if not child.pinned:
            _check_current(workspace, stage, name, artifact, child.artifact)
        resolved[name] = ResolvedInput(artifact, pinned=child.pinned)
    return {name: resolved[name] for name in upstream}


def _nearest_recorder(resolved: dict[str, ResolvedInput], name: str) -> str | None:
    """The resolved stage closest downstream of `name` whose manifest records a version of it."""
    recorders = [s for s, r in resolved.items() if recorded_version(r.artifact, name)]
    return min(recorders, key=STAGES.index) if recorders else None


def _check_current(workspace: Workspace, stage: str, name: str, artifact: Artifact, child: Artifact) -> None:
    latest = workspace.latest_version(name)
    if latest is None or latest == artifact.version:
        return
    raise MissingArtifactError(
        f"{child.ref} was built on {artifact.ref}, but {name}@{latest} is newer (LATEST): "
        f"`{stage}` would mix versions",
        hint=f"rerun `slmconvert {child.stage}` (and the stages after it) on the new {name}, "
        f"or pin `--input {child.stage}@{child.version}` to go on with the older {name}",
    )
