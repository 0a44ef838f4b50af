"""Seeded train/validation/test splits per cluster that keep near-identical requests together.

Calls are grouped by their normalised request (signature.request_key) before splitting, so no
near-duplicate sits on both sides; within a cluster, groups are stratified by the tool the LLM
called (or the output type) when the cluster mixes several; each split takes groups until it
holds its share of calls, and a cluster with at least three groups always gets one validation
and one test group. The test share grows on small clusters towards a minimum number of calls
(`test_share`): the test split is the evidence a promotion rests on. Groups are shuffled from
their calls' call_id order, so the same logs and seed split alike in every workspace.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

import numpy as np

from slmconvert.cluster.signature import called_tools, output_type, request_key

SPLITS = ("train", "validation", "test")


def _stratum(record: dict) -> str:
    names = called_tools(record.get("output"))
    return names[0] if names else f"({output_type(record)})"


def test_share(size: int, fraction: float, min_calls: int = 0, max_fraction: float = 0.0) -> float:
    """A cluster's test share: `fraction`, raised towards `min_calls` calls but not past `max_fraction`."""
    if size <= 0 or min_calls <= 0:
        return fraction
    return max(fraction, min(max_fraction, min_calls / size))


def _allocate(sizes: list[int], validation: float, test: float) -> list[str]:
    """Split name per group (in the given order) by where each group's middle call falls."""
    total, start, out = sum(sizes), 0, []
    for size in sizes:
        middle = (start + size / 2) / total
        out.append("test" if middle < test else "validation" if middle < test + validation else "train")
        start += size
    return out


def _group_order(records: Sequence[dict], members: list[int], key: str) -> tuple[str, str]:
    """A group's place before the seeded shuffle: its smallest call_id (collect's hash of the raw call).

    The request keys are read from curated text, whose pseudonyms are keyed per workspace, so
    ordering by them would split the same logs differently in every workspace."""
    return min(str(records[i].get("call_id") or "") for i in members), key


def split_cluster(records: Sequence[dict], seed: int, cluster_id: int, validation: float,
                  test: float) -> list[str]:
    """Split name per record of one cluster."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, record in enumerate(records):
        groups[request_key(record)].append(i)
    keys = sorted(groups, key=lambda k: _group_order(records, groups[k], k))
    strata: dict[str, list[str]] = defaultdict(list)
    for key in keys:
        label = Counter(_stratum(records[i]) for i in groups[key]).most_common(1)[0][0]
        strata[label].append(key)
    if len(strata) == 1 or min(len(v) for v in strata.values()) < 3:
        strata = {"all": keys}
    rng = np.random.default_rng([seed, cluster_id])
    assigned: dict[str, str] = {}
    for label in sorted(strata):
        members = strata[label]
        order = [members[i] for i in rng.permutation(len(members))]
        for key, split in zip(order, _allocate([len(groups[k]) for k in order], validation, test), strict=True):
            assigned[key] = split
    _ensure_each_split(assigned, groups, {key: rank for rank, key in enumerate(keys)}, validation, test)
    out = [""] * len(records)
    for key, split in assigned.items():
        for i in groups[key]:
            out[i] = split
    return out


def _ensure_each_split(assigned: dict[str, str], groups: dict[str, list[int]], rank: dict[str, int],
                       validation: float, test: float) -> None:
    """Move the smallest train groups into an empty validation/test split when there are >= 3 groups."""
    if len(assigned) < 3:
        return
    for split, share in (("test", test), ("validation", validation)):
        if share <= 0 or split in assigned.values():
            continue
        train = sorted((k for k, s in assigned.items() if s == "train"), key=lambda k: (len(groups[k]), rank[k]))
        if len(train) > 1:
            assigned[train[0]] = split


def split_calls(records: Sequence[dict], labels: np.ndarray, seed: int, validation: float,
                test: float, test_min_calls: int = 0, test_max_fraction: float = 0.0) -> list[dict]:
    """Rows (call_id, cluster_id, split) for every clustered call, in record order."""
    split_of: dict[int, str] = {}
    for cid in sorted(int(c) for c in np.unique(labels) if c >= 0):
        idx = np.flatnonzero(labels == cid)
        share = test_share(len(idx), test, test_min_calls, test_max_fraction)
        for i, split in zip(idx, split_cluster([records[i] for i in idx], seed, cid, validation, share), strict=True):
            split_of[int(i)] = split
    return [{"call_id": records[i].get("call_id"), "cluster_id": int(labels[i]), "split": split_of[i]}
            for i in range(len(records)) if labels[i] >= 0]
