"""Is MetaNet following the student? Sentences a teacher can say aloud, and the chart behind them.

Both read the tracking columns of steps.jsonl (mind/training/tracking.py): ``meta_spearman`` / ``meta_top1`` on the batch,
the perspective-mean ``baseline_*`` beside them, the ``heldout_*`` values at snapshot steps and ``curriculum_shift``.
Runs written before these columns existed give no sentences and an empty chart, not an error.

The per-step lines are batch means of a few problems. :func:`report` adds the run's honest numbers from
:func:`mind.analysis.tracking.tracking_report`: rank agreement per whole epoch after warm-up with 95% bootstrap
intervals over problems, the calibration pass (MetaNet fitted to the initial student's losses *before step 1*) as
the starting point at step 0, the held-out problems with intervals, and the curriculum shift between whole-epoch
mean weights. :func:`tracking_chart` draws them over the per-step lines and :func:`report_sentences` says whether
the epochs moved beyond the starting point.
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


def report(run_path) -> dict | None:
    """:func:`mind.analysis.tracking.tracking_report` of a run, cached until the run's files change; None when it
    cannot be computed (a run without samples or steps: the page then shows the per-step lines only)."""
    from pathlib import Path

    from app import loading

    p = Path(run_path)
    extra = []
    for name in ("calibration.json", "tracking_heldout.jsonl"):
        try:
            st_ = (p / name).stat()
            extra.append((name, st_.st_size, st_.st_mtime_ns))
        except OSError:
            extra.append((name, None, None))
    return _report(str(p), (loading.signature(p), tuple(extra)))


def _report_uncached(path: str, sig: tuple) -> dict | None:  # noqa: ARG001 - sig keys the cache
    from mind.analysis.tracking import tracking_report
    from mind.errors import MindError
    from mind.run import load_run

    try:
        return tracking_report(load_run(path))
    except (MindError, KeyError, ValueError, TypeError):
        return None


def _cached(fn):
    import streamlit as st

    return st.cache_data(max_entries=16, show_spinner=False)(fn)


_report = _cached(_report_uncached)


def _ci(entry: dict | None) -> tuple[float, float, float]:
    """(mean, lo, hi) of a tracking_report entry ({"mean", "ci": [lo, hi]}), NaN where missing."""
    e = entry or {}
    lo, hi = (list(e.get("ci") or []) + [None, None])[:2]
    num = lambda v: float(v) if _finite(v) else math.nan  # noqa: E731
    return num(e.get("mean")), num(lo), num(hi)


def report_frames(rep: dict) -> dict[str, pd.DataFrame]:
    """The report's points as frames with ``x`` (the step they belong to): ``start`` (the calibration pass, x = 0),
    ``epochs`` (x = the epoch's last step), ``heldout`` (x = the step) with ``meta``/``base`` and their
    ``*_lo``/``*_hi``; ``shift`` (x = the last step of the later epoch, ``shift``)."""
    def row(x, meta, base, **extra):
        m, b = _ci(meta), _ci(base)
        return {"x": x, "meta": m[0], "meta_lo": m[1], "meta_hi": m[2], "base": b[0], "base_lo": b[1],
                "base_hi": b[2], **extra}

    cols = ["x", "meta", "meta_lo", "meta_hi", "base", "base_lo", "base_hi"]
    cal = rep.get("calibration")
    start = pd.DataFrame([row(0, cal.get("meta"), cal.get("baseline"))] if cal else [], columns=cols)
    epochs = pd.DataFrame([row(e["steps"][1], e.get("meta"), e.get("baseline"), epoch=e["epoch"], first=e["steps"][0])
                           for e in rep.get("epochs") or []], columns=cols + ["epoch", "first"])
    held = pd.DataFrame([row(h["step"], h.get("meta"), h.get("baseline"), n=h.get("n_problems"))
                         for h in rep.get("heldout") or []], columns=cols + ["n"])
    last = {e["epoch"]: e["steps"][1] for e in rep.get("epochs") or []}
    shift = pd.DataFrame([{"x": last.get(d["to"]), "shift": d["shift"], "from": d["from"], "to": d["to"]}
                          for d in rep.get("epoch_shift") or [] if d["to"] in last],
                         columns=["x", "shift", "from", "to"])
    return {"start": start, "epochs": epochs, "heldout": held, "shift": shift}


def _interval_points(fig, frame: pd.DataFrame, col: str, name: str, color: str, symbol: str, size: int = 10,
                     mode: str = "markers") -> None:
    """Points of ``frame[col]`` with their ``col_lo``/``col_hi`` as error bars, in the top panel."""
    part = frame.dropna(subset=[col])
    if not len(part):
        return
    up = (part[f"{col}_hi"] - part[col]).clip(lower=0).fillna(0)
    down = (part[col] - part[f"{col}_lo"]).clip(lower=0).fillna(0)
    fig.add_trace(go.Scatter(x=part["x"], y=part[col], mode=mode, name=name,
                             marker=dict(color=color, size=size, symbol=symbol, line=dict(color=color, width=2)),
                             line=dict(color=color, width=1),
                             error_y=dict(type="data", symmetric=False, array=up.tolist(), arrayminus=down.tolist(),
                                          color=color, thickness=1.5, width=4)), row=1, col=1)


def _draw_report(fig, rep: dict, steps: pd.DataFrame) -> None:
    """The report's starting points, per-epoch values and epoch shift over the per-step lines."""
    f = report_frames(rep)
    _interval_points(fig, f["start"], "meta", "MetaNet ρ after calibration (before step 1)", "#1f77b4", "star", 15)
    _interval_points(fig, f["start"], "base", "average-loss ρ at calibration", "#7f7f7f", "star-open", 13)
    _interval_points(fig, f["epochs"], "meta", "MetaNet ρ per epoch after warm-up (95% over problems)", "#1f77b4",
                     "square", 9, "lines+markers")
    _interval_points(fig, f["epochs"], "base", "average-loss ρ per epoch", "#7f7f7f", "square-open", 9,
                     "lines+markers")
    if len(f["heldout"]):
        _interval_points(fig, f["heldout"], "meta", "MetaNet ρ (held-out, 95% over problems)", "#d62728", "diamond")
        _interval_points(fig, f["heldout"], "base", "average-loss ρ (held-out)", "#9467bd", "diamond-open")
    if len(f["shift"]):
        fig.add_trace(go.Scatter(x=f["shift"]["x"], y=f["shift"]["shift"], mode="markers+lines",
                                 name="shift between whole epochs (after warm-up)",
                                 marker=dict(color="#2ca02c", size=9, symbol="square"),
                                 line=dict(color="#2ca02c", width=2)), row=2, col=1)
    warm = int(rep.get("warmup_steps") or 0)
    if warm and len(steps):
        fig.add_vrect(x0=0.5, x1=warm + 0.5, fillcolor="#f2c14e", opacity=0.18, line_width=0,
                      annotation_text="warm-up", annotation_position="top left", row="all", col=1)


def calibration_rho(rep: dict | None) -> float | None:
    """MetaNet's mean ρ after the calibration pass (before step 1), or None when the run records none."""
    m = _ci(((rep or {}).get("calibration") or {}).get("meta"))[0]
    return m if _finite(m) else None


def report_sentences(rep: dict | None, n_problems: int | None = None) -> list[str]:
    """What the report says a teacher can say aloud: where MetaNet started (the calibration pass, before step 1)
    and whether the last whole epoch moved beyond that starting point (their 95% intervals over problems)."""
    if not rep:
        return []
    out = []
    f = report_frames(rep)
    start, epochs = f["start"], f["epochs"]
    if len(start) and _finite(start["meta"].iloc[0]):
        s = start.iloc[0]
        ci = f" [{s['meta_lo']:.2f}, {s['meta_hi']:.2f}]" if _finite(s["meta_lo"]) else ""
        base = f"; the average-loss ranking {s['base']:.2f}" if _finite(s["base"]) else ""
        out.append(f"Before step 1, the calibration pass (MetaNet fitted to the untrained student's losses) already "
                   f"ranks at ρ = {s['meta']:.2f}{ci}{base}: the starting point, drawn at step 0.")
    if len(epochs) and _finite(epochs["meta"].iloc[-1]):
        e = epochs.iloc[-1]
        text = (f"In epoch {int(e['epoch'])} (steps {int(e['first'])}-{int(e['x'])}, after warm-up) ρ = {e['meta']:.2f} "
                f"[{e['meta_lo']:.2f}, {e['meta_hi']:.2f}], 95% over problems")
        if len(start) and _finite(start["meta_lo"].iloc[0]) and _finite(e["meta_lo"]):
            s = start.iloc[0]
            if e["meta_lo"] > s["meta_hi"]:
                text += ": above the calibration interval, so training moved it."
            elif e["meta_hi"] < s["meta_lo"]:
                text += ": below the calibration interval."
            else:
                text += ": its interval overlaps the calibration's, so no change since before step 1 is measurable."
        else:
            text += "."
        out.append(text)
    shift = f["shift"]
    if len(shift):
        last = shift.iloc[-1]
        out.append(f"Between the whole epochs {int(last['from'])} and {int(last['to'])} (after warm-up) the mean weights "
                   f"moved {last['shift']:.0%} (total-variation distance; the per-step line is a running shift that "
                   "includes the warm-up).")
    return out


def _rho_floor(steps: pd.DataFrame, rep: dict | None) -> float:
    """The bottom of the ρ axis: −1 when any value is low, else a little under the lowest value or interval end, so
    intervals of ρ near 0.9 are readable instead of squeezed into the top of a −1..1 axis."""
    vals = [pd.to_numeric(steps[c], errors="coerce") for c in ("meta_spearman", "baseline_spearman",
                                                                "heldout_meta_spearman", "heldout_baseline_spearman")
            if c in steps]
    if rep:
        frames = report_frames(rep)
        vals += [frames[k][c] for k in ("start", "epochs", "heldout") for c in ("meta_lo", "base_lo", "meta", "base")]
    lows = [float(v.min()) for v in vals if len(v) and v.notna().any()]
    if not lows:
        return -1.05
    return max(-1.05, min(lows) - 0.05)


def tracking_chart(steps: pd.DataFrame, cursor: int | None = None, smooth: int = 8, rep: dict | None = None) -> go.Figure:
    """Spearman ρ of MetaNet and of the baseline (rolling mean over ``smooth`` steps) with held-out values as
    markers, in a top panel on a −1..1 axis; the curriculum shift in its own panel below (0 to its maximum), so a
    shift of 0.03 never reads as a ρ near −1. With ``rep`` (:func:`report`): the calibration pass as the starting
    point at step 0, per-epoch values with intervals, held-out points with intervals (step 0 included) instead of
    the step records', the shift between whole epochs, and the warm-up shaded."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.14, row_heights=[0.65, 0.35],
                        subplot_titles=("Spearman ρ between MetaNet's scores and −L̃",
                                        "Curriculum shift since the previous epoch"))
    held_from_report = bool(rep and rep.get("heldout"))
    x = steps["step"] if "step" in steps else []
    for col, name, color, dash in (("meta_spearman", "MetaNet ρ (trained problems)", "#1f77b4", None),
                                   ("baseline_spearman", "average-loss ranking ρ", "#7f7f7f", "dot")):
        if col in steps and steps[col].notna().any():
            y = pd.to_numeric(steps[col], errors="coerce").rolling(smooth, min_periods=1).mean()
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=name, line=dict(color=color, dash=dash)),
                          row=1, col=1)
    for col, name, color in (("heldout_meta_spearman", "MetaNet ρ (held-out)", "#d62728"),
                             ("heldout_baseline_spearman", "average-loss ρ (held-out)", "#9467bd")):
        if col in steps and steps[col].notna().any() and not held_from_report:
            pts = steps.dropna(subset=[col])
            fig.add_trace(go.Scatter(x=pts["step"], y=pts[col], mode="markers", name=name,
                                     marker=dict(color=color, size=9, symbol="diamond")), row=1, col=1)
    if "curriculum_shift" in steps and steps["curriculum_shift"].notna().any():
        name = "running shift per step (warm-up included)" if rep else "curriculum shift (TV)"
        fig.add_trace(go.Scatter(x=x, y=steps["curriculum_shift"], mode="lines", name=name,
                                 line=dict(color="#2ca02c", width=1, dash="dot" if rep else None)), row=2, col=1)
    if rep:
        _draw_report(fig, rep, steps)
    if cursor is not None:
        fig.add_vline(x=cursor, line_dash="dash", line_color="#888")
    fig.update_layout(title=f"Does MetaNet follow the student? (ρ smoothed over {smooth} steps)",
                      legend=dict(orientation="h", y=-0.16, yanchor="top"),
                      **{**_LAYOUT, "height": 580 if rep else 480, "margin": dict(l=10, r=10, t=70, b=10)})
    fig.update_xaxes(title_text="step", row=2, col=1)
    fig.update_yaxes(title_text="ρ (s vs −L̃)", range=[_rho_floor(steps, rep), 1.05], row=1, col=1)
    fig.update_yaxes(title_text="shift (TV)", rangemode="tozero", row=2, col=1)
    return fig


def inertia_chart(steps: pd.DataFrame, perspectives: list[str], colors: dict[str, str], names: dict[str, str],
                  cursor: int | None = None) -> go.Figure:
    """Every perspective's L_real (thin, dotted) and L~ (thick) on one chart. The legend has one entry per
    perspective (its L~ trace; the L_real trace shares its group), laid out below the chart so all of them show;
    click an entry to hide that perspective, double-click to isolate it."""
    fig = go.Figure()
    for p in perspectives:
        for prefix, width, dash, label in (("loss_raw", 1, "dot", "L_real"), ("loss_filtered", 2.5, None, "L̃")):
            col = f"{prefix}/{p}"
            if col in steps:
                fig.add_trace(go.Scatter(x=steps["step"], y=steps[col], mode="lines", name=f"{names[p]} {label}",
                                         legendgroup=p, showlegend=prefix == "loss_filtered",
                                         line=dict(color=colors[p], width=width, dash=dash)))
    if cursor is not None:
        fig.add_vline(x=cursor, line_dash="dash", line_color="#888")
    fig.update_layout(title="Inertia: raw loss L_real (dotted) and filtered L̃ (solid), every perspective",
                      xaxis_title="step", yaxis_title="cross-entropy (nats/token)",
                      legend=dict(orientation="h", y=-0.2, title_text="one entry per perspective:"),
                      **{**_LAYOUT, "height": 480})
    return fig
