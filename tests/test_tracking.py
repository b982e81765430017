"""Exact tests of MetaNet's tracking metrics (mind/training/tracking.py) on hand-made scores and losses, ties included."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from mind.model.losses import standardize
from mind.training.tracking import (CurriculumTracker, agreement, average_ranks, curriculum_shift, nanmean,
                           perspective_mean_predictor, rank_agreement, spearman, top1)

T = torch.tensor


def test_average_ranks_with_ties_and_mask():
    x = T([[3.0, 1.0, 3.0, 7.0, 0.0]])
    mask = T([[True, True, True, True, False]])
    assert average_ranks(x, mask).tolist() == [[2.5, 1.0, 2.5, 4.0, 0.0]]


def test_spearman_perfect_reversed_and_tied():
    m = T([[True] * 4])
    assert spearman(T([[1.0, 2, 3, 4]]), T([[10.0, 20, 30, 40]]), m).item() == pytest.approx(1.0)
    assert spearman(T([[1.0, 2, 3, 4]]), T([[4.0, 3, 2, 1]]), m).item() == pytest.approx(-1.0)
    # ties: scipy's value for a = (1, 2, 2, 3), b = (1, 3, 2, 4) is 0.9486832980505138
    assert spearman(T([[1.0, 2, 2, 3]]), T([[1.0, 3, 2, 4]]), m).item() == pytest.approx(0.9486832980505138)


def test_spearman_undefined_cases_are_nan():
    m2 = T([[True, True, False]])
    assert math.isnan(spearman(T([[1.0, 1.0, 5.0]]), T([[1.0, 2.0, 3.0]]), m2).item())  # constant scores
    assert math.isnan(spearman(T([[1.0, 2.0, 3.0]]), T([[1.0, 2.0, 3.0]]), T([[True, False, False]])).item())
    assert math.isnan(spearman(T([[1.0, float("nan"), 3.0]]), T([[1.0, 2.0, 3.0]]), T([[True, True, False]])).item())


def test_spearman_matches_scipy_on_random_tied_rows():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, (300, 8)).astype(float)
    b = rng.integers(0, 5, (300, 8)).astype(float)
    m = rng.random((300, 8)) > 0.25
    got = spearman(T(a), T(b), T(m)).numpy()
    for i in range(300):
        x, y = a[i][m[i]], b[i][m[i]]
        if len(x) >= 2 and np.ptp(x) > 0 and np.ptp(y) > 0:
            assert got[i] == pytest.approx(spearmanr(x, y).statistic, abs=1e-12)
        else:
            assert np.isnan(got[i])


def test_rank_agreement_of_one_problem_is_spearman_against_negated_losses():
    """The MetaNet debugger's number: plain arrays with NaN for a missing rationale."""
    scores, losses = [0.9, 0.5, np.nan, 0.1], [1.0, 2.0, 0.5, 3.0]
    assert rank_agreement(scores, losses) == pytest.approx(1.0)  # highest score on the lowest loss, and so on
    assert rank_agreement([0.9, 0.5, 0.2, 0.1], [1.0, 3.0, 0.5, 2.0]) == pytest.approx(
        spearmanr([0.9, 0.5, 0.2, 0.1], [-1.0, -3.0, -0.5, -2.0]).statistic)
    assert math.isnan(rank_agreement([0.5, 0.5], [1.0, 2.0]))


def test_top1_ties_share_credit():
    mask = T([[True, True, True, False]])
    # top score is unique and on the lowest loss
    assert top1(T([[0.1, 0.9, 0.5, 9.0]]), T([[3.0, 1.0, 2.0, 0.0]]), mask).item() == 1.0
    # the masked perspective (highest score, lowest loss) does not count
    assert top1(T([[0.1, 0.2, 0.9, 9.0]]), T([[3.0, 1.0, 2.0, 0.0]]), mask).item() == 0.0
    # two tied top scores, one of them on the lowest loss: half the credit
    assert top1(T([[0.9, 0.9, 0.1, 0.0]]), T([[3.0, 1.0, 2.0, 0.0]]), mask).item() == 0.5
    # tied lowest losses: the top score on either counts
    assert top1(T([[0.9, 0.1, 0.2, 0.0]]), T([[1.0, 1.0, 2.0, 0.0]]), mask).item() == 1.0
    assert math.isnan(top1(T([[1.0]]), T([[1.0]]), T([[False]])).item())


