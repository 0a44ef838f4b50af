"""The whole cluster step on in-memory call records, timed part by part (stage and benchmark)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from slmconvert.cluster.featurize import SignatureSet, part_vectors, signature_set
from slmconvert.cluster.hdb import (
    Clustering,
    cluster_signatures,
    default_min_cluster_size,
    renumber_clusters,
)
from slmconvert.cluster.labels import ctfidf_keywords, readable_label
from slmconvert.cluster.params import ClusterParams
from slmconvert.cluster.profile import CandidateRules, profile_clusters
from slmconvert.cluster.reduce import fit_reducer, one_hot
from slmconvert.cluster.seed import (
    RouterSeed,
    SignatureSpace,
    calibrate_gates,
    drop_outliers,
    gate_decisions,
    known_contexts,
)
from slmconvert.cluster.signature import SignatureOptions, structure_form
from slmconvert.cluster.splits import split_calls
from slmconvert.engine.base import make_engine
from slmconvert.errors import BadInputError
from slmconvert.models.embedder import Embedder, SentenceEmbedder

Progress = Callable[[str, int | None], AbstractContextManager[Callable[[int], None]]]


@dataclass
class ClusterRun:
    """Everything the cluster step found, ready to be written out."""

    sigs: SignatureSet
    vectors: np.ndarray  # reduced, normalised vector per distinct signature
    clustering: Clustering
    call_labels: np.ndarray
    call_probabilities: np.ndarray
    clusters: list[dict[str, Any]]
    totals: dict[str, Any]
    seed: RouterSeed
    splits: list[dict[str, Any]]
    min_cluster_size: int
    cache_hits: int
    agreement: dict[str, Any] | None
    timings: dict[str, float] = field(default_factory=dict)
    why_no_clusters: str | None = None  # set when every call is noise


def why_no_clusters(calls: int, min_size: int, clusters: int) -> str | None:
    """Why a run found no cluster at all (every call stays on the LLM), in words; None when it found some."""
    if clusters:
        return None
    if calls < min_size:
        return (f"only {calls:,} kept call(s), fewer than min_cluster_size={min_size}: no task can reach the size of "
                "a cluster, so every call is noise (stays on the LLM); collect more calls or lower "
                "cluster.min_cluster_size")
    return (f"no group of at least min_cluster_size={min_size} similar calls: every call is noise (stays on the LLM); "
            "lower cluster.min_cluster_size to find smaller tasks")


def signature_options(params: ClusterParams) -> SignatureOptions:
    return SignatureOptions(params.system_words, params.request_words, params.max_listed_tools)


def part_weights(params: ClusterParams) -> tuple[float, float, float]:
    """(context, request, structure) similarity weights."""
    context = 1.0 - params.request_weight - params.structure_weight
    return (context, params.request_weight, params.structure_weight)


def make_embedder(params: ClusterParams) -> SentenceEmbedder:
    return SentenceEmbedder(params.embedding_model, params.batch_size, params.max_seq_length)


def tag_agreement(records: Sequence[dict], labels: np.ndarray) -> dict[str, Any] | None:
    """Adjusted Rand index against workload tags when the logs carry them (never a feature)."""
    from sklearn.metrics import adjusted_rand_score

    tagged = [i for i, r in enumerate(records) if r.get("workload_id")]
    tags = [str(records[i]["workload_id"]) for i in tagged]
    if len(set(tags)) < 2:
        return None
    clustered = [k for k, i in enumerate(tagged) if labels[i] >= 0]
    return {
        "tagged_calls": len(tagged),
        "tags": len(set(tags)),
        "ari": round(float(adjusted_rand_score(tags, labels[tagged])), 4),
        "ari_clustered": round(float(adjusted_rand_score([tags[k] for k in clustered],
                                                         labels[[tagged[k] for k in clustered]])), 4)
        if clustered else None,
    }


def discover_tasks(
    records: Sequence[dict],
    params: ClusterParams,
    embedder: Embedder | None = None,
    cache_root: Path | None = None,
    progress: Progress | None = None,
    log: Callable[[str], None] | None = None,
) -> ClusterRun:
    """Sign, embed (on cluster.engine), reduce, cluster, label, calibrate the router seed and split."""
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 3)
        clock = now

    if not records:
        raise BadInputError("there are no kept calls to cluster", hint="check curate's audit.json: every call was filtered")
    embedder = embedder or make_embedder(params)
    sigs = signature_set(records, signature_options(params))
    lap("signature")
    bar = progress("embedding signatures", len(sigs.contexts) + len(sigs.requests)) if progress else nullcontext(None)
    with bar as advance:
        parts, hits = part_vectors(sigs, embedder, cache_root, advance, make_engine(params, log))
    lap("embed")
    # tasks are found on the output form; an agent's steps are told apart afterwards (split_agent_steps)
    forms = sorted({structure_form(s) for s in sigs.structures})
    by_form = [*parts[:2], one_hot([structure_form(s) for s in sigs.structures], forms)]
    reducer = fit_reducer(by_form, sigs.rows, sigs.counts, part_weights(params), forms,
                          params.n_components, params.seed)
    vectors = reducer.reduce(by_form, sigs.rows)
    lap("reduce")
    min_size = params.min_cluster_size or default_min_cluster_size(len(records))
    form_space = SignatureSpace(part_weights(params), tuple(int(m.shape[1]) for m in by_form), forms)
    clustering = cluster_signatures(vectors, sigs.counts, min_size, params.min_samples,
                                    params.cluster_selection, params.max_cluster_points, params.seed,
                                    form_space.keep_together(by_form, sigs.rows, sigs.counts, params.merge_similarity))
    lap("cluster")
    space = SignatureSpace(part_weights(params), tuple(int(m.shape[1]) for m in parts), sigs.structures)
    labels = split_agent_steps(clustering.labels, sigs, min_size)
    labels = drop_outliers(space, parts, sigs.rows, sigs.counts, labels, params.member_outlier_z)
    labels = renumber_clusters(labels, sigs.counts, min_size)
    clustering.probabilities = np.where(labels >= 0, clustering.probabilities, 0.0)
    clustering.labels = labels
    call_labels = labels[sigs.call_signature]
    centroids, gates = calibrate_gates(space, parts, sigs.rows, sigs.counts, labels,
                                       params.threshold_percentile, params.threshold_margin)
    clusters, totals = _describe(records, sigs, space, parts, labels, call_labels, centroids, params)
    for gate, cluster in zip(gates, clusters, strict=True):
        gate.label = cluster["label"]
        cluster["router_threshold"] = gate.threshold
    lap("label")
    context_calls = np.bincount(sigs.rows[:, 0], weights=sigs.counts, minlength=len(sigs.contexts))
    seed = RouterSeed(params.embedding_model, embedder.model_id, params.max_seq_length,
                      signature_options(params), space, centroids, gates,
                      known_contexts(sigs.contexts, parts[0], context_calls))
    splits = split_calls(records, call_labels, params.seed, params.validation_fraction, params.test_fraction,
                         params.test_min_calls, params.test_max_fraction)
    _count_splits(clusters, splits)
    lap("split")
    member = labels >= 0
    if gates and member.any():
        decided = np.array([d[0] for d in gate_decisions(space.similarities(parts, sigs.rows[member], centroids), gates)])
        agree = float(sigs.counts[member][decided == labels[member]].sum() / sigs.counts[member].sum())
        totals["router_self_agreement"] = round(agree, 4)
    else:
        totals["router_self_agreement"] = None
    return ClusterRun(sigs, vectors, clustering, call_labels, clustering.probabilities[sigs.call_signature],
                      clusters, totals, seed, splits, min_size, hits, tag_agreement(records, call_labels), timings,
                      why_no_clusters(len(records), min_size, len(clusters)))


def split_agent_steps(labels: np.ndarray, sigs: SignatureSet, min_size: int) -> np.ndarray:
    """Each cluster whose signatures hold more than one agent step (tools/reply, tools/continue) of
    at least `min_size` calls each becomes one cluster per step; smaller steps stay with the largest."""
    out = labels.copy()
    next_id = int(labels.max()) + 1 if len(labels) else 0
    structure = np.array([sigs.structures[s] for s in sigs.rows[:, 2]]) if len(sigs) else np.array([])
    for cid in sorted(int(c) for c in np.unique(labels) if c >= 0):
        members = labels == cid
        sizes = {s: int(sigs.counts[members & (structure == s)].sum()) for s in np.unique(structure[members])
                 if structure_form(str(s)) == "tools"}
        steps = sorted((s for s, n in sizes.items() if n >= min_size), key=lambda s: (-sizes[s], s))
        for s in steps[1:]:  # the largest step keeps the cluster id
            out[members & (structure == s)] = next_id
            next_id += 1
    return out


def _describe(records: Sequence[dict], sigs: SignatureSet, space: SignatureSpace, parts: list[np.ndarray],
              labels: np.ndarray, call_labels: np.ndarray, centroids: np.ndarray,
              params: ClusterParams) -> tuple[list[dict], dict]:
    """clusters.json entries: statistics, keywords, a representative request and the label."""
    rules = CandidateRules(params.min_examples, params.min_output_consistency,
                           params.open_ended_min_tokens, params.open_ended_min_novelty)
    profiles, totals = profile_clusters(records, call_labels, rules)
    keywords = ctfidf_keywords(sigs.texts(), labels, sigs.counts, params.top_keywords)
    clusters = []
    for row, cid in enumerate(sorted(profiles)):
        members = np.flatnonzero(labels == cid)
        medoid = members[int(np.argmax(space.similarities(parts, sigs.rows[members], centroids[row][None, :])))]
        phrase = sigs.requests[sigs.rows[medoid, 1]]
        profile = profiles[cid]
        tools = [t["name"] for t in profile["top_tools"] if t["share"] >= 0.1]
        entry = {"id": cid, "label": readable_label(profile["output_type"], tools, keywords.get(cid, []), phrase),
                 "keywords": keywords.get(cid, []), "example_request": phrase,
                 "distinct_signatures": len(members), **profile}
        clusters.append(entry)
    return clusters, totals


def _count_splits(clusters: list[dict], splits: list[dict]) -> None:
    counts: dict[int, dict[str, int]] = {c["id"]: {"train": 0, "validation": 0, "test": 0} for c in clusters}
    for row in splits:
        counts[row["cluster_id"]][row["split"]] += 1
    for cluster in clusters:
        cluster["splits"] = counts[cluster["id"]]
