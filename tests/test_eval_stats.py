"""Interval and test functions of mind.evaluation.stats against exact references: scipy.stats (Wilson, McNemar as
a binomial test), closed forms, exact enumeration of bootstrap distributions, and coverage by simulation."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats as sps

from mind.evaluation import stats


@pytest.mark.parametrize("k,n", [(0, 1), (0, 8), (1, 8), (4, 8), (8, 8), (13, 100), (50, 100), (999, 1000)])
def test_wilson_matches_scipy_and_the_formula(k, n):
    lo, hi = stats.wilson(k, n)
    ref = sps.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert (lo, hi) == pytest.approx((ref.low, ref.high), abs=1e-12)
    z, p = 1.959963984540054, k / n
    centre, half = (p + z * z / (2 * n)) / (1 + z * z / n), z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert (lo, hi) == pytest.approx((max(0, centre - half), min(1, centre + half)), abs=1e-12)
    assert lo <= p <= hi
    assert stats.wilson(3, 10, level=0.99)[0] < stats.wilson(3, 10)[0]  # wider at 99%


def test_wilson_edge_cases():
    assert all(math.isnan(v) for v in stats.wilson(0, 0))
    with pytest.raises(ValueError):
        stats.wilson(5, 4)


@pytest.mark.parametrize("b,c", [(0, 0), (0, 1), (1, 0), (3, 3), (2, 9), (10, 1), (0, 12), (40, 60), (120, 80)])
def test_mcnemar_exact_is_scipys_two_sided_binomial_test(b, c):
    p = stats.mcnemar_exact(b, c)
    ref = 1.0 if b + c == 0 else sps.binomtest(b, b + c, 0.5, alternative="two-sided").pvalue
    assert p == pytest.approx(ref, rel=1e-12, abs=1e-300)
    assert stats.mcnemar_exact(c, b) == p  # symmetric in which model is the reference


def test_mcnemar_known_value():
    assert stats.mcnemar_exact(0, 6) == pytest.approx(2 / 64)  # all six discordant pairs one way: 2 * 0.5^6
    assert stats.mcnemar_exact(1, 5) == pytest.approx(2 * 7 / 64)


def test_paired_counts_and_accuracy_difference():
    x = [1, 1, 0, 0, 1, 0, 0, 0]
    y = [1, 0, 1, 1, 1, 1, 0, 0]
    c = stats.PairedCounts.of(x, y)
    assert (c.both, c.gained, c.lost, c.neither, c.n) == (2, 3, 1, 2, 8)
    d = stats.paired_accuracy(x, y)
    assert d.diff == pytest.approx(2 / 8) and d.n == 8
    assert d.p == pytest.approx(sps.binomtest(1, 4, 0.5).pvalue)
    assert d.lo < d.diff < d.hi
    with pytest.raises(ValueError):
        stats.PairedCounts.of([1, 0], [1])


def _newcombe_reference(x, y):
    """Newcombe's method 10 assembled from scipy's Wilson intervals and numpy's correlation of the outcomes."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    n = len(x)
    p1, p2 = y.mean(), x.mean()
    w1 = sps.binomtest(int(y.sum()), n).proportion_ci(method="wilson")
    w2 = sps.binomtest(int(x.sum()), n).proportion_ci(method="wilson")
    phi = 0.0 if x.std() == 0 or y.std() == 0 else float(np.corrcoef(x, y)[0, 1])
    d = p1 - p2
    lo = d - math.sqrt((p1 - w1.low) ** 2 - 2 * phi * (p1 - w1.low) * (w2.high - p2) + (w2.high - p2) ** 2)
    hi = d + math.sqrt((w1.high - p1) ** 2 - 2 * phi * (w1.high - p1) * (p2 - w2.low) + (p2 - w2.low) ** 2)
    return d, lo, hi


@pytest.mark.parametrize("seed", range(6))
def test_newcombe_matches_its_definition(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 60))
    x = rng.random(n) < rng.uniform(0.1, 0.9)
    y = np.where(rng.random(n) < 0.7, x, rng.random(n) < 0.5)  # correlated outcomes
    got = stats.newcombe_paired(stats.PairedCounts.of(x, y))
    assert got == pytest.approx(_newcombe_reference(x, y), abs=1e-10)


def test_newcombe_does_not_collapse_and_has_nominal_coverage():
    d, lo, hi = stats.newcombe_paired(stats.PairedCounts(0, 0, 0, 10))  # no item differs: still an interval
    assert d == 0 and lo < 0 < hi
    rng = np.random.default_rng(0)
    n, px, py, hits, sims = 40, 0.3, 0.45, 0, 1500
    for _ in range(sims):
        u = rng.random(n)
        x, y = u < px, (u < py) ^ (rng.random(n) < 0.15)
        true = py * 0.85 + (1 - py) * 0.15 - px
        _, lo, hi = stats.newcombe_paired(stats.PairedCounts.of(x, y))
        hits += lo <= true <= hi
    assert 0.93 <= hits / sims <= 0.985


def _exact_bootstrap(values):
    """Every bootstrap resample of a small sample, with its probability: (means, weights)."""
    v = np.asarray(values, float)
    n = len(v)
    means, weights = [], []
    for idx in itertools.product(range(n), repeat=n):
        means.append(v[list(idx)].mean())
        weights.append(1.0)
    w = np.asarray(weights) / len(weights)
    return np.asarray(means), w


