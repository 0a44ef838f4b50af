"""Assign new calls to the clusters of a router seed: (cluster_id, confidence), -1 = stay on the LLM.

Used by iterate and the router. The rule (full-space centroid cosine against calibrated per-cluster
thresholds) is documented in slmconvert.cluster.seed.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np

from slmconvert.cluster.featurize import signature_set
from slmconvert.cluster.reduce import one_hot
from slmconvert.cluster.seed import RouterSeed, gate_decisions
from slmconvert.errors import ConfigError
from slmconvert.models.embedder import Embedder, SentenceEmbedder

MEMO_LIMIT = 50000


class ClusterAssigner:
    """A loaded router seed plus its embedder; keeps part projections memoised between calls."""

    def __init__(self, seed: RouterSeed, embedder: Embedder | None = None) -> None:
        self.seed = seed
        self.embedder = embedder or SentenceEmbedder(seed.embedder_ref, max_seq_length=seed.max_seq_length)
        if self.embedder.model_id != seed.embedder_id:
            raise ConfigError(
                f"embedder {self.embedder.model_id!r} differs from the seed's {seed.embedder_id!r}",
                hint="assign with the embedding model the clusters were built with, or rerun cluster",
            )
        self._memo: dict[str, OrderedDict[str, np.ndarray]] = {"context": OrderedDict(), "request": OrderedDict()}

    @classmethod
    def load(cls, seed_dir: Path, embedder: Embedder | None = None) -> ClusterAssigner:
        """Load `router_seed/` as written by the cluster stage."""
        return cls(RouterSeed.load(Path(seed_dir)), embedder)

    @property
    def cluster_ids(self) -> list[int]:
        return [g.id for g in self.seed.gates]

    def warm_up(self) -> None:
        """Load the embedding model and run its first pass now, so that the first request served does
        not pay for it (it took 126 ms on a 2-core AMD EPYC, the next ones 11); nothing is memoised."""
        self.embedder.encode(["warm-up"])

    def _embed(self, parts: dict[str, list[str]]) -> dict[str, np.ndarray]:
        """Vectors of each part's texts: memoised, a context the seed knows, else encoded, all in one
        call (one forward pass for a single new call's context and request: a short pass's fixed cost
        is most of it)."""
        for text in dict.fromkeys(parts.get("context", [])):
            if text not in self._memo["context"] and (known := self.seed.known_context(text)) is not None:
                self._memo["context"][text] = known
        missing = [(part, text) for part, texts in parts.items() for text in dict.fromkeys(texts)
                   if text not in self._memo[part]]
        if missing:
            vectors = self.embedder.encode([text for _, text in missing])
            for (part, text), vector in zip(missing, vectors, strict=True):
                self._memo[part][text] = vector
            for memo in self._memo.values():
                while len(memo) > MEMO_LIMIT:
                    memo.popitem(last=False)
        return {part: np.stack([self._memo[part][t] for t in texts]) if texts else np.zeros((0, 1), np.float32)
                for part, texts in parts.items()}

    def similarities(self, records: list[dict]) -> np.ndarray:
        """Cosine similarity of each record's signature with each cluster centroid (records × clusters)."""
        sigs = signature_set(records, self.seed.signature)
        if not len(sigs):
            return np.zeros((0, len(self.seed.gates)))
        space = self.seed.space
        vectors = self._embed({"context": sigs.contexts, "request": sigs.requests})
        parts = [vectors["context"], vectors["request"], one_hot(sigs.structures, space.structures)]
        return space.similarities(parts, sigs.rows, self.seed.centroids)[sigs.call_signature]

    def assign(self, records: list[dict]) -> list[tuple[int, float]]:
        """(cluster_id, confidence) per record; -1 with confidence 0.0 when no cluster accepts it."""
        if not self.seed.gates:
            return [(-1, 0.0)] * len(records)
        return gate_decisions(self.similarities(records), self.seed.gates)


def assign(records: list[dict], seed_dir: Path, embedder: Embedder | None = None) -> list[tuple[int, float]]:
    """One-shot assignment; keep a ClusterAssigner when assigning repeatedly."""
    return ClusterAssigner.load(seed_dir, embedder).assign(records)
