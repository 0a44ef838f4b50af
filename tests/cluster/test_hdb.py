"""The weighted HDBSCAN clusterer on synthetic blobs."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from slmconvert.cluster.hdb import cluster_signatures, default_min_cluster_size


def _blobs(n=600, centers=5, seed=0, std=0.4):
    X, y = make_blobs(n_samples=n, centers=centers, n_features=8, cluster_std=std, center_box=(-10, 10),
                      random_state=seed)
    return X.astype(np.float32), y


def test_recovers_blobs_and_orders_ids_by_calls():
    X, y = _blobs()
    weights = np.ones(len(X), dtype=int)
    weights[y == 3] = 4  # blob 3 carries the most calls
    found = cluster_signatures(X, weights, min_cluster_size=40)
    assert adjusted_rand_score(y, found.labels) > 0.95
    assert set(found.labels[y == 3]) == {0}
    assert (found.probabilities[found.labels >= 0] > 0).all()


def test_uniform_noise_is_left_out():
    X, y = _blobs(centers=4)
    rng = np.random.default_rng(1)
    noise = rng.uniform(-15, 15, size=(60, X.shape[1])).astype(np.float32)
    found = cluster_signatures(np.vstack([X, noise]), np.ones(len(X) + 60, dtype=int), min_cluster_size=40)
    noise_labels, noise_probs = found.labels[len(X):], found.probabilities[len(X):]
    assert (noise_labels == -1).mean() > 0.8  # what hdbscan itself gives with min_samples=3
    assert (noise_probs[noise_labels >= 0] < 0.2).all()  # the few caught at a blob's edge are weak members
    assert found.probabilities[:len(X)].mean() > 0.6
    assert adjusted_rand_score(y, found.labels[:len(X)]) > 0.95
    assert (found.probabilities[found.labels < 0] == 0).all()


def test_a_task_of_few_distinct_signatures_but_many_calls_is_found():
    X, y = _blobs(centers=3)
    rng = np.random.default_rng(2)
    heavy = (rng.normal(size=(6, X.shape[1])) * 0.05 + 30).astype(np.float32)  # 6 signatures, 100 calls each
    data = np.vstack([X, heavy])
    weights = np.concatenate([np.ones(len(X), dtype=int), np.full(6, 100)])
    found = cluster_signatures(data, weights, min_cluster_size=60)
    assert len(set(found.labels[len(X):])) == 1 and found.labels[-1] == 0  # 600 calls: the largest task
    too_light = cluster_signatures(data, np.concatenate([np.ones(len(X), dtype=int), np.full(6, 5)]),
                                   min_cluster_size=60)
    assert (too_light.labels[len(X):] == -1).all()  # 30 calls is below the smallest task


def test_min_cluster_size_counts_calls_and_a_single_task_stays_one_cluster():
    X, _ = _blobs(n=200, centers=1)
    one = cluster_signatures(X, np.ones(len(X), dtype=int), min_cluster_size=50)
    assert set(one.labels) == {0}
    none = cluster_signatures(X, np.ones(len(X), dtype=int), min_cluster_size=500)
    assert set(none.labels) == {-1}


def test_a_heavily_repeated_lone_signature_is_its_own_task():
    X, _ = _blobs(centers=3)
    data = np.vstack([X, np.full((1, X.shape[1]), 40.0, dtype=np.float32)])
    weights = np.concatenate([np.ones(len(X), dtype=int), [300]])
    found = cluster_signatures(data, weights, min_cluster_size=40)
    assert found.labels[-1] == 0 and (found.labels[:-1] != 0).all()


def test_a_veto_keeps_subgroups_together():
    X, y = _blobs(n=400, centers=2, std=0.2)
    weights = np.ones(len(X), dtype=int)
    seen = []

    def veto(groups):
        seen.append([len(g) for g in groups])
        return True

    split = cluster_signatures(X, weights, min_cluster_size=40)
    merged = cluster_signatures(X, weights, min_cluster_size=40, keep_together=veto)
    assert len(set(split.labels) - {-1}) == 2
    assert set(merged.labels) == {0}
    assert seen and all(sum(sizes) <= len(X) and min(sizes) >= 1 for sizes in seen)


def test_subsampled_fit_matches_and_is_deterministic():
    X, y = _blobs(n=900)
    weights = np.ones(len(X), dtype=int)
    full = cluster_signatures(X, weights, min_cluster_size=60)
    sampled = cluster_signatures(X, weights, min_cluster_size=60, max_points=300, seed=3)
    again = cluster_signatures(X, weights, min_cluster_size=60, max_points=300, seed=3)
    assert adjusted_rand_score(full.labels, sampled.labels) > 0.95
    assert (sampled.labels == again.labels).all() and sampled.fitted_points == 300


def test_default_min_cluster_size_scales_with_data():
    assert default_min_cluster_size(500) == 20
    assert default_min_cluster_size(5000) == 50
    assert default_min_cluster_size(10**7) == 1000
