"""HDBSCAN over distinct signatures, with cluster sizes and stability counted in calls.

Identical signatures are collapsed to one point carrying its call count, so HDBSCAN's own
point-count `min_cluster_size` would misjudge a task whose few distinct signatures repeat often.
The `hdbscan` package builds the density hierarchy (condensed tree at min_cluster_size=2); the
cluster selection is then redone on that tree with weights: a branch is a cluster only if it
holds at least `min_cluster_size` calls, stability sums call-weighted lambda spans, and
excess-of-mass (or leaf) selection picks the clusters. With no split at all, the single task is
kept as one cluster. An optional `keep_together(groups)` test vetoes a split (the caller compares
the groups in the full signature space, where "one task" has a stable meaning that the reduced
space, shaped by the data mix, lacks). Above `max_points` signatures the tree is built on a seeded sample and the
remaining signatures take the cluster (or noise) of their nearest sampled neighbour.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

KeepTogether = Callable[[list[np.ndarray]], bool]


@dataclass
class Clustering:
    """Per distinct signature: cluster id (-1 noise, ids ordered by calls) and membership."""

    labels: np.ndarray
    probabilities: np.ndarray
    min_samples: int
    fitted_points: int


def default_min_cluster_size(n_calls: int) -> int:
    """Smallest task worth its own SLM: 1% of calls, at least 20, at most 1000."""
    return int(min(1000, max(20, round(0.01 * n_calls))))


@dataclass
class _Branch:
    parent: int
    birth: float
    points: list[tuple[int, float]]  # (point, lambda at which it leaves the branch)
    children: list[int]


def _condense_weighted(tree: np.ndarray, n: int, weights: np.ndarray, min_size: int,
                       keep_together: KeepTogether | None = None) -> list[_Branch]:
    """Re-condense hdbscan's fine condensed tree: only branches with >= min_size calls split, and
    only where `keep_together` does not veto it (the parts then stay one branch)."""
    parents, children, lambdas = tree["parent"], tree["child"], tree["lambda_val"]
    finite = lambdas[np.isfinite(lambdas)]
    cap = (finite.max() if len(finite) else 1.0) * 2.0
    lambdas = np.where(np.isfinite(lambdas), lambdas, cap)  # zero distances: treat as very dense
    n_nodes = int(max(parents.max(), children.max())) + 1 if len(tree) else n + 1
    kids: list[list[tuple[int, float]]] = [[] for _ in range(n_nodes)]
    for p, c, lam in zip(parents, children, lambdas, strict=True):
        kids[p].append((int(c), float(lam)))
    mass = np.zeros(n_nodes)
    mass[:n] = weights
    for node in range(n_nodes - 1, n - 1, -1):  # children have larger ids than parents
        mass[node] += sum(mass[c] for c, _ in kids[node])

    def leaves(node: int) -> list[int]:
        stack, out = [node], []
        while stack:
            x = stack.pop()
            (out.append(x) if x < n else stack.extend(c for c, _ in kids[x]))
        return out

    branches = [_Branch(-1, 0.0, [], [])]
    stack = [(n, 0)]
    while stack:
        node, branch = stack.pop()
        big = [(c, lam) for c, lam in kids[node] if c >= n and mass[c] >= min_size]
        for c, lam in kids[node]:
            if c < n:
                branches[branch].points.append((c, lam))
            elif mass[c] < min_size:
                branches[branch].points.extend((p, lam) for p in leaves(c))
        if len(big) == 1 or (len(big) > 1 and keep_together is not None
                             and keep_together([np.array(leaves(c)) for c, _ in big])):
            stack.extend((c, branch) for c, _ in big)
        elif len(big) > 1:
            for c, lam in big:
                branches.append(_Branch(branch, lam, [], []))
                branches[branch].children.append(len(branches) - 1)
                stack.append((c, len(branches) - 1))
    return branches


def _select(branches: list[_Branch], weights: np.ndarray, method: str) -> list[int]:
    """Excess-of-mass (or leaf) selection over the weighted branches; the root only if nothing split."""
    if not branches[0].children:
        return [0]
    mass = _subtree_mass(branches, weights)
    stability = [
        sum(weights[p] * (lam - b.birth) for p, lam in b.points)
        + sum(mass[k] * (branches[k].birth - b.birth) for k in b.children)
        for b in branches
    ]
    selected: set[int] = set()
    best = list(stability)
    for i in range(len(branches) - 1, 0, -1):  # children are appended after their parent
        kids = branches[i].children
        if method == "leaf":
            if not kids:
                selected.add(i)
            continue
        child_sum = sum(best[k] for k in kids)
        if kids and child_sum > stability[i]:
            best[i] = child_sum
        else:
            best[i] = stability[i]
            selected.add(i)
    # keep only the top-most selected branches
    keep = []
    for i in sorted(selected):
        j, covered = branches[i].parent, False
        while j > 0:
            covered |= j in selected
            j = branches[j].parent
        if not covered:
            keep.append(i)
    return keep


def _subtree_mass(branches: list[_Branch], weights: np.ndarray) -> list[float]:
    mass = [float(sum(weights[p] for p, _ in b.points)) for b in branches]
    for i in range(len(branches) - 1, 0, -1):
        mass[branches[i].parent] += mass[i]
    return mass


def weighted_hdbscan(vectors: np.ndarray, weights: np.ndarray, min_cluster_size: int, min_samples: int,
                     method: str = "eom", keep_together: KeepTogether | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(labels, membership) of points carrying call-count weights."""
    import hdbscan

    n = len(vectors)
    labels, probs = np.full(n, -1, dtype=np.int64), np.zeros(n)
    if n < 3:
        if weights.sum() >= min_cluster_size:
            labels[:], probs[:] = 0, 1.0
        return labels, probs
    clusterer = hdbscan.HDBSCAN(min_cluster_size=2, min_samples=min(min_samples, n - 1),
                                allow_single_cluster=True).fit(vectors)
    branches = _condense_weighted(clusterer.condensed_tree_._raw_tree, n, weights, min_cluster_size, keep_together)
    if _subtree_mass(branches, weights)[0] < min_cluster_size:
        return labels, probs
    for cid, chosen in enumerate(_select(branches, weights, method)):
        members: list[tuple[int, float]] = []
        stack = [chosen]
        while stack:
            b = stack.pop()
            members.extend(branches[b].points)
            stack.extend(branches[b].children)
        top = max(lam for _, lam in members) or 1.0
        for p, lam in members:
            labels[p], probs[p] = cid, min(lam, top) / top
    return labels, probs


