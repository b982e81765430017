"""Intervals and tests for evaluation numbers: how uncertain an accuracy is, and whether two models differ.

All intervals are two-sided 95% by default (``level``). What each function computes:

* :func:`wilson` - the Wilson score interval of one proportion k/n (a single accuracy).
* :func:`mcnemar_exact` - McNemar's exact test of two models scored on the same items: two-sided binomial test of
  the discordant pairs (b items only the first got right, c only the second), p = min(1, 2 P(X <= min(b, c))) with
  X ~ Binomial(b + c, 1/2); 1.0 when b + c = 0.
* :func:`newcombe_paired` - the interval of a paired difference of proportions, Newcombe's hybrid score method
  (Newcombe 1998, Statistics in Medicine 17:2635, method 10): the two marginal Wilson intervals combined with the
  correlation phi of the paired outcomes. Unlike a bootstrap it does not collapse to [0, 0] when no item differs.
* :func:`average_accuracy` / :func:`average_paired_accuracy` - the mean of several benchmarks' accuracies (each
  benchmark weighs the same), or of their paired differences, with the MOVER interval (Zou & Donner 2008: the
  method of variance estimates recovery, which Newcombe's method also is) built from the per-benchmark Wilson /
  Newcombe intervals: lo = m - sqrt(sum (e_i - l_i)^2) / k, hi = m + sqrt(sum (u_i - e_i)^2) / k. With one
  benchmark it is that benchmark's interval. The p-value of an averaged difference inverts the interval: the
  smallest 1 - level whose interval still contains 0 (so p < 0.05 exactly when the 95% interval excludes 0).
* :func:`bootstrap_mean` / :func:`paired_bootstrap` - percentile bootstrap over items of a mean, of a paired mean difference, and of an average
  of per-benchmark means (resampling within each benchmark, so each keeps its size: a stratified bootstrap), with
  the bootstrap test's p-value for a difference: p = (1 + #{|d* - d| >= |d|}) / (B + 1), d* the resampled
  differences (the resampling distribution shifted to the null). Seeded: the same data give the same numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Sequence

import numpy as np

LEVEL = 0.95
N_BOOT = 5000  # bootstrap resamples: Monte Carlo error of a p-value near 0.05 is about 0.003
SEED = 0


def z_value(level: float = LEVEL) -> float:
    """The standard normal quantile of a two-sided ``level`` interval (1.95996... for 95%)."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    return NormalDist().inv_cdf(0.5 + level / 2)


def wilson(k: int, n: int, level: float = LEVEL) -> tuple[float, float]:
    """Wilson score interval of the proportion k/n; (nan, nan) when n = 0."""
    if n <= 0:
        return (math.nan, math.nan)
    if not 0 <= k <= n:
        raise ValueError(f"k={k} must be between 0 and n={n}")
    z = z_value(level)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo = 0.0 if k == 0 else max(0.0, centre - half)  # exactly 0 / 1 at the ends (no rounding residue)
    hi = 1.0 if k == n else min(1.0, centre + half)
    return (lo, hi)


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts b and c (exact integer arithmetic)."""
    if b < 0 or c < 0:
        raise ValueError(f"discordant counts must be >= 0, got b={b}, c={c}")
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(b, c) + 1))
    return min(1.0, 2 * tail / 2**n)


@dataclass(frozen=True)
class PairedCounts:
    """Outcomes of the same n items under a reference model (x) and another model (y)."""

    both: int  # right under both
    gained: int  # right under y only
    lost: int  # right under x only
    neither: int

    @classmethod
    def of(cls, x: Sequence[bool], y: Sequence[bool]) -> "PairedCounts":
        x, y = np.asarray(x, dtype=bool), np.asarray(y, dtype=bool)
        if x.shape != y.shape:
            raise ValueError(f"paired outcomes need the same items: {x.shape} vs {y.shape}")
        return cls(int((x & y).sum()), int((~x & y).sum()), int((x & ~y).sum()), int((~x & ~y).sum()))

    @property
    def n(self) -> int:
        return self.both + self.gained + self.lost + self.neither


def newcombe_paired(counts: PairedCounts, level: float = LEVEL) -> tuple[float, float, float]:
    """(difference, lo, hi) of accuracy(y) - accuracy(x) on paired items, Newcombe's method 10."""
    a, b, c, d, n = counts.both, counts.gained, counts.lost, counts.neither, counts.n
    if n == 0:
        return (math.nan, math.nan, math.nan)
    p1, p2 = (a + b) / n, (a + c) / n  # y's and x's accuracy
    l1, u1 = wilson(a + b, n, level)
    l2, u2 = wilson(a + c, n, level)
    denom = (a + b) * (c + d) * (a + c) * (b + d)
    phi = (a * d - b * c) / math.sqrt(denom) if denom > 0 else 0.0
    theta = p1 - p2
    delta = math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    eps = math.sqrt(max(0.0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2))
    return (theta, max(-1.0, theta - delta), min(1.0, theta + eps))


