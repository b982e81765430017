"""LatentMap: planted clusters are recovered, estimator contract, determinism, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from mind.analysis import LatentMap, cluster_metrics, planted_clusters
from mind.analysis.knn import exact_knn
from mind.errors import ConfigError, DataError

METRIC_KEYS = {"ari", "nmi", "ami", "homogeneity", "completeness", "silhouette", "n_active_clusters", "n_clusters"}


@pytest.fixture(scope="module")
def planted():
    return planted_clusters(n=1200, d=64, k=6, seed=1)


def test_recovers_planted_clusters_and_counts_them(planted):
    X, y = planted
    lm = LatentMap(projector="pca", max_clusters=15)
    assert lm.fit(X, y) is lm
    assert lm.metrics_["ari"] >= 0.9
    assert lm.n_active_clusters_ == 6
    assert lm.labels_.shape == (1200,) and lm.embedding_.shape == (1200, 2)
    assert set(lm.metrics_) == METRIC_KEYS
    assert lm.reduced_.shape == (1200, 32)


@pytest.mark.parametrize("k", [3, 10])
def test_active_cluster_count_follows_the_data(k):
    X, y = planted_clusters(n=900, d=64, k=k, seed=2)
    lm = LatentMap(projector="none", max_clusters=12).fit(X, y)
    assert lm.n_active_clusters_ == k and lm.metrics_["ari"] >= 0.9
    assert lm.embedding_ is None


def test_predict_and_transform_new_points(planted):
    X, y = planted
    lm = LatentMap(projector="pca").fit(X[:1000], y[:1000])
    pred = lm.predict(X[1000:])
    # clusters of new points agree with the planted labels up to renaming
    assert cluster_metrics(y[1000:], pred)["ari"] >= 0.9
    xy = lm.transform(X[1000:])
    assert xy.shape == (200, 2) and xy.dtype == np.float32
    # a fitted row maps where fit put it
    np.testing.assert_allclose(lm.transform(X[:5]), lm.embedding_[:5], atol=1e-4)


def test_deterministic_with_random_state(planted):
    X, y = planted
    a = LatentMap(projector="pca", random_state=3).fit(X, y)
    b = LatentMap(projector="pca", random_state=3).fit(X, y)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.embedding_, b.embedding_)
    assert a.metrics_ == b.metrics_


def test_no_labels_gives_no_metrics(planted):
    X, _ = planted
    lm = LatentMap(projector="none").fit(X)
    assert lm.metrics_ == {} and lm.n_active_clusters_ >= 1


@pytest.mark.slow  # the first umap fit in a process loads (or, with an empty numba cache, compiles) its kernels
def test_umap_projection_separates_clusters_and_is_deterministic():
    """One UMAP test: landmarks + placed rows, deterministic, clusters compact in 2-D, transform consistent."""
    X, y = planted_clusters(n=700, d=32, k=4, seed=4)
    kw = dict(projector="umap", umap_max_points=400, n_epochs=60, random_state=0)
    a = LatentMap(**kw).fit(X, y)
    b = LatentMap(**kw).fit(X, y)
    assert a.embedding_.shape == (700, 2) and np.isfinite(a.embedding_).all()
    np.testing.assert_array_equal(a.embedding_, b.embedding_)
    assert len(a.projector_.landmarks_) == 400
    # 2-D silhouette of the planted labels: clusters stay apart in the map, placed rows included
    from sklearn.metrics import silhouette_score

    assert silhouette_score(a.embedding_, y) > 0.5
    # transform of rows that were placed (not landmarks) reproduces their fitted position
    rest = np.setdiff1d(np.arange(700), a.projector_.landmarks_)[:20]
    np.testing.assert_allclose(a.transform(X[rest]), a.embedding_[rest], atol=1e-3)
    # new points land next to their own cluster
    Xn, yn = X[:50] + np.random.default_rng(0).normal(scale=0.05, size=(50, 32)).astype(np.float32), y[:50]
    xy = a.transform(Xn)
    centres = np.stack([a.embedding_[y == c].mean(0) for c in range(4)])
    nearest = np.argmin(((xy[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
    assert (nearest == yn).mean() >= 0.9


def test_exact_knn_matches_brute_force():
    rng = np.random.default_rng(0)
    A, B = rng.normal(size=(50, 5)).astype(np.float32), rng.normal(size=(70, 5)).astype(np.float32)
    idx, dist = exact_knn(A, B, 4, block=16)
    full = np.linalg.norm(A[:, None] - B[None], axis=-1)
    np.testing.assert_array_equal(idx, np.argsort(full, axis=1)[:, :4])
    np.testing.assert_allclose(dist, np.sort(full, axis=1)[:, :4], rtol=1e-4, atol=1e-4)
    self_idx, self_dist = exact_knn(A, A, 3)
    assert (self_idx[:, 0] == np.arange(50)).all() and np.allclose(self_dist[:, 0], 0, atol=1e-3)


def test_metrics_of_a_perfect_and_an_over_split_clustering():
    y = np.repeat([0, 1, 2], 20)
    perfect = cluster_metrics(y, y + 7)
    assert perfect["ari"] == pytest.approx(1.0) and perfect["ami"] == pytest.approx(1.0)
    split = cluster_metrics(y, np.arange(60) // 10)  # every perspective cut in two
    assert split["homogeneity"] == pytest.approx(1.0) and split["completeness"] < 0.8


@pytest.mark.parametrize(
    "kwargs, exc",
    [
        (dict(projector="tsne"), ConfigError),
        (dict(max_clusters=0), ConfigError),
        (dict(covariance_type="banana"), ConfigError),
        (dict(n_components=0), ConfigError),
        (dict(n_components=2.5), ConfigError),
        (dict(max_iter=0), ConfigError),
    ],
)
def test_bad_parameters_raise_config_error(kwargs, exc, planted):
    with pytest.raises(exc, match="LatentMap"):
        LatentMap(**kwargs).fit(planted[0][:50])


def test_bad_input_raises_data_error():
    with pytest.raises(DataError, match="Expected 2D array"):
        LatentMap().fit(np.zeros(10))
    X = np.ones((20, 4), dtype=np.float32)
    X[3, 1] = np.nan
    with pytest.raises(DataError, match="NaN"):
        LatentMap(projector="pca").fit(X)
    with pytest.raises(DataError, match="labels"):
        LatentMap(projector="pca").fit(np.random.rand(20, 4), y=[0, 1])
    lm = LatentMap(projector="pca").fit(np.random.rand(30, 4))
    with pytest.raises(DataError, match="features"):
        lm.transform(np.random.rand(3, 5))
    with pytest.raises(ConfigError, match="fit"):
        LatentMap().predict(np.random.rand(3, 4))
