"""Seed-level aggregation and Holm (mind.evaluation.seeds, stats.holm) against reference computations written here."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import t as student_t
from scipy.stats import ttest_1samp

from mind.evaluation import seeds, stats


def _items(rng, p_gsm: float, p_csqa: float, n: int = 60) -> pd.DataFrame:
    rows = [{"benchmark": "gsm8k", "id": str(i), "correct": bool(rng.random() < p_gsm), "answer_logp": -rng.random()}
            for i in range(n)]
    rows += [{"benchmark": "csqa", "id": str(i), "correct": bool(rng.random() < 0.1), "acc_norm": bool(rng.random() < p_csqa),
              "answer_logp": -2 * rng.random()} for i in range(n)]
    return pd.DataFrame(rows)


def _naive_two_level(per_seed, n_boot, rng):
    """The definition, one resample at a time: draw S seeds, then each drawn seed's items, average."""
    S = len(per_seed)
    out = []
    for _ in range(n_boot):
        draws = [per_seed[rng.integers(S)] for _ in range(S)]
        out.append(np.mean([d[rng.integers(0, len(d), len(d))].mean() for d in draws]))
    return np.quantile(out, [0.025, 0.975])


def test_two_level_bootstrap_matches_the_definition_and_the_t_interval_matches_scipy():
    rng = np.random.default_rng(1)
    per_seed = [rng.normal(mu, 1.0, 80) for mu in (0.0, 0.4, 1.1)]
    lo, hi = stats._percentile(seeds.two_level_means(per_seed, 4000, 0), 0.95)
    ref_lo, ref_hi = _naive_two_level(per_seed, 4000, np.random.default_rng(7))
    assert lo == pytest.approx(ref_lo, abs=0.06) and hi == pytest.approx(ref_hi, abs=0.06)
    means = [d.mean() for d in per_seed]
    half = student_t.ppf(0.975, 2) * np.std(means, ddof=1) / math.sqrt(3)
    assert seeds.t_interval(means) == pytest.approx((np.mean(means) - half, np.mean(means) + half))
    assert seeds.t_test_p(means) == pytest.approx(ttest_1samp(means, 0.0).pvalue)
    # with one seed the seed level is a no-op: the plain item bootstrap
    one = seeds.two_level_means(per_seed[:1], 4000, 0)
    assert np.mean(one) == pytest.approx(per_seed[0].mean(), abs=0.02) and np.std(one) == pytest.approx(
        per_seed[0].std() / math.sqrt(80), rel=0.1)


def test_aggregate_and_difference_pair_items_within_seeds():
    rng = np.random.default_rng(0)
    ref = {s: _items(rng, 0.3, 0.2) for s in (0, 1, 2)}
    other = {s: _items(rng, 0.6, 0.5) for s in (0, 1, 2)}
    other[3] = _items(rng, 0.9, 0.9)  # a seed the reference lacks: not compared
    agg = seeds.aggregate(ref)
    g = agg["targets"]["gsm8k"]["accuracy"]
    per_seed = [ref[s].query("benchmark == 'gsm8k'")["correct"].mean() for s in (0, 1, 2)]
    assert g["per_seed"] == pytest.approx(per_seed) and g["mean"] == pytest.approx(np.mean(per_seed))
    assert g["ci"][0] < g["mean"] < g["ci"][1] and g["n_items"] == 60
    # csqa's primary metric is acc_norm; the OOD pool holds csqa only, the ID pool gsm8k only
    c = agg["targets"]["csqa"]["accuracy"]["per_seed"]
    assert c == pytest.approx([ref[s].query("benchmark == 'csqa'")["acc_norm"].mean() for s in (0, 1, 2)])
    assert agg["targets"]["OOD pooled"]["accuracy"]["per_seed"] == pytest.approx(c)
    d = seeds.difference(ref, other)
    assert d["seeds"] == [0, 1, 2]
    acc = d["targets"]["gsm8k"]["accuracy"]
    want = [other[s].query("benchmark == 'gsm8k'")["correct"].mean() - ref[s].query("benchmark == 'gsm8k'")["correct"].mean()
            for s in (0, 1, 2)]
    assert acc["per_seed"] == pytest.approx(want) and acc["diff"] == pytest.approx(np.mean(want))
    assert acc["ci"][0] > 0 and acc["p"] < 0.01 and acc["seeds"] == 3
    lp = d["targets"]["ID pooled"]["answer_logp"]
    assert lp["diff"] == pytest.approx(np.mean([other[s].query("benchmark == 'gsm8k'")["answer_logp"].mean()
                                                - ref[s].query("benchmark == 'gsm8k'")["answer_logp"].mean() for s in (0, 1, 2)]))
    same = seeds.difference(ref, ref)
    assert same["targets"]["gsm8k"]["accuracy"]["diff"] == 0.0 and same["targets"]["gsm8k"]["accuracy"]["p"] == 1.0


def _holm_reference(p):
    """Holm from its definition: reject in ascending order while p_(i) <= alpha / (m - i); the adjusted value is
    the smallest alpha at which each hypothesis is rejected."""
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    adj = [0.0] * m
    prev = 0.0
    for rank, i in enumerate(order):
        prev = max(prev, min(1.0, (m - rank) * p[i]))
        adj[i] = prev
    # cross-check against the rejection rule at a few levels
    for alpha in (0.01, 0.05, 0.2):
        rejected = set()
        for rank, i in enumerate(order):
            if p[i] <= alpha / (m - rank):
                rejected.add(i)
            else:
                break
        assert rejected == {i for i in range(m) if adj[i] <= alpha}
    return adj


