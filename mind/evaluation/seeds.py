"""Results over training seeds: what a method scores, and how two methods differ, with intervals that include how
much training itself varies, and Holm's correction over every test of a comparison table.

One evaluation of one checkpoint answers "how good is this checkpoint?"; an interval over its items says nothing
about a second training run. So a method is trained with several seeds (data order, LoRA and MetaNet
initialisation; TrainConfig.seed) and every seed's checkpoint is evaluated on the same items.

Score of a method (:func:`aggregate`), per benchmark (its primary metric, mind.evaluation.compare) and pooled over
the ID / OOD items: the mean over seeds of the per-seed scores, with

* ``ci`` - a two-level (hierarchical) percentile bootstrap: each of B resamples draws S seeds with replacement and,
  independently for each drawn seed, that seed's items with replacement, and averages. It carries both sources of
  variation, training (seeds) and the finite item set. With 3 seeds the seed level is coarse (a bootstrap over 3
  values has 10 distinct multisets and under-states the seed variance by a factor (S - 1) / S), which is why
* ``t_ci`` - the t-interval over the S per-seed scores (mean +- t_{S-1} sd / sqrt(S)) is reported beside it: the
  textbook interval for training variability on these items (wide with 3 seeds: t_2 = 4.30);
* ``per_seed`` - the per-seed scores themselves (the Evaluation page draws them as dots).

Difference of two methods (:func:`difference`): items are paired within a seed (seed s of both methods, same
items), d_s = mean over items of y - x, estimate = mean over the seeds both have; ``ci`` and ``p`` from the same
two-level bootstrap of the paired item differences (p = (1 + #{|d* - d| >= |d|}) / (B + 1), so its floor is
1/(B + 1) and a p at the floor reads "< 1/(B + 1)"); ``t_p`` the one-sample t-test of the per-seed differences
(S >= 2). With one seed both reduce to the item-level paired bootstrap, and the result says so (``seeds``: 1).

Multiplicity (:func:`adjust`): every test of one comparison table (each method against the reference, each
benchmark and pooled group, each metric) is one family; ``p_holm`` is Holm's step-down adjustment over it, and
``significant`` means p_holm < 0.05.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd

from mind.evaluation import stats
from mind.evaluation.compare import primary_metric
from mind.evaluation.table import ID_BENCHMARKS, OOD_BENCHMARKS

GROUPS = {"ID": ID_BENCHMARKS, "OOD": OOD_BENCHMARKS}


# ------------------------------------------------------------------------------------------------ the bootstrap


def two_level_means(per_seed: Sequence[np.ndarray], n_boot: int = stats.N_BOOT, seed: int = stats.SEED) -> np.ndarray:
    """(n_boot,) resampled means: seeds drawn with replacement, then each drawn seed's values (items, or paired
    item differences) drawn with replacement, independently per draw; the mean of the drawn seeds' item means."""
    values = [np.asarray(v, dtype=float) for v in per_seed]
    S = len(values)
    rng = np.random.default_rng([seed, 0x5EED5])
    item_means = np.empty((S, n_boot, S))  # [seed s, resample b, draw slot j]: s's items resampled afresh
    for s, v in enumerate(values):
        for j in range(S):
            idx = rng.integers(0, len(v), size=(n_boot, len(v)), dtype=np.int32)
            item_means[s, :, j] = v[idx].mean(axis=-1)
    pick = rng.integers(0, S, size=(n_boot, S)) if S > 1 else np.zeros((n_boot, 1), dtype=int)
    b = np.arange(n_boot)[:, None]
    j = np.arange(S)[None, :]
    return item_means[pick, b, j].mean(axis=1)


def t_interval(values: Sequence[float], level: float = stats.LEVEL) -> tuple[float, float]:
    """mean +- t_{S-1} * sd / sqrt(S) over per-seed values; (nan, nan) with fewer than two."""
    from scipy.stats import t as student_t

    v = np.asarray(values, dtype=float)
    if len(v) < 2:
        return (math.nan, math.nan)
    half = float(student_t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v)))
    return (float(v.mean() - half), float(v.mean() + half))


