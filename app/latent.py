"""Latent maps for the dashboard: results of ``mind analyze`` (via :func:`mind.analysis.load_analysis`), point
ids for Plotly selections, and the rationale table behind a click or lasso.

``load_analysis(run_dir)`` returns ``(metrics, points)`` or None; ``points`` has one row per (checkpoint step,
probe) with ``step, problem_id, perspective, correct, cluster, x, y``; ``metrics`` one row per step (ARI, NMI,
active clusters, ...).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import streamlit as st

from mind.errors import MindError, RunDirError

METRIC_COLUMNS = ("ari", "ami", "nmi", "homogeneity", "completeness", "silhouette")
# mind analyze's two counts (mind/analysis/latent.py): n_active_clusters = mixture components whose posterior weight
# is >= 1% (a model quantity, usually more than the map shows); n_clusters = distinct labels the points carry
ACTIVE_COLUMNS = ("n_active_clusters", "active_clusters")  # components by weight
COUNT_COLUMNS = ("n_clusters",)  # labels that hold points
HOLDING = "clusters holding points (the map's colours)"
BY_WEIGHT = "mixture components with weight ≥ 1%"
COLOR_CHOICES = {"DPMM cluster": "cluster", "perspective": "perspective", "answer correct": "correct"}
SEP = "::"


def _analysis_signature(run_path: str) -> tuple:
    d = Path(run_path) / "analysis"
    try:
        return tuple(sorted((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in os.scandir(d) if f.is_file()))
    except OSError:
        return ()


@st.cache_data(max_entries=16, show_spinner=False)
def _load(run_path: str, sig: tuple):
    from mind.analysis import load_analysis

    return load_analysis(run_path)


def load(run_path: str | Path) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """``(metrics, points)`` of a run, or None when ``mind analyze`` has not been run on it yet."""
    try:
        from mind.analysis import load_analysis  # noqa: F401
    except ImportError:
        raise RunDirError("latent analysis is not installed in this checkout (mind.analysis missing); update mind") from None
    try:
        out = _load(str(run_path), _analysis_signature(str(run_path)))
    except MindError:
        raise
    except (OSError, ValueError, KeyError) as exc:
        raise RunDirError(f"{run_path}/analysis: unreadable ({type(exc).__name__}: {exc}); re-run `mind analyze --run {Path(run_path).name}`") from None
    if out is None:
        return None
    metrics, points = out
    need = {"step", "problem_id", "perspective", "x", "y"}
    if not need <= set(points.columns):
        raise RunDirError(f"{run_path}/analysis: points lack {sorted(need - set(points.columns))}; re-run `mind analyze`")
    return metrics, points


def cluster_counts(metrics: pd.DataFrame, points: pd.DataFrame) -> pd.DataFrame:
    """Per step, the two cluster counts under names that say which is which: the clusters that hold points (counted
    from the points, so it is what the map's 'DPMM cluster' colouring shows) and, when recorded, the mixture
    components with at least 1% of the posterior weight (a model quantity, often larger)."""
    held = points.groupby("step")["cluster"].nunique().rename(HOLDING)
    out = held.reset_index()
    cols = {c.lower(): c for c in metrics.columns}
    by_weight = next((cols[c] for c in ACTIVE_COLUMNS if c in cols), None)
    if by_weight and "step" in metrics:
        out = out.merge(metrics[["step", by_weight]].rename(columns={by_weight: BY_WEIGHT}), on="step", how="left")
    return out


@st.cache_data(max_entries=16, show_spinner=False)
def _text_points(run_path: str, sig: tuple):
    from mind.analysis.store import load_text_analysis

    return load_text_analysis(run_path)


def text_points(run_path: str | Path) -> pd.DataFrame | None:
    """The Sentence-BERT map of the same probe rationales (``mind analyze --text``: ``text_points.parquet``, one
    row per probe, ``step`` -1), or None when the analysis has none."""
    try:
        pts = _text_points(str(run_path), _analysis_signature(str(run_path)))
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types on garbage
        raise RunDirError(f"{run_path}/analysis/text_points.parquet: unreadable ({type(exc).__name__}); re-run "
                          f"`mind analyze --run {Path(run_path).name} --text`") from None
    if pts is None or not {"problem_id", "perspective", "x", "y"} <= set(pts.columns) or not len(pts):
        return None
    return pts


def keep_selection(previous: list[str], event) -> list[str]:
    """The selection after a chart event: the event's points when it has any, else ``previous``. A redraw (another
    'Colour by', another step) sends an empty selection; the ids kept in session state survive it, and the
    page's Clear button empties them."""
    got = selected_ids(event)
    return got if got else list(previous)


