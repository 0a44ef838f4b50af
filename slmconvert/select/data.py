"""What select evaluates: candidate clusters with their validation sample, few-shot pool and calls."""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from slmconvert.artifacts.clusters import SPLITS_FILE, clusters_document
from slmconvert.artifacts.curated import CURATED_FILE
from slmconvert.evaluation.harness import EvalExample
from slmconvert.util.tables import iter_table
from slmconvert.workspace import Artifact


@dataclass
class ClusterTask:
    """One cluster to match with a model: its evaluation sample, few-shot pool and all its calls."""

    cluster: dict[str, Any]
    sample: list[EvalExample]
    sample_split: str
    n_validation: int
    shots_pool: list[EvalExample] = field(default_factory=list)
    members: list[EvalExample] = field(default_factory=list)

    @property
    def cluster_id(self) -> int:
        return int(self.cluster["id"])


def read_clusters(artifact: Artifact) -> list[dict[str, Any]]:
    """clusters.json entries, as written."""
    return clusters_document(artifact)["clusters"]


def read_splits(artifact: Artifact) -> dict[int, dict[str, list[str]]]:
    """cluster id -> split name -> call ids (noise, id -1, left out)."""
    splits: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for row in iter_table(artifact.file(SPLITS_FILE)):
        cluster_id = int(row["cluster_id"])
        if cluster_id >= 0:
            splits[cluster_id][str(row["split"])].append(str(row["call_id"]))
    return splits


def read_records(artifact: Artifact, call_ids: set[str]) -> dict[str, dict[str, Any]]:
    """Kept curated records for the given call ids (the rest of the table is streamed past)."""
    records = {}
    for row in iter_table(artifact.file(CURATED_FILE)):
        if row.get("call_id") in call_ids and row.get("status", "kept") == "kept":
            records[row["call_id"]] = row
    return records


def build_tasks(
    cluster_artifact: Artifact,
    curate_artifact: Artifact,
    *,
    sample_size: int,
    few_shot: int,
    context_sample: int,
    include_non_candidates: bool,
    seed: int,
) -> tuple[list[ClusterTask], list[dict[str, Any]]]:
    """The clusters to evaluate, and the skipped ones with the reason."""
    clusters = read_clusters(cluster_artifact)
    splits = read_splits(cluster_artifact)
    tasks: list[ClusterTask] = []
    skipped: list[dict[str, Any]] = []
    chosen = []
    for cluster in clusters:
        cid = int(cluster["id"])
        if cid < 0:
            continue
        if not cluster.get("candidate", True) and not include_non_candidates:
            reasons = cluster.get("why_not") or ["not a conversion candidate"]
            skipped.append({"cluster_id": cid, "label": cluster.get("label"), "reason": "; ".join(reasons)})
            continue
        chosen.append(cluster)
    wanted = {cid for c in chosen for ids in splits.get(int(c["id"]), {}).values() for cid in ids}
    records = read_records(curate_artifact, wanted)
    for cluster in chosen:
        cid = int(cluster["id"])
        parts = {name: [records[i] for i in ids if i in records] for name, ids in splits.get(cid, {}).items()}
        split_name = "validation" if parts.get("validation") else "train"
        pool = parts.get(split_name, [])
        if not pool:
            skipped.append({"cluster_id": cid, "label": cluster.get("label"), "reason": "no curated calls in its splits"})
            continue
        rng = random.Random(f"{seed}:{cid}")
        sample = pool if sample_size == 0 or len(pool) <= sample_size else rng.sample(pool, sample_size)
        sample_ids = {r["call_id"] for r in sample}
        train = [r for r in parts.get("train", []) if r["call_id"] not in sample_ids]
        shots = rng.sample(train, min(few_shot, len(train))) if few_shot else []
        everyone = [r for rows in parts.values() for r in rows]
        members = everyone if len(everyone) <= context_sample else rng.sample(everyone, context_sample)
        tasks.append(ClusterTask(
            cluster=cluster,
            sample=[EvalExample.from_record(r) for r in sample],
            sample_split=split_name,
            n_validation=len(parts.get("validation", [])),
            shots_pool=[EvalExample.from_record(r) for r in shots],
            members=[EvalExample.from_record(r) for r in members],
        ))
    return tasks, skipped


def with_few_shot(example: EvalExample, shots: list[EvalExample]) -> list[dict[str, Any]]:
    """The example's messages with each shot's turns and answer placed after the system prompt."""
    def is_system(m: dict[str, Any]) -> bool:
        return m.get("role") in ("system", "developer")

    turns: list[dict[str, Any]] = []
    for shot in shots:
        turns += [m for m in shot.messages if not is_system(m)] + [{**shot.reference, "role": "assistant"}]
    return [m for m in example.messages if is_system(m)] + turns + [m for m in example.messages if not is_system(m)]