def t_test_p(values: Sequence[float]) -> float:
    """Two-sided one-sample t-test of mean 0 over per-seed differences (nan with fewer than two or no spread)."""
    from scipy.stats import t as student_t

    v = np.asarray(values, dtype=float)
    if len(v) < 2:
        return math.nan
    sd = v.std(ddof=1)
    if sd == 0:
        return 1.0 if v.mean() == 0 else 0.0
    t = v.mean() / (sd / math.sqrt(len(v)))
    return float(2 * student_t.sf(abs(t), len(v) - 1))


# ------------------------------------------------------------------------------------------------ outcomes


def _outcomes(df: pd.DataFrame, benchmarks: Sequence[str], metric: str) -> tuple[np.ndarray, list[str]] | None:
    """Per-item values of ``metric`` ('accuracy' = each benchmark's primary metric, or 'answer_logp') over
    ``benchmarks`` in item order, and their keys; None when an item lacks it."""
    vals, keys = [], []
    for b in benchmarks:
        part = df[df["benchmark"] == b]
        if not len(part):
            return None
        col = primary_metric(b, df) if metric == "accuracy" else metric
        if col is None or col not in part or part[col].isna().any():
            return None
        vals.append(part[col].astype(float).to_numpy())
        keys += [f"{b}/{i}" for i in part["id"]]
    return np.concatenate(vals), keys


def _targets(frames: Sequence[pd.DataFrame]) -> list[tuple[str, tuple[str, ...]]]:
    """(name, benchmarks) to report: every benchmark all frames have, then the ID / OOD pools."""
    common = set.intersection(*(set(f["benchmark"]) for f in frames)) if frames else set()
    order = [b for b in (*ID_BENCHMARKS, *OOD_BENCHMARKS) if b in common]
    out = [(b, (b,)) for b in order]
    for g, names in GROUPS.items():
        present = tuple(b for b in names if b in common)
        if present:
            out.append((f"{g} pooled", present))
    return out


# ------------------------------------------------------------------------------------------------ aggregates


def aggregate(frames: dict[int, pd.DataFrame], n_boot: int = stats.N_BOOT, seed: int = stats.SEED) -> dict:
    """One method over its seeds (``frames``: {seed: items table}): per benchmark and pooled group, for the
    primary accuracy and the answer log-likelihood, the mean over seeds with ``ci`` (two-level bootstrap),
    ``t_ci`` (over per-seed scores), ``per_seed`` and the items per seed."""
    seeds = sorted(frames)
    out: dict = {"seeds": seeds, "targets": {}}
    for name, benches in _targets([frames[s] for s in seeds]):
        entry = {}
        for metric in ("accuracy", "answer_logp"):
            got = [_outcomes(frames[s], benches, metric) for s in seeds]
            if any(g is None for g in got):
                continue
            vals = [g[0] for g in got]
            per_seed = [float(v.mean()) for v in vals]
            draws = two_level_means(vals, n_boot, seed)
            lo, hi = stats._percentile(draws, stats.LEVEL)
            entry[metric] = {"mean": float(np.mean(per_seed)), "ci": [lo, hi], "t_ci": list(t_interval(per_seed)),
                             "per_seed": per_seed, "n_items": len(vals[0])}
        if entry:
            out["targets"][name] = entry
    return out


def difference(ref: dict[int, pd.DataFrame], other: dict[int, pd.DataFrame], n_boot: int = stats.N_BOOT,
               seed: int = stats.SEED) -> dict:
    """``other`` minus ``ref`` ({seed: items table} each) on the seeds both have, items paired within a seed: per
    benchmark and pooled group, for the primary accuracy and the answer log-likelihood."""
    seeds = sorted(set(ref) & set(other))
    out: dict = {"seeds": seeds, "targets": {}}
    if not seeds:
        return out
    for name, benches in _targets([*(ref[s] for s in seeds), *(other[s] for s in seeds)]):
        entry = {}
        for metric in ("accuracy", "answer_logp"):
            diffs = []
            for s in seeds:
                a, b = _outcomes(ref[s], benches, metric), _outcomes(other[s], benches, metric)
                if a is None or b is None:
                    break
                pos = {k: i for i, k in enumerate(a[1])}
                common = [k for k in b[1] if k in pos]
                if not common:
                    break
                ia, ib = [pos[k] for k in common], [b[1].index(k) for k in common]
                diffs.append(b[0][ib] - a[0][ia])
            else:
                entry[metric] = _difference(diffs, n_boot, seed)
        if entry:
            out["targets"][name] = entry
    return out


