"""Unit tests of the dashboard's pure parts: what-if selection, chart builders, evaluation parsing, launch
validation, latent selections and the `mind app` command (no Streamlit server, no training)."""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app import charts, evaluation, jobs, latent, whatif  # noqa: E402
from mind.errors import ConfigError, RunDirError  # noqa: E402

PS = ["formal", "intuitive", "decomposition"]


def _steps(n=5):
    rows = []
    for s in range(1, n + 1):
        r = {"step": s, "loss_total": 3.0 / s, "loss_sft": 2.0 / s, "loss_cons": 0.1, "loss_meta": 0.01, "n_selected": 2}
        for i, p in enumerate(PS):
            r.update({f"weight/{p}": [0.5, 0.5, 0.0][i], f"score/{p}": 1.0 + i, f"selected/{p}": [1.0, 1.0, 0.0][i],
                      f"loss_raw/{p}": 2.0 + i, f"loss_filtered/{p}": 2.5 + i})
        rows.append(r)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- what-if
def test_select_matches_hand_computation():
    sel = whatif.select([1.0, 2.0, 1.5], beta=0.7, tau_student=1.0)  # threshold 1.4: keeps 2.0 and 1.5
    assert sel.selected.tolist() == [False, True, True]
    e2, e15 = math.exp(2.0), math.exp(1.5)
    assert sel.alphas == pytest.approx([0.0, e2 / (e2 + e15), e15 / (e2 + e15)])


def test_select_beta_one_keeps_only_the_best_and_low_beta_keeps_all():
    assert whatif.select([0.3, 0.9, 0.5], 1.0, 1.0).selected.tolist() == [False, True, False]
    assert whatif.select([0.3, 0.9, 0.5], 1.0, 1.0).alphas.tolist() == [0.0, 1.0, 0.0]
    low = whatif.select([0.3, 0.9, 0.5], 0.01, 1.0)
    assert low.selected.all() and low.alphas.sum() == pytest.approx(1.0)


def test_select_temperature_sharpens_and_nan_is_missing():
    hot, cold = whatif.select([1.0, 2.0], 0.1, 10.0), whatif.select([1.0, 2.0], 0.1, 0.1)
    assert hot.alphas[1] < cold.alphas[1] and cold.alphas[1] > 0.99
    miss = whatif.select([np.nan, 2.0, 1.9], 0.5, 1.0)
    assert not miss.selected[0] and miss.alphas[0] == 0.0 and miss.alphas.sum() == pytest.approx(1.0)
    assert whatif.entropy([0.5, 0.5]) == pytest.approx(math.log(2)) and whatif.entropy([1.0, 0.0]) == 0.0


@pytest.mark.parametrize("beta,tau", [(0.0, 1.0), (1.5, 1.0), (0.5, 0.0), (0.5, -1.0)])
def test_select_rejects_impossible_settings(beta, tau):
    with pytest.raises(ConfigError, match="beta|tau_student"):
        whatif.select([1.0, 2.0], beta, tau)


# ---------------------------------------------------------------- charts
def test_curriculum_charts_have_one_trace_per_perspective_and_the_cursor():
    df = _steps()
    area = charts.weights_area(df, PS, cursor=3)
    assert [t.stackgroup for t in area.data] == ["alpha"] * 3
    assert any(sh.x0 == 3 for sh in area.layout.shapes)
    heat = charts.step_heatmap(df, PS, "selected", "sel", cursor=2)
    assert np.asarray(heat.data[0].z).shape == (3, 5) and np.asarray(heat.data[0].z)[2].sum() == 0
    bars = charts.alpha_bars(df, PS, 4)
    assert list(bars.data[0].y) == [0.5, 0.5, 0.0] and "step 4" in bars.layout.title.text
    grid = charts.raw_vs_filtered(df, PS, cursor=1)
    assert len(grid.data) == 6 and {t.line.dash for t in grid.data} == {"dot", None}
    assert len(charts.score_lines(df, PS).data) == 3


def test_loss_curves_compare_runs():
    fig = charts.loss_curves({"a": _steps(), "b": _steps(3)})
    names = {t.name for t in fig.data}
    assert names == {"a", "b"} and len(fig.data) == 2 * 4


def test_latent_scatter_is_webgl_with_string_ids():
    pts = pd.DataFrame({"problem_id": ["p1", "p1", "p2"], "perspective": ["formal", "intuitive", "formal"],
                        "cluster": [0, 1, 0], "correct": [True, False, True], "x": [0.0, 1.0, 2.0], "y": [1.0, 0.0, 1.0]})
    ids = latent.point_ids(pts)
    fig = charts.latent_scatter(pts, "cluster", ids)
    assert all(isinstance(t, go.Scattergl) for t in fig.data) and len(fig.data) == 2
    assert sorted(i for t in fig.data for i in t.customdata) == sorted(ids)
    assert fig.data[0].x.dtype == np.float32
    by_p = charts.latent_scatter(pts, "perspective", ids, PS)
    assert [t.name for t in by_p.data] == ["Formal-Symbolic", "Intuitive"]


