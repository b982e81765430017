"""Tracking per whole epoch after warm-up, its starting points, and the epoch-level curriculum shift
(mind.analysis.tracking), on a run written with RunWriter whose numbers are known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mind.analysis.tracking import epoch_shift, mean_ci, tracking_report, whole_epochs
from mind.run import RunWriter, load_run

P = ["a", "b", "c"]


def _run(tmp_path, warmup: int = 1):
    """4 problems, 2 per step: an epoch is 2 steps; 6 steps = 3 epochs. MetaNet's rho per row is 0.5 in epoch 1,
    1.0 later; the baseline 0.2 throughout. Weights: uniform in warm-up (step 1), then (1, 0, 0) in epoch 1,
    (0.5, 0.5, 0) in epoch 2 and epoch 3."""
    w = RunWriter(tmp_path / "run")
    w.write_json("config.json", {"perspectives": P, "method": "mind", "meta_warmup_steps": warmup})
    weights = {1: (1 / 3, 1 / 3, 1 / 3), 2: (1, 0, 0), 3: (0.5, 0.5, 0), 4: (0.5, 0.5, 0), 5: (0.5, 0.5, 0), 6: (0.5, 0.5, 0)}
    for step in range(1, 7):
        rec = {"step": step, "epoch": step / 2, "loss_total": 1.0}
        rec.update({f"weight/{p}": x for p, x in zip(P, weights[step])})
        w.log_step(rec)
        rho = 0.5 if step <= 2 else 1.0
        w.log_samples([{"step": step, "problem_id": f"p{(2 * step + j) % 4}", "perspectives": P,
                        "scores": [3.0, 2.0, 1.0], "alphas": list(weights[step]), "selected": [True, True, True],
                        "loss_raw": [1.0, 2.0, 3.0], "loss_filtered": [1.0, 2.0, 3.0], "attention": None,
                        "loss_meta": 0.1, "meta_spearman": rho, "baseline_spearman": 0.2} for j in range(2)])
    w.write_json("calibration.json", {"epochs": [{"epoch": 1, "meta_spearman": 0.75}],
                                      "problem_meta_spearman": [0.7, 0.8, 0.9, None],
                                      "problem_baseline_spearman": [0.1, 0.2, 0.3, 0.4]})
    for step in (0, 6):
        w.log_heldout({"step": step, "problem_ids": ["h1", "h2"], "meta_spearman": [0.4, 0.6],
                       "baseline_spearman": [0.5, 0.5], "meta_top1": [1, 0], "baseline_top1": [0, 0], "loss": [1, 2]})
    w.set_status("finished", step=6)
    return load_run(tmp_path / "run")


def test_whole_epochs_leave_out_the_warmup_and_partial_epochs(tmp_path):
    run = _run(tmp_path)
    assert whole_epochs(run.steps, 1) == [(1, 2, 2), (2, 3, 4), (3, 5, 6)]
    assert whole_epochs(run.steps.iloc[:5], 0) == [(1, 1, 2), (2, 3, 4)]  # epoch 3 is partial: left out


def test_report_per_epoch_with_starting_points_and_shift(tmp_path):
    rep = tracking_report(_run(tmp_path))
    e = {x["epoch"]: x for x in rep["epochs"]}
    assert e[1]["meta"]["mean"] == pytest.approx(0.5) and e[2]["meta"]["mean"] == pytest.approx(1.0)
    assert e[1]["baseline"]["mean"] == pytest.approx(0.2) and e[1]["meta"]["n"] == 2  # step 2: two problems
    assert rep["calibration"]["meta"]["mean"] == pytest.approx(0.8) and rep["calibration"]["meta"]["n"] == 3
    assert [h["step"] for h in rep["heldout"]] == [0, 6] and rep["heldout"][0]["meta"]["mean"] == pytest.approx(0.5)
    # epoch 1 (after warm-up): (1, 0, 0); epochs 2 and 3: (0.5, 0.5, 0): TV 0.5, then 0
    assert [s["shift"] for s in rep["epoch_shift"]] == pytest.approx([0.5, 0.0])
    assert rep["epoch_shift"][0]["weights"] == pytest.approx({"a": 0.5, "b": 0.5, "c": 0.0})


def test_runs_without_recorded_per_problem_tracking_compute_metanets_rho(tmp_path):
    run = _run(tmp_path)
    samples = run.samples.drop(columns=["meta_spearman", "baseline_spearman"])
    rows = samples.to_dict("records")
    (tmp_path / "old").mkdir()
    w = RunWriter(tmp_path / "old")
    w.write_json("config.json", {"perspectives": P, "method": "mind", "meta_warmup_steps": 1})
    for r in run.steps.to_dict("records"):
        w.log_step(r)
    w.log_samples([{k: (list(v) if isinstance(v, np.ndarray) else v) for k, v in r.items()} for r in rows])
    rep = tracking_report(load_run(tmp_path / "old"))
    assert rep["epochs"][0]["meta"]["mean"] == pytest.approx(1.0)  # scores (3, 2, 1) against losses (1, 2, 3)
    assert rep["epochs"][0]["baseline"] is None and rep["heldout"] == [] and "calibration" not in rep


def test_mean_ci_is_a_percentile_bootstrap_over_the_values():
    rng = np.random.default_rng(0)
    v = rng.normal(0.3, 0.1, 50)
    got = mean_ci(list(v) + [math.nan, None])
    assert got["n"] == 50 and got["mean"] == pytest.approx(v.mean())
    half = 1.96 * v.std(ddof=1) / math.sqrt(50)
    assert got["ci"] == pytest.approx([v.mean() - half, v.mean() + half], abs=0.01)
    assert mean_ci([])["mean"] is None
    assert epoch_shift.__doc__
