"""``LatentMap``: clusters and a 2-D map of hidden states, as a scikit-learn estimator.

Pipeline (each step a documented choice, see GUIDE.md section 3 for the measurements behind them):

1. **Reduce** (:class:`~mind.analysis.reduce.Reducer`): z-score every feature, then PCA to ``n_components``
   (default 32) dimensions.
2. **Cluster** in the reduced space with a Dirichlet-process Gaussian mixture (scikit-learn
   ``BayesianGaussianMixture(weight_concentration_prior_type="dirichlet_process")``) with ``max_clusters``
   components and *diagonal* covariances: full covariances over-split and were ~100x slower here. scikit-learn
   stops when the *total* (not per-row) lower bound changes by less than ``tol``, so ``tol`` defaults to
   ``1e-3 * n_rows``. A component is *active* when its posterior weight is at least ``active_weight`` (default
   0.01, i.e. it explains >= 1% of the rows); ``n_active_clusters_`` counts them. Cluster labels are the mixture
   components that received rows, renumbered 0, 1, 2, ... in component order (``cluster_components_`` maps a
   label back to its component).
3. **Project** to 2-D for plotting (``projector="umap"``, default, see :mod:`mind.analysis.project`; or ``"pca"``,
   the first two principal components; or ``"none"``). Clusters never come from the 2-D map.
4. **Score** (:func:`~mind.analysis.metrics.cluster_metrics`) against ``y`` (e.g. the perspective of each row)
   when ``fit`` receives it; ``y`` never changes the clusters.

scikit-learn contract: ``LatentMap`` is a ``TransformerMixin, ClusterMixin, BaseEstimator`` (transform = the
2-D map, like ``KMeans.transform`` gives distances), so ``sklearn.base.clone``, ``get_params`` / ``set_params``,
``Pipeline`` and parameter searches work. Input goes through ``sklearn.utils.validation.validate_data`` (which
sets ``n_features_in_`` and, for DataFrames, ``feature_names_in_``) and ``check_is_fitted``; its errors are
re-raised as one-line :class:`~mind.errors.DataError` / :class:`~mind.errors.ConfigError` that still subclass the
``ValueError`` / ``TypeError`` / ``NotFittedError`` scikit-learn expects. ``tests/test_latent_sklearn.py`` runs
scikit-learn's ``check_estimator`` suite; :func:`expected_failed_checks` lists the checks that cannot apply.
"""

from __future__ import annotations

import numbers
import time

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, ClusterMixin, TransformerMixin
from sklearn.exceptions import NotFittedError
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_consistent_length, check_is_fitted, validate_data

from mind.errors import ConfigError, DataError

PROJECTORS = ("umap", "pca", "none")
MIN_ROWS = 4  # fewer rows give no meaningful mixture (and no silhouette)

_UMAP_TRANSFORM = (
    "UMAP cannot reproduce its own layout through transform: transform places a row at the membership-weighted "
    "mean of its nearest fitted rows' positions (the UMAP transform rule), not where the layout optimisation put "
    "that row, so fit_transform(X) and transform(X) differ by more than the check's atol=0.01")


def expected_failed_checks(estimator: "LatentMap") -> dict[str, str]:
    """scikit-learn estimator checks that cannot apply to ``estimator``'s configuration, with the reason (give it
    to ``check_estimator`` / ``parametrize_with_checks`` as ``expected_failed_checks``; the README's latent
    analysis section repeats them). ``projector="pca"`` and ``"none"`` pass every check."""
    if getattr(estimator, "projector", None) == "umap":
        return {"check_transformer_general": _UMAP_TRANSFORM, "check_transformer_data_not_an_array": _UMAP_TRANSFORM}
    return {}


class LatentDataError(DataError):
    """Bad input to LatentMap (a ``DataError``, hence a ``ValueError`` as scikit-learn expects)."""


class LatentTypeError(DataError, TypeError):
    """Input of the wrong type (sparse, non-numeric objects): a ``DataError`` that is also the ``TypeError``
    scikit-learn's validation raises for it."""


class LatentNotFittedError(ConfigError, NotFittedError):
    """``transform`` / ``predict`` before ``fit``: a ``ConfigError`` that is also scikit-learn's ``NotFittedError``."""


def _one_line(e: Exception) -> str:
    """scikit-learn's validation message on one line: its first line, plus its reshape hint or a fix for NaN/inf
    (the lines between, such as a dump of the array, are dropped)."""
    lines = [ln.strip() for ln in str(e).strip().splitlines() if ln.strip()]
    if not lines:
        return type(e).__name__
    msg = lines[0]
    hint = next((ln for ln in lines[1:] if ln.startswith("Reshape your data")), None)
    if hint:
        return f"{msg.rstrip(':')}. {hint}"
    if "NaN" in msg or "infinity" in msg:
        return f"{msg} Drop or repair those rows first."
    return msg


