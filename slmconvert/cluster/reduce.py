"""Signature vectors: weighted parts in one space, reduced by PCA, re-normalised.

The combined vector of a signature is [√wc·context, √wr·request, √ws·onehot(structure)] with
unit-length parts, so the cosine of two signatures is wc·cos(context) + wr·cos(request) +
ws·[same structure]. PCA is linear, so a combined vector's projection is the sum of its parts'
projections: each distinct part is projected once and the wide combined matrix is only built
for PCA's fitting sample.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

FIT_ROWS = 20000
PARTS = ("context", "request", "structure")


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def one_hot(keys: list[str], vocabulary: list[str]) -> np.ndarray:
    """One row per key; a key outside the vocabulary is a zero row (a structure never seen)."""
    index = {k: i for i, k in enumerate(vocabulary)}
    matrix = np.zeros((len(keys), max(1, len(vocabulary))), dtype=np.float32)
    for row, key in enumerate(keys):
        if key in index:
            matrix[row, index[key]] = 1.0
    return matrix


@dataclass
class Reducer:
    """Part weights and widths, the structure vocabulary, and a fitted PCA."""

    weights: tuple[float, float, float]
    widths: tuple[int, int, int]
    components: np.ndarray  # (k, sum(widths))
    mean: np.ndarray  # (sum(widths),)
    structures: list[str] = field(default_factory=list)

    def project(self, part: int, matrix: np.ndarray) -> np.ndarray:
        """A part's share of the reduced vectors, for rows of that part."""
        start = sum(self.widths[:part])
        block = self.components[:, start:start + self.widths[part]]
        return np.sqrt(self.weights[part]) * (matrix @ block.T)

    def transform(self, projections: list[np.ndarray], rows: np.ndarray) -> np.ndarray:
        """Reduced, L2-normalised vectors of signatures given as (context, request, structure) rows."""
        reduced = sum(p[rows[:, i]] for i, p in enumerate(projections)) - self.mean @ self.components.T
        return normalize_rows(reduced)

    def reduce(self, parts: list[np.ndarray], rows: np.ndarray) -> np.ndarray:
        """Project each part once, then combine per signature."""
        return self.transform([self.project(i, m) for i, m in enumerate(parts)], rows)


def combine(parts: list[np.ndarray], rows: np.ndarray, weights: tuple[float, ...]) -> np.ndarray:
    """Weighted concatenation of part vectors for the given signature rows."""
    return np.hstack([np.sqrt(w) * m[rows[:, i]] for i, (m, w) in enumerate(zip(parts, weights, strict=True))])


def weighted_pca(sample: np.ndarray, weights: np.ndarray, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(components (k, d), mean (d,)) of rows weighted by their call counts, with a fixed sign.

    The top-k right singular vectors of the weighted, centred rows (randomized SVD, seeded), i.e.
    the leading eigenvectors of the call-weighted covariance, without a full d×d decomposition.
    """
    from sklearn.utils.extmath import randomized_svd

    w = weights.astype(np.float64) / weights.sum()
    mean = w @ sample
    scaled = (sample - mean) * np.sqrt(w)[:, None]
    _, _, components = randomized_svd(scaled, n_components=k, n_iter=7, random_state=seed)
    signs = np.sign(components[np.arange(len(components)), np.abs(components).argmax(axis=1)])
    return (components * signs[:, None]).astype(np.float32), mean.astype(np.float32)


def fit_reducer(parts: list[np.ndarray], rows: np.ndarray, counts: np.ndarray, weights: tuple[float, float, float],
                structures: list[str], n_components: int, seed: int) -> Reducer:
    """Call-weighted PCA over the signatures' combined vectors (a seeded, call-weighted sample when
    many): a signature repeated by thousands of calls shapes the space more than a one-off."""
    sample_rows = np.arange(len(rows))
    sample_weights = counts.astype(np.float64)
    if len(sample_rows) > FIT_ROWS:
        rng = np.random.default_rng(seed)
        sample_rows = np.sort(rng.choice(len(rows), size=FIT_ROWS, replace=False, p=counts / counts.sum()))
        sample_weights = np.ones(FIT_ROWS)  # drawn in proportion to calls already
    sample = combine(parts, rows[sample_rows], weights).astype(np.float64)
    widths = tuple(int(m.shape[1]) for m in parts)
    k = max(1, min(n_components, sample.shape[0] - 1, sample.shape[1]))
    if sample.shape[0] < 2:
        return Reducer(weights, widths, np.eye(1, sample.shape[1], dtype=np.float32),
                       np.zeros(sample.shape[1], np.float32), structures)
    components, mean = weighted_pca(sample, sample_weights, k, seed)
    return Reducer(weights, widths, components, mean, structures)
