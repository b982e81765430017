"""Is MetaNet following the student? Sentences a teacher can say aloud, and the chart behind them.

Both read the tracking columns of steps.jsonl (mind/training/tracking.py): ``meta_spearman`` / ``meta_top1`` on the batch,
the perspective-mean ``baseline_*`` beside them, the ``heldout_*`` values at snapshot steps and ``curriculum_shift``.
Runs written before these columns existed give no sentences and an empty chart, not an error.
"""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

_LAYOUT = dict(margin=dict(l=10, r=10, t=40, b=10), height=340)


def _finite(v) -> bool:
    return v is not None and isinstance(v, (int, float)) and math.isfinite(v)


def epoch_window(steps: pd.DataFrame, cursor: int) -> pd.DataFrame:
    """The steps of the last epoch up to ``cursor`` (all steps so far in the first epoch)."""
    upto = steps[steps["step"] <= cursor]
    if not len(upto) or "epoch" not in upto:
        return upto
    end = float(upto["epoch"].iloc[-1])
    return upto[upto["epoch"] > end - 1.0 + 1e-9]


def _mean(df: pd.DataFrame, col: str) -> float:
    if col not in df:
        return math.nan
    v = pd.to_numeric(df[col], errors="coerce").dropna()
    return float(v.mean()) if len(v) else math.nan


def sentences(steps: pd.DataFrame, cursor: int, n_heldout: int | None = None) -> list[str]:
    """Up to four plain sentences about MetaNet's tracking at ``cursor`` (over the epoch that ends there)."""
    out: list[str] = []
    win = epoch_window(steps, cursor)
    rho, base, top = _mean(win, "meta_spearman"), _mean(win, "baseline_spearman"), _mean(win, "meta_top1")
    if _finite(rho):
        verdict = "better than" if rho > base + 0.02 else ("about as well as" if rho >= base - 0.02 else "worse than")
        out.append(f"MetaNet ranks the rationales the way the student's losses do: Spearman ρ = {rho:.2f} over the "
                   f"last epoch ({verdict} ranking by each perspective's average loss, ρ = {base:.2f}).")
    if _finite(top):
        out.append(f"Its top pick is the rationale the student finds easiest in {top:.0%} of problems.")
    if "heldout_meta_spearman" in steps:
        held = steps[(steps["step"] <= cursor)].dropna(subset=["heldout_baseline_spearman"])
        if len(held):
            row = held.iloc[-1]
            who = f"{n_heldout} problems it never trained on" if n_heldout else "problems it never trained on"
            if _finite(row.get("heldout_meta_spearman")):
                out.append(f"On {who} (step {int(row['step'])}) it ranks at ρ = {row['heldout_meta_spearman']:.2f}, "
                           f"against {row['heldout_baseline_spearman']:.2f} for the average-loss ranking.")
            else:
                out.append(f"On {who} (step {int(row['step'])}) the average-loss ranking reaches "
                           f"ρ = {row['heldout_baseline_spearman']:.2f}.")
    shift = _mean(steps[steps["step"] == cursor], "curriculum_shift")
    if _finite(shift):
        out.append(f"The curriculum has moved {shift:.0%} of the weight between perspectives since the previous "
                   "epoch (total-variation distance of the mean α).")
    return out


def tracking_chart(steps: pd.DataFrame, cursor: int | None = None, smooth: int = 8) -> go.Figure:
    """Spearman ρ of MetaNet and of the baseline (rolling mean over ``smooth`` steps), held-out values as markers,
    and the curriculum shift on a second axis."""
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    x = steps["step"] if "step" in steps else []
    for col, name, color, dash in (("meta_spearman", "MetaNet ρ (trained problems)", "#1f77b4", None),
                                   ("baseline_spearman", "average-loss ranking ρ", "#7f7f7f", "dot")):
        if col in steps and steps[col].notna().any():
            y = pd.to_numeric(steps[col], errors="coerce").rolling(smooth, min_periods=1).mean()
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=name, line=dict(color=color, dash=dash)),
                          secondary_y=False)
    for col, name, color in (("heldout_meta_spearman", "MetaNet ρ (held-out)", "#d62728"),
                             ("heldout_baseline_spearman", "average-loss ρ (held-out)", "#9467bd")):
        if col in steps and steps[col].notna().any():
            pts = steps.dropna(subset=[col])
            fig.add_trace(go.Scatter(x=pts["step"], y=pts[col], mode="markers", name=name,
                                     marker=dict(color=color, size=9, symbol="diamond")), secondary_y=False)
    if "curriculum_shift" in steps and steps["curriculum_shift"].notna().any():
        fig.add_trace(go.Scatter(x=x, y=steps["curriculum_shift"], mode="lines", name="curriculum shift (TV)",
                                 line=dict(color="#2ca02c", width=1)), secondary_y=True)
    if cursor is not None:
        fig.add_vline(x=cursor, line_dash="dash", line_color="#888")
    fig.update_layout(title=f"Does MetaNet follow the student? (ρ smoothed over {smooth} steps)", xaxis_title="step",
                      legend=dict(orientation="h", y=-0.25), **_LAYOUT)
    fig.update_yaxes(title_text="Spearman ρ (s vs −L̃)", range=[-1.05, 1.05], secondary_y=False)
    fig.update_yaxes(title_text="shift", range=[0, 1.0], secondary_y=True)
    return fig


def inertia_chart(steps: pd.DataFrame, perspectives: list[str], colors: dict[str, str], names: dict[str, str],
                  cursor: int | None = None) -> go.Figure:
    """Every perspective's L_real (thin, dotted) and L~ (thick) on one chart; click a legend entry to isolate it."""
    fig = go.Figure()
    for p in perspectives:
        for prefix, width, dash, label in (("loss_raw", 1, "dot", "L_real"), ("loss_filtered", 2.5, None, "L̃")):
            col = f"{prefix}/{p}"
            if col in steps:
                fig.add_trace(go.Scatter(x=steps["step"], y=steps[col], mode="lines", name=f"{names[p]} {label}",
                                         legendgroup=p, line=dict(color=colors[p], width=width, dash=dash)))
    if cursor is not None:
        fig.add_vline(x=cursor, line_dash="dash", line_color="#888")
    fig.update_layout(title="Inertia: raw loss L_real (dotted) and filtered L̃ (solid), every perspective",
                      xaxis_title="step", yaxis_title="cross-entropy (nats/token)", **{**_LAYOUT, "height": 420})
    return fig