# ------------------------------------------------------------------------------------------------ bootstrap


def _strata(values) -> list[np.ndarray]:
    """One float array per stratum (a single array is one stratum); NaNs are dropped."""
    out = []
    for v in values if _is_strata(values) else [values]:
        a = np.asarray(v, dtype=float)
        out.append(a[np.isfinite(a)])
    return out


def _resampled_means(strata: list[np.ndarray], n_boot: int, seed: int) -> np.ndarray:
    """(n_boot,) average over strata of the resampled stratum means (strata resampled independently)."""
    rng = np.random.default_rng([seed, 0xB007])
    total = np.zeros(n_boot)
    for s in strata:
        idx = rng.integers(0, len(s), size=(n_boot, len(s)))
        total += s[idx].mean(axis=1)
    return total / len(strata)


def _percentile(draws: np.ndarray, level: float) -> tuple[float, float]:
    lo, hi = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2])
    return (float(lo), float(hi))


def bootstrap_mean(values, level: float = LEVEL, n_boot: int = N_BOOT, seed: int = SEED) -> tuple[float, float, float]:
    """(estimate, lo, hi): the mean of ``values`` - or, given a list of arrays (strata, e.g. benchmarks), the
    average of their means - with a percentile bootstrap interval resampling items within each stratum."""
    strata = _strata(values)
    if not strata or any(len(s) == 0 for s in strata):
        return (math.nan, math.nan, math.nan)
    est = float(np.mean([s.mean() for s in strata]))
    return (est, *_percentile(_resampled_means(strata, n_boot, seed), level))


@dataclass(frozen=True)
class Difference:
    """A paired difference y - x with its interval and a two-sided p-value (H0: no difference)."""

    diff: float
    lo: float
    hi: float
    p: float
    n: int  # paired items
    method: str  # how lo/hi and p were computed
    p_floor: float | None = None  # a resampling test's smallest possible p, 1/(B+1) (None for exact tests)

    def significant(self, alpha: float = 1 - LEVEL) -> bool:
        return bool(self.p < alpha)

    def to_json(self) -> dict:
        r = lambda v: None if v is None or not math.isfinite(v) else round(float(v), 6)  # noqa: E731
        out = {"diff": r(self.diff), "ci": [r(self.lo), r(self.hi)], "p": r(self.p), "n": self.n,
               "method": self.method, "significant": self.significant()}
        if self.p_floor is not None:
            out["p_floor"] = r(self.p_floor)  # p == p_floor reads "p < 1/(B+1)": the resampling saw no larger |d|
        return out


def paired_bootstrap(x, y, level: float = LEVEL, n_boot: int = N_BOOT, seed: int = SEED) -> Difference:
    """Mean of y - x over paired items (or, given lists of arrays, the average over strata of the per-stratum mean
    differences), with a percentile bootstrap interval and the bootstrap test's p-value. Pairs with a NaN on
    either side are dropped."""
    xs, ys = (x, y) if _is_strata(x) else ([x], [y])
    if len(xs) != len(ys):
        raise ValueError("paired_bootstrap: x and y need the same strata")
    strata = []
    for a, b in zip(xs, ys):
        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        if a.shape != b.shape:
            raise ValueError(f"paired values need the same items: {a.shape} vs {b.shape}")
        d = b - a
        strata.append(d[np.isfinite(d)])
    n = int(sum(len(s) for s in strata))
    if not strata or any(len(s) == 0 for s in strata):
        return Difference(math.nan, math.nan, math.nan, math.nan, n, "paired bootstrap")
    est = float(np.mean([s.mean() for s in strata]))
    draws = _resampled_means(strata, n_boot, seed)
    lo, hi = _percentile(draws, level)
    if est == 0.0 and all(np.all(s == 0) for s in strata):
        p = 1.0
    else:
        p = float((1 + np.sum(np.abs(draws - est) >= abs(est))) / (n_boot + 1))
    return Difference(est, lo, hi, p, n, "paired bootstrap", p_floor=1.0 / (n_boot + 1))