def test_perspective_mean_predictor_and_agreement():
    filtered = T([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0], [1.0, 2.0, 9.0]])
    seen = T([[True, True, True], [True, True, True], [True, True, False]])
    pm = perspective_mean_predictor(filtered, seen)
    assert pm.tolist() == pytest.approx([-5 / 3, -2.0, -2.0])
    rec = agreement(scores=T([[3.0, 2.0, 1.0], [1.0, 2.0, 3.0]]), losses=filtered[:2], mask=seen[:2], baseline=pm)
    assert rec["meta_spearman"] == pytest.approx(1.0) and rec["meta_top1"] == 1.0
    # baseline ranks (0 > -5/3 ... ) against each row: row 0 rho = 0.866.., row 1 rho = -0.866..; mean 0
    assert rec["baseline_spearman"] == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(agreement(None, filtered, seen, pm)["meta_spearman"])
    assert math.isnan(nanmean(T([float("nan")])))


def test_curriculum_shift_is_total_variation():
    assert curriculum_shift(T([0.5, 0.5, 0.0]), T([0.5, 0.5, 0.0])) == 0.0
    assert curriculum_shift(T([1.0, 0.0]), T([0.0, 1.0])) == 1.0
    assert curriculum_shift(T([0.6, 0.4, 0.0]), T([0.2, 0.4, 0.4])) == pytest.approx(0.4)


def test_curriculum_tracker_compares_with_previous_epoch_and_round_trips():
    tr = CurriculumTracker(2)
    assert math.isnan(tr.update(0, T([[1.0, 0.0], [1.0, 0.0]])))
    # epoch 1 so far: mean (0.5, 0.5) vs epoch 0's (1, 0): TV 0.5
    assert tr.update(1, T([[0.5, 0.5]])) == pytest.approx(0.5)
    copy = CurriculumTracker(2)
    copy.load_state_dict(tr.state_dict())
    assert copy.update(1, T([[0.0, 1.0]])) == tr.update(1, T([[0.0, 1.0]])) == pytest.approx(0.75)


def test_zscore_target_ranks_small_spreads():
    filtered = T([[10.80, 10.82, 10.81, 0.0]])
    mask = T([[True, True, True, False]])
    z = standardize(filtered, mask)
    assert z[0, :3].mean().item() == pytest.approx(0.0, abs=1e-4)  # float32 rounding of 10.8-sized values
    assert z[0, 3].item() == 0.0
    assert (z[0, :3] ** 2).mean().item() == pytest.approx(1.0, rel=1e-4)
    # softmax(-L~) is flat for a 0.02-nat spread; the z-scored target still ranks clearly
    flat = torch.softmax(-filtered[0, :3], -1)
    ranked = torch.softmax(-z[0, :3], -1)
    assert (flat.max() / flat.min()).item() < 1.03
    assert (ranked.max() / ranked.min()).item() > 5.0
    assert ranked.argmax().item() == 0 and ranked.argmin().item() == 1


@pytest.mark.slow
def test_a_run_of_several_epochs_records_every_tracking_column(tmp_path):
    """The CLI on the demo set's held-out split: 4 training problems (2 steps an epoch), 6 steps, snapshots every 2."""
    import json
    import subprocess
    import sys

    from conftest import assert_run_finished
    from mind import load_run
    from mind.run import STEP_COLUMNS

    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "mind", "train", "--data", "demo", "--student", "tiny", "--steps", "6",
                           "--out", str(out), "--quiet", "max_problems=4", "snapshot_every=2", "probe_problems=2",
                           "max_length=128", "meta_calibrate_epochs=3", "checkpoint_every=0"],
                          capture_output=True, text=True)
    assert_run_finished(out, 6, proc)
    run = load_run(out)
    steps = run.steps
    assert len(run.heldout) == 16 and run.config["holdout"] == 16
    assert set(run.config["heldout_ids"]).isdisjoint(run.problems["id"])
    for col in ("meta_spearman", "meta_top1", "baseline_spearman", "baseline_top1"):
        assert steps[col].between(-1, 1).all(), col
    held = [c for c in STEP_COLUMNS if c.startswith("heldout_")]
    snap = steps["step"].isin([2, 4, 6])
    assert steps.loc[snap, held].notna().all().all() and steps.loc[~snap, held].isna().all().all()
    assert steps["curriculum_shift"].isna().tolist() == [True, True, False, False, False, False]
    assert steps["curriculum_shift"].iloc[2:].between(0, 1).all()
    calib = json.loads((out / "calibration.json").read_text())
    assert [e["epoch"] for e in calib["epochs"]] == [1, 2, 3] and calib["n_problems"] == 4
    # the calibration pass seeded L~ with the initial student's losses: step 2's problems are seen for the first time
    # in training, yet their L~ already mixes in the step-0 loss (without the pass, L~ would equal L_real there)
    second = run.samples[run.samples["step"] == 2]
    gaps = [abs(a - b) for _, row in second.iterrows() for a, b in zip(row["loss_raw"], row["loss_filtered"])
            if a is not None]
    assert len(gaps) == 16 and min(gaps) > 0
