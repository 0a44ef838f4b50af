"""Cluster keywords by class-based TF-IDF over signatures, and readable, deterministic labels."""

from __future__ import annotations

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

# Signature field names and mask tags say nothing about one task in particular.
_STRUCTURAL = {
    "format", "tools", "tool", "schema", "system", "request", "after", "set", "json", "text",
    "num", "id", "date", "time", "email", "url", "empty", "unknown",
}
_TOKEN = r"(?u)\b[a-zA-Z][a-zA-Z0-9_]{2,}\b"


def ctfidf_keywords(texts: list[str], labels: np.ndarray, weights: np.ndarray, top_k: int) -> dict[int, list[str]]:
    """Top keywords per cluster id: c-TF-IDF of call-weighted signature term counts."""
    ids = sorted(int(c) for c in np.unique(labels) if c >= 0)
    if not ids:
        return {}
    vectorizer = CountVectorizer(token_pattern=_TOKEN, stop_words=sorted(ENGLISH_STOP_WORDS | _STRUCTURAL),
                                 lowercase=True)
    try:
        counts = vectorizer.fit_transform(texts)
    except ValueError:  # only stop words
        return {c: [] for c in ids}
    vocab = vectorizer.get_feature_names_out()
    rows = np.flatnonzero(labels >= 0)
    position = {c: i for i, c in enumerate(ids)}
    membership = sparse.csr_matrix(
        (weights[rows].astype(np.float64), ([position[int(labels[r])] for r in rows], rows)),
        shape=(len(ids), len(texts)),
    )
    class_terms = (membership @ counts).toarray()
    totals = class_terms.sum(axis=1, keepdims=True)
    tf = class_terms / np.where(totals > 0, totals, 1.0)
    avg_words = class_terms.sum() / len(ids)
    idf = np.log1p(avg_words / np.maximum(class_terms.sum(axis=0), 1e-12))
    scores = tf * idf
    out = {}
    for row, cid in enumerate(ids):
        order = np.lexsort((vocab, -scores[row]))  # by score, then alphabetically
        out[cid] = [str(vocab[j]) for j in order[:top_k] if scores[row, j] > 0]
    return out


def readable_label(output_type: str, tools: list[str], keywords: list[str], phrase: str) -> str:
    """`tool_call: lookup_order, track_shipment — "where is my order"` style label."""
    subject = ", ".join(tools[:2]) if tools else ", ".join(keywords[:3]) or "misc"
    phrase = " ".join(phrase.replace('"', "'").split()[:8]).rstrip(" …")
    return f'{output_type}: {subject} — "{phrase}"' if phrase else f"{output_type}: {subject}"
