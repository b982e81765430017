"""Plotly figures of the Evaluation page, with 95% error bars. Pure functions of DataFrames (unit-tested without
Streamlit); the interval bounds come from ``mind eval``'s summaries and comparisons (:mod:`app.evaluation`) and
from an experiment's seed-level results (:mod:`app.seed_results`).

Every run is drawn in its own colour (``colours``: {name: colour} from :func:`app.colors.run_colours`, the same on
every page); its error bars are that colour too. Error bars are asymmetric (``error_y.array`` up, ``arrayminus``
down), since Wilson and bootstrap intervals are.

Point charts (paired differences, seed-level results) put benchmarks at whole x positions and shift each run
(or method) by its own offset (:func:`offsets`), so two runs never share one x position and their error bars do
not hide each other; the tick labels stay on the benchmarks. A filled marker means the difference is
distinguishable from zero (the page says at which p: Holm-adjusted where a family is adjusted), an open marker that
it is not: open markers are drawn as a ring in the run's colour (Plotly colours an ``-open`` symbol's outline with
``marker.color``), so they stay visible on white. Two legend-only entries in grey say which is which, and each run
has one legend-only entry, filled, in its colour. Their legend sits under the plot in rows, so that the plot keeps
the chart's width; benchmark names are horizontal, with a light divider between two benchmarks' slots.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from app.charts import PALETTE

_LAYOUT = dict(margin=dict(l=10, r=10, t=40, b=10), height=360)
# Point charts: the legend goes below the plot, in rows, so that the plot keeps the chart's whole width (a legend on
# the right of a half-page chart with five long run names left the plot a third of it)
_POINT_LAYOUT = dict(_LAYOUT, height=440, legend=dict(orientation="h", yanchor="top", y=-0.18, x=0, xanchor="left"))
BASE_COLOUR = "#8c8c8c"  # a base student (not a run): neutral grey, hatched bars
SPAN = 0.7  # the share of one benchmark's x slot the runs' offsets spread over


def colour_of(name: str, colours: dict[str, str] | None, i: int) -> str:
    """``name``'s colour: from ``colours`` (the run palette), grey for a base student, else a palette slot."""
    if colours and name in colours:
        return colours[name]
    if str(name).startswith("base "):
        return BASE_COLOUR
    return PALETTE[i % len(PALETTE)]


def _err(values, lo, hi, colour: str | None = None) -> dict:
    v, lo, hi = (np.asarray(x, dtype=float) for x in (values, lo, hi))
    up, down = np.where(np.isfinite(hi), hi - v, 0.0), np.where(np.isfinite(lo), v - lo, 0.0)
    out = dict(type="data", symmetric=False, array=np.maximum(up, 0).tolist(), arrayminus=np.maximum(down, 0).tolist(),
               thickness=1.6, width=5)
    if colour:
        out["color"] = colour
    return out


def offsets(n: int, span: float = SPAN) -> list[float]:
    """x offsets of ``n`` series inside one benchmark's slot, centred on 0 (0 for a single series): why: runs
    drawn at the same x hide each other's markers and error bars."""
    if n <= 1:
        return [0.0] * n
    step = span / n
    return [(i - (n - 1) / 2) * step for i in range(n)]


def _categories(values) -> list[str]:
    return list(dict.fromkeys(str(v) for v in values))


def _axis(fig: go.Figure, cats: list[str]) -> None:
    """Benchmarks at whole x positions, their names horizontal under them, a light divider between two slots."""
    fig.update_xaxes(tickmode="array", tickvals=list(range(len(cats))), ticktext=cats, tickangle=0, automargin=True,
                     range=[-0.6, len(cats) - 0.4], showgrid=False, zeroline=False)
    for i in range(1, len(cats)):
        fig.add_vline(x=i - 0.5, line_color="#e6e6e6", line_width=1, layer="below")


def _significance_legend(fig: go.Figure, filled: str, open_: str, symbol: str = "circle") -> None:
    """Two grey legend-only entries that say what a filled and an open marker (of ``symbol``) mean."""
    for symbol, label in ((symbol, filled), (f"{symbol}-open", open_)):
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=label, legendgroup="_key",
                                 marker=dict(symbol=symbol, size=9, color="#555", line=dict(color="#555", width=2)),
                                 hoverinfo="skip"))


