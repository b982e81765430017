"""Figures that overlay several runs on shared axes (the Curriculum page's "Runs side by side").

Each function takes ``{run name: steps frame}`` already put through :func:`app.views.view` (so the ``x`` column
holds the step or the epoch, and the values are per step, smoothed or per epoch) and ``{run name: colour}`` from
:func:`app.colors.run_colours`: a run has the same colour in every panel, on every page. Per-perspective charts
are small multiples (one panel per perspective, one line per run), so colour always means the run; the dash
tells the series of one run apart (L̃ solid, L_real dotted; MetaNet ρ solid, the average-loss baseline dotted).
Longer than :data:`app.charts.MAX_POINTS` rows, a run is drawn as bin means and the title says so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from mind.data.perspectives import display_name

from app.charts import MAX_POINTS, bin_means, display_note

_LAYOUT = dict(margin=dict(l=10, r=10, t=95, b=10))
COLS = 4


def union_perspectives(perspectives: dict[str, list[str]]) -> list[str]:
    """Every perspective of the runs, in the order they first appear."""
    return list(dict.fromkeys(p for ps in perspectives.values() for p in ps))


def _shown(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The columns a chart draws, as bin means when long (x: the bin's last step, or its mean epoch)."""
    keep = ["x", "step"] + [c for c in columns if c in df]
    d = df[list(dict.fromkeys(keep))]
    by_step = d["x"].equals(d["step"])
    out = bin_means(d, MAX_POINTS)
    return out.assign(x=out["step"]) if by_step and out is not d else out


def _note(runs: dict[str, pd.DataFrame]) -> str:
    return display_note(max((len(d) for d in runs.values()), default=0), "mean")


def _title(title: str, runs: dict[str, pd.DataFrame], what: str) -> str:
    note = _note(runs)
    sub = what + (f"; {note}" if note else "")
    return f"{title}<br><sup>{sub}</sup>" if sub else title


def _grid(perspectives: list[str], y_title: str, height_per_row: int = 190):
    rows = max(1, int(np.ceil(len(perspectives) / COLS)))
    fig = make_subplots(rows=rows, cols=COLS, subplot_titles=[display_name(p) for p in perspectives],
                        shared_xaxes="all", shared_yaxes="all", vertical_spacing=0.16 if rows > 1 else 0.1,
                        horizontal_spacing=0.04)
    fig.update_yaxes(title_text=y_title, col=1)
    return fig, rows, height_per_row * rows + 170


def _cursor_shapes(fig: go.Figure, x: float | None, panels: int) -> None:
    if x is None:
        return
    fig.update_layout(shapes=[dict(type="line", x0=x, x1=x, xref=f"x{i + 1 if i else ''}", y0=0, y1=1,
                                   yref=f"y{i + 1 if i else ''} domain", line=dict(dash="dash", color="#888"))
                              for i in range(panels)])


