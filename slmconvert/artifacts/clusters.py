"""cluster's output: `assignments.parquet`, `clusters.json`, `splits.parquet`, `map.png` and the
router seed in `router_seed/`; written by stages/cluster.py, read here by every later stage."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slmconvert.errors import MissingArtifactError
from slmconvert.util.jsonio import read_json
from slmconvert.util.tables import iter_table
from slmconvert.workspace import Artifact

ASSIGNMENTS_FILE = "assignments.parquet"
CLUSTERS_FILE = "clusters.json"
SPLITS_FILE = "splits.parquet"
MAP_FILE = "map.png"
SEED_DIR = "router_seed"


@dataclass
class ClusterInfo:
    """One cluster as later stages need it (an entry of clusters.json)."""

    cluster_id: int
    label: str
    output_type: str
    size: int
    share_calls: float | None
    candidate: bool
    why_not: str | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


def clusters_document(cluster: Artifact) -> dict[str, Any]:
    """clusters.json as written (clusters, noise, the run's summary)."""
    return read_json(cluster.file(CLUSTERS_FILE))


def load_clusters(cluster: Artifact) -> list[ClusterInfo]:
    """clusters.json entries, sorted by id (noise is not a cluster)."""
    out = []
    for c in clusters_document(cluster).get("clusters", []):
        cid = int(c["id"])
        if cid < 0:
            continue
        why = c.get("why_not")
        why_text = "; ".join(why) if isinstance(why, list) else why
        out.append(ClusterInfo(
            cluster_id=cid, label=str(c.get("label", cid)), output_type=str(c.get("output_type", "text")),
            size=int(c.get("size", 0)), share_calls=c.get("share_calls"),
            candidate=bool(c.get("candidate", False)), why_not=why_text or None, raw=c,
        ))
    return sorted(out, key=lambda c: c.cluster_id)


def load_splits(cluster: Artifact) -> dict[str, tuple[int, str]]:
    """call_id -> (cluster_id, split) from splits.parquet."""
    return {
        str(r["call_id"]): (int(r["cluster_id"]), str(r["split"]))
        for r in iter_table(cluster.file(SPLITS_FILE), columns=["call_id", "cluster_id", "split"])
    }


def load_assignments(cluster: Artifact) -> dict[str, int]:
    """call_id -> cluster_id (-1 = noise) for every clustered (kept) call."""
    return {
        str(r["call_id"]): int(r["cluster_id"])
        for r in iter_table(cluster.file(ASSIGNMENTS_FILE), columns=["call_id", "cluster_id"])
    }


def seed_dir(cluster: Artifact) -> Path:
    """The router seed directory written by the cluster stage."""
    path = cluster.path / SEED_DIR
    if not (path / "config.json").is_file():
        raise MissingArtifactError(f"{cluster.ref} has no router seed ({SEED_DIR}/)",
                                   hint="rerun `slmconvert cluster --force`")
    return path


def cluster_map(cluster: Artifact) -> bytes | None:
    """The 2-D cluster map PNG, when the cluster stage drew one."""
    path = cluster.path / MAP_FILE
    return path.read_bytes() if path.is_file() else None
