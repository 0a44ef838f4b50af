"""Sentence embeddings of signature parts: each distinct text encoded once, cached across runs
(the embedding model itself is slmconvert.models.embedder's, shared with the router and evaluation)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from slmconvert.cluster.cache import EmbeddingCache, cache_key
from slmconvert.models.embedder import Embedder

CHUNK = 256

Advance = Callable[[int], None]


def embed_unique(
    texts: list[str],
    embedder: Embedder,
    cache_root: Path | None = None,
    advance: Advance | None = None,
) -> tuple[np.ndarray, int]:
    """Embeddings of distinct texts (row i for texts[i]) and how many came from the cache."""
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
    for start in range(0, len(missing), CHUNK):
        chunk = missing[start:start + CHUNK]
        vectors = embedder.encode([texts[i] for i in chunk])
        fresh.update((keys[i], v) for i, v in zip(chunk, vectors, strict=True))
        if advance is not None:
            advance(len(chunk))
    if cache is not None and fresh:
        new_keys = sorted(fresh)
        cache.put(new_keys, np.stack([fresh[k] for k in new_keys]))
    if not texts:
        return np.zeros((0, 0), dtype=np.float32), 0
    table = {**cached, **fresh}
    return np.stack([table[k] for k in keys]).astype(np.float32), len(texts) - len(missing)
