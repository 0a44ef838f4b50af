"""Reading each cluster's curated train/validation calls from the curate and cluster artifacts."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from slmconvert.artifacts.clusters import SPLITS_FILE
from slmconvert.artifacts.curated import CURATED_FILE
from slmconvert.errors import BadInputError
from slmconvert.util.tables import iter_table
from slmconvert.workspace import Artifact

# The curated columns a specialist needs (see slmconvert.artifacts.curated).
RECORD_COLUMNS = ["call_id", "status", "messages", "output", "tools", "response_format"]


@dataclass
class ClusterRecords:
    """One cluster's kept calls, by split, sorted by call_id so sampling is reproducible."""

    cluster_id: int
    train: list[dict[str, Any]] = field(default_factory=list)
    validation: list[dict[str, Any]] = field(default_factory=list)
    test: list[dict[str, Any]] = field(default_factory=list)


def load_cluster_records(curate: Artifact, cluster: Artifact, cluster_ids: list[int]) -> dict[int, ClusterRecords]:
    """Kept curated calls of the given clusters, joined with cluster's splits.parquet."""
    wanted = set(cluster_ids)
    split_of: dict[str, tuple[int, str]] = {}
    for row in iter_table(cluster.file(SPLITS_FILE), columns=["call_id", "cluster_id", "split"]):
        cid = int(row["cluster_id"])
        if cid in wanted:
            split_of[row["call_id"]] = (cid, row["split"])
    found: dict[int, ClusterRecords] = {cid: ClusterRecords(cid) for cid in cluster_ids}
    curated = curate.file(CURATED_FILE)
    for row in iter_table(curated, columns=_present_columns(curated)):
        where = split_of.get(row["call_id"])
        if where is None or row.get("status", "kept") != "kept":
            continue
        if not row.get("messages") or not row.get("output"):
            raise BadInputError(
                f"{curated}: kept call {row['call_id']} has no messages or no output",
                hint="rerun `slmconvert curate --force` with this slmconvert version",
            )
        cid, split = where
        getattr(found[cid], split).append(row)
    for records in found.values():
        for split in ("train", "validation", "test"):
            getattr(records, split).sort(key=lambda r: r["call_id"])
    return found


def _present_columns(path: Any) -> list[str]:
    import pyarrow.parquet as pq

    names = set(pq.ParquetFile(path).schema_arrow.names)
    return [c for c in RECORD_COLUMNS if c in names]


def sample(records: list[dict[str, Any]], limit: int | None, seed: int) -> list[dict[str, Any]]:
    """A seeded sample of at most `limit` records, keeping their (call_id) order."""
    if limit is None or len(records) <= limit:
        return list(records)
    keep = sorted(random.Random(seed).sample(range(len(records)), limit))
    return [records[i] for i in keep]

