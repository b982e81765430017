"""Issue 23's pure parts, without a Streamlit server: one colour per run (app/colors.py), per-step / smoothed /
per-epoch views and the α window (app/views.py), the overlay figures (app/overlay.py), the symbol definitions
(app/glossary.py), the launch phases read from a run folder (app/phases.py), the debugger's warm-up and problem
history (app/debugger.py), the latent page's two cluster counts and kept selection (app/latent.py), missing steps
(app/loading.py), the sign-in cookie (app/access.py) and where a bundled run exports to (app/exporting.py)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app import access, charts, colors, debugger, exporting, glossary, latent, loading, overlay, phases, settings, tracking_view, views  # noqa: E402,E501

PS = ["formal", "intuitive", "planning"]


def steps_frame(n: int = 16, per_epoch: int = 4, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(1, n + 1):
        w = rng.dirichlet(np.ones(len(PS)))
        r = {"step": s, "epoch": s / per_epoch, "loss_total": 3.0 / s, "loss_meta": 0.01, "meta_spearman": 0.5,
             "baseline_spearman": 0.3, "curriculum_shift": 0.03 if s > per_epoch else math.nan, "time_s": 2.0}
        for i, p in enumerate(PS):
            r.update({f"weight/{p}": w[i], f"selected/{p}": float(w[i] > 0.2), f"score/{p}": 1.0 + i,
                      f"loss_raw/{p}": 2.0 + i + rng.normal(0, 0.1), f"loss_filtered/{p}": 2.0 + i})
        rows.append(r)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- run colours
def test_run_colours_are_stable_distinct_and_new_runs_do_not_move_old_ones():
    names = [f"run-{i}" for i in range(12)]
    table = colors.assign(names)
    assert len(set(table.values())) == 12  # 12 runs, 12 colours
    assert colors.assign(names) == table  # the same in another call (another page, another session)
    more = colors.assign(names + ["newest"])  # a run launched later is served last
    assert all(more[n] == table[n] for n in names)
    assert colors.run_colour("smollm2-mind", known=names + ["smollm2-mind"]) == colors.assign(
        names + ["smollm2-mind"])["smollm2-mind"]
    assert colors.preferred_slot("smollm2-mind") == colors.preferred_slot("smollm2-mind")
    assert set(colors.RUN_PALETTE).isdisjoint(charts.PALETTE[:8])  # never mistaken for a perspective colour


def test_run_colour_reads_the_dashboard_roots_oldest_first(tmp_path, monkeypatch):
    import os
    import time

    runs, cached = tmp_path / "runs", tmp_path / "cached"
    for i, name in enumerate(["b-old", "a-new"]):
        (runs / name).mkdir(parents=True)
        (runs / name / "config.json").write_text("{}")
        t = time.time() - 100 + i * 50
        os.utime(runs / name / "config.json", (t, t))
    cached.mkdir()
    monkeypatch.setenv(settings.ENV_RUNS, str(runs))
    monkeypatch.setenv(settings.ENV_CACHED, str(cached))
    assert colors._known_runs() == ["b-old", "a-new"]
    assert colors.run_colours(["a-new", "b-old"]) == {n: colors.assign(["b-old", "a-new"])[n] for n in ("a-new", "b-old")}
    assert colors.run_colour("not-a-run") == colors.RUN_PALETTE[colors.preferred_slot("not-a-run")]


# ---------------------------------------------------------------- views
def test_tensorboard_smoothing_is_a_debiased_ema_that_skips_nan():
    y = [1.0, 2.0, math.nan, 4.0]
    out = views.smooth(y, 0.5)
    assert out[0] == 1.0  # debiased: the first point is the first value
    assert out[1] == pytest.approx((0.5 * 0.5 * 1 + 0.5 * 2) / (1 - 0.25))
    assert math.isnan(out[2]) and out[3] > out[1]
    assert list(views.smooth(y, 0.0))[:2] == [1.0, 2.0]
    with pytest.raises(ValueError):
        views.smooth(y, 1.0)


def test_per_epoch_means_say_how_many_steps_each_holds():
    df = steps_frame(10, per_epoch=4)  # epochs: steps 1-4, 5-8, and a partial 9-10
    ep = views.per_epoch(df)
    assert ep["epoch"].tolist() == [1, 2, 3] and ep["step"].tolist() == [4, 8, 10] and ep["n"].tolist() == [4, 4, 2]
    assert ep["weight/formal"].iloc[0] == pytest.approx(df["weight/formal"].iloc[:4].mean())
    v = views.view(df, "per epoch", x="epoch")
    assert v["x"].tolist() == [1, 2, 3]
    assert views.view(df, "per step")["x"].tolist() == list(range(1, 11))
    assert views.view(df, "smoothed", 0.9, x="epoch")["x"].tolist() == df["epoch"].tolist()
    with pytest.raises(ValueError):
        views.view(df, "weekly")


def test_alpha_window_and_what_each_bar_averages():
    df = steps_frame(12, per_epoch=4)
    assert views.window_rows(df, 7, "step")["step"].tolist() == [7]
    assert views.window_rows(df, 7, 3)["step"].tolist() == [5, 6, 7]
    assert views.window_rows(df, 7, "epoch")["step"].tolist() == [5, 6, 7]  # epoch 2 so far
    assert views.describe_window(views.window_rows(df, 7, "step"), "step", 2) == "the mean over the 2 problems of step 7"
    assert views.describe_window(views.window_rows(df, 7, 3), 3, 2) == \
        "the mean over the last 3 steps: steps 5-7 (3 steps x 2 problems)"
    assert "epoch 2 so far: steps 5-7" in views.describe_window(views.window_rows(df, 7, "epoch"), "epoch", 2)
    bars = charts.alpha_bars(df, PS, 7, 3, 2)
    assert "Weights α at step 7" in bars.layout.title.text and "last 3 steps" in bars.layout.title.text
    assert list(bars.data[0].y) == pytest.approx([df[f"weight/{p}"].iloc[4:7].mean() for p in PS])


# ---------------------------------------------------------------- overlay figures
def test_overlay_charts_draw_each_run_in_its_colour_on_shared_axes():
    a, b = steps_frame(16), steps_frame(16, seed=1)
    runs = {"a": views.view(a, "per step"), "b": views.view(b, "smoothed", 0.6)}
    col = colors.assign(["a", "b"])
    w = overlay.weights(runs, PS, col, what="per step")
    assert len(w.data) == 2 * len(PS) and {t.line.color for t in w.data} == set(col.values())
    assert [t.name for t in w.data if t.showlegend] == ["a", "b"]  # one legend entry per run
    assert w.layout.yaxis.range == (0, 1.02)
    loss = overlay.losses(runs, PS, col)
    assert {t.line.dash for t in loss.data} == {None, "dot"} and len(loss.data) == 2 * 2 * len(PS)
    tr = overlay.tracking(runs, col)
    shift = [t for t in tr.data if t.name.endswith("shift")]
    rho = [t for t in tr.data if "ρ" in t.name]
    assert shift and all(t.yaxis == "y2" for t in shift) and all(t.yaxis == "y" for t in rho)  # separate panels
    assert tr.layout.yaxis.range == (-1.05, 1.05) and tr.layout.yaxis2.range is None
    assert overlay.union_perspectives({"a": ["x", "y"], "b": ["y", "z"]}) == ["x", "y", "z"]


def test_overlay_charts_downsample_long_runs_and_say_so():
    long = pd.DataFrame({"step": np.arange(1, 5001), "weight/formal": np.linspace(0, 1, 5000)})
    fig = overlay.weights({"long": views.view(long, "per step")}, ["formal"], {"long": "#000"})
    assert len(fig.data[0].x) <= charts.MAX_POINTS + 1 and fig.data[0].x[-1] == 5000
    assert "5,000 steps" in fig.layout.title.text


def test_single_run_tracking_and_inertia_charts_read_at_a_glance():
    df = steps_frame(8)
    tr = tracking_view.tracking_chart(df, 3)
    shift = next(t for t in tr.data if t.name == "curriculum shift (TV)")
    assert shift.yaxis == "y2"  # its own panel, not the ρ axis
    lowest = min(df[c].min() for c in ("meta_spearman", "baseline_spearman") if c in df)
    assert tr.layout.yaxis.range == (pytest.approx(max(-1.05, lowest - 0.05)), 1.05)  # ρ zoomed to its values
    inertia = tracking_view.inertia_chart(df, PS, charts.colors(PS), {p: p for p in PS})
    assert len(inertia.data) == 2 * len(PS) and sum(bool(t.showlegend) for t in inertia.data) == len(PS)
    assert inertia.layout.legend.orientation == "h"


def test_glossary_defines_each_symbol_in_one_line_with_the_run_values():
    text = glossary.define(["α", "β", "s_k", "L_real", "L~"], {"beta": 0.7, "g": 0.9, "tau_student": 1.0})
    lines = text.split("  \n")
    assert len(lines) == 5 and "(here 0.7)" in lines[1] and "g = 0.9" in lines[4] and "(here 1.0)" in lines[0]
    assert all(ln.startswith(":material/help:") for ln in lines)


# ---------------------------------------------------------------- launch phases
def _log(run: Path, text: str) -> None:
    (run / "log.txt").write_text(text, encoding="utf-8")


def test_launch_phases_follow_the_log_and_the_run_files(tmp_path):
    run = tmp_path / "r"
    run.mkdir()
    _log(run, "$ mind train ...\n")
    ph = phases.launch_phases(run, "mind", 48, elapsed_s=5)
    assert [p.state for p in ph] == ["running", "pending", "pending", "pending"] and "5 s so far" in ph[0].detail
    _log(run, "$ mind train\nBatches:   0%|  | 0/4 [00:00<?, ?it/s]\rBatches:  50%|##| 2/4 [00:06<00:06,  3.1s/it]")
    ph = phases.launch_phases(run, "mind", 48)
    assert ph[1].state == "running" and ph[1].fraction == 0.5 and "2/4 batches · 6 s, about 6 s left" in ph[1].detail
    (run / "config.json").write_text("{}")
    _log(run, "Batches: 100%|##| 4/4 [00:10<00:00]\nMetaNet calibration:  34%|###| 17/50 [00:10<00:20,  1.6it/s]")
    ph = phases.launch_phases(run, "mind", 48)
    assert [p.state for p in ph] == ["done", "done", "running", "pending"]
    assert ph[2].fraction == pytest.approx(0.34) and "17/50 epochs" in ph[2].detail
    assert phases.current(ph).key == "calibration"
    (run / "calibration.json").write_text("{}")
    (run / "steps.jsonl").write_text('{"step": 1}\n{"step": 2}\n')
    (run / "status.json").write_text(json.dumps({"state": "running", "total_steps": 48, "startup": {
        "imports": 2, "data": 3, "model": 1, "features": 0.01, "snapshot_0": 1, "calibration": 20, "first_step": 3,
        "total": 30}}))
    ph = phases.launch_phases(run, "mind", 48)
    assert [p.state for p in ph] == ["done", "done", "done", "running"]
    assert ph[0].detail == "took 6 s" and ph[1].detail == "read from the feature cache" and ph[2].detail == "took 21 s"
    assert ph[3].fraction == pytest.approx(2 / 48) and "first step after 30 s" in ph[3].detail
    uniform = phases.launch_phases(run, "uniform", 48)
    assert [p.state for p in uniform[1:3]] == ["skipped", "skipped"]


def test_preset_label_timing_comes_from_the_last_finished_preset_run(tmp_path):
    for name, preset, wall in (("a", "demo", 1000.0), ("b", "", 2000.0)):
        run = tmp_path / name
        run.mkdir()
        _log(run, f"$ mind train --data demo --steps 2 --out x{' --preset ' + preset if preset else ''} seed=0\n")
        (run / "status.json").write_text(json.dumps({"state": "finished", "startup": {"total": 60.0}}))
        (run / "steps.jsonl").write_text(json.dumps({"step": 1, "wall": wall}) + "\n"
                                         + json.dumps({"step": 2, "wall": wall + 720}) + "\n")
    t = phases.last_preset_timing(tmp_path, "demo")
    assert t["run"] == "a" and t["total_s"] == pytest.approx(780.0) and t["first_s"] == 60.0
    assert phases.describe_timing(t) == "the last one here (a) took 13 min 00 s for 2 steps, its first weights after 1 min 00 s"
    assert phases.last_preset_timing(tmp_path, "other") is None


def test_first_eta_does_not_count_the_start_up():
    one = pd.DataFrame({"step": [1], "wall": [1000.0], "time_s": [10.0]})
    prog = loading.progress({"state": "running", "step": 1, "total_steps": 48, "started_at": 900.0}, one, now=1010.0)
    assert prog["eta_s"] == pytest.approx(470.0)  # 47 steps x 10 s, not 47 x 110 s


# ---------------------------------------------------------------- debugger
def test_warm_up_phase_and_one_problems_history():
    steps = pd.DataFrame({"step": [1, 2, 3], "meta_phase": ["warmup", "warmup", "joint"]})
    cfg = {"method": "mind", "meta_warmup_steps": 2}
    assert debugger.phase_of({"step": 2, "scores": [1.0]}, steps, cfg) == "warmup"
    assert debugger.phase_of({"step": 3, "scores": [1.0]}, steps, cfg) == "joint"
    assert debugger.phase_of({"step": 3, "scores": [1.0], "meta_phase": "warmup"}, steps, cfg) == "warmup"
    assert debugger.phase_of({"step": 1, "scores": [1.0]}, None, cfg) == "warmup"  # older runs: from the config
    assert debugger.phase_of({"step": 1, "scores": None}, None, {"method": "uniform"}) == "off"
    assert debugger.warmup_steps(steps, cfg) == (1, 2)
    samples = pd.DataFrame([
        {"step": s, "problem_id": pid, "perspectives": PS, "scores": [1.0, 2.0, 3.0], "alphas": [0.0, 0.4, 0.6],
         "selected": [False, True, True], "loss_raw": [2.0, 2.1, 2.2], "loss_filtered": [2.0, 2.0, 2.0]}
        for s, pid in ((1, "p1"), (1, "p2"), (5, "p1"))])
    hist = debugger.problem_history(samples, "p1")
    assert sorted(hist["step"].unique()) == [1, 5] and len(hist) == 2 * len(PS)
    fig = debugger.history_chart(hist, PS, (1, 2), cursor=5)
    assert fig.layout.height == 640 and any(t.type == "heatmap" for t in fig.data)
    assert any(getattr(s, "fillcolor", None) == "#f2c14e" for s in fig.layout.shapes)  # the warm-up shaded


def test_what_if_in_the_warm_up_changes_nothing():
    from app import whatif

    sel = whatif.select([0.1, 0.9, 0.5], 0.7, 1.0, warm=True)
    assert sel.selected.all() and sel.alphas == pytest.approx([1 / 3] * 3)


# ---------------------------------------------------------------- latent
def test_cluster_counts_name_what_the_map_shows():
    pts = pd.DataFrame({"step": [0, 0, 0, 8, 8], "cluster": [0, 1, 1, 2, 2], "problem_id": list("abcde"),
                        "perspective": ["x"] * 5, "x": 0.0, "y": 0.0})
    metrics = pd.DataFrame({"step": [0, 8], "n_active_clusters": [14, 13], "ari": [0.5, 0.6]})
    counts = latent.cluster_counts(metrics, pts)
    assert counts[latent.HOLDING].tolist() == [2, 1] and counts[latent.BY_WEIGHT].tolist() == [14, 13]


def test_selection_survives_a_redraw_and_linked_maps_highlight_it():
    ev = {"selection": {"points": [{"customdata": "p1::formal"}]}}
    assert latent.keep_selection([], ev) == ["p1::formal"]
    assert latent.keep_selection(["p1::formal"], {"selection": {"points": []}}) == ["p1::formal"]  # a redraw
    pts = pd.DataFrame({"problem_id": ["p1", "p1", "p2"], "perspective": ["formal", "planning", "formal"],
                        "cluster": [0, 1, 0], "x": [0.0, 1.0, 2.0], "y": [0.0, 1.0, 2.0]})
    fig = charts.latent_scatter(pts, "perspective", latent.point_ids(pts), ["formal", "planning"],
                                selected=["p2::formal"])
    assert [list(t.selectedpoints) for t in fig.data] == [[1], []]  # p2 is the second point of the formal trace


# ---------------------------------------------------------------- missing steps
def test_a_cut_steps_file_is_reported_with_how_many_steps_from_where(tmp_path):
    run = tmp_path / "cut"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"steps": 48, "perspectives": PS}))
    (run / "status.json").write_text(json.dumps({"state": "finished", "step": 48, "total_steps": 48}))
    lines = "".join(json.dumps({"step": s, "loss_total": 1.0}) + "\n" for s in range(1, 24))
    (run / "steps.jsonl").write_text(lines + '{"step": 24, "loss_to')
    r = loading.open_run(run)
    df = loading.steps(run)
    gaps = loading.step_gaps(r, df)
    assert gaps["missing"] == 25 and gaps["ranges"] == [(24, 48)] and gaps["cut"] and gaps["last_recorded"] == 23
    msg = loading.gap_message("cut", gaps)
    assert "missing 25 of the 48 steps" in msg and "(step 24-48)" in msg and "cut mid-record" in msg
    row = loading.summarize(run)
    assert row["steps"] == "23/48 recorded (25 missing)" and "missing 25" in row["warning"]
    whole = tmp_path / "whole"
    whole.mkdir()
    for f in ("config.json", "status.json"):
        (whole / f).write_text((run / f).read_text())
    (whole / "steps.jsonl").write_text("".join(json.dumps({"step": s}) + "\n" for s in range(1, 49)))
    assert loading.step_gaps(loading.open_run(whole), loading.steps(whole)) is None


# ---------------------------------------------------------------- sharing
def test_sign_in_cookie_holds_no_token_and_expires():
    token = "a-token-for-the-test-123"
    value = access.cookie_value(token, now=1000.0, max_age_s=60)
    assert token not in value and access.cookie_matches(value, token, now=1030.0)
    assert not access.cookie_matches(value, token, now=1061.0)  # expired
    assert not access.cookie_matches(value, "another-token-123456", now=1030.0)  # a new token voids old cookies
    for bad in (None, "", "x", "1.2.3", "abc.def"):
        assert not access.cookie_matches(bad, token, now=0)
    script = access._cookie_script(value)
    assert "SameSite=Strict" in script and "Path=/" in script and token not in script


def test_a_bundled_run_exports_to_the_runs_folder(tmp_path, monkeypatch):
    runs, cached = tmp_path / "runs", tmp_path / "cached"
    (cached / "tiny-mind").mkdir(parents=True)
    (runs / "mine").mkdir(parents=True)
    monkeypatch.setenv(settings.ENV_RUNS, str(runs))
    monkeypatch.setenv(settings.ENV_CACHED, str(cached))
    assert exporting.default_out(cached / "tiny-mind") == runs.resolve() / "exports" / "tiny-mind"
    assert exporting.log_path(cached / "tiny-mind") == runs.resolve() / "exports" / "tiny-mind.export.log.txt"
    assert exporting.default_out(runs / "mine") == runs / "mine" / "export"
    assert exporting.log_path(runs / "mine") == runs / "mine" / "export.log.txt"


# ---------------------------------------------------------------- shipped demo features
def test_the_shipped_demo_features_cover_the_demo_preset(tmp_path, monkeypatch):
    """Seeded into an empty cache, they are every feature the demo preset's run needs: the encoder is never
    loaded (it would be on a cold cache) and the vectors are the encoder's own."""
    import sentence_transformers

    from app import demo_features
    from mind.data.schema import perspectives_in, resolve_holdout, split_holdout
    from mind.model.encoder import rationale_features
    from mind.training.config import TrainConfig, preset_values
    from mind.training.sets import load_training_set

    monkeypatch.setenv("MIND_CACHE_DIR", str(tmp_path / "cache"))
    assert demo_features.seed() == demo_features.cache_folder() / demo_features.NAME
    fields, preset = TrainConfig.__dataclass_fields__, preset_values("demo")
    problems = load_training_set("demo")
    persp = list(perspectives_in(problems))
    train, held = split_holdout(problems, resolve_holdout(fields["holdout"].default, "demo"),
                                fields["holdout_seed"].default)
    train = train[: preset["max_problems"]]

    def refuse(*a, **k):
        raise AssertionError("the encoder was loaded: a text of the demo preset is missing from the shipped features")

    monkeypatch.setattr(sentence_transformers, "SentenceTransformer", refuse)
    feats = rationale_features(train + held, persp, demo_features.ENCODER)
    assert feats.shape[:2] == (len(train) + len(held), len(persp)) and float(feats.abs().sum()) > 0
    assert demo_features.seed() == demo_features.cache_folder() / demo_features.NAME  # a second seed: no-op
