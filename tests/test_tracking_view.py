"""The Curriculum page's tracking sentences and charts (app/tracking_view.py) on hand-made step records."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from app import tracking_view


def _steps() -> pd.DataFrame:
    rows = []
    for step in range(1, 9):  # 4 steps per epoch
        rows.append({"step": step, "epoch": step / 4, "meta_spearman": 0.5 if step <= 4 else 0.8,
                     "baseline_spearman": 0.6, "meta_top1": 0.25 if step <= 4 else 0.75,
                     "curriculum_shift": math.nan if step <= 4 else 0.125,
                     "heldout_meta_spearman": 0.7 if step in (4, 8) else math.nan,
                     "heldout_baseline_spearman": 0.4 if step in (4, 8) else math.nan,
                     "loss_raw/formal": 2.0, "loss_filtered/formal": 2.5})
    return pd.DataFrame(rows)


def test_sentences_average_the_epoch_ending_at_the_cursor():
    said = tracking_view.sentences(_steps(), cursor=8, n_heldout=16)
    assert said[0].startswith("MetaNet ranks the rationales the way the student's losses do: Spearman ρ = 0.80")
    assert "better than ranking by each perspective's average loss, ρ = 0.60" in said[0]
    assert "easiest in 75% of problems" in said[1]
    assert "On 16 problems it never trained on (step 8) it ranks at ρ = 0.70, against 0.40" in said[2]
    assert "moved 12% of the weight" in said[3]
    early = tracking_view.sentences(_steps(), cursor=3)
    assert "ρ = 0.50" in early[0] and "worse than" in early[0]
    assert not any("held-out" in s or "never trained" in s for s in early)  # no snapshot before step 4
    assert not any("curriculum" in s for s in early)  # no previous epoch yet


def test_old_runs_without_tracking_columns_give_nothing():
    old = pd.DataFrame({"step": [1, 2], "epoch": [0.5, 1.0], "loss_total": [1.0, 0.9]})
    assert tracking_view.sentences(old, 2) == []
    assert tracking_view.tracking_chart(old, 2).data == ()


def test_charts_carry_the_series():
    fig = tracking_view.tracking_chart(_steps(), cursor=5, smooth=1)
    names = [t.name for t in fig.data]
    assert names == ["MetaNet ρ (trained problems)", "average-loss ranking ρ", "MetaNet ρ (held-out)",
                     "average-loss ρ (held-out)", "curriculum shift (TV)"]
    assert list(fig.data[2].x) == [4, 8]
    inertia = tracking_view.inertia_chart(_steps(), ["formal"], {"formal": "#000"}, {"formal": "Formal"})
    assert [t.name for t in inertia.data] == ["Formal L_real", "Formal L̃"]


def _report(last_epoch_lo: float) -> dict:
    """A tracking_report as mind.analysis.tracking writes it: calibration, two whole epochs, held-out at 0 and 8."""
    ci = lambda m, lo, hi: {"mean": m, "ci": [lo, hi], "n": 16}  # noqa: E731
    return {"warmup_steps": 2, "calibration": {"meta": ci(0.84, 0.79, 0.89), "baseline": ci(0.75, 0.68, 0.82)},
            "epochs": [{"epoch": 1, "steps": [3, 4], "meta": ci(0.85, 0.8, 0.9), "baseline": None},
                       {"epoch": 2, "steps": [5, 8], "meta": ci(last_epoch_lo + 0.04, last_epoch_lo, 0.99),
                        "baseline": ci(0.6, 0.5, 0.7)}],
            "heldout": [{"step": 0, "meta": ci(0.7, 0.6, 0.8), "baseline": ci(0.7, 0.6, 0.8), "n_problems": 16},
                        {"step": 8, "meta": ci(0.8, 0.7, 0.9), "baseline": ci(0.6, 0.5, 0.7), "n_problems": 16}],
            "epoch_shift": [{"from": 1, "to": 2, "shift": 0.02, "weights": {}}]}


def test_the_calibration_pass_is_the_starting_point_of_the_tracking_chart():
    fig = tracking_view.tracking_chart(_steps(), cursor=5, smooth=1, rep=_report(0.8))
    by = {t.name: t for t in fig.data}
    start = by["MetaNet ρ after calibration (before step 1)"]
    assert list(start.x) == [0] and list(start.y) == [0.84]
    assert list(start.error_y.array) == [pytest.approx(0.05)] and list(start.error_y.arrayminus) == [pytest.approx(0.05)]
    epochs = by["MetaNet ρ per epoch after warm-up (95% over problems)"]
    assert list(epochs.x) == [4, 8] and list(epochs.y) == [0.85, pytest.approx(0.84)]
    held = by["MetaNet ρ (held-out, 95% over problems)"]
    assert list(held.x) == [0, 8]  # step 0 from the report; the step records' own held-out markers are not drawn
    assert "MetaNet ρ (held-out)" not in by
    shift = by["shift between whole epochs (after warm-up)"]
    assert list(shift.x) == [8] and shift.xaxis == "x2"  # in the shift panel, at the later epoch's last step
    assert "running shift per step (warm-up included)" in by
    assert fig.layout.yaxis.range[0] == pytest.approx(0.35)  # 0.05 under the lowest value (0.4), not -1
    assert fig.layout.yaxis.range[1] == 1.05


def test_report_sentences_say_whether_training_moved_beyond_the_calibration():
    same = tracking_view.report_sentences(_report(0.8))
    assert same[0].startswith("Before step 1, the calibration pass") and "ρ = 0.84 [0.79, 0.89]" in same[0]
    assert "In epoch 2 (steps 5-8, after warm-up)" in same[1] and "no change since before step 1 is measurable" in same[1]
    assert "above the calibration interval" in tracking_view.report_sentences(_report(0.92))[1]
    assert "Between the whole epochs 1 and 2 (after warm-up) the mean weights moved 2%" in same[2]
    assert tracking_view.report_sentences(None) == []
    assert tracking_view.calibration_rho(_report(0.8)) == 0.84 and tracking_view.calibration_rho({}) is None