def test_holm_equals_the_step_down_definition():
    rng = np.random.default_rng(3)
    for _ in range(20):
        p = list(rng.random(12) ** 3)
        assert stats.holm(p) == pytest.approx(_holm_reference(p))
    assert stats.holm([0.01, float("nan"), 0.04]) == pytest.approx([0.02, float("nan"), 0.04], nan_ok=True)


def test_experiment_table_adjusts_over_the_whole_family_and_marks_floored_p():
    rng = np.random.default_rng(5)
    runs = {("mind", s): _items(rng, 0.3, 0.2) for s in (0, 1)}
    runs.update({("uniform", s): _items(rng, 0.95, 0.2) for s in (0, 1)})
    runs[("single", 0)] = _items(rng, 0.3, 0.2)
    table = seeds.experiment_table(runs, ("mind", "uniform", "single"))
    assert table["reference"] == "mind" and set(table["comparisons"]) == {"uniform", "single"}
    tests = [d for c in table["comparisons"].values() for e in c["targets"].values() for d in e.values()]
    assert table["family_size"] == len(tests) == 2 * (2 + 2) * 2  # 2 methods x (2 benchmarks + 2 pools) x 2 metrics
    assert [d["p_holm"] for d in tests] == pytest.approx(stats.holm([d["p"] for d in tests]))
    big = table["comparisons"]["uniform"]["targets"]["gsm8k"]["accuracy"]
    assert big["p"] == pytest.approx(big["p_floor"]) and big["p_holm_bound"] and big["significant"]
    assert stats.format_p(big["p"], big["p_floor"]) == "< 0.0002"
    assert table["comparisons"]["single"]["seeds"] == [0] and "one seed" in \
        table["comparisons"]["single"]["targets"]["gsm8k"]["accuracy"]["method"]
    assert table["aggregate"]["uniform"]["seeds"] == [0, 1]


@pytest.mark.slow
def test_a_two_seed_tiny_experiment_has_per_seed_losses_and_one_aggregate_per_method(tmp_path, shared_data):
    """`mind experiment compare --seeds 0,1`: four runs, losses that differ by seed, and compare.json with one
    aggregate per method over its two seeds and the Holm-adjusted seed-level comparison."""
    import json

    from mind.cli import main as cli
    from mind.run import load_run

    out = tmp_path / "exp"
    assert cli(["experiment", "compare", "--out", str(out), "--methods", "mind,uniform", "--seeds", "0,1",
                "--steps", "2", "--stages", "train,eval", "--eval-args",
                f"--benchmarks gsm8k,csqa --limit 3 --max-new-tokens 4 --no-base --data {shared_data}",
                "max_problems=4", "meta_calibrate_epochs=1", "snapshot_every=0"]) == 0
    names = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert names == ["mind-s0", "mind-s1", "uniform-s0", "uniform-s1"]
    losses = {n: load_run(out / n).steps["loss_sft"].tolist() for n in names}
    assert losses["mind-s0"] != losses["mind-s1"] and losses["uniform-s0"] != losses["uniform-s1"]
    assert [load_run(out / n).config["seed"] for n in names] == [0, 1, 0, 1]
    comp = json.loads((out / "compare.json").read_text())
    level = comp["seed_level"]
    assert set(level["aggregate"]) == {"mind", "uniform"} and level["reference"] == "mind"
    for m in ("mind", "uniform"):
        agg = level["aggregate"][m]
        assert agg["seeds"] == [0, 1] and len(agg["targets"]["csqa"]["accuracy"]["per_seed"]) == 2
    d = level["comparisons"]["uniform"]
    assert d["seeds"] == [0, 1] and all("p_holm" in x for e in d["targets"].values() for x in e.values())
    assert set(comp["paired"]["seeds"]) == {"0", "1"}


def test_a_benchmarks_primary_accuracy_is_one_test_not_two():
    """A paired benchmark entry holds its primary metric's test twice (``accuracy`` and ``metrics[primary]``):
    Holm's family counts it once, in memory and after a JSON round trip."""
    import copy
    import json

    from mind.evaluation.seeds import adjust_all, tests_in

    def test(p):
        return {"diff": 0.1, "ci": [0.0, 0.2], "p": p}

    primary = test(0.01)
    entry = {"n": 100, "metrics": {"acc_norm": primary, "acc": test(0.04), "correct": test(0.5)},
             "primary": "acc_norm", "accuracy": primary, "answer_logp": test(0.02)}
    table = {"uniform-s0": {"targets": {"csqa": entry, "id_avg": {"accuracy": test(0.03)}}}}
    assert len(tests_in(table)) == 5 and len(tests_in(json.loads(json.dumps(table)))) == 5
    assert adjust_all(copy.deepcopy(table)) == 5
    assert adjust_all(table) == 5
    assert entry["accuracy"]["p_holm"] == pytest.approx(0.05)  # Holm: 5 x 0.01, the smallest of five
    assert table["uniform-s0"]["targets"]["id_avg"]["accuracy"]["p_holm"] == pytest.approx(0.09)  # third: max(4 x 0.02, 3 x 0.03)
