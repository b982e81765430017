"""AppTest (streamlit.testing.v1) of every dashboard page on a real tiny run, an empty runs folder, and
corrupt or partial runs: no exception, the expected widgets and figures, and page-to-page flow."""

from __future__ import annotations

import json
import subprocess
import sys
import shutil

import pytest
from streamlit.testing.v1 import AppTest

from conftest import patient
from test_app_runs import ROOT, TRAIN_STEPS, copy_run, roots  # noqa: F401  (roots is a fixture)

from app import ui

MAIN = str(ROOT / "app" / "main.py")
PAGE = {u: ui.page_path(f) for f, _, _, u in ui.PAGES}


def open_page(slug: str, **state) -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=patient(60))
    for k, v in state.items():
        at.session_state[k] = v
    at.run()
    if slug != "runs":
        at.switch_page(PAGE[slug]).run()
    return at


def figures(at: AppTest) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def texts(elements) -> str:
    return " | ".join(str(e.value) for e in elements)


def values(arr) -> list:
    """A Plotly JSON array as a list (a plain list, or a typed array {"dtype", "bdata": base64})."""
    if isinstance(arr, dict):
        import base64

        import numpy as np

        return np.frombuffer(base64.b64decode(arr["bdata"]), dtype=arr["dtype"]).tolist()
    return list(arr)


def _length(arr) -> int:
    """Length of a Plotly JSON array (a list, or a typed array)."""
    return len(values(arr))


def assert_clean(at: AppTest) -> None:
    assert not at.exception, texts(at.exception)


@pytest.mark.parametrize("slug", list(PAGE))
def test_every_page_handles_an_empty_runs_folder(roots, slug):
    at = open_page(slug)
    assert_clean(at)
    assert not at.error, texts(at.error)
    expected = "Fill in the form" if slug == "launch" else "No runs found"
    assert expected in texts(at.info)


@pytest.mark.slow
def test_runs_page_lists_real_runs(roots):
    copy_run(roots, "alpha")
    copy_run(roots, "beta")
    at = open_page("runs")
    assert_clean(at)
    table = at.dataframe[0].value
    assert sorted(table["run"]) == ["alpha", "beta"]
    assert set(table["state"]) == {"finished"} and set(table["method"]) == {"mind"}
    assert "Select one or more runs" in texts(at.info)


@pytest.mark.slow
def test_curriculum_page_charts_follow_one_step_cursor(roots):
    copy_run(roots)
    at = open_page("curriculum")
    assert_clean(at)
    assert not at.error, texts(at.error)
    figs = figures(at)
    # cursor part: alpha bars, area, heatmap, scores, tracking, inertia; whole run: weights, L~ vs L_real, losses
    assert len(figs) == 9
    assert at.slider(key="cur_step").value == 6
    said = texts(at.markdown)
    assert "MetaNet ranks the rationales the way the student's losses do: Spearman ρ =" in said
    tracking = next(f for f in figs if "follow the student" in f["layout"]["title"]["text"])
    assert {t["name"] for t in tracking["data"]} >= {"MetaNet ρ (trained problems)", "average-loss ranking ρ"}
    # the calibration pass (calibration.json, before step 1) is the chart's starting point at step 0
    calib = json.loads((roots / "tiny-mind" / "calibration.json").read_text())
    start = next(t for t in tracking["data"] if t["name"] == "MetaNet ρ after calibration (before step 1)")
    assert values(start["x"]) == [0] and values(start["y"])[0] == pytest.approx(sum(calib["problem_meta_spearman"])
                                                                      / len(calib["problem_meta_spearman"]))
    assert "Before step 1, the calibration pass" in said
    inertia = next(f for f in figs if f["layout"]["title"]["text"].startswith("Inertia"))
    assert len(inertia["data"]) == 16  # L_real and L~ of 8 perspectives on one chart
    at.slider(key="cur_step").set_value(2).run()
    assert_clean(at)
    figs = figures(at)
    assert "step 2" in figs[0]["layout"]["title"]["text"]  # the alpha bars
    cursors = [s for f in figs[1:] for s in f["layout"].get("shapes", []) if s.get("x0") == 2]
    assert len(cursors) >= 4  # area, heatmap, scores and each small multiple show the same cursor
    assert at.toggle(key="cur_play").value is False


