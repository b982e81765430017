"""Exact k-nearest neighbours with numpy (Euclidean), in row blocks.

In the reduced (PCA) space a 10,000 x 32 brute-force search is a few dense matrix products, exact, deterministic and
needs no numba compilation, unlike umap-learn's own approximate search (pynndescent), which recompiles in every
new process. Memory is bounded by ``block`` x n_reference distances at a time.
"""

from __future__ import annotations

import numpy as np


def exact_knn(query: np.ndarray, reference: np.ndarray, k: int, block: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Indices (int32) and distances (float32) of the ``k`` nearest ``reference`` rows of each ``query`` row,
    nearest first. When ``query`` is ``reference`` each point is its own first neighbour (distance 0), as umap
    expects of a precomputed kNN graph."""
    same = query is reference
    query = np.ascontiguousarray(query, dtype=np.float32)
    reference = np.ascontiguousarray(reference, dtype=np.float32)
    n_ref = reference.shape[0]
    if not 1 <= k <= n_ref:
        raise ValueError(f"k must be in [1, {n_ref}], got {k}")
    ref_sq = np.einsum("ij,ij->i", reference, reference)
    idx = np.empty((query.shape[0], k), dtype=np.int32)
    dist = np.empty((query.shape[0], k), dtype=np.float32)
    for start in range(0, query.shape[0], block):
        q = query[start : start + block]
        d2 = q @ reference.T
        d2 *= -2.0
        d2 += ref_sq[None, :]
        d2 += np.einsum("ij,ij->i", q, q)[:, None]
        np.maximum(d2, 0.0, out=d2)
        if same:  # a point's distance to itself is 0, not float32 cancellation noise
            rows = np.arange(q.shape[0])
            d2[rows, start + rows] = 0.0
        if k < n_ref:
            part = np.argpartition(d2, k - 1, axis=1)[:, :k]
        else:
            part = np.broadcast_to(np.arange(n_ref), d2.shape)
        pd2 = np.take_along_axis(d2, part, axis=1)
        order = np.argsort(pd2, axis=1, kind="stable")
        idx[start : start + block] = np.take_along_axis(part, order, axis=1)
        dist[start : start + block] = np.sqrt(np.take_along_axis(pd2, order, axis=1))
    return idx, dist
