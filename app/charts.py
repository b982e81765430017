"""Plotly figure builders. Pure functions of DataFrames and arrays, so they are unit-tested without Streamlit.

Every per-perspective chart uses the same colour for the same perspective (:func:`colors`), and charts that
follow the page's step cursor draw it as a dashed vertical line.

Charts over more than ``MAX_POINTS`` steps are downsampled for display, and their title says how: line charts keep
the minimum and the maximum of each bin of consecutive steps (:func:`minmax_indices`, so spikes stay visible),
stacked areas and heatmaps show bin means (:func:`bin_means`). The data behind them is not changed: pages offer the
full steps as a CSV download.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from mind.data.perspectives import display_name

MAX_POINTS = 1000  # points per trace (or heatmap columns) drawn at most; more steps are downsampled

PALETTE = qualitative.D3 + qualitative.Set2
LOSS_COLUMNS = ("loss_total", "loss_sft", "loss_cons", "loss_meta")
_LAYOUT = dict(margin=dict(l=10, r=10, t=40, b=10), height=340)


def minmax_indices(y, max_points: int = MAX_POINTS) -> np.ndarray:
    """Row indices that keep the minimum and the maximum of each bin of consecutive values (NaN ignored), and
    the last row: at most ``max_points`` + 1 of them. All rows when there are no more than ``max_points``."""
    y = np.asarray(y, dtype=float)
    n = len(y)
    if n <= max_points:
        return np.arange(n)
    k = -(-2 * n // max_points)  # bin size: two points per bin
    grid = np.concatenate([y, np.full((-n) % k, np.nan)]).reshape(-1, k)
    nan = np.isnan(grid)
    start = np.arange(grid.shape[0]) * k
    ok = ~nan.all(1)
    lo = np.where(nan, np.inf, grid).argmin(1) + start
    hi = np.where(nan, -np.inf, grid).argmax(1) + start
    return np.unique(np.concatenate([lo[ok], hi[ok], [n - 1]]))


def bin_size(n: int, max_points: int = MAX_POINTS) -> int:
    """Consecutive steps per display bin so that ``n`` steps give at most ``max_points`` bins (1: no binning)."""
    return max(1, -(-n // max_points))


def bin_means(steps: pd.DataFrame, max_points: int = MAX_POINTS) -> pd.DataFrame:
    """Means of bins of consecutive rows (numeric columns, NaN ignored; other columns keep the bin's last value);
    ``step`` is each bin's last step, so the newest step stays the last point. Unchanged when short enough."""
    k = bin_size(len(steps), max_points)
    if k == 1:
        return steps
    groups = (np.arange(len(steps)) + (-len(steps)) % k) // k  # the last bin is the full one
    num = steps.select_dtypes("number").drop(columns=["step"], errors="ignore")
    out = num.groupby(groups).mean()
    rest = steps.drop(columns=list(num.columns)).groupby(groups).last()
    return pd.concat([rest, out], axis=1)[list(steps.columns)].reset_index(drop=True)


def display_note(n: int, how: str, max_points: int = MAX_POINTS) -> str:
    """'' when ``n`` steps are drawn as they are, else what was drawn (for a chart's title)."""
    if n <= max_points:
        return ""
    k = bin_size(n, max_points) if how == "mean" else -(-2 * n // max_points)
    what = "min and max" if how == "minmax" else "mean"
    return f"{what} of each {k}-step bin ({n:,} steps)"


def _titled(title: str, note: str) -> str:
    return f"{title}<br><sup>{note}</sup>" if note else title


def _xy(df: pd.DataFrame, col: str, max_points: int = MAX_POINTS):
    """(steps, values) of one column, min/max-downsampled when long."""
    idx = minmax_indices(df[col].to_numpy(dtype=float), max_points)
    return df["step"].to_numpy()[idx], df[col].to_numpy(dtype=float)[idx]


def colors(perspectives: list[str]) -> dict[str, str]:
    return {p: PALETTE[i % len(PALETTE)] for i, p in enumerate(perspectives)}


def _cursor(fig: go.Figure, step: int | None, **kw) -> None:
    if step is not None:
        fig.add_vline(x=step, line_dash="dash", line_color="#888", **kw)


def loss_curves(runs: dict[str, pd.DataFrame], columns=LOSS_COLUMNS, title: str = "Losses",
                colours: dict[str, str] | None = None) -> go.Figure:
    """Loss curves of one or several runs: one subplot per loss column, one trace per run (in ``colours[run]``,
    the run's own colour from :func:`app.colors.run_colours`, when given)."""
    cols = [c for c in columns if any(c in df and df[c].notna().any() for df in runs.values())] or list(columns[:1])
    fig = make_subplots(rows=1, cols=len(cols), subplot_titles=cols)
    for j, (name, df) in enumerate(runs.items()):
        color = (colours or {}).get(name) or PALETTE[j % len(PALETTE)]
        for i, c in enumerate(cols, start=1):
            if c in df:
                x, y = _xy(df, c)
                fig.add_trace(
                    go.Scatter(x=x, y=y, mode="lines", name=name, legendgroup=name,
                               showlegend=(i == 1), line=dict(color=color)),
                    row=1, col=i,
                )
    n = max((len(df) for df in runs.values()), default=0)
    fig.update_layout(title=_titled(title, display_note(n, "minmax")), **_LAYOUT)
    fig.update_xaxes(title_text="step")
    return fig


def weights_area(steps: pd.DataFrame, perspectives: list[str], cursor: int | None = None) -> go.Figure:
    """Stacked area of the perspective weights alpha (mean over the batch) against the step (bin means when long)."""
    fig = go.Figure()
    col = colors(perspectives)
    shown = bin_means(steps[["step"] + [f"weight/{p}" for p in perspectives]])
    for p in perspectives:
        fig.add_trace(go.Scatter(x=shown["step"], y=shown[f"weight/{p}"].fillna(0.0), name=display_name(p),
                                 stackgroup="alpha", mode="lines", line=dict(width=0.5, color=col[p])))
    _cursor(fig, cursor)
    fig.update_layout(title=_titled("Perspective weights α over training (stacked)", display_note(len(steps), "mean")),
                      yaxis=dict(title="α", range=[0, 1.02]), xaxis_title="step", **_LAYOUT)
    return fig


def alpha_bars(steps: pd.DataFrame, perspectives: list[str], step: int, over: str | int = "step",
               per_step: int | None = None) -> go.Figure:
    """The weights alpha at one step (the frame the play button and step slider move through). Each bar is the
    mean α of the batch at that step (``over="step"``), of the last ``over`` steps (an int) or of the epoch so far
    (``"epoch"``), and the subtitle says which (``per_step``: problems per step, to say how many it averages)."""
    from app.views import describe_window, window_rows

    rows = window_rows(steps, step, over)
    row = rows.iloc[-1]
    col = colors(perspectives)
    vals = [float(np.nan_to_num(pd.to_numeric(rows.get(f"weight/{p}"), errors="coerce").mean()))
            if f"weight/{p}" in rows else 0.0 for p in perspectives]
    sel = [pd.to_numeric(rows[f"selected/{p}"], errors="coerce").mean() if f"selected/{p}" in rows else None
           for p in perspectives]
    fig = go.Figure(go.Bar(
        x=[display_name(p) for p in perspectives], y=vals, marker_color=[col[p] for p in perspectives],
        text=[f"{v:.2f}" for v in vals], textposition="outside",
        customdata=[f"{s:.0%}" if s is not None and s == s else "n/a" for s in sel],
        hovertemplate="%{x}<br>α=%{y:.3f}<br>selected in %{customdata} of the problems<extra></extra>",
    ))
    fig.update_layout(title=_titled(f"Weights α at step {int(row['step'])}",
                                    "each bar: " + describe_window(rows, over, per_step)),
                      yaxis=dict(range=[0, 1.05], title="α"), **_LAYOUT)
    return fig


def step_heatmap(steps: pd.DataFrame, perspectives: list[str], prefix: str, title: str,
                 cursor: int | None = None, colorscale: str = "Blues", zmax: float | None = 1.0) -> go.Figure:
    """Perspective x step heatmap of one per-perspective column family (``selected/``, ``score/`` ...); bin means
    when there are more steps than ``MAX_POINTS``."""
    shown = bin_means(steps[["step"] + [f"{prefix}/{p}" for p in perspectives]])
    z = np.array([shown[f"{prefix}/{p}"].to_numpy(dtype=float) for p in perspectives])
    fig = go.Figure(go.Heatmap(z=z, x=shown["step"], y=[display_name(p) for p in perspectives],
                               colorscale=colorscale, zmin=0.0 if zmax is not None else None, zmax=zmax,
                               hovertemplate="step %{x}<br>%{y}: %{z:.3f}<extra></extra>"))
    _cursor(fig, cursor)
    fig.update_layout(title=_titled(title, display_note(len(steps), "mean")), xaxis_title="step", **_LAYOUT)
    return fig


def score_lines(steps: pd.DataFrame, perspectives: list[str], cursor: int | None = None) -> go.Figure:
    """MetaNet score per perspective (batch mean) against the step."""
    fig = go.Figure()
    col = colors(perspectives)
    for p in perspectives:
        x, y = _xy(steps, f"score/{p}")
        fig.add_trace(go.Scatter(x=x, y=y, name=display_name(p), mode="lines", line=dict(color=col[p])))
    _cursor(fig, cursor)
    fig.update_layout(title=_titled("MetaNet scores s_k", display_note(len(steps), "minmax")), xaxis_title="step",
                      yaxis_title="score", **_LAYOUT)
    return fig


def raw_vs_filtered(steps: pd.DataFrame, perspectives: list[str], cursor: int | None = None, cols: int = 4) -> go.Figure:
    """Small multiples: per perspective, the student's raw loss (dotted) and its inertia-filtered EMA (solid)."""
    rows = int(np.ceil(len(perspectives) / cols)) or 1
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[display_name(p) for p in perspectives],
                        shared_xaxes=True, shared_yaxes=True, vertical_spacing=0.12)
    col = colors(perspectives)
    for i, p in enumerate(perspectives):
        r, c = i // cols + 1, i % cols + 1
        x, y = _xy(steps, f"loss_raw/{p}")
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name="raw L_real",
                                 legendgroup="raw", showlegend=(i == 0), line=dict(color=col[p], dash="dot", width=1)),
                      row=r, col=c)
        x, y = _xy(steps, f"loss_filtered/{p}")
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name="filtered L~",
                                 legendgroup="filt", showlegend=(i == 0), line=dict(color=col[p], width=2)),
                      row=r, col=c)
    if cursor is not None:  # one shape per subplot, set at once (add_vline(row=, col=) is ~15 ms per subplot)
        fig.update_layout(shapes=[dict(type="line", x0=cursor, x1=cursor, xref=f"x{i + 1 if i else ''}", y0=0, y1=1,
                                       yref=f"y{i + 1 if i else ''} domain", line=dict(dash="dash", color="#888"))
                                  for i in range(len(perspectives))])
    fig.update_layout(title=_titled("Raw vs inertia-filtered loss per perspective", display_note(len(steps), "minmax")),
                      **{**_LAYOUT, "height": 200 * rows + 80})
    return fig