class LatentMap(ClassNamePrefixFeaturesOutMixin, TransformerMixin, ClusterMixin, BaseEstimator):
    """Reduce -> DP mixture -> 2-D map. ``fit(X, y=None)`` returns self; ``y`` (optional, any labels, e.g.
    perspective names) is only used to score the clusters (``metrics_``).

    Learned state: ``labels_`` (cluster per row, int64, consecutive from 0), ``embedding_`` ((n, 2) float32, or
    None for ``projector="none"``), ``reduced_`` ((n, n_components_) float32), ``weights_`` (mixture weight of
    each component), ``cluster_components_`` (component of each cluster label), ``n_active_clusters_``,
    ``n_clusters_`` (distinct labels actually used), ``n_iter_`` and ``converged_`` (of the mixture), ``metrics_``
    (dict; empty without ``y``), ``timings_`` (seconds per stage), ``n_features_in_``, ``reducer_``,
    ``mixture_``, ``projector_``.
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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None  # umap and the mixture draw from the global RNG then
        if self.projector == "none":  # no 2-D map: a pure clusterer (transform & co. are hidden, see below)
            tags.transformer_tags = None
        else:
            tags.transformer_tags.preserves_dtype = ["float32"]  # computes in float32 (memory); the map is float32
        return tags

    # ------------------------------------------------------------------ validation
    def _check_params(self) -> None:
        def need(ok: bool, msg: str) -> None:
            if not ok:
                raise ConfigError(f"LatentMap: {msg}")

        def is_int(v) -> bool:
            return isinstance(v, numbers.Integral) and not isinstance(v, bool)

        def is_num(v) -> bool:
            return isinstance(v, numbers.Real) and not isinstance(v, bool)

        need(is_int(self.n_components) and self.n_components >= 1, "n_components must be an int >= 1")
        need(is_int(self.max_clusters) and self.max_clusters >= 1, "max_clusters must be an int >= 1")
        need(self.covariance_type in ("diag", "full", "spherical", "tied"),
             "covariance_type must be diag, full, spherical or tied")
        need(self.weight_concentration_prior is None
             or (is_num(self.weight_concentration_prior) and self.weight_concentration_prior > 0),
             "weight_concentration_prior must be > 0 or None (1/max_clusters)")
        need(is_num(self.active_weight) and 0 <= self.active_weight < 1, "active_weight must be in [0, 1)")
        need(is_int(self.max_iter) and self.max_iter >= 1, "max_iter must be an int >= 1")
        need(self.projector in PROJECTORS, f"projector must be one of {', '.join(PROJECTORS)}")
        need(is_int(self.n_neighbors) and self.n_neighbors >= 2, "n_neighbors must be an int >= 2")
        need(is_num(self.min_dist) and 0 <= self.min_dist <= 1, "min_dist must be in [0, 1]")
        need(is_int(self.n_epochs) and self.n_epochs >= 1, "n_epochs must be an int >= 1")
        need(is_int(self.umap_max_points) and self.umap_max_points >= 10, "umap_max_points must be >= 10")
        need(is_int(self.transform_epochs) and self.transform_epochs >= 0, "transform_epochs must be an int >= 0")
        need(self.tol is None or (is_num(self.tol) and self.tol > 0), "tol must be > 0 or None (1e-3 * n_rows)")

    def _validate(self, X, *, reset: bool) -> np.ndarray:
        """scikit-learn's ``validate_data`` (2-D, numeric, finite, dense, feature count), errors as one line."""
        try:
            return validate_data(self, X, reset=reset, dtype=np.float32,
                                 ensure_min_samples=MIN_ROWS if reset else 1)
        except TypeError as e:
            raise LatentTypeError(f"LatentMap: {_one_line(e)}") from e
        except ValueError as e:
            raise LatentDataError(f"LatentMap: {_one_line(e)}") from e

    def _check_fitted(self) -> None:
        try:
            check_is_fitted(self, ("reducer_", "mixture_"))
        except NotFittedError as e:
            raise LatentNotFittedError("LatentMap: call fit(X) before transform/predict") from e

    # ------------------------------------------------------------------ estimator API
    def fit(self, X, y=None) -> "LatentMap":
        """Reduce, cluster and project ``X`` (n, d); score the clusters against ``y`` (length n) when given."""
        from mind.analysis.metrics import cluster_metrics
        from mind.analysis.reduce import Reducer

        self._check_params()
        X = self._validate(X, reset=True)
        n = X.shape[0]
        if y is not None:
            y = np.asarray(y)
            try:
                check_consistent_length(X, y)
            except ValueError:
                raise LatentDataError(f"LatentMap: y (the labels) has {len(y)} entries but X has {n} rows; "
                                      "pass one label per row") from None
        self.timings_ = {}

        t = time.perf_counter()
        self.reducer_ = Reducer(self.n_components, self.standardize, self.random_state)
        self.reduced_ = self.reducer_.fit_transform(X)
        self.n_components_ = self.reducer_.n_components_
        self.timings_["reduce"] = time.perf_counter() - t

        t = time.perf_counter()
        self._fit_mixture(n)
        self.timings_["cluster"] = time.perf_counter() - t

        t = time.perf_counter()
        self._fit_projector()
        self.timings_["project"] = time.perf_counter() - t

        t = time.perf_counter()
        self.metrics_ = {}
        if y is not None:
            self.metrics_ = cluster_metrics(y, self.labels_, self.reduced_, self.random_state)
            self.metrics_["n_active_clusters"] = self.n_active_clusters_
            self.metrics_["n_clusters"] = self.n_clusters_
        self.timings_["metrics"] = time.perf_counter() - t
        return self

    def _fit_mixture(self, n: int) -> None:
        """The DP mixture on ``reduced_`` (n rows): labels, weights and the active-cluster count."""
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.mixture import BayesianGaussianMixture

        self.mixture_ = BayesianGaussianMixture(
            n_components=min(self.max_clusters, n),
            covariance_type=self.covariance_type,
            weight_concentration_prior_type="dirichlet_process",
            weight_concentration_prior=self.weight_concentration_prior,
            max_iter=self.max_iter,
            tol=self.tol if self.tol is not None else 1e-3 * n,
            reg_covar=1e-4,
            random_state=self.random_state,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            components = self.mixture_.fit_predict(self.reduced_)
        self.cluster_components_ = np.unique(components).astype(np.int64)
        # component -> label: used components 0..k-1 in component order, unused ones after them (for predict)
        unused = np.setdiff1d(np.arange(self.mixture_.n_components), self.cluster_components_)
        self._component_label = np.empty(self.mixture_.n_components, dtype=np.int64)
        self._component_label[np.concatenate([self.cluster_components_, unused])] = np.arange(self.mixture_.n_components)
        self.labels_ = self._component_label[components]
        self.weights_ = self.mixture_.weights_.astype(np.float64)
        self.n_active_clusters_ = int(np.sum(self.weights_ >= self.active_weight))
        self.n_clusters_ = int(len(self.cluster_components_))
        self.converged_ = bool(self.mixture_.converged_)
        self.n_iter_ = int(self.mixture_.n_iter_)

    def _fit_projector(self) -> None:
        """The 2-D map of ``reduced_`` (``embedding_``), or none with ``projector="none"``."""
        from mind.analysis.project import make_projector

        if self.projector == "none":
            self.projector_ = None
            self.embedding_ = None
            return
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
        self._n_features_out = 2  # names for get_feature_names_out: latentmap0, latentmap1

    def _reduce_new(self, X) -> np.ndarray:
        self._check_fitted()
        return self.reducer_.transform(self._validate(X, reset=False))

    def reduce(self, X) -> np.ndarray:
        """Rows of ``X`` in the fitted reduced (standardised PCA) space."""
        return self._reduce_new(X)

    def transform(self, X) -> np.ndarray:
        """Project new rows into the fitted 2-D map: (n, 2) float32. Absent with ``projector="none"``."""
        Z = self._reduce_new(X)  # checks that the map is fitted first
        return self.projector_.transform(Z)

    def fit_transform(self, X, y=None) -> np.ndarray:
        """``fit(X, y)`` and return ``embedding_``, the 2-D map of the fitted rows. Absent with ``projector="none"``."""
        return self.fit(X, y).embedding_

    def predict(self, X) -> np.ndarray:
        """Cluster label of each new row under the fitted mixture (labels as in ``labels_``; a row whose most
        likely component received no fitted row gets a label >= ``n_clusters_``)."""
        Z = self._reduce_new(X)
        return self._component_label[self.mixture_.predict(Z)]

    def fit_predict(self, X, y=None) -> np.ndarray:
        """``fit(X, y)`` and return ``labels_``."""
        return self.fit(X, y).labels_


def _has_map(estimator: LatentMap) -> bool:
    return estimator.projector != "none"


# projector="none" has no 2-D map, so its map methods are hidden (hasattr is False, a call raises AttributeError):
# scikit-learn then treats that configuration as a pure clusterer. Applied after the class body so that it wraps
# the set_output wrappers TransformerMixin adds to transform / fit_transform.
for _name in ("transform", "fit_transform", "get_feature_names_out"):
    setattr(LatentMap, _name, available_if(_has_map)(getattr(LatentMap, _name)))
del _name
