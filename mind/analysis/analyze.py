"""``analyze_run``: latent analysis of every hidden-state snapshot of a run, written to ``<run>/analysis/``.

Per snapshot step: a :class:`~mind.analysis.latent.LatentMap` (standardise + PCA, diagonal DP mixture) on that
step's probe states gives the clusters and the metrics against the perspective labels.

Alignment of the 2-D maps across steps (so an animation over training is meaningful): the states of *all* steps
are reduced with one shared standardise + PCA basis and projected by *one* map fitted on their union (UMAP on at
most ``map_max_points`` landmark rows drawn from all steps, every other row placed by the UMAP transform rule; or
the first two shared principal components with ``projector="pca"``). A probe whose state does not change between
two steps therefore lands on the same spot, and the map's axes mean the same thing at every step. We preferred this
to fitting each step and Procrustes-aligning the maps, which only removes a rotation and lets clusters jump.

Centring (``center="problem"``, the default): each probe state has its problem's mean state (over that problem's
perspectives, at the same step) subtracted before clustering and mapping. Mean-pooled hidden states of a real
student are dominated by *what* the problem is about: on SmolLM2 the raw states cluster by problem (ARI 1.0
against problem ids) and show no perspective structure at all, while the problem-centred states separate by
perspective. Centring isolates the reasoning-style component the paper's latent analysis asks about;
``center="none"`` analyses the raw states.
"""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mind.analysis.store import analysis_dir, write_parquet_atomic
from mind.errors import ConfigError, RunDirError


@dataclass(frozen=True)
class AnalysisResult:
    metrics: pd.DataFrame
    points: pd.DataFrame
    summary: dict
    text_points: pd.DataFrame | None = None


def center_by_problem(X: np.ndarray, meta: pd.DataFrame) -> np.ndarray:
    """``X`` minus, for each row, the mean of the rows that share its ``problem_id``."""
    codes, _ = pd.factorize(meta["problem_id"])
    sums = np.zeros((codes.max() + 1, X.shape[1]), dtype=np.float64)
    np.add.at(sums, codes, X)
    counts = np.bincount(codes)[:, None]
    return (X - sums[codes] / counts[codes]).astype(np.float32)


