"""Plotly figures of the Evaluation page, with 95% error bars. Pure functions of DataFrames (unit-tested without
Streamlit); the interval bounds come from ``mind eval``'s summaries and comparisons (:mod:`app.evaluation`).

Error bars are asymmetric (``error_y.array`` up, ``arrayminus`` down), since Wilson and bootstrap intervals are.
In difference charts a filled marker means the difference is distinguishable from zero (p < 0.05), a hollow one
that it is not.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from app.charts import PALETTE

_LAYOUT = dict(margin=dict(l=10, r=10, t=40, b=10), height=360)


def _err(values, lo, hi) -> dict:
    v, lo, hi = (np.asarray(x, dtype=float) for x in (values, lo, hi))
    up, down = np.where(np.isfinite(hi), hi - v, 0.0), np.where(np.isfinite(lo), v - lo, 0.0)
    return dict(type="data", symmetric=False, array=np.maximum(up, 0).tolist(), arrayminus=np.maximum(down, 0).tolist(),
                thickness=1.2, width=4)


def accuracy_bars(table: pd.DataFrame, lo: pd.DataFrame, hi: pd.DataFrame) -> go.Figure:
    """Grouped bars of accuracy (%) per benchmark, one group per row of an evaluation table, 95% error bars."""
    fig = go.Figure()
    benches = [c for c in table.columns if not str(c).endswith("avg")]
    for i, (name, row) in enumerate(table.iterrows()):
        vals = [row[b] for b in benches]
        fig.add_trace(go.Bar(x=benches, y=vals, name=str(name), marker_color=PALETTE[i % len(PALETTE)],
                             error_y=_err(vals, [lo.loc[name, b] for b in benches], [hi.loc[name, b] for b in benches]),
                             hovertemplate="%{x}: %{y:.1f}%<extra>" + str(name) + "</extra>"))
    fig.update_layout(barmode="group", yaxis=dict(title="accuracy (%)", range=[0, 100]),
                      title="Accuracy (95% Wilson intervals)", **_LAYOUT)
    return fig


def difference_chart(diffs: pd.DataFrame, title: str, unit: str) -> go.Figure:
    """Paired differences (rows of :func:`app.evaluation.difference_frame` for one metric) as points with 95%
    error bars around a zero line; filled markers where p < 0.05."""
    fig = go.Figure()
    for i, (run, part) in enumerate(diffs.groupby("run", sort=False)):
        color = PALETTE[(i + 1) % len(PALETTE)]
        sig = part["significant"].astype(bool).to_numpy()
        fig.add_trace(go.Scatter(
            x=part["benchmark"], y=part["diff"], mode="markers", name=str(run),
            error_y=_err(part["diff"], part["lo"], part["hi"]),
            marker=dict(size=11, color=[color if s else "white" for s in sig], line=dict(color=color, width=2),
                        symbol=["circle" if s else "circle-open" for s in sig]),
            customdata=np.stack([part["p"].astype(float).to_numpy(), part["n"].astype(float).to_numpy()], axis=1),
            hovertemplate="%{x}: %{y:+.3g} " + unit + "<br>p=%{customdata[0]:.3g}, n=%{customdata[1]:.0f}<extra>"
                          + str(run) + "</extra>"))
    fig.add_hline(y=0, line_color="#888", line_dash="dash")
    fig.update_layout(title=title, yaxis_title=unit, **_LAYOUT)
    return fig


def interval_bars(frame: pd.DataFrame, x: str, value: str, title: str, yaxis: str) -> go.Figure:
    """Grouped bars of ``value`` per ``x``, one trace per ``model``, with the frame's ``lo``/``hi`` as error bars
    (answer log-likelihood per benchmark, rationale loss per perspective, option accuracy)."""
    fig = go.Figure()
    for i, (model, part) in enumerate(frame.groupby("model", sort=False)):
        fig.add_trace(go.Bar(x=part[x], y=part[value], name=str(model), marker_color=PALETTE[i % len(PALETTE)],
                             error_y=_err(part[value], part["lo"], part["hi"])))
    fig.update_layout(barmode="group", title=title, yaxis_title=yaxis, **_LAYOUT)
    return fig