def _run_legend(fig: go.Figure, name: str, colour: str, symbol: str) -> None:
    """``name``'s legend entry: a filled ``symbol`` in its colour whatever its first point is (the data trace,
    filled and open markers mixed, would lend the legend its first point's)."""
    fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=name, legendgroup=name,
                             marker=dict(symbol=symbol, size=9, color=colour), hoverinfo="skip"))


CONSTANT_DASH = ("dash", "dot")  # the constant-answer rows' lines: the commonest answer, then chance


def accuracy_bars(table: pd.DataFrame, lo: pd.DataFrame, hi: pd.DataFrame,
                  colours: dict[str, str] | None = None,
                  constant: dict[str, dict[str, float]] | None = None) -> go.Figure:
    """Grouped bars of accuracy (%) per benchmark, one group per row of an evaluation table, 95% error bars in the
    run's colour (the bar itself is lighter, so the part of the bar below its top stays visible). ``constant``
    ({label: {benchmark: %}}, :func:`app.evaluation.constant_answers`) draws each row as a dark line across its
    benchmark's group (dashed, then dotted), with one legend entry per row: the level an accuracy must beat."""
    fig = go.Figure()
    benches = [c for c in table.columns if not str(c).endswith("avg")]
    for i, (name, row) in enumerate(table.iterrows()):
        c = colour_of(str(name), colours, i)
        vals = [row[b] for b in benches]
        fig.add_trace(go.Bar(x=benches, y=vals, name=str(name), marker=dict(
                                 color=c, opacity=0.6, line=dict(color=c, width=1.5),
                                 pattern_shape="/" if str(name).startswith("base ") else ""),
                             error_y=_err(vals, [lo.loc[name, b] for b in benches], [hi.loc[name, b] for b in benches], c),
                             hovertemplate="%{x}: %{y:.1f}%<extra>" + str(name) + "</extra>"))
    for (label, row), dash in zip((constant or {}).items(), CONSTANT_DASH):
        for b, v in row.items():
            if b in benches:  # a category axis places shapes by the category's index
                i = benches.index(b)
                fig.add_shape(type="line", xref="x", yref="y", x0=i - 0.45, x1=i + 0.45, y0=v, y1=v,
                              line=dict(color="#333", width=2, dash=dash))
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name=label,
                                 line=dict(color="#333", width=2, dash=dash), hoverinfo="skip"))
    fig.update_layout(barmode="group", yaxis=dict(title="accuracy (%)", range=[0, 100]),
                      title="Accuracy (95% Wilson intervals)", **_LAYOUT)
    return fig


def difference_chart(diffs: pd.DataFrame, title: str, unit: str, colours: dict[str, str] | None = None,
                     significance: str = "p < 0.05") -> go.Figure:
    """Paired differences (rows of :func:`app.evaluation.difference_frame` for one metric) as points with 95%
    error bars around a zero line, each run at its own offset; filled markers where ``significant``
    (``significance`` says by which rule: the legend shows it)."""
    fig = go.Figure()
    cats = _categories(diffs["benchmark"])
    groups = list(diffs.groupby("run", sort=False))
    for i, ((run, part), dx) in enumerate(zip(groups, offsets(len(groups)))):
        c = colour_of(str(run), colours, i + 1)
        sig = part["significant"].astype(bool).to_numpy()
        p_col = "p_holm" if "p_holm" in part and part["p_holm"].notna().any() else "p"
        fig.add_trace(go.Scatter(
            x=[cats.index(str(b)) + dx for b in part["benchmark"]], y=part["diff"], mode="markers", name=str(run),
            legendgroup=str(run), showlegend=False, error_y=_err(part["diff"], part["lo"], part["hi"], c),
            marker=dict(size=9, color=c, line=dict(color=c, width=2),
                        symbol=["circle" if s else "circle-open" for s in sig]),
            customdata=np.stack([part["benchmark"].astype(str).to_numpy(),
                                 pd.to_numeric(part[p_col], errors="coerce").to_numpy(),
                                 pd.to_numeric(part["n"], errors="coerce").to_numpy()], axis=1),
            hovertemplate="%{customdata[0]}: %{y:+.3g} " + unit + "<br>" + ("Holm p" if p_col == "p_holm" else "p")
                          + "=%{customdata[1]:.3g}, n=%{customdata[2]:.0f}<extra>" + str(run) + "</extra>"))
        _run_legend(fig, str(run), c, "circle")
    _significance_legend(fig, f"filled: distinguishable ({significance})", "open: not distinguishable")
    fig.add_hline(y=0, line_color="#888", line_dash="dash")
    _axis(fig, cats)
    fig.update_layout(title=title, yaxis_title=unit, **_POINT_LAYOUT)
    return fig


