"""Synthetic hidden states with planted clusters, for tests and benchmarks.

``planted_clusters`` places ``k`` equidistant cluster centres in a random ``k``-dimensional subspace of R^d and adds isotropic
Gaussian noise in all ``d`` dimensions, plus a few shared high-variance nuisance directions (real hidden states have
a handful of "massive" dimensions that dominate the raw variance). Most of the total variance is noise, so a method
has to find the low-dimensional signal, as it must with a student's last-layer states.
"""

from __future__ import annotations

import numpy as np


def planted_clusters(
    n: int = 1000,
    d: int = 64,
    k: int = 8,
    separation: float = 8.0,
    nuisance_dims: int = 4,
    nuisance_scale: float = 3.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(X float32 (n, d), labels int64 (n,))`` with ``k`` planted clusters of about equal size.

    ``separation`` is the distance between any two centres in units of the per-dimension noise std; the
    nuisance directions have std ``nuisance_scale`` and carry no cluster information.
    """
    if not (k >= 1 and n >= k and d >= k + nuisance_dims):
        raise ValueError(f"planted_clusters: need n >= k >= 1 and d >= k + nuisance_dims (n={n}, d={d}, k={k})")
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.normal(size=(d, k + nuisance_dims)))
    centres = np.eye(k) * (separation / np.sqrt(2.0))  # every pair of centres exactly `separation` apart
    labels = rng.permutation(np.arange(n) % k)
    X = rng.normal(size=(n, d))
    X += centres[labels] @ basis[:, :k].T
    if nuisance_dims:
        X += (rng.normal(size=(n, nuisance_dims)) * nuisance_scale) @ basis[:, k:].T
    return X.astype(np.float32), labels.astype(np.int64)
