"""Full-space cluster gates and the router seed (JSON plus safetensors, nothing pickled).

Clusters are found in a PCA-reduced space, but a projection can pull a call that resembles no
task onto some cluster. Membership and routing are therefore checked in the full signature space
([√wc·context, √wr·request, √ws·structure], unit length): each cluster's centroid there, its
members' cosine similarities to it, members far below the bulk (robust z-score) dropped to noise,
and a threshold at a low percentile of the remaining members' similarities minus a margin.
Serve-time rule: the most similar centroid wins if the similarity reaches that cluster's
threshold, else -1 (stay on the LLM); confidence rises linearly from 0 at the threshold to 1 at
the median member's similarity. No HDBSCAN object is saved.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file, save_file

from slmconvert.cluster.reduce import PARTS, normalize_rows
from slmconvert.cluster.signature import SignatureOptions
from slmconvert.errors import MissingArtifactError
from slmconvert.util.jsonio import atomic_write_json, read_json

SEED_SCHEMA = "slmconvert.router_seed/1"
CONFIG_FILE = "config.json"
ARRAYS_FILE = "arrays.safetensors"
RULE = ("centroid-cosine in the full signature space: best centroid if similarity >= the cluster's "
        "threshold, else -1; confidence 0 at the threshold, 1 at the median member similarity")
MIN_SPREAD = 0.1  # members within this of the median similarity are never outliers
MAX_KNOWN_CONTEXTS = 4096  # contexts whose embeddings a seed carries, most shared first (6 MB at 384 dims)


@dataclass
class SignatureSpace:
    """How part vectors combine: weights, widths and the structure vocabulary (one-hot order)."""

    weights: tuple[float, float, float]
    widths: tuple[int, int, int]
    structures: list[str]

    def similarities(self, parts: list[np.ndarray], rows: np.ndarray, centroids: np.ndarray) -> np.ndarray:
        """Cosine of each signature (part rows) with each centroid, computed part by part."""
        sims = np.zeros((len(rows), len(centroids)), dtype=np.float64)
        norms = np.zeros(len(rows))
        start = 0
        for i, (matrix, width, weight) in enumerate(zip(parts, self.widths, self.weights, strict=True)):
            block = centroids[:, start:start + width]
            sims += np.sqrt(weight) * (matrix @ block.T)[rows[:, i]]
            norms += weight * np.square(np.linalg.norm(matrix, axis=1))[rows[:, i]]
            start += width
        return sims / np.sqrt(np.maximum(norms, 1e-12))[:, None]

    def keep_together(self, parts: list[np.ndarray], rows: np.ndarray, counts: np.ndarray,
                      similarity: float) -> Callable[[list[np.ndarray]], bool]:
        """A split veto: groups (of signature rows) whose calls are, on average, at least this similar
        across groups (mean pairwise cosine) are one task; a diffuse group of unrelated calls has a
        short mean vector and so never vetoes its own split."""
        def veto(groups: list[np.ndarray]) -> bool:
            means = np.stack([self.mean(parts, rows[g], counts[g].astype(np.float64)) for g in groups])
            cross = means @ means.T
            return bool(cross[~np.eye(len(groups), dtype=bool)].min() >= similarity)

        return veto

    def mean(self, parts: list[np.ndarray], rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """The call-weighted mean of the given signatures' combined (unit) vectors."""
        pieces = []
        for i, (matrix, weight) in enumerate(zip(parts, self.weights, strict=True)):
            mass = np.bincount(rows[:, i], weights=weights, minlength=len(matrix)) / weights.sum()
            pieces.append(np.sqrt(weight) * (mass @ matrix))
        return np.hstack(pieces)

    def centroid(self, parts: list[np.ndarray], rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """The call-weighted mean direction (unit length) of the given signatures."""
        return normalize_rows(self.mean(parts, rows, weights)[None, :])[0]


@dataclass
class ClusterGate:
    """One cluster's acceptance rule."""

    id: int
    label: str
    threshold: float
    median_similarity: float
    calls: int


@dataclass
class RouterSeed:
    """Everything `assign` needs: embedder identity, signature options, space, centroids, gates."""

    embedder_ref: str
    embedder_id: str
    max_seq_length: int
    signature: SignatureOptions
    space: SignatureSpace
    centroids: np.ndarray  # (clusters, sum(widths)), unit rows
    gates: list[ClusterGate] = field(default_factory=list)
    # embeddings of the contexts (system prompt, tools) most of the clustered calls share, by text_digest:
    # a router assigning a call in one of them embeds its request alone (a context is ~6x a request's tokens)
    known_contexts: dict[str, np.ndarray] = field(default_factory=dict)

    def known_context(self, text: str) -> np.ndarray | None:
        """The embedding of context `text` when the clusters were built from calls sharing it."""
        return self.known_contexts.get(text_digest(text)) if self.known_contexts else None

    def save(self, directory: Path) -> None:
        """Write config.json and arrays.safetensors into `directory`."""
        directory.mkdir(parents=True, exist_ok=True)
        width = sum(self.space.widths)  # explicit: with no cluster there are 0 rows and -1 cannot be inferred
        centroids = np.ascontiguousarray(self.centroids.reshape(len(self.gates), width), np.float32)
        arrays = {"centroids": centroids}
        if self.known_contexts:
            digests = sorted(self.known_contexts)
            arrays["context_digests"] = np.array([list(bytes.fromhex(d)) for d in digests], np.uint8)
            arrays["context_vectors"] = np.stack([self.known_contexts[d] for d in digests]).astype(np.float32)
        save_file(arrays, str(directory / ARRAYS_FILE))
        atomic_write_json(directory / CONFIG_FILE, {
            "schema": SEED_SCHEMA,
            "rule": RULE,
            "embedder": {"ref": self.embedder_ref, "id": self.embedder_id, "max_seq_length": self.max_seq_length},
            "signature": asdict(self.signature),
            "space": {"parts": list(PARTS), "weights": list(self.space.weights), "widths": list(self.space.widths),
                      "structures": self.space.structures},
            "clusters": [asdict(g) for g in self.gates],
        })

    @classmethod
    def load(cls, directory: Path) -> RouterSeed:
        """Read a seed written by `save`."""
        directory = Path(directory)
        if not (directory / CONFIG_FILE).exists() or not (directory / ARRAYS_FILE).exists():
            raise MissingArtifactError(
                f"{directory} is not a router seed (config.json / arrays.safetensors missing)",
                hint="run `slmconvert cluster` and pass its router_seed/ directory",
            )
        config: dict[str, Any] = read_json(directory / CONFIG_FILE)
        space = config["space"]
        arrays = load_file(str(directory / ARRAYS_FILE))
        digests, vectors = arrays.get("context_digests"), arrays.get("context_vectors")  # absent in older seeds
        known = {} if digests is None else {bytes(d).hex(): v for d, v in zip(digests, vectors, strict=True)}
        return cls(
            embedder_ref=config["embedder"]["ref"],
            embedder_id=config["embedder"]["id"],
            max_seq_length=int(config["embedder"]["max_seq_length"]),
            signature=SignatureOptions(**config["signature"]),
            space=SignatureSpace(tuple(space["weights"]), tuple(space["widths"]), list(space["structures"])),
            centroids=arrays["centroids"],
            gates=[ClusterGate(**g) for g in config["clusters"]],
            known_contexts=known,
        )


def text_digest(text: str) -> str:
    """sha256 of a signature text (hex): how a seed keys the contexts it knows."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def known_contexts(contexts: list[str], vectors: np.ndarray, calls: np.ndarray,
                   limit: int = MAX_KNOWN_CONTEXTS) -> dict[str, np.ndarray]:
    """The `limit` contexts the most calls share (calls[i]: how many calls have contexts[i]), digest ->
    embedding (vectors[i])."""
    top = np.argsort(-calls, kind="stable")[:limit]
    return {text_digest(contexts[i]): np.asarray(vectors[i], np.float32) for i in top}


def weighted_percentile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The q-th percentile (0-100) of values repeated by their weights."""
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order])
    index = int(np.searchsorted(cum, q / 100.0 * cum[-1]))
    return float(values[order][min(len(order) - 1, index)])


