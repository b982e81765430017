"""Latent analysis: DP-mixture clusters, 2-D maps and separation metrics of hidden states per snapshot.

``from mind.analysis import LatentMap, analyze_run, load_analysis``. Attributes load lazily so that importing this
package (e.g. from the dashboard for :func:`load_analysis`) does not import scikit-learn or umap.
"""

from __future__ import annotations

from mind._lazy import lazy_face

__getattr__, __dir__, __all__ = lazy_face(__name__, {
    "LatentMap": "mind.analysis.latent",
    "analyze_run": "mind.analysis.analyze",
    "load_analysis": "mind.analysis.store",
    "planted_clusters": "mind.analysis.synthetic",
    "cluster_metrics": "mind.analysis.metrics",
})