def cluster_signatures(
    vectors: np.ndarray,
    weights: np.ndarray,
    min_cluster_size: int,
    min_samples: int | None = None,
    selection: str = "eom",
    max_points: int = 20000,
    seed: int = 0,
    keep_together: KeepTogether | None = None,
) -> Clustering:
    """Cluster distinct signature vectors whose call counts are `weights`."""
    n = len(vectors)
    weights = np.asarray(weights, dtype=np.int64)
    m_samples = int(min_samples or 3)
    if weights.sum() < min_cluster_size:  # no cluster can reach the size: every call is noise
        return Clustering(np.full(n, -1, dtype=np.int64), np.zeros(n), m_samples, 0)
    fit_rows = np.arange(n)
    if n > max_points:
        rng = np.random.default_rng(seed)
        fit_rows = np.sort(rng.choice(n, size=max_points, replace=False))
    labels = np.full(n, -1, dtype=np.int64)
    probs = np.zeros(n)
    scale = weights.sum() / max(1, weights[fit_rows].sum())  # sampled points stand for the rest
    veto = None if keep_together is None else (lambda groups: keep_together([fit_rows[g] for g in groups]))
    fit_labels, fit_probs = weighted_hdbscan(vectors[fit_rows], weights[fit_rows] * scale,
                                             min_cluster_size, m_samples, selection, veto)
    labels[fit_rows], probs[fit_rows] = fit_labels, fit_probs
    rest = np.setdiff1d(np.arange(n), fit_rows)
    if len(rest):
        from sklearn.neighbors import NearestNeighbors

        nearest = NearestNeighbors(n_neighbors=1).fit(vectors[fit_rows]).kneighbors(vectors[rest], return_distance=False)
        labels[rest], probs[rest] = fit_labels[nearest[:, 0]], fit_probs[nearest[:, 0]]
    labels, probs = _promote_heavy_signatures(labels, probs, weights, min_cluster_size)
    labels = renumber_clusters(labels, weights, min_cluster_size)
    probs = np.where(labels >= 0, probs, 0.0)
    return Clustering(labels, probs, m_samples, len(fit_rows))


def _promote_heavy_signatures(labels: np.ndarray, probs: np.ndarray, weights: np.ndarray,
                              min_cluster_size: int) -> tuple[np.ndarray, np.ndarray]:
    """A noise signature repeated >= min_cluster_size times becomes its own cluster."""
    labels, probs = labels.copy(), probs.copy()
    next_id = int(labels.max()) + 1 if len(labels) else 0
    for i in np.flatnonzero((labels < 0) & (weights >= min_cluster_size)):
        labels[i], probs[i] = next_id, 1.0
        next_id += 1
    return labels, probs


def renumber_clusters(labels: np.ndarray, weights: np.ndarray, min_cluster_size: int) -> np.ndarray:
    """Clusters under min_cluster_size calls become noise; ids ordered by calls, then first row."""
    ids = [int(c) for c in np.unique(labels) if c >= 0]
    sizes = {c: int(weights[labels == c].sum()) for c in ids}
    first = {c: int(np.flatnonzero(labels == c)[0]) for c in ids}
    kept = sorted((c for c in ids if sizes[c] >= min_cluster_size), key=lambda c: (-sizes[c], first[c]))
    mapping = {c: i for i, c in enumerate(kept)}
    return np.array([mapping.get(int(c), -1) for c in labels], dtype=np.int64)
