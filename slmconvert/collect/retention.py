"""Retention of raw calls: once curated, a collect version's raw files can be deleted.

calls.parquet and rejects.jsonl hold the logs' personal data unscrubbed; curate's output is the
scrubbed copy every later stage reads. Dropping the raw copy is `curate.drop_raw` (right after
curate) or `slmconvert purge-raw` (for versions curated earlier).
"""

from __future__ import annotations

from dataclasses import dataclass

from slmconvert.collect.records import CALLS_FILE
from slmconvert.collect.rejects import REJECTS_FILE
from slmconvert.workspace import Artifact, Workspace

RAW_FILES = (CALLS_FILE, REJECTS_FILE)


@dataclass
class Purged:
    """One collect version whose raw files were deleted, and the curate version that covers it."""

    collect: str
    curate: str
    files: list[str]


def purge_raw(workspace: Workspace, collect: Artifact, curated_by: Artifact) -> list[str]:
    """Delete a collect version's raw files (curated_by read it); returns the files removed."""
    reason = f"raw calls were purged after {curated_by.ref}"
    return workspace.purge_files(collect, list(RAW_FILES), reason=reason, by=curated_by.ref)


def curated_collects(workspace: Workspace) -> dict[str, Artifact]:
    """collect version -> the newest curate version built from it."""
    covered: dict[str, Artifact] = {}
    for curate in workspace.versions("curate"):
        version = (curate.manifest.get("inputs") or {}).get("collect", {}).get("version")
        if version:
            covered[version] = curate
    return covered


def purge_curated(workspace: Workspace, keep_latest: bool = False) -> list[Purged]:
    """Purge the raw files of every collect version a curate version covers (LATEST kept if asked)."""
    done = []
    with workspace.lock("slmconvert purge-raw"):
        latest = workspace.latest_version("collect")
        covered = curated_collects(workspace)
        for collect in workspace.versions("collect"):
            curate = covered.get(collect.version)
            if curate is None or (keep_latest and collect.version == latest):
                continue
            files = purge_raw(workspace, collect, curate)
            if files:
                done.append(Purged(collect.version, curate.version, files))
    return done