def _is_strata(v) -> bool:
    return isinstance(v, (list, tuple)) and len(v) > 0 and not np.isscalar(v[0])


def paired_accuracy(x: Sequence[bool], y: Sequence[bool], level: float = LEVEL) -> Difference:
    """Accuracy of y minus accuracy of x on the same items: Newcombe's interval, McNemar's exact p-value."""
    counts = PairedCounts.of(x, y)
    diff, lo, hi = newcombe_paired(counts, level)
    return Difference(diff, lo, hi, mcnemar_exact(counts.gained, counts.lost), counts.n, "Newcombe / McNemar exact")


# ------------------------------------------------------------------------------------------------ averages (MOVER)


def mover_mean(parts: Sequence[tuple[float, float, float]]) -> tuple[float, float, float]:
    """(mean, lo, hi) of independent estimates given as (estimate, lo, hi), each weighing 1/k (MOVER)."""
    parts = list(parts)
    if not parts or any(not all(math.isfinite(v) for v in p) for p in parts):
        return (math.nan, math.nan, math.nan)
    k = len(parts)
    est = sum(e for e, _, _ in parts) / k
    lo = est - math.sqrt(sum((e - lo_) ** 2 for e, lo_, _ in parts)) / k
    hi = est + math.sqrt(sum((hi_ - e) ** 2 for e, _, hi_ in parts)) / k
    return (est, lo, hi)


def average_accuracy(strata: Sequence[Sequence[bool]], level: float = LEVEL) -> tuple[float, float, float]:
    """(mean of the strata's accuracies, lo, hi): MOVER over their Wilson intervals."""
    parts = []
    for s in strata:
        a = np.asarray(s, dtype=bool)
        if not len(a):
            return (math.nan, math.nan, math.nan)
        parts.append((float(a.mean()), *wilson(int(a.sum()), len(a), level)))
    return mover_mean(parts)


def average_paired_accuracy(xs: Sequence[Sequence[bool]], ys: Sequence[Sequence[bool]],
                            level: float = LEVEL) -> Difference:
    """Mean over strata of accuracy(y) - accuracy(x) on paired items: MOVER over the Newcombe intervals, p-value
    by inverting that interval."""
    counts = [PairedCounts.of(x, y) for x, y in zip(xs, ys)]
    n = sum(c.n for c in counts)
    if not counts or any(c.n == 0 for c in counts):
        return Difference(math.nan, math.nan, math.nan, math.nan, n, "MOVER over Newcombe intervals")

    def interval(lv: float) -> tuple[float, float, float]:
        return mover_mean([newcombe_paired(c, lv) for c in counts])

    est, lo, hi = interval(level)
    if est == 0.0:
        p = 1.0
    else:
        inside = lambda lv: (lambda r: r[1] <= 0.0 <= r[2])(interval(lv))  # noqa: E731
        a, b = 1e-9, 1 - 1e-12  # interval(a) excludes 0 (it is about the estimate); find where it first contains 0
        if not inside(b):
            p = 1e-12
        else:
            for _ in range(60):
                mid = (a + b) / 2
                a, b = (a, mid) if inside(mid) else (mid, b)
            p = 1.0 - b
    return Difference(est, lo, hi, p, n, "MOVER over Newcombe intervals, p by inversion")


# ------------------------------------------------------------------------------------------------ multiplicity


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (Holm 1979), in the input order: sort ascending, multiply the i-th
    smallest (0-based) by (m - i), take the running maximum, cap at 1. Controls the family-wise error rate at any
    level under any dependence. NaN entries are left NaN and do not count in m."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, math.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = len(ok)
    running = 0.0
    for rank, i in enumerate(ok[np.argsort(p[ok], kind="stable")]):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out.tolist()


def format_p(p: float | None, floor: float | None = None) -> str:
    """A p-value as text: '< 0.0002' at a resampling test's floor 1/(B+1), else three significant digits."""
    if p is None or not math.isfinite(p):
        return "-"
    if floor is not None and p <= floor * (1 + 1e-9):
        return f"< {floor:.2g}"
    return f"{p:.3g}"