def _difference(diffs: list[np.ndarray], n_boot: int, seed: int) -> dict:
    per_seed = [float(d.mean()) for d in diffs]
    est = float(np.mean(per_seed))
    draws = two_level_means(diffs, n_boot, seed)
    lo, hi = stats._percentile(draws, stats.LEVEL)
    if est == 0.0 and all(np.all(d == 0) for d in diffs):
        p = 1.0
    else:
        p = float((1 + np.sum(np.abs(draws - est) >= abs(est))) / (n_boot + 1))
    return {"diff": est, "ci": [lo, hi], "p": p, "p_floor": 1.0 / (n_boot + 1), "per_seed": per_seed,
            "t_ci": list(t_interval(per_seed)), "t_p": t_test_p(per_seed), "seeds": len(diffs),
            "n_items": int(len(diffs[0])),
            "method": ("two-level bootstrap (seeds, then items, paired within a seed)" if len(diffs) > 1
                       else "paired bootstrap over items (one seed: training variation not measured)")}


def tests_in(obj) -> list[dict]:
    """Every test (a dict with ``diff`` and ``p``) anywhere inside ``obj`` (nested dicts and lists), in order, each
    once: a benchmark entry's ``accuracy`` is its primary metric's test (``metrics[primary]``, the same object in
    memory, an equal copy after a JSON round trip), so it is not counted again."""
    out, seen = [], set()

    def walk(o) -> None:
        if isinstance(o, dict):
            if "diff" in o and "p" in o:
                if id(o) not in seen:
                    seen.add(id(o))
                    out.append(o)
                return
            alias = "accuracy" if "primary" in o and isinstance(o.get("metrics"), dict) else None
            for k, v in o.items():
                if k != alias:
                    walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)

    walk(obj)
    return out


def adjust_all(obj) -> int:
    """Holm over every test inside ``obj`` (one family), in place: ``p_holm``, ``p_holm_bound`` and
    ``significant`` (p_holm < 0.05) on each. Returns the family size."""
    tests = [d for d in tests_in(obj) if d.get("p") is not None]
    adjusted = stats.holm([d["p"] for d in tests])
    for d, p in zip(tests, adjusted):
        d["p_holm"] = p
        floor = d.get("p_floor")
        d["p_holm_bound"] = bool(floor is not None and d["p"] <= floor * (1 + 1e-9))
        d["significant"] = bool(p < 1 - stats.LEVEL)
    return len(tests)


def adjust(comparisons: dict[str, dict]) -> int:
    """Holm over every test of ``comparisons`` ({method: :func:`difference` result}), in place: each test gains
    ``p_holm``, ``p_holm_bound`` (the raw p was at its floor, so the adjusted value is an upper bound) and
    ``significant`` (p_holm < 0.05). Returns the family size."""
    return adjust_all({m: comp["targets"] for m, comp in comparisons.items()})


def experiment_table(runs: dict[tuple[str, int], pd.DataFrame], methods: Sequence[str]) -> dict:
    """The seed-level tables of one experiment (``runs``: {(method, seed): items table}): ``aggregate`` per
    method, ``comparisons`` of every other method against the first one (Holm over the whole table)."""
    by_method = {m: {s: df for (mm, s), df in runs.items() if mm == m and len(df)} for m in methods}
    by_method = {m: v for m, v in by_method.items() if v}
    if not by_method:
        return {}
    ref = next((m for m in methods if m in by_method), None)
    comparisons = {m: difference(by_method[ref], by_method[m]) for m in by_method if m != ref}
    comparisons = {m: c for m, c in comparisons.items() if c["targets"]}
    family = adjust(comparisons)
    return {"reference": ref, "aggregate": {m: aggregate(v) for m, v in by_method.items()},
            "comparisons": comparisons, "family_size": family,
            "multiplicity": f"Holm over the {family} tests of this table (every method x target x metric)",
            "intervals": "95%; ci: two-level bootstrap (seeds, then items; paired within a seed for differences), "
                         f"{stats.N_BOOT} resamples; t_ci: t-interval over per-seed values"}
