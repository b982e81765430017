"""The documented reduction applied before clustering and projection: standardise, then PCA.

Hidden states of a transformer have a few "massive" dimensions whose raw variance dwarfs the rest; z-scoring each
feature first stops them from owning the principal components. PCA to ~32 dimensions then keeps the directions
that carry structure and makes the Dirichlet-process mixture and the kNN graph cheap (10,000 x 576 -> 10,000 x 32).
"""

from __future__ import annotations

import numpy as np

STD_FLOOR = 1e-6  # features with a smaller std (constant features) are centred but not scaled


class Reducer:
    """``fit(X)`` learns mean, scale and a PCA basis; ``transform(X)`` maps rows to ``n_components_`` dims."""

    def __init__(self, n_components: int = 32, standardize: bool = True, random_state: int | None = 0):
        self.n_components = n_components
        self.standardize = standardize
        self.random_state = random_state

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        from sklearn.decomposition import PCA

        X = np.asarray(X, dtype=np.float32)
        self.mean_ = X.mean(axis=0)
        if self.standardize:
            std = X.std(axis=0)
            self.scale_ = np.where(std > STD_FLOOR, std, 1.0).astype(np.float32)
        else:
            self.scale_ = np.ones(X.shape[1], dtype=np.float32)
        Z = (X - self.mean_) / self.scale_
        self.n_components_ = int(max(1, min(self.n_components, X.shape[0] - 1, X.shape[1])))
        solver = "randomized" if self.n_components_ < 0.5 * min(X.shape) else "full"
        self.pca_ = PCA(n_components=self.n_components_, svd_solver=solver, random_state=self.random_state)
        out = self.pca_.fit_transform(Z).astype(np.float32)
        self.explained_variance_ratio_ = float(np.sum(self.pca_.explained_variance_ratio_))
        return out

    def fit(self, X: np.ndarray) -> "Reducer":
        self.fit_transform(X)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Standardise and project new rows. Computed in float64, returned as float32: a row's result then does
        not depend on which other rows share the batch (float32 BLAS blocking differs by batch size)."""
        Z = (np.asarray(X, dtype=np.float64) - self.mean_) / self.scale_
        return self.pca_.transform(Z).astype(np.float32)
