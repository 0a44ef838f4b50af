"""Cluster test helpers: a fast deterministic embedder and a workspace with a curate artifact."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import HashingVectorizer

from slmconvert.cluster.synthetic import agent_task, synthetic_calls
from slmconvert.util.jsonio import atomic_write_json
from slmconvert.util.tables import write_table
from slmconvert.workspace import MANIFEST, Workspace, new_version_id


class HashingEmbedder:
    """Word uni/bi-gram hashing + a seeded random projection: cheap, deterministic, normalised."""

    model_id = "test-hashing-128"

    def __init__(self, dim: int = 128) -> None:
        self.vectorizer = HashingVectorizer(n_features=4096, ngram_range=(1, 2), alternate_sign=False, norm="l2")
        self.projection = np.random.default_rng(0).normal(size=(4096, dim)).astype(np.float32)
        self.calls = 0
        self.texts_encoded = 0

    def encode(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        self.texts_encoded += len(texts)
        dense = self.vectorizer.transform(texts) @ self.projection
        norms = np.linalg.norm(dense, axis=1, keepdims=True)
        return (dense / np.where(norms > 0, norms, 1)).astype(np.float32)


@pytest.fixture
def embedder() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture(scope="session")
def calls_3k() -> list[dict]:
    return synthetic_calls(2400, seed=1)


def coarse_task(record: dict) -> str:
    return agent_task(record)


def publish_curate(workspace: Workspace, records: list[dict], filtered: int = 0):
    """A published curate version whose curated.parquet holds the records (plus filtered rows)."""
    version = new_version_id()
    tmp = workspace.new_temp_dir("curate", version)
    rows = [{**r, "status": "kept", "reason": None} for r in records]
    rows += [{**records[i], "call_id": f"sha256:filtered{i}", "status": "filtered", "reason": "error"}
             for i in range(filtered)]
    write_table(tmp / "curated.parquet", rows)
    atomic_write_json(tmp / MANIFEST, {"stage": "curate", "version": version, "created_at": version, "inputs": {}})
    return workspace.publish("curate", version, tmp)
