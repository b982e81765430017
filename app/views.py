"""Ways of looking at a run's step records: per step, smoothed (TensorBoard's slider), per epoch, or a window.

Pure functions of the steps DataFrame (one row per optimiser step, ``epoch`` = the fraction of the training set
seen so far), used by the Curriculum page's overlay charts and its α bars:

* :func:`smooth`: TensorBoard's smoothing, an exponential moving average with weight ``w`` in [0, 1) that is
  debiased at the start (so the first point is the first value, not a fraction of it); NaN is skipped;
* :func:`per_epoch`: the mean of every numeric column over the steps of each epoch (epoch ``e`` holds the steps
  whose ``epoch`` value lies in ``(e - 1, e]``); ``step`` is the epoch's last step, ``epoch`` its number and ``n``
  its step count, so a partial last epoch says so;
* :func:`view`: one of those by name, with the x column the page asked for;
* :func:`window_rows` / :func:`describe_window`: the step records a bar chart at one step averages, and a sentence
  saying what (the batch of that step, the last N steps, or the epoch so far).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

VIEWS = {"per step": "step", "smoothed": "smoothed", "per epoch": "epoch"}
X_AXES = ("step", "epoch")
EPS = 1e-9


def epoch_number(steps: pd.DataFrame) -> pd.Series | None:
    """The epoch (1, 2, ...) each step belongs to, from the ``epoch`` column; None when the run has none."""
    if "epoch" not in steps or not steps["epoch"].notna().any():
        return None
    e = pd.to_numeric(steps["epoch"], errors="coerce")
    return np.ceil(e - EPS).clip(lower=1).astype("Int64")


def smooth(values, weight: float) -> np.ndarray:
    """TensorBoard's smoothing of a series: debiased EMA, ``weight`` 0 = none, 0.99 = very smooth; NaN stays NaN
    and does not move the average."""
    if not 0.0 <= weight < 1.0:
        raise ValueError(f"smoothing weight {weight} must be in [0, 1)")
    y = np.asarray(values, dtype=float)
    out = np.full_like(y, np.nan)
    last, num = 0.0, 0
    for i, v in enumerate(y):
        if not math.isfinite(v):
            continue
        last = last * weight + (1.0 - weight) * v
        num += 1
        out[i] = last / (1.0 - weight ** num) if weight else v
    return out


def smoothed(steps: pd.DataFrame, weight: float, skip: tuple[str, ...] = ("step", "epoch")) -> pd.DataFrame:
    """Every numeric column of ``steps`` smoothed with :func:`smooth` (``step`` and ``epoch`` kept)."""
    if not weight:
        return steps
    out = steps.copy()
    for c in steps.select_dtypes("number").columns:
        if c not in skip:
            out[c] = smooth(steps[c].to_numpy(dtype=float), weight)
    return out


def per_epoch(steps: pd.DataFrame) -> pd.DataFrame:
    """Means per epoch (numeric columns, NaN ignored): ``step`` = the epoch's last step, ``epoch`` = its number,
    ``n`` = how many steps it holds. The steps unchanged (with ``n`` = 1) when the run records no epochs."""
    ep = epoch_number(steps)
    if ep is None or not len(steps):
        return steps.assign(n=1)
    num = steps.select_dtypes("number").drop(columns=["step", "epoch"], errors="ignore")
    grouped = num.groupby(ep.to_numpy())
    out = grouped.mean()
    out.insert(0, "n", grouped.size())
    out.insert(0, "epoch", out.index.astype(int))
    out.insert(0, "step", steps.groupby(ep.to_numpy())["step"].max())
    return out.reset_index(drop=True)


def view(steps: pd.DataFrame, how: str, weight: float = 0.6, x: str = "step") -> pd.DataFrame:
    """``steps`` seen ``how`` (a key or value of :data:`VIEWS`), with column ``x`` holding what the x axis shows
    (the step, or the epoch: fractional per step and smoothed, whole per epoch)."""
    how = VIEWS.get(how, how)
    if how == "epoch":
        out = per_epoch(steps)
    elif how == "smoothed":
        out = smoothed(steps, weight)
    elif how == "step":
        out = steps
    else:
        raise ValueError(f"unknown view {how!r}; use one of {', '.join(VIEWS)}")
    use_epoch = x == "epoch" and "epoch" in out and out["epoch"].notna().any()
    return out.assign(x=out["epoch"] if use_epoch else out["step"])


def window_rows(steps: pd.DataFrame, cursor: int, over: str | int = "step") -> pd.DataFrame:
    """The step records a chart at ``cursor`` averages: that step (``"step"``), the last ``over`` steps up to it
    (an int), or the steps of its epoch up to it (``"epoch"``)."""
    upto = steps[steps["step"] <= cursor]
    if not len(upto):
        upto = steps.iloc[:1]
    if over == "epoch":
        ep = epoch_number(upto)
        return upto if ep is None else upto[(ep == ep.iloc[-1]).to_numpy()]
    n = 1 if over == "step" else max(1, int(over))
    return upto.iloc[-n:]


def describe_window(rows: pd.DataFrame, over: str | int, per_step: int | None) -> str:
    """What one bar averages: 'the 2 problems of step 12', 'steps 8-12 (5 steps x 2 problems)', 'epoch 2 so far
    (steps 9-12 ...)'."""
    first, last = int(rows["step"].iloc[0]), int(rows["step"].iloc[-1])
    n = len(rows)
    probs = f"{per_step} problems" if per_step else "the batch's problems"
    if over == "step" or n == 1 and over != "epoch":
        return f"the mean over the {probs} of step {last}"
    span = f"step{'s' if n > 1 else ''} {first}" + (f"-{last}" if n > 1 else "")
    times = f"{n} step{'s' if n > 1 else ''} x {probs}" if per_step else f"{n} step{'s' if n > 1 else ''}"
    if over == "epoch":
        ep = epoch_number(rows)
        label = f"epoch {int(ep.iloc[-1])}" if ep is not None else "this epoch"
        return f"the mean over {label} so far: {span} ({times})"
    return f"the mean over the last {n} steps: {span} ({times})"