def pca_dims(n_rows: int, cap: int) -> int:
    """PCA dimensions for a DP mixture on ``n_rows`` points: a diagonal mixture on few rows in many dimensions is
    unstable (it flips between one cluster and all of them), so keep about 32 rows per dimension, at least 4 and at
    most ``cap`` (128 probes -> 4 dims, 10k -> 32 with cap 32)."""
    return int(min(cap, max(4, n_rows // 32)))


def _labels(meta: pd.DataFrame):
    if "perspective" not in meta or meta["perspective"].isna().all():
        return None
    return meta["perspective"].astype(str).to_numpy()


def analyze_run(
    run_dir: str | Path,
    *,
    projector: str = "umap",
    max_clusters: int = 20,
    n_components: int = 32,
    center: str = "problem",
    text: bool = False,
    map_max_points: int = 4000,
    n_neighbors: int = 15,
    n_epochs: int = 200,
    random_state: int = 0,
    progress: bool = True,
    write: bool = True,
) -> AnalysisResult:
    """Analyse every snapshot of ``run_dir`` and (by default) write ``<run>/analysis/``. See the module docstring.

    In phases: load (and centre) the snapshots, cluster each step, one shared 2-D map for every step, optionally
    the Sentence-BERT text map, then write; ``summary["timings_s"]`` has the seconds of each."""
    from mind.run import load_run

    if center not in ("problem", "none"):
        raise ConfigError(f"center must be 'problem' or 'none', got {center!r}")
    if projector not in ("umap", "pca"):
        raise ConfigError(f"projector must be 'umap' or 'pca', got {projector!r}")
    t_start = time.perf_counter()
    run = load_run(run_dir)
    steps = run.snapshot_steps
    if not steps:
        raise RunDirError(f"{run.path}: no hidden-state snapshots; train with snapshots enabled, then run mind analyze")
    timings = {"load": 0.0, "cluster": 0.0, "map": 0.0, "text": 0.0, "write": 0.0}
    umap_kwargs = dict(n_neighbors=n_neighbors, n_epochs=n_epochs, random_state=random_state)

    t = time.perf_counter()
    states = _load_states(run, steps, center, progress)
    timings["load"] = time.perf_counter() - t
    records, clusters = _cluster_steps(steps, states, n_components, max_clusters, random_state, progress)
    timings["cluster"] = sum(r["seconds"] for r in records)
    t = time.perf_counter()
    reducer, proj, xy = _shared_map(states, projector, n_components, map_max_points, umap_kwargs, progress)
    timings["map"] = time.perf_counter() - t

    frames, offset = [], 0
    for step, (X, meta), lab in zip(steps, states, clusters):
        frames.append(_points(step, meta, lab, xy[offset : offset + X.shape[0]]))
        offset += X.shape[0]
    points = pd.concat(frames, ignore_index=True)
    metrics = pd.DataFrame.from_records(records)

    text_points, text_summary = None, None
    if text:
        t = time.perf_counter()
        text_points, text_summary = _text_map(run, states[-1][1], center, projector, n_components, max_clusters,
                                              map_max_points, umap_kwargs, progress)
        timings["text"] = time.perf_counter() - t

    summary = _summary(run, steps, center, projector, max_clusters, n_components, reducer, proj, map_max_points,
                       n_neighbors, n_epochs, random_state, text_summary)
    if write:
        t = time.perf_counter()
        _write(run.path, points, text_points, records)
        timings["write"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t_start
    summary["timings_s"] = timings
    if write:
        from mind.run import write_json_atomic

        write_json_atomic(analysis_dir(run.path) / "summary.json", summary)
    return AnalysisResult(metrics, points, summary, text_points)


def _load_states(run, steps: list[int], center: str, progress: bool) -> list[tuple[np.ndarray, pd.DataFrame]]:
    """(states, meta) of every snapshot step, problem-centred with ``center="problem"``; one hidden size for all."""
    from tqdm.auto import tqdm

    states = [run.hidden_states(s) for s in tqdm(steps, desc="load snapshots", disable=not progress)]
    if center == "problem":
        states = [(center_by_problem(X, meta), meta) for X, meta in states]
    dims = {X.shape[1] for X, _ in states}
    if len(dims) != 1:
        raise RunDirError(f"{run.path}: snapshots have different hidden sizes {sorted(dims)}; the run is inconsistent")
    return states


def _cluster_steps(steps, states, n_components: int, max_clusters: int, random_state: int, progress: bool):
    """One DP mixture per snapshot step: (a metrics record per step, the cluster label of every row per step)."""
    from tqdm.auto import tqdm

    from mind.analysis.latent import LatentMap

    records, clusters = [], []
    for step, (X, meta) in zip(tqdm(steps, desc="cluster snapshots", disable=not progress), states):
        t = time.perf_counter()
        dims = pca_dims(X.shape[0], n_components)
        lm = LatentMap(n_components=dims, max_clusters=max_clusters, projector="none",
                       random_state=random_state).fit(X, _labels(meta))
        clusters.append(lm.labels_)
        rec = {"step": int(step), "n": int(X.shape[0]), "pca_dims": dims}
        rec.update(lm.metrics_ or {"n_active_clusters": lm.n_active_clusters_, "n_clusters": lm.n_clusters_})
        rec["converged"] = lm.converged_
        rec["seconds"] = time.perf_counter() - t
        records.append(rec)
    return records, clusters


def _shared_map(states, projector: str, n_components: int, map_max_points: int, umap_kwargs: dict, progress: bool):
    """(reducer, projector, 2-D points of every row of every step): one standardise + PCA basis and one map fitted
    on the union of all steps, so that the map means the same thing at every step (module docstring)."""
    from mind.analysis.project import make_projector
    from mind.analysis.reduce import Reducer

    union = np.concatenate([X for X, _ in states])
    reducer = Reducer(n_components, standardize=True, random_state=umap_kwargs["random_state"])
    Z = reducer.fit_transform(union)
    kwargs = dict(umap_kwargs, max_points=map_max_points)
    proj = make_projector(projector, **(kwargs if projector == "umap" else {}))
    if progress:
        print(f"fitting the shared {projector} map on {len(Z)} rows ...", flush=True)
    return reducer, proj, proj.fit_transform(Z)


def _text_map(run, meta: pd.DataFrame, center: str, projector: str, n_components: int, max_clusters: int,
              map_max_points: int, umap_kwargs: dict, progress: bool) -> tuple[pd.DataFrame, dict]:
    """Sentence-BERT embeddings of the probes' rationale texts, clustered and mapped like the hidden states (the
    control: how far the perspectives' texts alone separate)."""
    from mind.analysis.latent import LatentMap
    from mind.analysis.text import embed_texts, probe_texts

    E = embed_texts(probe_texts(run.problems, meta), progress=progress)
    if center == "problem":  # the same view as the hidden states': what differs within a problem
        E = center_by_problem(E, meta)
    dims = pca_dims(E.shape[0], n_components)  # the same rows-per-dimension rule as the hidden states
    lm = LatentMap(n_components=dims, max_clusters=max_clusters, projector=projector,
                   n_neighbors=umap_kwargs["n_neighbors"], n_epochs=umap_kwargs["n_epochs"],
                   umap_max_points=map_max_points, random_state=umap_kwargs["random_state"]).fit(E, _labels(meta))
    summary = {"encoder": "all-MiniLM-L6-v2", "n": int(len(E)), "dim": int(E.shape[1]), "center": center,
               "pca_dims": dims, **lm.metrics_, "n_active_clusters": lm.n_active_clusters_}
    return _points(-1, meta, lm.labels_, lm.embedding_), summary


def _write(run_path: Path, points: pd.DataFrame, text_points: pd.DataFrame | None, records: list[dict]) -> None:
    from mind.run import write_json_atomic

    out = analysis_dir(run_path)
    out.mkdir(exist_ok=True)
    write_parquet_atomic(points, out / "points.parquet")
    if text_points is not None:
        write_parquet_atomic(text_points, out / "text_points.parquet")
    write_json_atomic(out / "metrics.json", records)


def _points(step: int, meta: pd.DataFrame, clusters: np.ndarray, xy: np.ndarray) -> pd.DataFrame:
    n = len(meta)
    return pd.DataFrame({
        "step": np.full(n, step, dtype=np.int32),
        "problem_id": meta["problem_id"].astype(str).to_numpy() if "problem_id" in meta else np.arange(n).astype(str),
        "perspective": meta["perspective"].astype(str).to_numpy() if "perspective" in meta else np.full(n, ""),
        "correct": meta["correct"].astype(bool).to_numpy() if "correct" in meta else np.zeros(n, bool),
        "cluster": np.asarray(clusters, dtype=np.int16),
        "x": np.asarray(xy[:, 0], dtype=np.float32),
        "y": np.asarray(xy[:, 1], dtype=np.float32),
    })


def _summary(run, steps, center, projector, max_clusters, n_components, reducer, proj, map_max_points, n_neighbors,
             n_epochs, random_state, text_summary) -> dict:
    import sklearn

    versions = {"scikit-learn": sklearn.__version__, "python": platform.python_version()}
    if projector == "umap":
        import umap

        versions["umap-learn"] = getattr(umap, "__version__", "?")
    return {
        "run": run.name,
        "steps": [int(s) for s in steps],
        "center": center,
        "method": {
            "clusterer": "sklearn BayesianGaussianMixture, weight_concentration_prior_type=dirichlet_process",
            "covariance_type": "diag",
            "max_clusters": max_clusters,
            "tol": "1e-3 * n_rows (sklearn compares the total lower bound)",
            "active_cluster": "posterior weight >= 0.01",
            "per_step": True,
        },
        "reduction": {"standardize": True, "pca_components": n_components,
                      "union_explained_variance": reducer.explained_variance_ratio_},
        "projection": {
            "projector": projector,
            "alignment": "one map fitted on the union of all steps (shared standardise+PCA basis)",
            "landmarks": int(len(getattr(proj, "landmarks_", []))) if projector == "umap" else None,
            "map_max_points": map_max_points if projector == "umap" else None,
            "n_neighbors": n_neighbors if projector == "umap" else None,
            "n_epochs": n_epochs if projector == "umap" else None,
            "knn": "exact (numpy) in the reduced space" if projector == "umap" else None,
        },
        "random_state": random_state,
        "text": text_summary,
        "versions": versions,
    }