@pytest.mark.slow
def test_metanet_debugger_what_if_recomputes_selection(roots):
    copy_run(roots)
    at = open_page("metanet")
    assert_clean(at)
    assert not at.error, texts(at.error)
    assert len(figures(at)) == 4  # recorded bars, attention heatmap, what-if bars, the problem's history
    history = figures(at)[3]
    assert "drawn at" in history["layout"]["title"]["text"]
    assert any(t["type"] == "heatmap" for t in history["data"])
    assert "Question" in texts(at.markdown)
    assert "Spearman ρ =" in texts(at.markdown)  # this problem's rank agreement, and the run's sentences
    at.slider(key="wi_beta").set_value(1.0).run()
    assert "Keeps **1** of 8" in texts(at.markdown)
    at.slider(key="wi_beta").set_value(0.01).run()
    assert "Keeps **8** of 8" in texts(at.markdown)
    what_if = figures(at)[2]
    assert sum(v for v in what_if["data"][1]["y"]) == pytest.approx(1.0)
    pids = at.selectbox(key="dbg_problem").options
    at.selectbox(key="dbg_problem").set_value(pids[-1]).run()
    assert_clean(at)
    # a warm-up step (meta_warmup_steps=2): shown as warm-up, and the what-if changes nothing there
    at.toggle(key="dbg_follow").set_value(False).run()
    at.select_slider(key="dbg_step").set_value(1).run()
    assert_clean(at)
    assert "is in MetaNet's **warm-up**" in texts(at.info)
    assert "step 1: MetaNet warm-up" in texts(at.caption)
    at.slider(key="wi_beta").set_value(1.0).run()
    assert "Keeps **8** of 8 perspectives (0 changed vs recorded)" in texts(at.markdown)
    assert "Once it ends, these scores would keep **1** of 8" in texts(at.caption)
    assert "trained (warm-up)" in at.dataframe[0].value.columns


@pytest.mark.slow
def test_latent_page_offers_to_compute_a_missing_map(roots):
    copy_run(roots)
    at = open_page("latent")
    assert_clean(at)
    assert not at.error, texts(at.error)
    assert "No latent map for this run yet" in texts(at.info)
    assert at.button(key="analyze_btn").label == "Compute the latent map"