def rationale_bars(perspectives: list[str], scores, alphas, selected, threshold: float | None = None,
                   title: str = "Scores and weights") -> go.Figure:
    """One problem: MetaNet score per perspective (bars, faded when not selected), alpha as markers."""
    col = colors(perspectives)
    names = [display_name(p) for p in perspectives]
    sel = [bool(x) for x in selected]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Bar(x=names, y=list(scores), name="score s_k",
                         marker=dict(color=[col[p] for p in perspectives], opacity=[1.0 if s else 0.3 for s in sel])),
                  secondary_y=False)
    fig.add_trace(go.Scatter(x=names, y=list(alphas), name="α_k", mode="markers+text",
                             text=[f"{a:.2f}" for a in alphas], textposition="top center",
                             marker=dict(symbol="diamond", size=11, color="black")), secondary_y=True)
    if threshold is not None:
        fig.add_hline(y=threshold, line_dash="dash", line_color="crimson",
                      annotation_text="β·max(s)", annotation_position="top left")
    fig.update_yaxes(title_text="score", secondary_y=False)
    fig.update_yaxes(title_text="α", range=[0, 1.1], dtick=0.25, showgrid=False, secondary_y=True)
    fig.update_layout(title=title, **_LAYOUT)
    return fig


def attention_heatmap(matrix, perspectives: list[str]) -> go.Figure:
    """The synergy layer's K x K attention (row = query perspective, column = attended perspective)."""
    names = [display_name(p) for p in perspectives]
    z = np.asarray(matrix, dtype=float)
    fig = go.Figure(go.Heatmap(z=z, x=names, y=names, colorscale="Viridis", zmin=0,
                               hovertemplate="%{y} attends to %{x}: %{z:.3f}<extra></extra>"))
    fig.update_layout(title="Synergy-layer attention", yaxis=dict(autorange="reversed"),
                      **{**_LAYOUT, "height": 420})
    return fig