def _weighted_quantile(x, w, q):
    o = np.argsort(x, kind="stable")
    cw = np.cumsum(w[o])
    return x[o][np.searchsorted(cw, q - 1e-12)]


def test_bootstrap_mean_agrees_with_the_exact_bootstrap_distribution():
    vals = [-3.0, -1.0, -0.5, 2.0, 4.5]
    est, lo, hi = stats.bootstrap_mean(vals, n_boot=40000, seed=1)
    means, w = _exact_bootstrap(vals)
    assert est == pytest.approx(np.mean(vals))
    assert lo == pytest.approx(_weighted_quantile(means, w, 0.025), abs=0.12)
    assert hi == pytest.approx(_weighted_quantile(means, w, 0.975), abs=0.12)
    assert stats.bootstrap_mean(vals, seed=3) == stats.bootstrap_mean(vals, seed=3)  # seeded
    assert all(math.isnan(v) for v in stats.bootstrap_mean([]))


def test_paired_bootstrap_p_value_agrees_with_the_exact_bootstrap_test():
    x = np.array([0.0, 0.1, 0.3, -0.2, 0.05, 0.4])
    y = x + np.array([0.5, 0.2, -0.1, 0.6, 0.3, 0.4])
    d = stats.paired_bootstrap(x, y, n_boot=40000, seed=2)
    diffs = y - x
    means, w = _exact_bootstrap(diffs)
    exact_p = float(w[np.abs(means - diffs.mean()) >= abs(diffs.mean()) - 1e-12].sum())
    assert d.diff == pytest.approx(diffs.mean())
    assert d.p == pytest.approx(exact_p, abs=0.01)
    assert d.lo == pytest.approx(_weighted_quantile(means, w, 0.025), abs=0.03)
    assert stats.paired_bootstrap(x, x).p == 1.0 and stats.paired_bootstrap(x, x).diff == 0.0
    assert stats.paired_bootstrap(y, x).diff == pytest.approx(-d.diff)  # sign: second minus first


def test_paired_bootstrap_detects_a_planted_shift_and_drops_nan_pairs():
    rng = np.random.default_rng(0)
    x = rng.normal(size=200)
    y = x + 0.3 + rng.normal(scale=0.5, size=200)
    d = stats.paired_bootstrap(x, y)
    assert d.significant() and d.lo > 0 and d.diff == pytest.approx(0.3, abs=0.1)
    x[:10] = np.nan
    assert stats.paired_bootstrap(x, y).n == 190


def test_stratified_bootstrap_averages_the_strata_means():
    a, b = [1.0, 1.0, 1.0, 1.0], [0.0, 1.0]  # means 1 and 0.5: their average, not the pooled mean 5/6
    est, lo, hi = stats.bootstrap_mean([a, b])
    assert est == pytest.approx(0.75) and 0.5 <= lo <= 0.75 <= hi <= 1.0
    d = stats.paired_bootstrap([np.zeros(4), np.zeros(2)], [np.ones(4), np.full(2, 3.0)])
    assert d.diff == pytest.approx(2.0)


def test_mover_average_reduces_to_wilson_and_combines_intervals():
    one = [True] * 3 + [False] * 7
    assert stats.average_accuracy([one]) == pytest.approx((0.3, *stats.wilson(3, 10)))
    two = [True] * 9 + [False]
    est, lo, hi = stats.average_accuracy([one, two])
    w1, w2 = stats.wilson(3, 10), stats.wilson(9, 10)
    assert est == pytest.approx(0.6)
    assert lo == pytest.approx(0.6 - math.hypot(0.3 - w1[0], 0.9 - w2[0]) / 2)
    assert hi == pytest.approx(0.6 + math.hypot(w1[1] - 0.3, w2[1] - 0.9) / 2)
    z = stats.average_accuracy([[False] * 8, [False] * 8])  # all wrong: an interval above 0, not [0, 0]
    assert z[0] == 0 and z[1] == 0 and z[2] > 0.1


def test_average_paired_accuracy_p_value_inverts_its_interval():
    rng = np.random.default_rng(5)
    xs = [rng.random(30) < 0.4, rng.random(50) < 0.5]
    ys = [np.where(rng.random(30) < 0.2, ~x, x) | (rng.random(30) < 0.25) for x in xs[:1]] + [xs[1] | (rng.random(50) < 0.2)]
    d = stats.average_paired_accuracy(xs, ys)
    per = [stats.newcombe_paired(stats.PairedCounts.of(x, y)) for x, y in zip(xs, ys)]
    assert (d.diff, d.lo, d.hi) == pytest.approx(stats.mover_mean(per))
    at = stats.average_paired_accuracy(xs, ys, level=1 - d.p)  # at level 1 - p the interval just touches 0
    assert min(abs(at.lo), abs(at.hi)) < 1e-6
    assert (d.p < 0.05) == (d.lo > 0 or d.hi < 0)
    same = stats.average_paired_accuracy(xs, xs)
    assert same.diff == 0 and same.p == 1.0 and same.lo < 0 < same.hi


def test_difference_json():
    j = stats.paired_accuracy([0, 0, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1, 1]).to_json()
    assert j["diff"] == 1.0 and j["significant"] and j["p"] == pytest.approx(2 / 128) and len(j["ci"]) == 2