def drop_outliers(space: SignatureSpace, parts: list[np.ndarray], rows: np.ndarray, counts: np.ndarray,
                  labels: np.ndarray, z: float) -> np.ndarray:
    """Labels with members far below their cluster's bulk similarity (robust z-score) set to -1."""
    labels = labels.copy()
    for cid in sorted(int(c) for c in np.unique(labels) if c >= 0):
        members = np.flatnonzero(labels == cid)
        centroid = space.centroid(parts, rows[members], counts[members].astype(np.float64))
        sims = space.similarities(parts, rows[members], centroid[None, :])[:, 0]
        median = weighted_percentile(sims, counts[members], 50.0)
        mad = weighted_percentile(np.abs(sims - median), counts[members], 50.0)
        labels[members[sims < median - max(z * 1.4826 * mad, MIN_SPREAD)]] = -1
    return labels


def calibrate_gates(space: SignatureSpace, parts: list[np.ndarray], rows: np.ndarray, counts: np.ndarray,
                    labels: np.ndarray, percentile: float, margin: float) -> tuple[np.ndarray, list[ClusterGate]]:
    """Full-space centroids and thresholds from the (call-weighted) members of each cluster."""
    ids = sorted(int(c) for c in np.unique(labels) if c >= 0)
    centroids = np.zeros((len(ids), sum(space.widths)), dtype=np.float32)
    gates = []
    for row, cid in enumerate(ids):
        members = np.flatnonzero(labels == cid)
        centroids[row] = space.centroid(parts, rows[members], counts[members].astype(np.float64))
        sims = space.similarities(parts, rows[members], centroids[row][None, :])[:, 0]
        threshold = weighted_percentile(sims, counts[members], percentile) - margin
        median = weighted_percentile(sims, counts[members], 50.0)
        gates.append(ClusterGate(cid, str(cid), round(threshold, 6), round(median, 6), int(counts[members].sum())))
    return centroids, gates


def gate_decisions(sims: np.ndarray, gates: list[ClusterGate]) -> list[tuple[int, float]]:
    """(cluster id or -1, confidence) per row of similarities to the gates' centroids."""
    if not gates or len(sims) == 0:
        return [(-1, 0.0)] * len(sims)
    best = sims.argmax(axis=1)
    out = []
    for i, b in enumerate(best):
        gate, sim = gates[b], float(sims[i, b])
        if sim < gate.threshold:
            out.append((-1, 0.0))
            continue
        span = max(gate.median_similarity - gate.threshold, 1e-6)
        out.append((gate.id, round(min(1.0, max(0.0, (sim - gate.threshold) / span)), 6)))
    return out