def interval_bars(frame: pd.DataFrame, x: str, value: str, title: str, yaxis: str,
                  colours: dict[str, str] | None = None) -> go.Figure:
    """Grouped bars of ``value`` per ``x``, one trace per ``model``, with the frame's ``lo``/``hi`` as error bars
    (answer log-likelihood per benchmark, rationale loss per perspective, option accuracy)."""
    fig = go.Figure()
    for i, (model, part) in enumerate(frame.groupby("model", sort=False)):
        c = colour_of(str(model), colours, i)
        fig.add_trace(go.Bar(x=part[x], y=part[value], name=str(model),
                             marker=dict(color=c, opacity=0.6, line=dict(color=c, width=1.5),
                                         pattern_shape="/" if str(model).startswith("base ") else ""),
                             error_y=_err(part[value], part["lo"], part["hi"], c)))
    fig.update_layout(barmode="group", title=title, yaxis_title=yaxis, **_LAYOUT)
    return fig


def seed_chart(frame: pd.DataFrame, value: str, title: str, unit: str, colours: dict[str, str],
               significance: str | None = None, zero_line: bool = False) -> go.Figure:
    """A method's result over its seeds per target: the mean over seeds with its 95% interval (large marker,
    error bar) and, just right of it, one small dot per seed (hover: which seed), each method at its own offset.

    ``frame``: rows of :func:`app.seed_results.aggregate_frame` (``value`` = "mean") or
    :func:`app.seed_results.comparison_frame` (``value`` = "diff", with ``significant``: filled / open markers,
    ``significance`` naming the rule for the legend). ``colours``: {method: colour}."""
    fig = go.Figure()
    cats = _categories(frame["target"])
    groups = list(frame.groupby("method", sort=False))
    spread = offsets(len(groups))
    dot_dx = (SPAN / max(1, len(groups))) * 0.3  # the seeds' dots sit beside their method's interval
    for i, ((method, part), dx) in enumerate(zip(groups, spread)):
        c = colour_of(str(method), colours, i)
        xs = np.array([cats.index(str(t)) + dx for t in part["target"]])
        sig = part["significant"].astype(bool).to_numpy() if "significant" in part else np.ones(len(part), bool)
        fig.add_trace(go.Scatter(
            x=xs, y=part[value], mode="markers", name=str(method), legendgroup=str(method), showlegend=False,
            error_y=_err(part[value], part["lo"], part["hi"], c),
            marker=dict(size=12, color=c, line=dict(color=c, width=2),
                        symbol=["diamond" if s else "diamond-open" for s in sig]),
            customdata=np.stack([part["target"].astype(str).to_numpy(), part["seeds_text"].to_numpy()], axis=1),
            hovertemplate="%{customdata[0]}: %{y:.3g} " + unit + " (mean over seeds %{customdata[1]})<extra>"
                          + str(method) + "</extra>"))
        _run_legend(fig, str(method), c, "diamond")
        dx_, dy_, label = [], [], []
        for x, (_, row) in zip(xs, part.iterrows()):
            for s, v in zip(row["seeds"], row["per_seed"]):
                dx_.append(x + dot_dx)
                dy_.append(v)
                label.append(f"seed {s}")
        fig.add_trace(go.Scatter(x=dx_, y=dy_, mode="markers", name=f"{method}: one dot per seed",
                                 legendgroup=str(method), showlegend=False, customdata=label,
                                 marker=dict(size=7, color=c, opacity=0.9, line=dict(color="white", width=1)),
                                 hovertemplate="%{customdata}: %{y:.3g} " + unit + "<extra>" + str(method) + "</extra>"))
    if significance:
        _significance_legend(fig, f"filled: distinguishable ({significance})", "open: not distinguishable", "diamond")
    if zero_line:
        fig.add_hline(y=0, line_color="#888", line_dash="dash")
    _axis(fig, cats)
    fig.update_layout(title=title, yaxis_title=unit, **_POINT_LAYOUT)
    return fig