def test_metanet_charts():
    fig = charts.rationale_bars(PS, [1.0, 2.0, 0.5], [0.3, 0.7, 0.0], [True, True, False], threshold=1.4)
    assert list(fig.data[0].marker.opacity) == [1.0, 1.0, 0.3] and fig.layout.shapes[0].y0 == 1.4
    att = charts.attention_heatmap(np.eye(3), PS)
    assert np.asarray(att.data[0].z).shape == (3, 3)


# ---------------------------------------------------------------- latent selection
def test_selected_ids_and_rationale_table():
    event = {"selection": {"points": [{"customdata": "p1::formal"}, {"customdata": ["p2::formal"]},
                                      {"customdata": {"0": 3}}, {"customdata": "p1::formal"}]}}
    assert latent.selected_ids(event) == ["p1::formal", "p2::formal"]
    assert latent.selected_ids(None) == []
    pts = pd.DataFrame({"problem_id": ["p1", "p2"], "perspective": ["formal", "formal"], "cluster": [0, 1],
                        "correct": [True, False], "x": [0, 1], "y": [0, 1]})
    probs = pd.DataFrame({"id": ["p1"], "question": ["Q1?"], "answer": ["3"], "rationales": [{"formal": "x=3"}]})
    table = latent.rationale_table(pts, ["p1::formal", "p2::formal"], probs)
    assert table["rationale"].tolist() == ["x=3", "(rationale not in data.jsonl)"]
    assert table["question"].tolist() == ["Q1?", ""]
    assert latent.metric_columns(pd.DataFrame(columns=["step", "ARI", "nmi", "n_clusters"])) == (["ARI", "nmi"], ["n_clusters"])


# ---------------------------------------------------------------- evaluation
@pytest.mark.parametrize("summary", [
    {"accuracy": {"gsm8k": 0.5, "svamp": 0.25}},
    {"benchmarks": {"gsm8k": {"accuracy": 0.5, "n": 10}, "svamp": {"accuracy": 0.25}}},
    {"gsm8k": 50.0, "svamp": 25.0},
])
def test_eval_summary_shapes_normalise_to_percent(tmp_path, summary):
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    assert evaluation.accuracies(tmp_path) == {"gsm8k": 50.0, "svamp": 25.0}


