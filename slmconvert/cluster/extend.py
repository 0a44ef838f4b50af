"""Growing a cluster version with new calls while keeping its clusters (the weekly loop's retrain path).

Calls the earlier version saw keep their cluster, probability and split. New calls are assigned
with the version's router seed (centroid similarity against the calibrated gates; -1 = noise) and
split like the rest: a new call whose request group already has a split in its cluster joins that
split (near-duplicates never straddle train and test), the other new groups are split with the
cluster's shares. Cluster ids, labels, candidate flags, the router seed and the map are carried
over, so adapters trained on the earlier version stay valid; sizes and split counts are recounted.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from slmconvert.artifacts.clusters import ASSIGNMENTS_FILE, SPLITS_FILE, clusters_document, seed_dir
from slmconvert.cluster.assign import ClusterAssigner
from slmconvert.cluster.params import ClusterParams
from slmconvert.cluster.signature import request_key
from slmconvert.cluster.splits import split_cluster, test_share
from slmconvert.models.embedder import Embedder
from slmconvert.util.tables import iter_table
from slmconvert.workspace import Artifact


@dataclass
class Extended:
    """The grown version's tables and cluster list."""

    assignments: list[dict[str, Any]] = field(default_factory=list)  # call_id, cluster_id, probability
    splits: list[dict[str, Any]] = field(default_factory=list)  # call_id, cluster_id, split
    document: dict[str, Any] = field(default_factory=dict)  # clusters.json content
    new_calls: int = 0
    new_assigned: int = 0


def extend(records: list[dict[str, Any]], previous: Artifact, params: ClusterParams,
           embedder: Embedder | None = None) -> Extended:
    """Assignments and splits for every kept call: the previous version's, plus the new calls'."""
    before = {r["call_id"]: (int(r["cluster_id"]), float(r["probability"]))
              for r in iter_table(previous.file(ASSIGNMENTS_FILE))}
    split_before = {r["call_id"]: r["split"] for r in iter_table(previous.file(SPLITS_FILE))}
    new = [r for r in records if r["call_id"] not in before]
    decided = ClusterAssigner.load(seed_dir(previous), embedder).assign(new) if new else []
    label = dict(before)
    label.update({r["call_id"]: (cid, conf) for r, (cid, conf) in zip(new, decided, strict=True)})
    out = Extended(new_calls=len(new), new_assigned=sum(1 for cid, _ in decided if cid >= 0))
    out.assignments = [{"call_id": r["call_id"], "cluster_id": label[r["call_id"]][0],
                        "probability": round(label[r["call_id"]][1], 6)} for r in records]
    members: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        if label[r["call_id"]][0] >= 0:
            members[label[r["call_id"]][0]].append(r)
    split_of = {cid: _split_members(cid, rows, split_before, params) for cid, rows in members.items()}
    out.splits = [{"call_id": r["call_id"], "cluster_id": label[r["call_id"]][0],
                   "split": split_of[label[r["call_id"]][0]][r["call_id"]]}
                  for r in records if label[r["call_id"]][0] >= 0]
    out.document = _recount(clusters_document(previous), out, len(records), previous.ref)
    return out


def _split_members(cid: int, rows: list[dict[str, Any]], split_before: dict[str, str],
                   params: ClusterParams) -> dict[str, str]:
    """call_id -> split for one cluster: old calls keep theirs, new ones join their request group's
    split or are split like a fresh cluster."""
    out = {r["call_id"]: split_before[r["call_id"]] for r in rows if r["call_id"] in split_before}
    group_split = {request_key(r): out[r["call_id"]] for r in rows if r["call_id"] in out}
    fresh = []
    for r in rows:
        if r["call_id"] in out:
            continue
        known = group_split.get(request_key(r))
        if known is None:
            fresh.append(r)
        else:
            out[r["call_id"]] = known
    if fresh:
        share = test_share(len(rows), params.test_fraction, params.test_min_calls, params.test_max_fraction)
        for r, split in zip(fresh, split_cluster(fresh, params.seed, cid, params.validation_fraction, share),
                            strict=True):
            out[r["call_id"]] = split
    return out


def _recount(document: dict[str, Any], grown: Extended, calls: int, source: str) -> dict[str, Any]:
    """clusters.json with sizes, shares of calls, split counts and noise recounted."""
    sizes = Counter(a["cluster_id"] for a in grown.assignments)
    splits: dict[int, Counter[str]] = defaultdict(Counter)
    for row in grown.splits:
        splits[row["cluster_id"]][row["split"]] += 1
    for cluster in document.get("clusters", []):
        cid = cluster["id"]
        cluster["size"] = sizes.get(cid, 0)
        cluster["share_calls"] = round(sizes.get(cid, 0) / calls, 6) if calls else 0.0
        cluster["splits"] = {name: splits[cid].get(name, 0) for name in ("train", "validation", "test")}
    noise = sizes.get(-1, 0)
    document["noise"] = {"calls": noise, "share": round(noise / calls, 6) if calls else 0.0}
    document.setdefault("totals", {}).update(noise_calls=noise, noise_share=document["noise"]["share"])
    document["extended_from"] = source
    return document
