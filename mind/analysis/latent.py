"""``LatentMap``: clusters and a 2-D map of hidden states, as a scikit-learn style estimator.

Pipeline (each step a documented choice, see GUIDE.md section 3 for the measurements behind them):

1. **Reduce** (:class:`~mind.analysis.reduce.Reducer`): z-score every feature, then PCA to ``n_components``
   (default 32) dimensions.
2. **Cluster** in the reduced space with a Dirichlet-process Gaussian mixture (scikit-learn
   ``BayesianGaussianMixture(weight_concentration_prior_type="dirichlet_process")``) with ``max_clusters``
   components and *diagonal* covariances: full covariances over-split and were ~100x slower here. scikit-learn
   stops when the *total* (not per-row) lower bound changes by less than ``tol``, so ``tol`` defaults to
   ``1e-3 * n_rows``. A component is *active* when its posterior weight is at least ``active_weight`` (default
   0.01, i.e. it explains >= 1% of the rows); ``n_active_clusters_`` counts them.
3. **Project** to 2-D for plotting (``projector="umap"``, default, see :mod:`mind.analysis.project`; or ``"pca"``,
   the first two principal components; or ``"none"``). Clusters never come from the 2-D map.
4. **Score** (:func:`~mind.analysis.metrics.cluster_metrics`) against ``labels`` when ``fit`` receives them.
"""

from __future__ import annotations

import time

import numpy as np

from mind.errors import ConfigError, DataError

PROJECTORS = ("umap", "pca", "none")


