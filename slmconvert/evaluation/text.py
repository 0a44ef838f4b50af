"""Free-text similarity: ROUGE-L (rouge-score); the embedding cosine is slmconvert.models.embedder.pairwise_cosine."""

from __future__ import annotations

from functools import lru_cache
from typing import Any


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