@pytest.mark.slow
def test_evaluation_page_without_and_with_a_summary(roots):
    run = copy_run(roots)
    at = open_page("evaluation")
    assert_clean(at)
    assert "no evaluation yet — run `mind eval --run" in texts(at.info)
    # A real (tiny) evaluation: the random student answers nothing right, so every item is a wrong answer.
    proc = subprocess.run([sys.executable, "-m", "mind", "eval", "--run", str(run), "--benchmarks", "gsm8k,csqa",
                           "--limit", "2", "--max-new-tokens", "4", "--no-base"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    at = open_page("evaluation")
    assert_clean(at)
    table = at.dataframe[0].value
    assert table.loc["tiny-mind", "gsm8k"] == "0.00" and "paper: MIND (Qwen2.5-7B-Instruct)" in table.index
    assert table.loc["tiny-mind", "svamp"] == ""  # not evaluated on it: a blank cell, not "None"
    assert len(at.dataframe[-1].value) == 2  # the two gsm8k items, both wrong


@pytest.mark.slow
def test_how_mind_works_uses_the_run(roots):
    copy_run(roots)
    at = open_page("how-mind-works")
    assert_clean(at)
    titles = [f["layout"].get("title", {}).get("text", "") for f in figures(at)]
    assert len(titles) == 4 and len(at.latex) == 3  # selection, losses, weights, and the inertia (L_real vs L~)
    assert "In **tiny-mind** at step 6" in texts(at.markdown)
    assert "Does MetaNet follow the student in tiny-mind?" in texts(at.markdown)


def test_launch_form_rejects_a_name_outside_the_runs_folder(roots):
    at = open_page("launch")
    assert_clean(at)
    at.text_input[0].set_value("../escape")
    at.button[0].click().run()
    assert "run name '../escape' is not allowed" in texts(at.error)
    assert not any(roots.parent.joinpath("escape").exists() for _ in [0])
    assert not list(roots.iterdir())


@pytest.mark.slow
def test_page_to_page_flow_keeps_the_chosen_run(roots):
    copy_run(roots, "first")
    copy_run(roots, "second")
    at = open_page("curriculum")
    at.selectbox(key="run_select").set_value(str(roots / "second")).run()
    assert at.session_state[ui.RUN_KEY] == str(roots / "second")
    at.switch_page(PAGE["metanet"]).run()
    assert_clean(at)
    assert at.selectbox(key="run_select").value == str(roots / "second")
    at.switch_page(PAGE["how-mind-works"]).run()
    assert "In **second**" in texts(at.markdown)


@pytest.mark.slow
@pytest.mark.parametrize("slug", [s for s in PAGE if s != "launch"])
def test_pages_show_corrupt_and_partial_runs_as_messages(roots, slug):
    bad = copy_run(roots, "bad")
    (bad / "config.json").write_text('{"method": "mi', encoding="utf-8")
    partial = copy_run(roots, "partial")  # a run that has just started: config and status, no records
    for name in ("steps.jsonl", "samples.jsonl"):
        (partial / name).unlink()
    shutil.rmtree(partial / "snapshots")
    st_file = partial / "status.json"
    status = json.loads(st_file.read_text())
    import time

    st_file.write_text(json.dumps({**status, "state": "running", "step": 0, "heartbeat": time.time()}))
    for chosen, expect in ((bad, "error"), (partial, "info")):
        at = open_page(slug, mind_run=str(chosen))
        assert_clean(at)
        if slug == "runs":
            assert "invalid JSON" in texts(at.error)
            continue
        if slug == "evaluation":
            at.multiselect(key="eval_runs").set_value([str(chosen)]).run()
            assert_clean(at)
        msgs = texts(at.error) if expect == "error" else texts(at.info) + texts(at.error)
        assert msgs, f"{slug}: no message for {chosen.name}"
        if expect == "error":
            assert "config.json" in msgs and "Traceback" not in msgs


@pytest.mark.slow
def test_latent_page_on_an_analysed_run(roots):
    import subprocess
    import sys

    run = copy_run(roots)
    res = subprocess.run([sys.executable, "-m", "mind", "analyze", "--run", str(run), "--projector", "pca", "--quiet"],
                         capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    at = open_page("latent")
    assert_clean(at)
    assert not at.error, texts(at.error)
    figs = figures(at)
    scatter = figs[0]
    assert {t["type"] for t in scatter["data"]} == {"scattergl"}
    n_points = sum(_length(t["x"]) for t in scatter["data"])
    assert n_points == 4 * 8  # probe_problems=4 problems x 8 perspectives
    assert any(t["name"].lower() == "ari" for f in figs[1:] for t in f["data"])
    at.radio(key="lat_color").set_value("perspective").run()
    names = [t["name"] for t in figures(at)[0]["data"]]
    assert names[0] == "Formal-Symbolic" and len(names) == 8
    steps = at.select_slider(key="lat_step").options
    assert [int(s) for s in steps] == [0, 3, 6]
    at.select_slider(key="lat_step").set_value(3).run()
    assert "Step 3" in figures(at)[0]["layout"]["title"]["text"]
    assert "--text` adds the same rationales" in texts(at.caption)  # no text view in this analysis
    res = subprocess.run([sys.executable, "-m", "mind", "analyze", "--run", str(run), "--projector", "pca", "--text",
                          "--quiet"], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    at = open_page("latent")
    at.select_slider(key="lat_step").set_value(3).run()
    said = texts(at.markdown)
    assert "Hidden states at step 3: ARI" in said and "(step 0, before training:" in said
    assert "rationale texts under Sentence-BERT, clustered the same way: ARI" in said


def test_latent_page_shows_a_separation_experiment_with_its_controls(roots, tmp_path):
    """A separation result (as `mind experiment separation` writes it) in the cached folder: the table has the
    paper's view and both controls, and the map has one trace per student."""
    import pandas as pd

    copy_run(roots)
    sep = roots.parent / "cached" / "smollm2-separation"
    sep.mkdir(parents=True)
    result = {"perspectives": ["formal", "intuitive"], "n_points": 4, "ari": 0.9, "ami": 0.8, "homogeneity": 1.0,
              "completeness": 0.7, "n_active_clusters": 3,
              "text_only": {"ari": 0.1, "ami": 0.1, "homogeneity": 0.2, "completeness": 0.2, "n_active_clusters": 2},
              "same_text": {"ari": 0.5, "ami": 0.4, "homogeneity": 0.6, "completeness": 0.6, "n_active_clusters": 2}}
    (sep / "separation.json").write_text(json.dumps(result))
    pd.DataFrame({"problem_id": ["a", "b", "a", "b"], "student": ["formal", "formal", "intuitive", "intuitive"],
                  "cluster": [0, 0, 1, 2], "x": [0.0, 0.1, 1.0, 1.1], "y": [0.0, 0.1, 1.0, 1.2]}
                 ).to_parquet(sep / "separation_points.parquet")
    at = open_page("latent")
    assert_clean(at)
    table = next(df.value for df in at.dataframe if "what it shows" in df.value.columns)
    assert table["view"].tolist() == ["own_text", "text_only", "same_text"]
    assert table["ari"].tolist() == [0.9, 0.1, 0.5]
    sep_fig = next(f for f in figures(at) if "One student per perspective" in f["layout"]["title"]["text"])
    assert [t["name"] for t in sep_fig["data"]] == ["Formal-Symbolic", "Intuitive"]


def test_runs_page_shows_the_start_here_note_of_the_bundled_runs(roots):
    copy_run(roots)
    (roots.parent / "cached" / "START_HERE.md").write_text("- **smollm2-mind**: the curriculum, on the Curriculum page\n")
    at = open_page("runs")
    assert_clean(at)
    assert "smollm2-mind" in texts(at.markdown)


@pytest.mark.slow
def test_an_address_naming_a_run_wins_over_the_session_choice(roots):
    """'Open in Curriculum' on the Launch page and shared links carry ?run=NAME; the page opens that run even when
    the session chose another one earlier."""
    copy_run(roots, "first")
    copy_run(roots, "second")
    at = open_page("runs", mind_run=str(roots / "second"))
    at.query_params["run"] = "first"
    at.switch_page(PAGE["curriculum"]).run()
    assert_clean(at)
    assert at.selectbox(key="run_select").value == str(roots / "first")
    assert at.session_state[ui.RUN_KEY] == str(roots / "first")
    at.query_params["run"] = "no-such-run"  # a stale link: said, and no other run is opened in its place
    at.switch_page(PAGE["metanet"]).run()
    assert_clean(at)
    assert "No run named `no-such-run` exists" in texts(at.error)
    assert at.selectbox(key="run_select").value is None and not figures(at)
    assert at.query_params["run"] == "no-such-run"  # the address is not rewritten
    at.selectbox(key="run_select").set_value(str(roots / "second")).run()  # the user picks one: it opens
    assert_clean(at)
    assert at.query_params["run"] == "second" and figures(at) and not at.error


@pytest.mark.slow
@pytest.mark.parametrize("name", ["smollm2-uniform-s0", "svamp-mt-mind-s0"])
def test_every_page_shows_a_shipped_run_without_metanet_or_with_other_perspectives(roots, tmp_path, monkeypatch, name):
    """A run without MetaNet (uniform: loss_meta and the tracking columns null at every step) and a run on the
    multi-teacher SVAMP views (perspective ids the demo set does not have) render on every run page."""
    cached = tmp_path / "cached-one"
    shutil.copytree(ROOT / "cached_runs" / name, cached / name, ignore=shutil.ignore_patterns("checkpoints"))
    monkeypatch.setenv("MIND_CACHED_RUNS", str(cached))
    for slug in ("curriculum", "metanet", "latent", "evaluation", "how-mind-works"):
        at = open_page(slug)
        assert_clean(at)
        assert not at.error, (slug, texts(at.error))
        assert figures(at), slug
    at = open_page("curriculum")
    shown = {m.label: m.value for m in at.metric}
    if name == "smollm2-uniform-s0":
        assert shown["L_meta"] == "n/a" and shown["perspectives selected (batch mean)"] == "8.0"
    else:
        legend = {t.get("name") for f in figures(at) for t in f["data"]}
        assert {"Gemini", "Llama", "Human"} & {str(n).title() for n in legend}, legend


# ---------------------------------------------------------------- issue 23: side by side, honest states, phases
@pytest.mark.slow
def test_curriculum_overlays_two_runs_in_their_colours_per_step_smoothed_and_per_epoch(roots):
    from app import colors

    copy_run(roots, "first")
    copy_run(roots, "second")
    at = AppTest.from_file(MAIN, default_timeout=patient(60))
    at.query_params["run"] = "first"
    at.query_params["overlay"] = "second"
    at.run()
    at.switch_page(PAGE["curriculum"]).run()
    assert_clean(at)
    assert at.multiselect(key="cur_overlay").value == [str(roots / "second")]

    def chart(title):
        return next(f for f in figures(at) if f["layout"]["title"]["text"].startswith(title))

    expected = colors.run_colours(["first", "second"])
    weights = chart("Perspective weights α, run by run")
    assert {t["name"]: t["line"]["color"] for t in weights["data"] if t.get("showlegend") is not False} == expected
    assert "per step" in weights["layout"]["title"]["text"]
    tracking = chart("Does MetaNet follow the student? Run by run")
    assert {t["name"] for t in tracking["data"]} >= {"first · MetaNet ρ", "second · MetaNet ρ"}
    chart("Filtered L̃ (solid) and raw L_real (dotted), run by run")
    chart("Losses, run by run")
    assert "**α_k**" in texts(at.caption) and "**β**" in texts(at.caption) and "**L̃**" in texts(at.caption)
    at.segmented_control(key="cur_view").set_value("smoothed").run()
    assert "smoothed (TensorBoard weight 0.60)" in chart("Perspective weights α, run by run")["layout"]["title"]["text"]
    at.segmented_control(key="cur_view").set_value("per epoch").run()
    at.radio(key="cur_x").set_value("epoch").run()
    assert_clean(at)
    w = chart("Perspective weights α, run by run")
    assert len(w["data"][0]["x"]) < TRAIN_STEPS and w["layout"]["xaxis5"]["title"]["text"] == "epoch"
    at.radio(key="cur_alpha_over").set_value("this epoch so far").run()
    assert "each bar: the mean over epoch" in figures(at)[0]["layout"]["title"]["text"]


@pytest.mark.slow
def test_a_cut_steps_file_is_said_on_the_runs_table_and_every_run_page(roots):
    run = copy_run(roots, "cut")
    lines = (run / "steps.jsonl").read_bytes().split(b"\n")
    (run / "steps.jsonl").write_bytes(b"\n".join(lines[:3]) + b"\n" + lines[3][:40])
    at = open_page("runs")
    assert_clean(at)
    assert at.dataframe[0].value.set_index("run").loc["cut", "steps"] == "3/6 recorded (3 missing)"
    assert "cut: steps.jsonl is missing 3 of the 6 steps the run reports (step 4-6)" in texts(at.warning)
    for slug in ("curriculum", "metanet", "latent", "how-mind-works"):
        at = open_page(slug, mind_run=str(run))
        assert_clean(at)
        assert "cut mid-record" in texts(at.warning), slug
        assert "3 of 6 steps recorded" in texts(at.caption), slug


def test_empty_runs_folder_names_it_and_how_mind_works_still_teaches(roots):
    at = open_page("runs")
    assert f"--out {roots.resolve() / 'demo'}" in texts(at.info)
    at = open_page("how-mind-works")
    assert_clean(at)
    assert "No runs found" in texts(at.info)
    assert len(at.latex) == 3 and len(at.header) == 5  # the method, without a run's numbers
    assert "β (between 0 and 1)" in texts(at.markdown)


def test_the_launch_page_shows_each_phase_of_a_starting_run(roots):
    """A launched run in its calibration (its log has the tqdm bar, config.json exists, no steps yet): the page
    lists the phases, the calibration with its own bar."""
    import time

    from app import jobs

    run = copy_run(roots, "starting")
    for name in ("steps.jsonl", "samples.jsonl", "calibration.json"):
        (run / name).unlink(missing_ok=True)
    status = json.loads((run / "status.json").read_text())
    (run / "status.json").write_text(json.dumps({**{k: v for k, v in status.items() if k != "startup"},
                                                 "state": "running", "step": 0, "heartbeat": time.time()}))
    (run / "log.txt").write_text("$ mind train --preset demo\nBatches: 100%|##| 4/4 [00:10<00:00]\n"
                                 "MetaNet calibration:  34%|###| 17/50 [00:10<00:20,  1.6it/s]", encoding="utf-8")
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        argv = [sys.executable, "-m", "mind", "train", "--method", "mind", "--steps", "48", "--out", str(run)]
        ui.registry()._jobs[("train", str(run))] = jobs.Job("train", run, sleeper, run / "log.txt", argv)
        at = open_page("launch", launched=str(run))
        assert_clean(at)
        shown = texts(at.markdown) + " | " + " | ".join(str(p.proto.text) for p in at.get("progress"))
        assert "Start-up: Python, the data, the student** · done" in shown
        assert "Text features (Sentence-BERT)** · done" in shown
        assert "MetaNet calibration** · running · 17/50 epochs · 10 s, about 20 s left" in shown
        assert f"Training steps** · pending · 0/{TRAIN_STEPS} steps" in shown  # status.json's total wins
        values = [p.proto.value for p in at.get("progress")]
        assert values[0] == 0 and 34 in values  # the run's bar, then the calibration's own
    finally:
        sleeper.kill()
        sleeper.wait()
        ui.registry()._jobs.pop(("train", str(run)), None)
