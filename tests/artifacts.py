"""Hand-made artifact versions for stage tests (what an upstream stage would have published)."""

from __future__ import annotations

from slmconvert.util.jsonio import atomic_write_json
from slmconvert.util.tables import write_table
from slmconvert.workspace import MANIFEST, Artifact, Workspace, new_version_id


def publish(workspace: Workspace, stage: str, files: dict, inputs: dict | None = None,
            created_at: str | None = None) -> Artifact:
    """Publish a version holding `files` (tables as Parquet, the rest as JSON) and a minimal manifest
    (created_at: what orders versions of one second; the version name by default)."""
    version = new_version_id()
    tmp = workspace.new_temp_dir(stage, version)
    for name, content in files.items():
        if name.endswith(".parquet"):
            write_table(tmp / name, content)
        else:
            atomic_write_json(tmp / name, content)
    atomic_write_json(tmp / MANIFEST, {"stage": stage, "version": version, "created_at": created_at or version, "inputs": inputs or {}})
    return workspace.publish(stage, version, tmp)
