"""Files of ``<run>/analysis/`` (written by ``mind analyze``, read by the dashboard). No pickle.

- ``metrics.json``: a JSON list, one object per snapshot step: step, n, ari, nmi, ami, homogeneity,
  completeness, silhouette, n_active_clusters, n_clusters, converged, seconds.
- ``points.parquet``: one row per (step, probe): step (int32), problem_id, perspective, correct (bool),
  cluster (int16, the DP-mixture cluster at that step), x, y (float32, in one map shared by all steps).
- ``summary.json``: method, reduction, projection (and how steps are aligned), timings, versions, and the
  text-level view's metrics under ``"text"`` when ``--text`` was used.
- ``text_points.parquet`` (with ``--text``): the same columns for the Sentence-BERT embeddings of the rationale
  texts, with ``step = -1``.

Every file is written to a temporary name and renamed, so a reader sees it complete or not at all.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from mind.errors import RunDirError

ANALYSIS_DIR = "analysis"
POINT_COLUMNS = ("step", "problem_id", "perspective", "correct", "cluster", "x", "y")


def analysis_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / ANALYSIS_DIR


def write_parquet_atomic(df: pd.DataFrame, path: Path) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    df.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def load_analysis(run_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """``(metrics, points)`` DataFrames of a run's latent analysis, or None when ``mind analyze`` has not run.

    Raises :class:`RunDirError` when the files exist but cannot be read.
    """
    d = analysis_dir(run_dir)
    mpath, ppath = d / "metrics.json", d / "points.parquet"
    if not (mpath.exists() and ppath.exists()):
        return None
    try:
        rows = json.loads(mpath.read_text(encoding="utf-8"))
        if not isinstance(rows, list):
            raise ValueError("expected a list")
        metrics = pd.DataFrame.from_records(rows)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RunDirError(f"{mpath}: unreadable analysis file ({exc}); re-run `mind analyze --run {run_dir}`") from None
    try:
        points = pd.read_parquet(ppath)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types on garbage
        raise RunDirError(
            f"{ppath}: unreadable analysis file ({type(exc).__name__}); re-run `mind analyze --run {run_dir}`"
        ) from None
    missing = [c for c in POINT_COLUMNS if c not in points.columns]
    if missing:
        raise RunDirError(f"{ppath}: missing columns {missing}; re-run `mind analyze --run {run_dir}`")
    return metrics, points


def load_text_analysis(run_dir: str | Path) -> pd.DataFrame | None:
    """Points of the text-level view (``mind analyze --text``), or None."""
    p = analysis_dir(run_dir) / "text_points.parquet"
    return pd.read_parquet(p) if p.exists() else None
