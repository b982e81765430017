"""Numbers with their uncertainty, from an evaluation's items table (:mod:`mind.evaluation.items`).

* :func:`model_block` - one model's results: per benchmark the accuracy with its Wilson interval, the mean answer
  log-likelihood, the option-ranking accuracy (choice benchmarks) and the per-perspective rationale loss (heldout),
  each with an interval; the ID and OOD averages: of the benchmark accuracies (MOVER over Wilson intervals) and of
  the mean answer log-likelihoods (bootstrap resampling within each benchmark).
* :func:`forgetting` - the model against its base on the OOD benchmarks, item by item: accuracy (per benchmark:
  Newcombe interval, McNemar exact p; averaged: MOVER over the Newcombe intervals, p by inversion) and answer
  log-likelihood (paired bootstrap, within each benchmark for the average).
* :func:`paired` - another run against a reference run on the items both evaluated, the same way.

Differences are always *other minus reference* (for forgetting: after minus before). Higher is better for accuracy
and log-likelihood, lower for rationale loss. Methods are in :mod:`mind.evaluation.stats`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mind.evaluation import stats
from mind.evaluation.items import has_metric, perspectives
from mind.evaluation.table import ID_BENCHMARKS, OOD_BENCHMARKS


def kind(benchmark: str) -> str:
    return "ID" if benchmark in ID_BENCHMARKS else "OOD"


def _benchmarks(df: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(df["benchmark"].tolist()))


def _interval(est: float, lo: float, hi: float, key: str = "mean") -> dict:
    return {key: est, "ci": [lo, hi]}


def model_block(df: pd.DataFrame, prefix: str = "", seed: int = stats.SEED) -> dict | None:
    """Results of the model whose columns start with ``prefix`` ("" or "base_"); None when it has no metric."""
    acc_col, lp_col, opt_col = f"{prefix}correct", f"{prefix}answer_logp", f"{prefix}option_correct"
    has_acc, has_lp = has_metric(df, acc_col), has_metric(df, lp_col)
    if not (has_acc or has_lp):
        return None
    benches: dict[str, dict] = {}
    for b in _benchmarks(df):
        part = df[df["benchmark"] == b]
        entry: dict = {"n": len(part), "kind": kind(b)}
        if has_acc:
            k = int(part[acc_col].astype(bool).sum())
            entry.update(accuracy=k / len(part), correct=k, ci=list(stats.wilson(k, len(part))))
        if has_lp:
            entry["answer_logp"] = _interval(*stats.bootstrap_mean(part[lp_col].to_numpy(float), seed=seed))
        if has_metric(part, opt_col):
            k = int(part[opt_col].astype(bool).sum())
            entry["option_accuracy"] = {"accuracy": k / len(part), "correct": k, "n": len(part),
                                        "ci": list(stats.wilson(k, len(part)))}
        ce = {}
        for p in perspectives(part, prefix):
            vals = part[f"{prefix}ce/{p}"].to_numpy(float)
            if np.isfinite(vals).any():
                ce[p] = {**_interval(*stats.bootstrap_mean(vals, seed=seed)), "n": int(np.isfinite(vals).sum())}
        if ce:
            entry["rationale_ce"] = ce
        benches[b] = entry
    out: dict = {"benchmarks": benches}
    for group, names in (("id", ID_BENCHMARKS), ("ood", OOD_BENCHMARKS)):
        present = [b for b in names if b in benches]
        parts = [df.loc[df["benchmark"] == b] for b in present]
        if has_acc and present:
            est, lo, hi = stats.average_accuracy([p[acc_col].astype(bool).to_numpy() for p in parts])
            out[f"{group}_avg"], out[f"{group}_avg_ci"] = est, [lo, hi]
        else:
            out[f"{group}_avg"], out[f"{group}_avg_ci"] = None, None
        if has_lp and present:
            out[f"{group}_answer_logp"] = _interval(*stats.bootstrap_mean([p[lp_col].to_numpy(float) for p in parts],
                                                                          seed=seed))
    return out


def _per_benchmark(df: pd.DataFrame, ref: str, new: str, benches: list[str], seed: int) -> dict:
    """Per benchmark: paired differences of the columns with prefix ``new`` minus those with prefix ``ref``."""
    out: dict = {}
    for b in benches:
        part = df[df["benchmark"] == b]
        entry: dict = {"n": len(part)}
        for metric in ("accuracy", "option_accuracy"):
            col = "correct" if metric == "accuracy" else metric.replace("accuracy", "correct")
            if has_metric(part, f"{ref}{col}") and has_metric(part, f"{new}{col}"):
                entry[metric] = stats.paired_accuracy(part[f"{ref}{col}"].astype(bool),
                                                      part[f"{new}{col}"].astype(bool)).to_json()
        if has_metric(part, f"{ref}answer_logp") and has_metric(part, f"{new}answer_logp"):
            entry["answer_logp"] = stats.paired_bootstrap(part[f"{ref}answer_logp"].to_numpy(float),
                                                          part[f"{new}answer_logp"].to_numpy(float), seed=seed).to_json()
        ce = {}
        for p in perspectives(part, new):
            if f"{ref}ce/{p}" in part.columns:
                d = stats.paired_bootstrap(part[f"{ref}ce/{p}"].to_numpy(float), part[f"{new}ce/{p}"].to_numpy(float),
                                           seed=seed)
                if d.n:
                    ce[p] = d.to_json()
        if ce:
            entry["rationale_ce"] = ce
        out[b] = entry
    return out


def _averaged(df: pd.DataFrame, ref: str, new: str, benches: list[str], seed: int) -> dict:
    """Averaged over ``benches`` (each benchmark weighs the same): accuracy and answer log-likelihood differences,
    paired stratified bootstrap."""
    out: dict = {}
    parts = [df[df["benchmark"] == b] for b in benches]
    both = lambda col: parts and all(has_metric(p, f"{ref}{col}") and has_metric(p, f"{new}{col}") for p in parts)  # noqa: E731
    if both("correct"):
        out["accuracy"] = stats.average_paired_accuracy([p[f"{ref}correct"].astype(bool).to_numpy() for p in parts],
                                                        [p[f"{new}correct"].astype(bool).to_numpy() for p in parts]).to_json()
    if both("answer_logp"):
        out["answer_logp"] = stats.paired_bootstrap([p[f"{ref}answer_logp"].to_numpy(float) for p in parts],
                                                    [p[f"{new}answer_logp"].to_numpy(float) for p in parts],
                                                    seed=seed).to_json()
    return out


def forgetting(df: pd.DataFrame, seed: int = stats.SEED) -> dict | None:
    """The model minus its base on the OOD benchmarks (``accuracy``, ``answer_logp``: averages over the OOD
    benchmarks; ``benchmarks``: each one). None without OOD benchmarks or base columns."""
    ood = [b for b in OOD_BENCHMARKS if b in set(df["benchmark"])]
    if not ood or not any(c.startswith("base_") for c in df.columns):
        return None
    out = {**_averaged(df, "base_", "", ood, seed), "benchmarks": _per_benchmark(df, "base_", "", ood, seed)}
    return out if ("accuracy" in out or "answer_logp" in out) else None


def paired(ref: pd.DataFrame, other: pd.DataFrame, seed: int = stats.SEED) -> dict:
    """``other`` minus ``ref`` (two items tables) on the items both evaluated: per benchmark, and the ID and OOD
    averages (``id``/``ood``: accuracy and answer_logp)."""
    keep = lambda d: d[[c for c in d.columns if not c.startswith("base_")]]  # noqa: E731
    left = keep(ref).rename(columns=lambda c: c if c in ("benchmark", "id") else f"ref_{c}")
    merged = left.merge(keep(other), on=["benchmark", "id"])
    benches = _benchmarks(merged)
    out: dict = {"n_items": len(merged), "benchmarks": _per_benchmark(merged, "ref_", "", benches, seed)}
    for group, names in (("id", ID_BENCHMARKS), ("ood", OOD_BENCHMARKS)):
        present = [b for b in names if b in benches]
        out[group] = _averaged(merged, "ref_", "", present, seed) if present else {}
    return out