def latent_scatter(points: pd.DataFrame, color_by: str, ids: list[str], perspectives: list[str] | None = None,
                   selected: list[str] | None = None) -> go.Figure:
    """WebGL scatter of the 2-D latent map, one trace per colour group; ``customdata`` holds string point ids.
    ``selected`` (point ids) are drawn large and the rest faded, in every trace: the same ids highlighted on two
    maps link them (the hidden-state map and the text map)."""
    fig = go.Figure()
    pts = points.assign(_id=ids)
    chosen = set(selected or [])
    key = pts[color_by].astype(str)
    order = perspectives if color_by == "perspective" and perspectives else sorted(key.unique(), key=_natural)
    col = colors(list(order))
    for g in order:
        sub = pts[key == g]
        if not len(sub):
            continue
        label = display_name(g) if color_by == "perspective" else f"{color_by} {g}"
        extra = {}
        if chosen:
            extra = dict(selectedpoints=[i for i, v in enumerate(sub["_id"]) if v in chosen],
                         selected=dict(marker=dict(size=11, opacity=1.0)), unselected=dict(marker=dict(opacity=0.15)))
        fig.add_trace(go.Scattergl(
            x=sub["x"].to_numpy(np.float32), y=sub["y"].to_numpy(np.float32), mode="markers", name=label,
            customdata=sub["_id"].to_numpy(), marker=dict(size=6, color=col[g], opacity=0.8),
            hovertemplate="%{customdata}<extra>" + label + "</extra>", **extra,
        ))
    fig.update_layout(xaxis=dict(title="map x", showticklabels=False),
                      yaxis=dict(title="map y", showticklabels=False), **{**_LAYOUT, "height": 520})
    return fig


