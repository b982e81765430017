"""Agreement between found clusters and the perspective labels.

ARI and AMI are chance-corrected (0 for random clusters, 1 for a perfect match). NMI is reported because the
paper does, but it grows with the number of clusters, so read it beside AMI. Homogeneity (each cluster holds one
perspective) and completeness (each perspective lies in one cluster) tell an over-split (high homogeneity, low
completeness) from a merge (the reverse). The silhouette is that of the *perspective labels* in the reduced space:
how far apart the perspectives sit, independent of the clustering.
"""

from __future__ import annotations

import numpy as np

METRIC_KEYS = ("ari", "nmi", "ami", "homogeneity", "completeness", "silhouette")
SILHOUETTE_MAX_ROWS = 4000  # silhouette is O(n^2); above this it is estimated on a fixed random sample


def cluster_metrics(
    labels_true, labels_pred, Z: np.ndarray | None = None, random_state: int | None = 0
) -> dict[str, float | None]:
    """Metrics of ``labels_pred`` against ``labels_true`` (any hashable labels); silhouette needs ``Z``."""
    from sklearn import metrics as skm

    true = np.asarray(labels_true)
    pred = np.asarray(labels_pred)
    h, c, v = skm.homogeneity_completeness_v_measure(true, pred)
    out: dict[str, float | None] = {
        "ari": float(skm.adjusted_rand_score(true, pred)),
        "nmi": float(v),  # v-measure equals NMI with arithmetic normalisation
        "ami": float(skm.adjusted_mutual_info_score(true, pred)),
        "homogeneity": float(h),
        "completeness": float(c),
        "silhouette": None,
    }
    n_labels = len(np.unique(true))
    if Z is not None and 2 <= n_labels < len(true):
        sample = SILHOUETTE_MAX_ROWS if len(true) > SILHOUETTE_MAX_ROWS else None
        out["silhouette"] = float(skm.silhouette_score(Z, true, sample_size=sample, random_state=random_state))
    return out