def weights(runs: dict[str, pd.DataFrame], perspectives: list[str], colours: dict[str, str], x_title: str = "step",
            what: str = "", cursor_x: float | None = None) -> go.Figure:
    """α (batch mean) per perspective: one panel per perspective, one line per run, shared axes (0 to 1)."""
    fig, rows, height = _grid(perspectives, "α")
    for name, df in runs.items():
        d = _shown(df, [f"weight/{p}" for p in perspectives])
        for i, p in enumerate(perspectives):
            col = f"weight/{p}"
            if col not in d:
                continue
            fig.add_trace(go.Scatter(x=d["x"], y=d[col], mode="lines", name=name, legendgroup=name,
                                     showlegend=i == 0, line=dict(color=colours[name], width=2),
                                     hovertemplate=f"{name}<br>{display_name(p)}: α=%{{y:.3f}}<extra></extra>"),
                          row=i // COLS + 1, col=i % COLS + 1)
    _cursor_shapes(fig, cursor_x, len(perspectives))
    fig.update_yaxes(range=[0, 1.02])
    fig.update_xaxes(title_text=x_title, row=rows)
    fig.update_layout(title=_title("Perspective weights α, run by run", runs, what), height=height,
                      legend=dict(orientation="h", y=-0.16 if rows > 1 else -0.35, yanchor="top"), **_LAYOUT)
    return fig


def losses(runs: dict[str, pd.DataFrame], perspectives: list[str], colours: dict[str, str], x_title: str = "step",
           what: str = "", cursor_x: float | None = None) -> go.Figure:
    """L̃ (solid) and L_real (dotted) per perspective: one panel per perspective, the run's colour for both."""
    fig, rows, height = _grid(perspectives, "nats/token")
    for name, df in runs.items():
        d = _shown(df, [f"{k}/{p}" for p in perspectives for k in ("loss_raw", "loss_filtered")])
        for i, p in enumerate(perspectives):
            for prefix, label, dash, width in (("loss_filtered", "L̃", None, 2), ("loss_raw", "L_real", "dot", 1)):
                col = f"{prefix}/{p}"
                if col not in d or not d[col].notna().any():
                    continue
                fig.add_trace(go.Scatter(x=d["x"], y=d[col], mode="lines", name=f"{name} · {label}",
                                         legendgroup=f"{name}{label}", showlegend=i == 0,
                                         line=dict(color=colours[name], width=width, dash=dash),
                                         hovertemplate=f"{name}<br>{display_name(p)} {label}=%{{y:.3f}}<extra></extra>"),
                              row=i // COLS + 1, col=i % COLS + 1)
    _cursor_shapes(fig, cursor_x, len(perspectives))
    fig.update_xaxes(title_text=x_title, row=rows)
    fig.update_layout(title=_title("Filtered L̃ (solid) and raw L_real (dotted), run by run", runs, what),
                      height=height, legend=dict(orientation="h", y=-0.16 if rows > 1 else -0.35, yanchor="top"),
                      **_LAYOUT)
    return fig


def tracking(runs: dict[str, pd.DataFrame], colours: dict[str, str], x_title: str = "step", what: str = "",
             cursor_x: float | None = None, starts: dict[str, float] | None = None) -> go.Figure:
    """Two panels on one x axis: Spearman ρ (MetaNet solid, the average-loss baseline dotted, held-out diamonds)
    on its own −1..1 axis, and the curriculum shift on its own 0..max axis below, so neither reads on the other.
    ``starts``: each run's MetaNet ρ after its calibration pass, drawn as a star at x = 0 (before step 1 / epoch
    0), the point its training line starts from."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.12, row_heights=[0.62, 0.38],
                        subplot_titles=("Spearman ρ between MetaNet's scores and −L̃",
                                        "Curriculum shift since the previous epoch (TV distance of the mean α)"))
    for name, df in runs.items():
        c = colours[name]
        d = _shown(df, ["meta_spearman", "baseline_spearman", "curriculum_shift"])
        for col, label, dash in (("meta_spearman", "MetaNet ρ", None), ("baseline_spearman", "average-loss ρ", "dot")):
            if col in d and d[col].notna().any():
                fig.add_trace(go.Scatter(x=d["x"], y=d[col], mode="lines", name=f"{name} · {label}",
                                         legendgroup=name, line=dict(color=c, dash=dash, width=2 if not dash else 1)),
                              row=1, col=1)
        if "heldout_meta_spearman" in df and df["heldout_meta_spearman"].notna().any():
            pts = df.dropna(subset=["heldout_meta_spearman"])
            fig.add_trace(go.Scatter(x=pts["x"], y=pts["heldout_meta_spearman"], mode="markers",
                                     name=f"{name} · MetaNet ρ held-out", legendgroup=name,
                                     marker=dict(color=c, size=9, symbol="diamond")), row=1, col=1)
        start = (starts or {}).get(name)
        if start is not None and start == start:
            fig.add_trace(go.Scatter(x=[0], y=[start], mode="markers", name=f"{name} · after calibration",
                                     legendgroup=name, marker=dict(color=c, size=14, symbol="star"),
                                     hovertemplate=f"{name}<br>calibration pass (before step 1): ρ=%{{y:.3f}}"
                                                   "<extra></extra>"), row=1, col=1)
        if "curriculum_shift" in d and d["curriculum_shift"].notna().any():
            fig.add_trace(go.Scatter(x=d["x"], y=d["curriculum_shift"], mode="lines+markers",
                                     name=f"{name} · shift", legendgroup=name, showlegend=False,
                                     line=dict(color=c, width=1.5), marker=dict(size=4)), row=2, col=1)
    if cursor_x is not None:
        fig.add_vline(x=cursor_x, line_dash="dash", line_color="#888")
    fig.update_yaxes(title_text="ρ", range=[-1.05, 1.05], row=1, col=1)
    fig.update_yaxes(title_text="shift", rangemode="tozero", row=2, col=1)
    fig.update_xaxes(title_text=x_title, row=2, col=1)
    fig.update_layout(title=_title("Does MetaNet follow the student? Run by run", runs, what), height=600,
                      legend=dict(orientation="h", y=-0.14, yanchor="top"), **_LAYOUT)
    return fig


def loss(runs: dict[str, pd.DataFrame], colours: dict[str, str], x_title: str = "step", what: str = "",
         columns=("loss_total", "loss_meta"), cursor_x: float | None = None) -> go.Figure:
    """The student's total loss and L_meta side by side, one line per run."""
    cols = [c for c in columns if any(c in d and d[c].notna().any() for d in runs.values())] or list(columns[:1])
    names = {"loss_total": "student loss (L_total)", "loss_meta": "MetaNet loss L_meta", "loss_sft": "weighted CE",
             "loss_cons": "consistency (JSD)"}
    fig = make_subplots(rows=1, cols=len(cols), subplot_titles=[names.get(c, c) for c in cols])
    for name, df in runs.items():
        d = _shown(df, cols)
        for i, c in enumerate(cols, start=1):
            if c in d and d[c].notna().any():
                fig.add_trace(go.Scatter(x=d["x"], y=d[c], mode="lines", name=name, legendgroup=name,
                                         showlegend=i == 1, line=dict(color=colours[name], width=2)), row=1, col=i)
    if cursor_x is not None:
        fig.add_vline(x=cursor_x, line_dash="dash", line_color="#888")
    fig.update_xaxes(title_text=x_title)
    fig.update_layout(title=_title("Losses, run by run", runs, what), height=380,
                      legend=dict(orientation="h", y=-0.25, yanchor="top"), **_LAYOUT)
    return fig
