"""Embedding cache keyed by content hash, stored as .npy shards (no pickle) that survive versions.

Each run that computes new vectors adds one shard: `<id>.npy` (float32 rows) and `<id>.keys`
(one hex key per row, written last so a shard without keys is ignored). Lookups read only the
key files and then the rows they need through a memory map.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from slmconvert.util.jsonio import atomic_write_text

COMPACT_AFTER_SHARDS = 32


def cache_key(model_id: str, text: str) -> str:
    """Hex sha256 of the model id and the text: the same text under another model is a miss."""
    return hashlib.sha256(f"{model_id}\n{text}".encode()).hexdigest()


class EmbeddingCache:
    """Maps content keys to vectors in a directory of shards."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _shards(self) -> list[Path]:
        return sorted(p for p in self.root.glob("*.keys") if p.with_suffix(".npy").exists())

    def get(self, keys: list[str]) -> dict[str, np.ndarray]:
        """Vectors for the keys that are cached (copied out of the shards)."""
        wanted = set(keys)
        found: dict[str, np.ndarray] = {}
        for keys_path in self._shards():
            if not wanted:
                break
            shard_keys = keys_path.read_text().split()
            rows = [(i, k) for i, k in enumerate(shard_keys) if k in wanted]
            if not rows:
                continue
            matrix = np.load(keys_path.with_suffix(".npy"), mmap_mode="r", allow_pickle=False)
            if matrix.ndim != 2 or matrix.shape[0] != len(shard_keys):
                continue  # a foreign or damaged shard: ignore, the vectors are recomputed
            for i, key in rows:
                found[key] = np.array(matrix[i], dtype=np.float32)
                wanted.discard(key)
        return found

    def put(self, keys: list[str], vectors: np.ndarray) -> None:
        """Add a shard of new vectors; compacts when shards pile up."""
        if not keys:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        shard = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]
        self._write(shard, keys, vectors)
        if len(self._shards()) > COMPACT_AFTER_SHARDS:
            self.compact()

    def _write(self, shard: str, keys: list[str], vectors: np.ndarray) -> None:
        npy = self.root / f"{shard}.npy"
        tmp = self.root / f".{shard}.{os.getpid()}.npy"
        np.save(tmp, vectors, allow_pickle=False)
        os.replace(tmp, npy)
        atomic_write_text(self.root / f"{shard}.keys", "\n".join(keys) + "\n")

    def compact(self) -> None:
        """Merge all shards into one (deduplicated by key; keys carry the model id, so one dim)."""
        shards = self._shards()
        merged: dict[str, np.ndarray] = {}
        for keys_path in shards:
            shard_keys = keys_path.read_text().split()
            matrix = np.load(keys_path.with_suffix(".npy"), allow_pickle=False)
            if matrix.ndim == 2 and matrix.shape[0] == len(shard_keys):
                merged.update(zip(shard_keys, matrix, strict=True))
        keys = sorted(merged)
        shard = "merged-" + hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]
        if not keys:
            return
        self._write(shard, keys, np.stack([merged[k] for k in keys]))
        for keys_path in shards:
            if keys_path.stem != shard:
                keys_path.unlink(missing_ok=True)
                keys_path.with_suffix(".npy").unlink(missing_ok=True)