class LatentMap:
    """Reduce -> DP mixture -> 2-D map. ``fit(X, labels=None)`` returns self.

    Learned state: ``labels_`` (cluster per row, int), ``embedding_`` ((n, 2) float32, or None for
    ``projector="none"``), ``reduced_`` ((n, n_components_) float32), ``weights_`` (mixture weights),
    ``n_active_clusters_``, ``n_clusters_`` (distinct labels actually used), ``metrics_`` (dict; empty without
    labels), ``timings_`` (seconds per stage), ``reducer_``, ``mixture_``, ``projector_``.
    """

    def __init__(
        self,
        n_components: int = 32,
        max_clusters: int = 20,
        covariance_type: str = "diag",
        weight_concentration_prior: float | None = None,
        active_weight: float = 0.01,
        max_iter: int = 200,
        tol: float | None = None,
        standardize: bool = True,
        projector: str = "umap",
        n_neighbors: int = 15,
        min_dist: float = 0.1,
        n_epochs: int = 200,
        umap_max_points: int = 4000,
        transform_epochs: int = 0,
        random_state: int | None = 0,
    ):
        self.n_components = n_components
        self.max_clusters = max_clusters
        self.covariance_type = covariance_type
        self.weight_concentration_prior = weight_concentration_prior
        self.active_weight = active_weight
        self.max_iter = max_iter
        self.tol = tol
        self.standardize = standardize
        self.projector = projector
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.n_epochs = n_epochs
        self.umap_max_points = umap_max_points
        self.transform_epochs = transform_epochs
        self.random_state = random_state

    # ------------------------------------------------------------------ validation
    def _check_params(self) -> None:
        def need(ok: bool, msg: str) -> None:
            if not ok:
                raise ConfigError(f"LatentMap: {msg}")

        need(isinstance(self.n_components, int) and self.n_components >= 2, "n_components must be an int >= 2")
        need(isinstance(self.max_clusters, int) and self.max_clusters >= 1, "max_clusters must be an int >= 1")
        need(self.covariance_type in ("diag", "full", "spherical", "tied"),
             "covariance_type must be diag, full, spherical or tied")
        need(self.weight_concentration_prior is None or self.weight_concentration_prior > 0,
             "weight_concentration_prior must be > 0 or None (1/max_clusters)")
        need(0 <= self.active_weight < 1, "active_weight must be in [0, 1)")
        need(self.projector in PROJECTORS, f"projector must be one of {', '.join(PROJECTORS)}")
        need(isinstance(self.n_neighbors, int) and self.n_neighbors >= 2, "n_neighbors must be an int >= 2")
        need(0 <= self.min_dist <= 1, "min_dist must be in [0, 1]")
        need(isinstance(self.n_epochs, int) and self.n_epochs >= 1, "n_epochs must be an int >= 1")
        need(isinstance(self.umap_max_points, int) and self.umap_max_points >= 10, "umap_max_points must be >= 10")
        need(self.tol is None or self.tol > 0, "tol must be > 0 or None (1e-3 * n_rows)")

    @staticmethod
    def _check_X(X, what: str = "X") -> np.ndarray:
        X = np.asarray(X)
        if X.ndim != 2:
            raise DataError(f"LatentMap: {what} must be a 2-D array (rows x features), got shape {X.shape}")
        if not np.issubdtype(X.dtype, np.number):
            raise DataError(f"LatentMap: {what} must be numeric, got dtype {X.dtype}")
        X = X.astype(np.float32, copy=False)
        if not np.isfinite(X).all():
            raise DataError(f"LatentMap: {what} contains NaN or inf; drop or repair those rows first")
        return X

    # ------------------------------------------------------------------ estimator API
    def fit(self, X, labels=None) -> "LatentMap":
        """Reduce, cluster and project ``X`` (n, d); score against ``labels`` (length n) when given."""
        from sklearn.mixture import BayesianGaussianMixture

        from mind.analysis.metrics import cluster_metrics
        from mind.analysis.project import make_projector
        from mind.analysis.reduce import Reducer

        self._check_params()
        X = self._check_X(X)
        n = X.shape[0]
        if n < 4:
            raise DataError(f"LatentMap: need at least 4 rows to fit, got {n}")
        if labels is not None and len(labels) != n:
            raise DataError(f"LatentMap: labels has {len(labels)} entries but X has {n} rows")
        self.n_features_in_ = X.shape[1]
        self.timings_ = {}

        t = time.perf_counter()
        self.reducer_ = Reducer(self.n_components, self.standardize, self.random_state)
        self.reduced_ = self.reducer_.fit_transform(X)
        self.n_components_ = self.reducer_.n_components_
        self.timings_["reduce"] = time.perf_counter() - t

        t = time.perf_counter()
        k = min(self.max_clusters, n)
        self.mixture_ = BayesianGaussianMixture(
            n_components=k,
            covariance_type=self.covariance_type,
            weight_concentration_prior_type="dirichlet_process",
            weight_concentration_prior=self.weight_concentration_prior,
            max_iter=self.max_iter,
            tol=self.tol if self.tol is not None else 1e-3 * n,
            reg_covar=1e-4,
            random_state=self.random_state,
        )
        import warnings

        from sklearn.exceptions import ConvergenceWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.labels_ = self.mixture_.fit_predict(self.reduced_).astype(np.int64)
        self.weights_ = self.mixture_.weights_.astype(np.float64)
        self.n_active_clusters_ = int(np.sum(self.weights_ >= self.active_weight))
        self.n_clusters_ = int(len(np.unique(self.labels_)))
        self.converged_ = bool(self.mixture_.converged_)
        self.timings_["cluster"] = time.perf_counter() - t

        t = time.perf_counter()
        if self.projector == "none":
            self.projector_ = None
            self.embedding_ = None
        else:
            self.projector_ = make_projector(
                self.projector,
                **(
                    dict(n_neighbors=self.n_neighbors, min_dist=self.min_dist, n_epochs=self.n_epochs,
                         max_points=self.umap_max_points, transform_epochs=self.transform_epochs,
                         random_state=self.random_state)
                    if self.projector == "umap" else {}
                ),
            )
            self.embedding_ = self.projector_.fit_transform(self.reduced_)
        self.timings_["project"] = time.perf_counter() - t

        t = time.perf_counter()
        self.metrics_ = {}
        if labels is not None:
            self.metrics_ = cluster_metrics(labels, self.labels_, self.reduced_, self.random_state)
            self.metrics_["n_active_clusters"] = self.n_active_clusters_
            self.metrics_["n_clusters"] = self.n_clusters_
        self.timings_["metrics"] = time.perf_counter() - t
        return self

    def _fitted(self) -> None:
        if not hasattr(self, "reducer_"):
            raise ConfigError("LatentMap: call fit(X) before transform/predict")

    def _reduce_new(self, X) -> np.ndarray:
        self._fitted()
        X = self._check_X(X, "X_new")
        if X.shape[1] != self.n_features_in_:
            raise DataError(f"LatentMap: X_new has {X.shape[1]} features, the map was fitted on {self.n_features_in_}")
        return self.reducer_.transform(X)

    def reduce(self, X) -> np.ndarray:
        """Rows of ``X`` in the fitted reduced (standardised PCA) space."""
        return self._reduce_new(X)

    def transform(self, X) -> np.ndarray:
        """Project new rows into the fitted 2-D map: (n, 2) float32."""
        Z = self._reduce_new(X)
        if self.projector_ is None:
            raise ConfigError("LatentMap: projector='none' has no 2-D map; use projector='umap' or 'pca'")
        return self.projector_.transform(Z)

    def predict(self, X) -> np.ndarray:
        """Cluster of each new row under the fitted mixture."""
        Z = self._reduce_new(X)
        return self.mixture_.predict(Z).astype(np.int64)

    def fit_predict(self, X, labels=None) -> np.ndarray:
        return self.fit(X, labels).labels_
