"""Cluster assignment that reuses the cluster stage's embedding cache (by content hash), so calls
whose signature parts were embedded before cost nothing to assign again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


class CachedEmbedder:
    """Wraps an embedder so that encode() reads and fills the workspace embedding cache."""

    def __init__(self, inner: Any, cache_root: Path) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.cache_root = Path(cache_root)

    def encode(self, texts: list[str]) -> np.ndarray:
        from slmconvert.cluster.embed import embed_unique

        return embed_unique(list(texts), self.inner, self.cache_root)[0]


def cached_assigner(seed_dir: Path, cache_root: Path | None) -> Any:
    """A ClusterAssigner for `seed_dir`, with the embedding cache when `cache_root` is given."""
    from slmconvert.cluster.assign import ClusterAssigner
    from slmconvert.cluster.seed import RouterSeed
    from slmconvert.models.embedder import SentenceEmbedder

    seed = RouterSeed.load(Path(seed_dir))
    if cache_root is None:
        return ClusterAssigner(seed)
    inner = SentenceEmbedder(seed.embedder_ref, max_seq_length=seed.max_seq_length)
    return ClusterAssigner(seed, CachedEmbedder(inner, cache_root))
