"""Does MetaNet follow the student, epoch by epoch, against honest baselines? And how far does the curriculum move?

Read from a run directory after (or while) it trains; no torch. Everything is per *whole* epoch after MetaNet's
warm-up steps, since the warm-up trains on equal weights by design and a partial epoch averages other problems.

* **Tracking** (:func:`tracking_report`): per epoch, MetaNet's rank agreement with the student's filtered losses
  (Spearman rho between s and -L~, per (step, problem) sample; averaged per problem first, then over problems), next
  to the perspective-mean baseline's (the ranking "each perspective's mean L~" gives every problem). Both with a
  95% percentile bootstrap interval over problems (the unit that repeats; B = 5000, seed 0). Two starting points
  put a later epoch in context: the calibration pass (``calibration.json``: MetaNet fitted to the initial
  student's losses before step 1, per training problem) and held-out problems (``tracking_heldout.jsonl``: the
  problems never trained on, at step 0 after calibration and at every snapshot). In-sample tracking that equals
  its calibration value says MetaNet's later updates added nothing measurable.
* **Curriculum shift** (:func:`epoch_shift`): the total-variation distance between the mean weights alpha of two
  consecutive whole epochs after warm-up (0: the same curriculum, 1: all weight moved). The per-step column
  ``curriculum_shift`` of steps.jsonl is a *running* shift (the epoch so far against the previous whole epoch,
  warm-up included) and is not this number.

Runs made before per-problem tracking was recorded (no ``meta_spearman`` in samples, no tracking_heldout.jsonl)
still get MetaNet's rho (computed here from the samples' scores and L~) but no per-problem baseline.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from mind.run.jsonl import read_json_or_empty

N_BOOT = 5000
SEED = 0


def _spearman(a, b) -> float:
    """Spearman rho of two equal-length arrays over the entries finite in both (average ranks for ties)."""
    from scipy.stats import rankdata

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 2:
        return math.nan
    ra, rb = rankdata(a[ok]), rankdata(b[ok])
    if ra.std() == 0 or rb.std() == 0:
        return math.nan
    return float(np.corrcoef(ra, rb)[0, 1])


def mean_ci(values, n_boot: int = N_BOOT, seed: int = SEED) -> dict:
    """Mean of the finite values with a 95% percentile bootstrap interval (resampling the values: problems)."""
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=float)
    if not len(v):
        return {"mean": None, "ci": [None, None], "n": 0}
    rng = np.random.default_rng([seed, 0x7AC])
    draws = v[rng.integers(0, len(v), size=(n_boot, len(v)))].mean(axis=1)
    lo, hi = np.quantile(draws, [0.025, 0.975])
    return {"mean": float(v.mean()), "ci": [float(lo), float(hi)], "n": int(len(v))}


def whole_epochs(steps: pd.DataFrame, warmup: int) -> list[tuple[int, int, int]]:
    """(epoch number from 1, first step, last step) of every whole epoch, counting only steps after ``warmup``
    (an epoch that holds warm-up steps counts from the first step after them)."""
    if not len(steps):
        return []
    epochs = steps["epoch"].to_numpy(float)
    step = steps["step"].to_numpy(int)
    out = []
    for e in range(1, int(math.floor(epochs.max() + 1e-9)) + 1):
        inside = step[(epochs > e - 1 + 1e-9) & (epochs <= e + 1e-9) & (step > warmup)]
        if len(inside):
            out.append((e, int(inside.min()), int(inside.max())))
    return out


def _per_problem(samples: pd.DataFrame, column: str | None) -> dict:
    """{problem_id: mean rho over its sample rows}: from ``column`` when recorded, else MetaNet's rho computed from
    the rows' scores and L~."""
    vals: dict[str, list[float]] = {}
    for row in samples.itertuples(index=False):
        if column is not None:
            v = getattr(row, column, None)
        else:
            v = _spearman(row.scores, [-x if x is not None else math.nan for x in row.loss_filtered]) \
                if row.scores is not None else math.nan
        if v is not None and v == v:
            vals.setdefault(str(row.problem_id), []).append(float(v))
    return {k: float(np.mean(v)) for k, v in vals.items()}


def tracking_report(run) -> dict:
    """Tracking per whole epoch after warm-up, with intervals over problems, and its starting points (see the
    module docstring). ``run``: a :class:`mind.run.Run`."""
    cfg = run.config
    warmup = int(cfg.get("meta_warmup_steps", 0) or 0) if cfg.get("method") in ("mind", "instant", "instant-fast",
                                                                                 "no-attention") else 0
    steps = run.steps
    samples = run.samples
    out: dict = {"warmup_steps": warmup, "epochs": [], "definition": "Spearman rho(s, -L~) per problem, mean over "
                 "problems; 95% bootstrap over problems"}
    recorded = len(samples) and "meta_spearman" in samples.columns and samples["meta_spearman"].notna().any()
    for e, lo, hi in whole_epochs(steps, warmup):
        part = samples[(samples["step"] >= lo) & (samples["step"] <= hi)] if len(samples) else samples
        meta = _per_problem(part, "meta_spearman" if recorded else None) if len(part) else {}
        base = _per_problem(part, "baseline_spearman") if recorded else {}
        out["epochs"].append({"epoch": e, "steps": [lo, hi], "meta": mean_ci(meta.values()),
                              "baseline": mean_ci(base.values()) if base else None})
    calib = read_json_or_empty(run.path / "calibration.json")
    if calib.get("problem_meta_spearman"):
        out["calibration"] = {"meta": mean_ci(calib["problem_meta_spearman"]),
                              "baseline": mean_ci(calib.get("problem_baseline_spearman") or [])}
    elif calib.get("epochs"):  # older runs: the mean only
        out["calibration"] = {"meta": {"mean": calib["epochs"][-1].get("meta_spearman"), "ci": [None, None], "n": None},
                              "baseline": None}
    held = _read_jsonl(run.path / "tracking_heldout.jsonl")
    out["heldout"] = [{"step": int(r["step"]), "meta": mean_ci(r.get("meta_spearman") or []),
                       "baseline": mean_ci(r.get("baseline_spearman") or []), "n_problems": len(r.get("problem_ids") or [])}
                      for r in held]
    out["epoch_shift"] = epoch_shift(run, warmup)
    return out


def epoch_shift(run, warmup: int | None = None) -> list[dict]:
    """Total-variation distance between the mean alpha of consecutive whole epochs after warm-up:
    [{"from": e, "to": e + 1, "shift": d, "weights": {perspective: mean alpha of epoch e + 1}}]."""
    steps = run.steps
    if warmup is None:
        warmup = int(run.config.get("meta_warmup_steps", 0) or 0)
    cols = [c for c in steps.columns if c.startswith("weight/")]
    if not cols:
        return []
    means = []
    for e, lo, hi in whole_epochs(steps, warmup):
        part = steps[(steps["step"] >= lo) & (steps["step"] <= hi)]
        means.append((e, part[cols].astype(float).mean().to_numpy()))
    out = []
    for (e0, a), (e1, b) in zip(means, means[1:]):
        out.append({"from": e0, "to": e1, "shift": float(0.5 * np.abs(a - b).sum()),
                    "weights": {c.split("/", 1)[1]: float(x) for c, x in zip(cols, b)}})
    return out



def _read_jsonl(path: Path) -> list[dict]:
    from mind.run import read_jsonl

    return [r for r in read_jsonl(path) if isinstance(r, dict) and "step" in r] if path.is_file() else []
