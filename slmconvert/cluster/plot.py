"""The 2-D cluster map (PNG): t-SNE of a seeded, call-weighted sample of signature vectors.

Exact t-SNE on a few hundred points costs seconds; Barnes-Hut on thousands costs a minute on two
cores, and a map needs no more points than the eye can tell apart.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

NOISE_COLOR = "#c8c8c8"


def layout_2d(vectors: np.ndarray, seed: int) -> np.ndarray:
    """2-D coordinates: t-SNE for enough points, PCA (or zeros) for tiny inputs."""
    n = len(vectors)
    if n >= 10:
        from sklearn.manifold import TSNE

        perplexity = float(min(30.0, (n - 1) / 3))
        return TSNE(2, init="pca", random_state=seed, perplexity=perplexity, max_iter=300,
                    method="exact").fit_transform(vectors)
    if n >= 3:
        from sklearn.decomposition import PCA

        return PCA(2, random_state=seed).fit_transform(vectors)
    return np.zeros((n, 2))


def sample_rows(counts: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """Up to `limit` signature rows, drawn without replacement in proportion to their calls."""
    if len(counts) <= limit:
        return np.arange(len(counts))
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(len(counts), size=limit, replace=False, p=counts / counts.sum()))


def draw_cluster_map(vectors: np.ndarray, labels: np.ndarray, counts: np.ndarray, names: dict[int, str],
                     path: Path, max_points: int = 600, seed: int = 0) -> int:
    """Write the map PNG to `path`; returns how many signatures were drawn."""
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = sample_rows(counts, max_points, seed)
    xy = layout_2d(vectors[rows], seed)
    lab, size = labels[rows], 6 + 10 * np.sqrt(np.minimum(counts[rows], 100))
    fig = Figure(figsize=(11, 7.5), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    noise = lab < 0
    ax.scatter(xy[noise, 0], xy[noise, 1], s=size[noise], c=NOISE_COLOR, alpha=0.5, linewidths=0,
               label=f"noise ({int(counts[rows][noise].sum())} calls shown)")
    palette = [tuple(c) for c in colormaps["tab20"].colors]
    for cid in sorted(int(c) for c in np.unique(lab) if c >= 0):
        mask = lab == cid
        color = palette[cid % len(palette)]
        short = names.get(cid, str(cid))
        short = short if len(short) <= 60 else short[:57] + "..."
        ax.scatter(xy[mask, 0], xy[mask, 1], s=size[mask], color=color, alpha=0.75, linewidths=0,
                   label=f"{cid}: {short}")
        cx, cy = np.median(xy[mask], axis=0)
        ax.annotate(str(cid), (cx, cy), fontsize=11, weight="bold", ha="center", va="center",
                    bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": color, "alpha": 0.85})
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title("Task clusters (t-SNE of task signatures; marker size ~ calls)")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=7, frameon=False)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", metadata={"Software": None})
    return len(rows)
