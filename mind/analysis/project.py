"""2-D projections of the reduced space: UMAP (default) or the first two principal components.

``UmapProjector`` is umap-learn's layout on an exact kNN graph (:func:`mind.analysis.knn.exact_knn`) instead of
umap's own pynndescent search, which recompiles in every process. Above ``max_points`` rows it fits UMAP on a
random subset of ``max_points`` landmarks and places every other row with :meth:`UmapProjector.transform`: the
UMAP transform rule (fuzzy membership weights of the row's k nearest landmarks, then the weighted mean of their
positions), optionally followed by ``transform_epochs`` of umap's layout optimisation with the landmarks fixed.
The layout cost grows linearly with the rows it optimises, so landmarks bound the cost of large inputs; clusters
and metrics never use the 2-D map (UMAP distorts density), only the plot does.
"""

from __future__ import annotations

import warnings

import numpy as np

from mind.analysis.knn import exact_knn


class PcaProjector:
    """The first two coordinates of the reduced (already PCA-rotated) space: instant, linear, faithful to scale."""

    def fit_transform(self, Z: np.ndarray) -> np.ndarray:
        self.dims_ = min(2, Z.shape[1])
        return self.transform(Z)

    def transform(self, Z: np.ndarray) -> np.ndarray:
        out = np.zeros((Z.shape[0], 2), dtype=np.float32)
        out[:, : self.dims_] = Z[:, : self.dims_]
        return out


class UmapProjector:
    """UMAP fitted on at most ``max_points`` landmark rows; the rest placed by the UMAP transform rule."""

    def __init__(
        self,
        n_neighbors: int = 15,
        min_dist: float = 0.1,
        n_epochs: int = 200,
        max_points: int = 4000,
        transform_epochs: int = 0,
        init: str = "pca",
        random_state: int | None = 0,
    ):
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.n_epochs = n_epochs
        self.max_points = max_points
        self.transform_epochs = transform_epochs
        self.init = init
        self.random_state = random_state

    def fit_transform(self, Z: np.ndarray) -> np.ndarray:
        from mind.analysis.numba_cache import import_umap

        umap = import_umap()
        Z = np.ascontiguousarray(Z, dtype=np.float32)
        n = Z.shape[0]
        rng = np.random.default_rng(self.random_state)
        if n > self.max_points:
            self.landmarks_ = np.sort(rng.choice(n, size=self.max_points, replace=False))
        else:
            self.landmarks_ = np.arange(n)
        L = Z[self.landmarks_]
        k = int(max(2, min(self.n_neighbors, len(L) - 1)))
        idx, dist = exact_knn(L, L, k)
        self.model_ = umap.UMAP(
            n_neighbors=k,
            min_dist=self.min_dist,
            n_epochs=self.n_epochs,
            init=self.init if len(L) > 3 and L.shape[1] >= 2 else "random",  # pca init needs >= 2 dims
            random_state=self.random_state,
            n_jobs=1 if self.random_state is not None else -1,
            precomputed_knn=(idx, dist, None),
            transform_seed=self.random_state if self.random_state is not None else 42,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "no search index: transform unavailable" - we transform ourselves
            emb = self.model_.fit_transform(L)
        self.reference_ = L
        self.reference_embedding_ = np.ascontiguousarray(emb, dtype=np.float32)
        self.k_ = k
        out = np.empty((n, 2), dtype=np.float32)
        out[self.landmarks_] = self.reference_embedding_
        rest = np.setdiff1d(np.arange(n), self.landmarks_, assume_unique=True)
        if len(rest):
            out[rest] = self.transform(Z[rest])
        return out

    def transform(self, Z: np.ndarray) -> np.ndarray:
        """Place new rows of the reduced space into the fitted map (deterministic for a fixed ``random_state``)."""
        import scipy.sparse
        from umap.umap_ import compute_membership_strengths, smooth_knn_dist

        Z = np.ascontiguousarray(Z, dtype=np.float32)
        if Z.shape[0] == 0:
            return np.zeros((0, 2), dtype=np.float32)
        idx, dist = exact_knn(Z, self.reference_, self.k_)
        sigmas, rhos = smooth_knn_dist(dist, float(self.k_), local_connectivity=0.0)
        rows, cols, vals, _ = compute_membership_strengths(idx, dist, sigmas, rhos, bipartite=True)
        graph = scipy.sparse.csr_matrix((vals, (rows, cols)), shape=(Z.shape[0], self.reference_.shape[0]))
        weights = np.asarray(graph.sum(axis=1)).ravel()
        emb = np.asarray(graph @ self.reference_embedding_) / np.maximum(weights, 1e-12)[:, None]
        emb = emb.astype(np.float32)
        if self.transform_epochs > 0:
            emb = self._refine(emb, graph.tocoo())
        return emb

    def _refine(self, emb: np.ndarray, graph) -> np.ndarray:
        from umap.layouts import optimize_layout_euclidean
        from umap.umap_ import make_epochs_per_sample

        n_epochs = int(self.transform_epochs)
        graph.data[graph.data < graph.data.max() / float(n_epochs)] = 0.0
        graph.eliminate_zeros()
        rng = np.random.RandomState(self.random_state)
        rng_state = rng.randint(np.iinfo(np.int32).min + 1, np.iinfo(np.int32).max - 1, 3).astype(np.int64)
        return optimize_layout_euclidean(
            emb,
            self.reference_embedding_.copy(),
            graph.row,
            graph.col,
            n_epochs,
            self.reference_.shape[0],
            make_epochs_per_sample(graph.data, n_epochs),
            self.model_._a,
            self.model_._b,
            rng_state,
            1.0,
            self.model_._initial_alpha / 4.0,
            5,
            False,
            move_other=False,
        ).astype(np.float32)


def make_projector(name: str, **kwargs):
    """``"umap"`` -> :class:`UmapProjector` (kwargs passed on), ``"pca"`` -> :class:`PcaProjector`."""
    if name == "umap":
        return UmapProjector(**kwargs)
    if name == "pca":
        return PcaProjector()
    raise ValueError(f"unknown projector {name!r}")