def text_view(run_path: str | Path) -> dict | None:
    """The Sentence-BERT view of the same probe rationales (``mind analyze --text``): its agreement scores with the
    perspectives, or None when the analysis has none (or an older one, which clustered the texts uncentred)."""
    try:
        summary = json.loads((Path(run_path) / "analysis" / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    text = summary.get("text") if isinstance(summary, dict) else None
    if not isinstance(text, dict) or "ari" not in text or text.get("center", "none") != summary.get("center", "none"):
        return None
    return text


def text_sentence(text: dict, metrics: pd.DataFrame, step: int) -> str:
    """Hidden-state ARI at ``step`` beside two controls: the same student before training (step 0) and the same
    rationale texts under Sentence-BERT. Both controls see only the texts, so separation up to their level is style
    the texts already carry; what training adds is the change from step 0."""
    def ari(s):
        row = metrics[metrics["step"] == s]
        return float(row["ari"].iloc[0]) if len(row) else float("nan")

    first = int(metrics["step"].min())
    out = f"Hidden states at step {step}: ARI {ari(step):.2f} against the perspectives"
    if step != first:
        out += f" (step {first}, before training: {ari(first):.2f})"
    return (out + f". The same {text['n']} rationale texts under Sentence-BERT, clustered the same way: ARI "
            f"{text['ari']:.2f}. Separation the untrained student or the text encoder already shows is style the "
            "texts carry; what training adds is the change since the first snapshot.")


def point_ids(points: pd.DataFrame) -> list[str]:
    """String id of each point of one step: ``problem_id::perspective`` (unique per step)."""
    return (points["problem_id"].astype(str) + SEP + points["perspective"].astype(str)).tolist()


def selected_ids(event) -> list[str]:
    """Point ids from ``st.plotly_chart(..., on_select="rerun")``'s return value (click, box or lasso)."""
    if not event:
        return []
    sel = event.get("selection", {}) if isinstance(event, dict) else getattr(event, "selection", {})
    pts = sel.get("points", []) if isinstance(sel, dict) else getattr(sel, "points", [])
    out = []
    for p in pts or []:
        cd = p.get("customdata")
        if isinstance(cd, list):
            cd = cd[0] if cd else None
        if isinstance(cd, str) and SEP in cd:
            out.append(cd)
    return list(dict.fromkeys(out))


def rationale_table(points_at_step: pd.DataFrame, ids: list[str], problems: pd.DataFrame) -> pd.DataFrame:
    """The selected points with their question and rationale text."""
    if not ids:
        return pd.DataFrame(columns=["problem_id", "perspective", "cluster", "correct", "question", "rationale"])
    pts = points_at_step.assign(_id=point_ids(points_at_step))
    pts = pts[pts["_id"].isin(set(ids))]
    lookup = {str(r["id"]): r for _, r in problems.iterrows()} if len(problems) else {}
    rows = []
    for _, r in pts.iterrows():
        prob = lookup.get(str(r["problem_id"]))
        rats = prob["rationales"] if prob is not None and isinstance(prob.get("rationales"), dict) else {}
        rows.append({
            "problem_id": r["problem_id"], "perspective": r["perspective"],
            "cluster": r.get("cluster"), "correct": r.get("correct"),
            "question": prob["question"] if prob is not None else "",
            "rationale": rats.get(r["perspective"], "(rationale not in data.jsonl)"),
        })
    return pd.DataFrame(rows)


def metric_columns(metrics: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(score-like metric columns, cluster-count columns) present in ``metrics``."""
    cols = {c.lower(): c for c in metrics.columns}
    counts = [cols[c] for c in ACTIVE_COLUMNS if c in cols] or [cols[c] for c in COUNT_COLUMNS if c in cols]
    return [cols[c] for c in METRIC_COLUMNS if c in cols], counts[:1]


def find_separation(roots: list[Path]) -> list[Path]:
    """Result files of ``mind experiment separation`` under the given roots (``*/separation*.json``)."""
    found = []
    for r in roots:
        if Path(r).is_dir():
            found += sorted(Path(r).glob("*/separation*.json")) + sorted(Path(r).glob("separation*/summary.json"))
    return found


SEPARATION_VIEWS = {"own_text": "each student on its own perspective's rationales (the paper's RQ4)",
                    "text_only": "control: step 0, every student still the initial model (the texts' surface style)",
                    "same_text": "control: the trained students on one shared perspective's rationales (weights only)"}


def separation_table(result: dict) -> pd.DataFrame:
    """One row per view of a ``separation.json`` (own_text and, when recorded, the two controls) with the cluster
    scores against the student labels."""
    cols = ["ari", "ami", "homogeneity", "completeness", "n_active_clusters"]
    rows = []
    for view, what in SEPARATION_VIEWS.items():
        block = result if view == "own_text" else result.get(view)
        if isinstance(block, dict) and "ari" in block:
            rows.append({"view": view, "what it shows": what, **{c: block.get(c) for c in cols}})
    return pd.DataFrame(rows, columns=["view", "what it shows", *cols])


def separation_points(result_file: Path) -> pd.DataFrame | None:
    """The 2-D map of a separation experiment (``separation_points.parquet`` beside its result), if written."""
    f = Path(result_file).parent / "separation_points.parquet"
    if not f.is_file():
        return None
    pts = pd.read_parquet(f)
    return pts if {"student", "x", "y"} <= set(pts.columns) else None