def metric_lines(metrics: pd.DataFrame, columns: list[str], cursor: int | None = None, title: str = "Cluster metrics") -> go.Figure:
    """Metrics (ARI, NMI, ...) against the checkpoint step."""
    fig = go.Figure()
    for i, c in enumerate(columns):
        fig.add_trace(go.Scatter(x=metrics["step"], y=metrics[c], mode="lines+markers", name=c,
                                 line=dict(color=PALETTE[i % len(PALETTE)])))
    _cursor(fig, cursor)
    fig.update_layout(title=title, xaxis_title="step", **_LAYOUT)
    return fig


def accuracy_bars(table: pd.DataFrame) -> go.Figure:
    """Grouped bars of accuracy per benchmark, one group per row of an evaluation table."""
    fig = go.Figure()
    benches = [c for c in table.columns if not c.endswith("avg")]
    for i, (name, row) in enumerate(table.iterrows()):
        fig.add_trace(go.Bar(x=benches, y=[row[b] for b in benches], name=str(name), marker_color=PALETTE[i % len(PALETTE)]))
    fig.update_layout(barmode="group", yaxis=dict(title="accuracy (%)", range=[0, 100]), title="Accuracy", **_LAYOUT)
    return fig


def _natural(s: str):
    try:
        return (0, float(s), s)
    except ValueError:
        return (1, 0.0, s)


def separation_scatter(points: pd.DataFrame, perspectives: list[str]) -> go.Figure:
    """The separation experiment's map: one colour per single-perspective student, one symbol per DP cluster."""
    fig = go.Figure()
    col = colors(perspectives)
    for p in [q for q in perspectives if q in set(points["student"])]:
        part = points[points["student"] == p]
        fig.add_trace(go.Scattergl(x=part["x"], y=part["y"], mode="markers", name=display_name(p),
                                   marker=dict(color=col[p], size=9, symbol=part["cluster"].astype(int) % 24),
                                   customdata=part["problem_id"].astype(str),
                                   hovertemplate="%{customdata}<br>cluster %{marker.symbol}<extra>" + display_name(p)
                                                 + "</extra>"))
    fig.update_layout(title="One student per perspective: hidden states (colour = student, symbol = DP cluster)",
                      xaxis_title="map x", yaxis_title="map y", **{**_LAYOUT, "height": 440})
    return fig
