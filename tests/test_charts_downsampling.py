"""Charts over thousands of steps: the display downsampling in app/charts.py is exact about what it keeps and
says so in the chart's title; short runs are drawn as they are."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from app import charts

PERSP = ["formal", "intuitive"]


def steps_frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"step": np.arange(1, n + 1), "loss_total": rng.random(n), "meta_phase": ["joint"] * n})
    for p in PERSP:
        w = rng.random(n)
        df[f"weight/{p}"], df[f"score/{p}"] = w / 2, rng.normal(size=n)
        df[f"selected/{p}"], df[f"loss_raw/{p}"], df[f"loss_filtered/{p}"] = w > 0.5, rng.random(n), rng.random(n)
    return df


def test_minmax_indices_keep_every_bin_extreme_and_the_last_row():
    y = np.array([3.0, 1.0, 2.0, 9.0, 5.0, np.nan, np.nan, np.nan, 4.0, 0.5, 7.0])
    idx = charts.minmax_indices(y, max_points=6)  # bins of ceil(2 * 11 / 6) = 4: [3,1,2,9] [5,nan,nan,nan] [4,.5,7]
    assert idx.tolist() == [1, 3, 4, 9, 10]
    assert charts.minmax_indices(y, max_points=11).tolist() == list(range(11))


def test_minmax_indices_preserve_a_single_spike_among_many_steps():
    y = np.zeros(100_000)
    y[54_321] = 50.0
    idx = charts.minmax_indices(y)
    assert len(idx) <= charts.MAX_POINTS + 1 and 54_321 in idx and idx[-1] == 99_999


def test_bin_means_average_consecutive_steps_and_end_on_the_newest():
    df = pd.DataFrame({"step": np.arange(1, 11), "v": np.arange(10.0), "s": list("abcdefghij")})
    out = charts.bin_means(df, max_points=4)  # 3 steps per bin, the first bin short: [1] [2-4] [5-7] [8-10]
    assert out["step"].tolist() == [1, 4, 7, 10]
    assert out["v"].tolist() == [0.0, 2.0, 5.0, 8.0]
    assert out["s"].tolist() == ["a", "d", "g", "j"] and list(out.columns) == ["step", "v", "s"]
    assert charts.bin_means(df, max_points=10) is df


def test_bin_means_ignore_nan_so_sparse_columns_survive():
    df = pd.DataFrame({"step": np.arange(1, 101), "heldout": [0.5 if s % 50 == 0 else np.nan for s in range(1, 101)]})
    out = charts.bin_means(df, max_points=10)
    assert out["heldout"].notna().sum() == 2 and set(out["heldout"].dropna()) == {0.5}


@pytest.mark.parametrize("n", [50, 10_000])
def test_curriculum_charts_say_when_they_are_downsampled(n):
    df = steps_frame(n)
    figs = [charts.weights_area(df, PERSP, cursor=n // 2), charts.score_lines(df, PERSP),
            charts.step_heatmap(df, PERSP, "selected", "Selection"), charts.raw_vs_filtered(df, PERSP),
            charts.loss_curves({"run": df})]
    for fig in figs:
        title = fig.layout.title.text
        points = max(len(t.x) for t in fig.data)
        if n <= charts.MAX_POINTS:
            assert "bin" not in title and points == n
        else:
            assert f"{n:,} steps" in title and ("min and max" in title or "mean" in title), title
            assert points <= charts.MAX_POINTS + 1
            assert max(max(t.x) for t in fig.data) == n  # the newest step is drawn


def test_downsampled_lines_keep_the_extremes_of_the_data():
    df = steps_frame(20_000, seed=3)
    fig = charts.loss_curves({"run": df}, columns=("loss_total",))
    ys = np.asarray(fig.data[0].y, dtype=float)
    assert ys.max() == df["loss_total"].max() and ys.min() == df["loss_total"].min()
    area = charts.weights_area(df, PERSP)
    assert np.allclose(np.asarray(area.data[0].y).mean(), df["weight/formal"].mean(), atol=1e-3)
