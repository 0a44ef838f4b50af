"""Sentence embeddings of signature parts: each distinct text encoded once, cached across runs
(the embedding model itself is slmconvert.models.embedder's, shared with the router and evaluation)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from slmconvert.cluster.cache import EmbeddingCache, cache_key
from slmconvert.engine.base import Engine
from slmconvert.models.embedder import Embedder

CHUNK = 256

Advance = Callable[[int], None]


class EncodeBatch:
    """Engine batch function: each worker holds the embedder and loads its model on first use."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def __call__(self, texts: list[str]) -> list[np.ndarray]:
        return list(self.embedder.encode(texts))


def embed_unique(
    texts: list[str],
    embedder: Embedder,
    cache_root: Path | None = None,
    advance: Advance | None = None,
    engine: Engine | None = None,
) -> tuple[np.ndarray, int]:
    """Embeddings of distinct texts (row i for texts[i]) and how many came from the cache.

    The texts not cached are encoded CHUNK at a time by `engine` (this process by default)."""
    keys = [cache_key(embedder.model_id, t) for t in texts]
    cached: dict[str, np.ndarray] = {}
    cache = None
    if cache_root is not None and texts:
        cache = EmbeddingCache(cache_root)
        cached = cache.get(keys)
    missing = sorted({i for i, k in enumerate(keys) if k not in cached}, key=lambda i: (len(texts[i]), i))
    if advance is not None and len(missing) < len(texts):
        advance(len(texts) - len(missing))
    fresh: dict[str, np.ndarray] = {}
    engine = engine or Engine()
    done = 0
    for vectors in engine.map_items(EncodeBatch, [texts[i] for i in missing], CHUNK, (embedder,)):
        chunk = missing[done:done + len(vectors)]
        fresh.update((keys[i], v) for i, v in zip(chunk, vectors, strict=True))
        done += len(vectors)
        if advance is not None:
            advance(len(chunk))
    if cache is not None and fresh:
        new_keys = sorted(fresh)
        cache.put(new_keys, np.stack([fresh[k] for k in new_keys]))
    if not texts:
        return np.zeros((0, 0), dtype=np.float32), 0
    table = {**cached, **fresh}
    return np.stack([table[k] for k in keys]).astype(np.float32), len(texts) - len(missing)
