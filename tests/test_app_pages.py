"""AppTest (streamlit.testing.v1) of every dashboard page on a real tiny run, an empty runs folder, and
corrupt or partial runs: no exception, the expected widgets and figures, and page-to-page flow."""

from __future__ import annotations

import json
import subprocess
import sys
import shutil

import pytest
from streamlit.testing.v1 import AppTest

from test_app_runs import ROOT, copy_run, roots  # noqa: F401  (roots is a fixture)

from app import ui

MAIN = str(ROOT / "app" / "main.py")
PAGE = {u: ui.page_path(f) for f, _, _, u in ui.PAGES}


def open_page(slug: str, **state) -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=60)
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


def _length(arr) -> int:
    """Length of a Plotly JSON array (a list, or a typed array {"dtype", "bdata": base64})."""
    if isinstance(arr, dict):
        import base64

        import numpy as np

        return len(np.frombuffer(base64.b64decode(arr["bdata"]), dtype=arr["dtype"]))
    return len(arr)


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
    assert len(figs) == 7  # alpha bars, area, heatmap, scores, tracking, inertia (all perspectives), small multiples
    assert at.slider(key="cur_step").value == 6
    said = texts(at.markdown)
    assert "MetaNet ranks the rationales the way the student's losses do: Spearman ρ =" in said
    tracking = next(f for f in figs if "follow the student" in f["layout"]["title"]["text"])
    assert {t["name"] for t in tracking["data"]} >= {"MetaNet ρ (trained problems)", "average-loss ranking ρ"}
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
    assert len(figures(at)) == 3  # recorded bars, attention heatmap, what-if bars
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
    assert table.loc["tiny-mind", "gsm8k"] == pytest.approx(0.0) and "paper: MIND (Qwen2.5-7B-Instruct)" in table.index
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
    at.query_params["run"] = "no-such-run"  # a stale link falls back to the session's run, not to an error
    at.switch_page(PAGE["metanet"]).run()
    assert_clean(at)
    assert at.selectbox(key="run_select").value == str(roots / "first")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["smollm2-uniform", "svamp-mt-mind"])
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
    if name == "smollm2-uniform":
        assert shown["L_meta"] == "n/a" and shown["perspectives selected (batch mean)"] == "8.0"
    else:
        legend = {t.get("name") for f in figures(at) for t in f["data"]}
        assert {"Gemini", "Llama", "Human"} & {str(n).title() for n in legend}, legend
