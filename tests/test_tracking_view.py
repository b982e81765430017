"""The Curriculum page's tracking sentences and charts (app/tracking_view.py) on hand-made step records."""

from __future__ import annotations

import math

import pandas as pd

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
