"""Numbers with their uncertainty, from an evaluation's items table (:mod:`mind.evaluation.items`).

Every benchmark has several accuracy metrics (:data:`ACCURACY_METRICS`, each an item column of booleans) and one
primary metric (:func:`primary_metric`): ``acc_norm`` (lm-evaluation-harness's option scoring) for the choice
benchmarks, the generated answer's exact match for the others. A benchmark's ``accuracy`` in a summary is its
primary metric; all of them are under ``metrics``.

* :func:`model_block` - one model's results: per benchmark every accuracy metric with its Wilson interval, the
  mean answer log-likelihood and the per-perspective rationale loss (heldout), each with an interval; the ID and
  OOD averages: micro-averages (every item of the group weighs the same) of the primary metric (Wilson) and of the
  answer log-likelihood (bootstrap over items).
* :func:`forgetting` - the model against its base on the OOD benchmarks, item by item: accuracy (per benchmark
  and pooled: Newcombe interval, McNemar exact p) and answer log-likelihood (paired bootstrap).
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

# item column -> what it measures (the summary's metric names are the same)
ACCURACY_METRICS = {
    "acc_norm": "option log-likelihood per character, harness prompt (lm-evaluation-harness acc_norm)",
    "acc": "option log-likelihood, harness prompt (lm-evaluation-harness acc)",
    "letter_correct": "highest 'The answer is (X).' continuation, trained prompt",
    "correct": "generated answer, trained prompt (exact match, math-verify)",
    "option_correct": "option text ranked per token, trained prompt (evaluations before prompt versions)",
}
CHOICE_BENCHMARKS = ("csqa", "strategyqa", "gpqa")
GROUP_NOTE = "micro-average over items of each benchmark's primary metric (every item weighs the same)"


def kind(benchmark: str) -> str:
    return "ID" if benchmark in ID_BENCHMARKS else "OOD"


def primary_metric(benchmark: str, df: pd.DataFrame, prefix: str = "") -> str | None:
    """The column a benchmark's headline accuracy is read from: acc_norm for a choice benchmark that has it, else
    the generated answer; None when the model has neither for every item."""
    part = df[df["benchmark"] == benchmark]
    order = ("acc_norm", "correct") if benchmark in CHOICE_BENCHMARKS else ("correct",)
    return next((c for c in order if has_metric(part, f"{prefix}{c}")), None)


def _benchmarks(df: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(df["benchmark"].tolist()))


def _interval(est: float, lo: float, hi: float, key: str = "mean") -> dict:
    return {key: est, "ci": [lo, hi]}


def _proportion(values) -> dict:
    a = np.asarray(values, dtype=bool)
    k = int(a.sum())
    return {"accuracy": k / len(a), "correct": k, "n": len(a), "ci": list(stats.wilson(k, len(a)))}


def model_block(df: pd.DataFrame, prefix: str = "", seed: int = stats.SEED) -> dict | None:
    """Results of the model whose columns start with ``prefix`` ("" or "base_"); None when it has no metric."""
    lp_col = f"{prefix}answer_logp"
    has_lp = has_metric(df, lp_col)
    benches: dict[str, dict] = {}
    primary: dict[str, str] = {}
    for b in _benchmarks(df):
        part = df[df["benchmark"] == b]
        entry: dict = {"n": len(part), "kind": kind(b)}
        metrics = {m: _proportion(part[f"{prefix}{m}"]) for m in ACCURACY_METRICS if has_metric(part, f"{prefix}{m}")}
        if metrics:
            entry["metrics"] = metrics
        p = primary_metric(b, df, prefix)
        if p is not None:
            primary[b] = p
            entry.update(primary=p, **{k: metrics[p][k] for k in ("accuracy", "correct", "ci")})
        if has_lp:
            entry["answer_logp"] = _interval(*stats.bootstrap_mean(part[lp_col].to_numpy(float), seed=seed))
        ce = {}
        for persp in perspectives(part, prefix):
            vals = part[f"{prefix}ce/{persp}"].to_numpy(float)
            if np.isfinite(vals).any():
                ce[persp] = {**_interval(*stats.bootstrap_mean(vals, seed=seed)), "n": int(np.isfinite(vals).sum())}
        if ce:
            entry["rationale_ce"] = ce
        benches[b] = entry
    if not primary and not has_lp:
        return None
    out: dict = {"benchmarks": benches, "averaging": GROUP_NOTE}
    for group, names in (("id", ID_BENCHMARKS), ("ood", OOD_BENCHMARKS)):
        present = [b for b in names if b in benches]
        pooled = _pooled(df, prefix, [b for b in present if b in primary], primary)
        if pooled is not None and len(pooled) and len(primary) and all(b in primary for b in present):
            pr = _proportion(pooled)
            out[f"{group}_avg"], out[f"{group}_avg_ci"], out[f"{group}_n"] = pr["accuracy"], pr["ci"], pr["n"]
        else:
            out[f"{group}_avg"], out[f"{group}_avg_ci"] = None, None
        if has_lp and present:
            vals = np.concatenate([df.loc[df["benchmark"] == b, lp_col].to_numpy(float) for b in present])
            out[f"{group}_answer_logp"] = _interval(*stats.bootstrap_mean(vals, seed=seed))
    return out


def _pooled(df: pd.DataFrame, prefix: str, benches: list[str], primary: dict[str, str]) -> np.ndarray | None:
    """The primary-metric outcomes of every item of ``benches``, concatenated (None when there are none)."""
    parts = [df.loc[df["benchmark"] == b, f"{prefix}{primary[b]}"].astype(bool).to_numpy() for b in benches]
    return np.concatenate(parts) if parts else None


def _common_primary(df: pd.DataFrame, ref: str, new: str, b: str) -> str | None:
    """The primary metric both models have on benchmark ``b`` (the reference's choice), or None."""
    p = primary_metric(b, df, ref)
    return p if p is not None and has_metric(df[df["benchmark"] == b], f"{new}{p}") else None


def _per_benchmark(df: pd.DataFrame, ref: str, new: str, benches: list[str], seed: int) -> dict:
    """Per benchmark: paired differences of the columns with prefix ``new`` minus those with prefix ``ref``."""
    out: dict = {}
    for b in benches:
        part = df[df["benchmark"] == b]
        entry: dict = {"n": len(part)}
        metrics = {m: stats.paired_accuracy(part[f"{ref}{m}"].astype(bool), part[f"{new}{m}"].astype(bool)).to_json()
                   for m in ACCURACY_METRICS if has_metric(part, f"{ref}{m}") and has_metric(part, f"{new}{m}")}
        if metrics:
            entry["metrics"] = metrics
        p = _common_primary(df, ref, new, b)
        if p is not None:
            entry["primary"], entry["accuracy"] = p, metrics[p]
        if has_metric(part, f"{ref}answer_logp") and has_metric(part, f"{new}answer_logp"):
            entry["answer_logp"] = stats.paired_bootstrap(part[f"{ref}answer_logp"].to_numpy(float),
                                                          part[f"{new}answer_logp"].to_numpy(float), seed=seed).to_json()
        ce = {}
        for persp in perspectives(part, new):
            if f"{ref}ce/{persp}" in part.columns:
                d = stats.paired_bootstrap(part[f"{ref}ce/{persp}"].to_numpy(float),
                                           part[f"{new}ce/{persp}"].to_numpy(float), seed=seed)
                if d.n:
                    ce[persp] = d.to_json()
        if ce:
            entry["rationale_ce"] = ce
        out[b] = entry
    return out


def _averaged(df: pd.DataFrame, ref: str, new: str, benches: list[str], seed: int) -> dict:
    """Pooled over the items of ``benches`` (micro-average): the primary accuracy's paired difference (Newcombe /
    McNemar) and the answer log-likelihood's (paired bootstrap over items)."""
    out: dict = {}
    prim = {b: _common_primary(df, ref, new, b) for b in benches}
    if benches and all(prim.values()):
        x = np.concatenate([df.loc[df["benchmark"] == b, f"{ref}{prim[b]}"].astype(bool).to_numpy() for b in benches])
        y = np.concatenate([df.loc[df["benchmark"] == b, f"{new}{prim[b]}"].astype(bool).to_numpy() for b in benches])
        out["accuracy"] = stats.paired_accuracy(x, y).to_json()
    parts = [df[df["benchmark"] == b] for b in benches]
    if parts and all(has_metric(p, f"{ref}answer_logp") and has_metric(p, f"{new}answer_logp") for p in parts):
        out["answer_logp"] = stats.paired_bootstrap(np.concatenate([p[f"{ref}answer_logp"].to_numpy(float) for p in parts]),
                                                    np.concatenate([p[f"{new}answer_logp"].to_numpy(float) for p in parts]),
                                                    seed=seed).to_json()
    return out


def forgetting(df: pd.DataFrame, seed: int = stats.SEED) -> dict | None:
    """The model minus its base on the OOD benchmarks (``accuracy``, ``answer_logp``: pooled over the OOD
    benchmarks' items; ``benchmarks``: each one). None without OOD benchmarks or base columns."""
    ood = [b for b in OOD_BENCHMARKS if b in set(df["benchmark"])]
    if not ood or not any(c.startswith("base_") for c in df.columns):
        return None
    out = {**_averaged(df, "base_", "", ood, seed), "benchmarks": _per_benchmark(df, "base_", "", ood, seed)}
    return out if ("accuracy" in out or "answer_logp" in out) else None


def paired(ref: pd.DataFrame, other: pd.DataFrame, seed: int = stats.SEED) -> dict:
    """``other`` minus ``ref`` (two items tables) on the items both evaluated: per benchmark, and pooled over the
    ID and OOD benchmarks (``id``/``ood``: accuracy and answer_logp)."""
    keep = lambda d: d[[c for c in d.columns if not c.startswith("base_")]]  # noqa: E731
    left = keep(ref).rename(columns=lambda c: c if c in ("benchmark", "id") else f"ref_{c}")
    merged = left.merge(keep(other), on=["benchmark", "id"])
    benches = _benchmarks(merged)
    out: dict = {"n_items": len(merged), "benchmarks": _per_benchmark(merged, "ref_", "", benches, seed)}
    for group, names in (("id", ID_BENCHMARKS), ("ood", OOD_BENCHMARKS)):
        present = [b for b in names if b in benches]
        out[group] = _averaged(merged, "ref_", "", present, seed) if present else {}
    return out