def test_eval_missing_corrupt_forgetting_and_table(tmp_path):
    assert evaluation.accuracies(tmp_path) is None
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "summary.json").write_text("{oops", encoding="utf-8")
    with pytest.raises(RunDirError, match="mind eval"):
        evaluation.accuracies(tmp_path)
    parsed = evaluation.parse_summary({"accuracy": {"csqa": 0.6, "gsm8k": 0.4}, "base_accuracy": {"csqa": 0.7}})
    assert parsed["forgetting"] == {"csqa": pytest.approx(-10.0)}
    table = evaluation.table({"mine": parsed["accuracy"]})
    assert list(table.columns[:3]) == ["math500", "gsm8k", "svamp"] and "OOD avg" in table.columns
    assert table.loc["mine", "gsm8k"] == 40.0 and table.loc["paper: MIND (Qwen2.5-7B-Instruct)", "gsm8k"] == 94.92
    rows = [{"benchmark": "gsm8k", "id": 1, "correct": False, "key": "step4"},  # superseded by a newer checkpoint
            {"benchmark": "gsm8k", "id": 1, "correct": True, "key": "step8"},
            {"benchmark": "gsm8k", "id": 2, "correct": False, "key": "step8"},
            {"benchmark": "svamp", "id": 7, "correct": True, "key": "step8"}]
    (tmp_path / "eval" / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    preds = evaluation.predictions(tmp_path)
    assert sorted(preds) == ["gsm8k", "svamp"]
    wrong = evaluation.wrong_answers(preds["gsm8k"])
    assert wrong["id"].tolist() == [2] and "key" not in wrong.columns
    assert evaluation.wrong_answers(preds["svamp"]).empty


# ---------------------------------------------------------------- launch validation
@pytest.mark.parametrize("field,value,match", [
    ("name", "../escape", "run name"), ("name", "/abs/path", "run name"), ("name", "-rf", "run name"),
    ("name", "a b", "run name"), ("data", "--help", "dataset"), ("data", "/no/such/file.jsonl", "dataset"),
    ("student", "-x", "student"), ("student", "a b; rm -rf /", "student"), ("method", "magic", "method"),
    ("steps", 0, "steps"), ("beta", 0.0, "beta"), ("beta", 1.5, "beta"), ("lam", -1.0, "lambda"),
    ("g", 1.0, "g="), ("tau", 0.0, "tau"), ("tau_student", -2.0, "tau_student"), ("seed", -1, "seed"),
    ("precision", "fp16", "precision"), ("rescore_every", 0, "rescore_every"), ("rescore_every", 2.5, "rescore_every"),
])
def test_launch_spec_rejects_bad_fields(field, value, match):
    with pytest.raises(ConfigError, match=match):
        jobs.LaunchSpec(**{"name": "ok", field: value})


def test_launch_argv_is_a_fixed_argument_list(tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text("{}\n")
    spec = jobs.LaunchSpec(name="r1", data=str(data), student="org/model-1", method="uniform", steps=7, beta=0.5)
    argv = spec.argv(tmp_path / "r1")
    assert argv[:4] == [sys.executable, "-m", "mind", "train"]
    assert argv[argv.index("--data") + 1] == str(data.resolve()) and argv[argv.index("--steps") + 1] == "7"
    assert argv[argv.index("--student") + 1] == "org/model-1" and "beta=0.5" in argv and "lam=0.1" in argv
    flags = [a for a in argv[4:] if a.startswith("--")]
    assert flags == ["--data", "--student", "--method", "--steps", "--out"]
    values = [argv[argv.index(f) + 1] for f in flags]
    assert not any(v.startswith("-") for v in values)
    assert all(re.fullmatch(r"[a-z_]+=\S+", a) for a in argv[4 + 2 * len(flags):])
    assert "precision=auto" in argv and "rescore_every=1" in argv


def test_launch_speed_options_reach_the_trainer_config(tmp_path):
    from mind.commands.train import parse_overrides
    from mind.training.config import build_config

    spec = jobs.LaunchSpec(name="r2", precision="bf16", rescore_every=4)
    argv = spec.argv(tmp_path / "r2")
    cfg = build_config(overrides=parse_overrides([a for a in argv if re.fullmatch(r"[a-z_]+=\S+", a)]))
    assert cfg.precision == "bf16" and cfg.rescore_every == 4 and cfg.beta == 0.7


def test_launch_with_the_demo_preset_passes_it_under_the_form_values(tmp_path):
    from mind.commands.train import parse_overrides
    from mind.training.config import build_config

    spec = jobs.LaunchSpec(name="r3", preset="demo", steps=12, lr=5e-4)
    argv = spec.argv(tmp_path / "r3")
    assert argv[argv.index("--preset") + 1] == "demo"
    overrides = parse_overrides([a for a in argv if re.fullmatch(r"[a-z_]+=\S+", a)])
    cfg = build_config(overrides={**overrides, "steps": argv[argv.index("--steps") + 1]}, preset="demo")
    assert cfg.max_problems == 16 and cfg.finetune == "full" and cfg.meta_calibrate_epochs == 50  # from the preset
    assert cfg.steps == 12 and cfg.lr == 5e-4  # the form wins
    with pytest.raises(ConfigError, match="preset 'nope' is unknown"):
        jobs.LaunchSpec(name="r4", preset="nope")


def test_registry_refuses_names_outside_the_runs_folder_and_existing_runs(tmp_path):
    reg = jobs.JobRegistry()
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "config.json").write_text("{}")
    with pytest.raises(RunDirError, match="already exists"):
        reg.start_train(jobs.LaunchSpec(name="taken"), tmp_path)
    (tmp_path / "link").symlink_to(tmp_path.parent)
    with pytest.raises(RunDirError, match="outside"):
        reg.start_train(jobs.LaunchSpec(name="link"), tmp_path)
    assert reg.jobs() == [] and reg.stop("train", tmp_path / "taken") is False


# ---------------------------------------------------------------- mind app
def test_mind_app_binds_loopback_with_xsrf(tmp_path):
    from mind.commands.app import command

    argv, env = command(8600, tmp_path / "runs")
    assert argv[argv.index("--server.address") + 1] == "127.0.0.1"
    assert argv[argv.index("--server.enableXsrfProtection") + 1] == "true"
    assert argv[argv.index("--server.headless") + 1] == "true"
    assert argv[argv.index("--server.port") + 1] == "8600" and argv[-2:] == ["--runs-dir", str((tmp_path / "runs").resolve())]
    assert env == {"MIND_RUNS_DIR": str((tmp_path / "runs").resolve())}
    assert command(8600, tmp_path, host="0.0.0.0", token="t" * 16)[0][argv.index("--server.address") + 1] == "0.0.0.0"


def test_mind_app_cli_errors_are_one_line(tmp_path, capsys):
    from mind.cli import main

    assert main(["app", "--port", "70000", "--dry-run"]) == 2
    assert "error: --port 70000" in capsys.readouterr().err
    f = tmp_path / "file"
    f.write_text("x")
    assert main(["app", "--runs-dir", str(f), "--dry-run"]) == 2
    assert main(["app", "--runs-dir", str(tmp_path), "--dry-run"]) == 0
    assert "--server.address 127.0.0.1" in capsys.readouterr().out
