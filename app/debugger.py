"""The MetaNet debugger's readings: which phase a step was in, and one problem's history across every step it
appeared in.

MetaNet has three phases, recorded per step as ``meta_phase`` (steps.jsonl, and samples of newer runs):
``warmup`` (the first ``meta_warmup_steps``: the student trains on every rationale at α = 1/K whatever the scores,
so "all selected" is the warm-up rule, not MetaNet's choice), ``joint`` (MetaNet selects and is calibrated) and
``off`` (a method without MetaNet). :func:`phase_of` reads it from the sample, else the step record, else infers it
from the config (runs older than the column).

:func:`problem_history` gathers one problem's records from the run's samples (one row per step it was drawn in,
per perspective); :func:`history_chart` draws its scores, its filtered losses L̃ and its weights α (0 = not
selected) on one step axis, with the warm-up shaded.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from mind.data.perspectives import display_name

from app.charts import colors

PHASES = ("warmup", "joint", "off")
PHASE_LABEL = {"warmup": "MetaNet warm-up", "joint": "MetaNet selecting", "off": "no MetaNet (this method)"}


def phase_of(record, steps: pd.DataFrame | None, config: dict) -> str:
    """``warmup``, ``joint`` or ``off`` for the step of a sample ``record`` (a dict or Series)."""
    got = record.get("meta_phase") if hasattr(record, "get") else None
    if isinstance(got, str) and got in PHASES:
        return got
    step = int(record["step"])
    if steps is not None and "meta_phase" in steps:
        row = steps.loc[steps["step"] == step, "meta_phase"]
        if len(row) and isinstance(row.iloc[0], str) and row.iloc[0] in PHASES:
            return row.iloc[0]
    method = str(config.get("method", "mind"))
    if method in ("uniform", "single", "uniform-consistency") or record.get("scores") is None:
        return "off"
    return "warmup" if step <= int(config.get("meta_warmup_steps") or 0) else "joint"


def warmup_steps(steps: pd.DataFrame | None, config: dict) -> tuple[int, int] | None:
    """(first, last) step of the warm-up, or None when the run had none."""
    if steps is not None and "meta_phase" in steps and (steps["meta_phase"] == "warmup").any():
        s = steps.loc[steps["meta_phase"] == "warmup", "step"]
        return int(s.min()), int(s.max())
    n = int(config.get("meta_warmup_steps") or 0)
    return (1, n) if n and str(config.get("method", "mind")) not in ("uniform", "single") else None


def problem_history(samples: pd.DataFrame, problem_id: str) -> pd.DataFrame:
    """One row per (step, perspective) of ``problem_id``: step, perspective, score, alpha, selected, loss_raw,
    loss_filtered (NaN where the run recorded none, e.g. scores of a method without MetaNet)."""
    rows = []
    mine = samples[samples["problem_id"].astype(str) == str(problem_id)].sort_values("step")
    for _, rec in mine.iterrows():
        ps = list(rec["perspectives"])
        k = len(ps)

        def arr(key):
            v = rec.get(key)
            if v is None or (isinstance(v, float) and np.isnan(v)):
                return [np.nan] * k
            return list(v)

        for p, s, a, sel, raw, filt in zip(ps, arr("scores"), arr("alphas"), arr("selected"), arr("loss_raw"),
                                           arr("loss_filtered")):
            rows.append({"step": int(rec["step"]), "perspective": p, "score": s, "alpha": a,
                         "selected": bool(sel) if sel == sel and sel is not None else None,
                         "loss_raw": raw, "loss_filtered": filt})
    return pd.DataFrame(rows, columns=["step", "perspective", "score", "alpha", "selected", "loss_raw",
                                       "loss_filtered"])


def history_chart(history: pd.DataFrame, perspectives: list[str], warm: tuple[int, int] | None = None,
                  cursor: int | None = None, title: str = "") -> go.Figure:
    """Three panels on the steps a problem appeared in: MetaNet's scores s_k, the filtered losses L̃ and the
    weights α (a heatmap; 0 = not selected); the warm-up steps shaded."""
    col = colors(perspectives)
    steps = sorted(history["step"].unique())
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.08, row_heights=[0.35, 0.35, 0.3],
                        subplot_titles=("MetaNet score s_k", "filtered loss L̃ (dotted: L_real)",
                                        "weight α (0 = not selected)"))
    for p in perspectives:
        h = history[history["perspective"] == p]
        name = display_name(p)
        if h["score"].notna().any():
            fig.add_trace(go.Scatter(x=h["step"], y=h["score"], mode="lines+markers", name=name, legendgroup=p,
                                     line=dict(color=col[p])), row=1, col=1)
        fig.add_trace(go.Scatter(x=h["step"], y=h["loss_filtered"], mode="lines+markers", name=name, legendgroup=p,
                                 showlegend=not h["score"].notna().any(), line=dict(color=col[p])), row=2, col=1)
        fig.add_trace(go.Scatter(x=h["step"], y=h["loss_raw"], mode="lines", name=f"{name} L_real", legendgroup=p,
                                 showlegend=False, line=dict(color=col[p], dash="dot", width=1)), row=2, col=1)
    z = np.array([[history[(history["perspective"] == p) & (history["step"] == s)]["alpha"].mean() for s in steps]
                  for p in perspectives], dtype=float)
    fig.add_trace(go.Heatmap(z=z, x=steps, y=[display_name(p) for p in perspectives], colorscale="Blues", zmin=0,
                             zmax=max(1e-9, float(np.nanmax(z))) if np.isfinite(z).any() else 1, showscale=False,
                             hovertemplate="step %{x}<br>%{y}: α=%{z:.3f}<extra></extra>"), row=3, col=1)
    if warm is not None:
        fig.add_vrect(x0=warm[0] - 0.5, x1=warm[1] + 0.5, fillcolor="#f2c14e", opacity=0.18, line_width=0,
                      annotation_text="warm-up", annotation_position="top left", row="all", col=1)
    if cursor is not None:
        fig.add_vline(x=cursor, line_dash="dash", line_color="#888")
    fig.update_xaxes(title_text="step", row=3, col=1)
    fig.update_layout(title=title or "This problem across the steps it appeared in", height=640,
                      margin=dict(l=10, r=10, t=60, b=10), legend=dict(orientation="h", y=-0.12))
    return fig
