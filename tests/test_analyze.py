"""analyze_run / mind analyze on a realistic run directory written with RunWriter."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mind.analysis import analyze_run, load_analysis
from mind.cli import main
from mind.errors import RunDirError
from mind.run import RunWriter

PERSPECTIVES = ["formal", "intuitive", "decomposition", "planning"]
N_PROBLEMS, DIM, STEPS = 30, 48, (10, 20, 30)


def _states(step: int, rng: np.random.Generator) -> np.ndarray:
    """Perspectives separate as training goes: centre distance grows with the step; step 30 repeats step 20
    except for the first problem's rows (so unchanged rows can be checked for a stable position)."""
    sep = {10: 1.0, 20: 10.0, 30: 10.0}[step]
    basis = np.linalg.qr(np.random.default_rng(7).normal(size=(DIM, len(PERSPECTIVES))))[0]
    centres = np.eye(len(PERSPECTIVES)) * sep / np.sqrt(2) @ basis.T
    rows = [centres[k] + rng.normal(size=DIM) for _ in range(N_PROBLEMS) for k in range(len(PERSPECTIVES))]
    return np.asarray(rows, dtype=np.float32)


def make_run(path, with_texts: bool = False):
    w = RunWriter(path)
    w.write_json("config.json", {"perspectives": PERSPECTIVES, "method": "mind"})
    w.write_jsonl("probes.jsonl", [{"problem_id": f"p{i}", "perspective": k}
                                   for i in range(N_PROBLEMS) for k in PERSPECTIVES])
    if with_texts:
        style = {"formal": "Let x denote the unknown. Then x = 3 + 4 so x = 7.",
                 "intuitive": "Think of it like sharing apples with friends; roughly seven each.",
                 "decomposition": "Step 1: split the problem. Step 2: add the parts. Step 3: combine.",
                 "planning": "Plan: first find the total, then divide. Executing the plan now."}
        w.write_jsonl("data.jsonl", [{"id": f"p{i}", "question": f"Q{i}", "answer": "7", "rationales": [
            {"perspective": k, "text": f"{style[k]} (problem {i}) The answer is 7."} for k in PERSPECTIVES]}
            for i in range(N_PROBLEMS)])
    rng = np.random.default_rng(0)
    prev = None
    for step in STEPS:
        X = _states(step, rng)
        if step == 30:
            X[len(PERSPECTIVES):] = prev[len(PERSPECTIVES):]
        correct = (np.arange(len(X)) % 3 == 0).astype(np.int8)
        w.write_snapshot(step, X, correct)
        prev = X
    return path


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    run = make_run(tmp_path_factory.mktemp("runs") / "demo")
    res = analyze_run(run, projector="pca", max_clusters=10, progress=False)
    return run, res


def test_writes_every_file_the_dashboard_reads(analysed):
    run, res = analysed
    out = run / "analysis"
    assert {p.name for p in out.iterdir()} == {"metrics.json", "points.parquet", "summary.json"}
    metrics = json.loads((out / "metrics.json").read_text())
    assert [m["step"] for m in metrics] == list(STEPS)
    for m in metrics:
        assert {"ari", "nmi", "ami", "homogeneity", "completeness", "silhouette", "n_active_clusters"} <= set(m)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == list(STEPS) and summary["method"]["covariance_type"] == "diag"
    assert summary["projection"]["alignment"].startswith("one map fitted on the union")
    assert summary["timings_s"]["total"] > 0
    loaded = load_analysis(run)
    assert loaded is not None
    lm, lp = loaded
    assert list(lm["step"]) == list(STEPS)
    assert len(lp) == len(STEPS) * N_PROBLEMS * len(PERSPECTIVES)
    assert lp["x"].dtype == np.float32 and lp["y"].dtype == np.float32
    assert set(lp["perspective"]) == set(PERSPECTIVES) and lp["correct"].dtype == bool
    assert lp["correct"].sum() == len(STEPS) * 40  # every third probe row was marked correct
    pd.testing.assert_frame_equal(lp, res.points)
    assert not list(out.glob(".*tmp"))  # atomic writes leave no temporary files


def test_metrics_show_perspectives_separating(analysed):
    _, res = analysed
    m = res.metrics.set_index("step")
    # 120 rows are clustered in 4 PCA dimensions (about 32 rows per dimension, see analyze_run): the DP mixture
    # finds the 4 planted perspectives, sometimes splitting one or two of them.
    assert m.loc[30, "ari"] >= 0.8 and len(PERSPECTIVES) <= m.loc[30, "n_active_clusters"] <= len(PERSPECTIVES) + 2
    assert m.loc[10, "ari"] < 0.5  # barely separated at the first snapshot
    assert m.loc[30, "silhouette"] > m.loc[10, "silhouette"]


def test_aligned_map_keeps_unchanged_points_in_place(analysed):
    _, res = analysed
    p = res.points
    a = p[p.step == 20].reset_index(drop=True)
    b = p[p.step == 30].reset_index(drop=True)
    unchanged = a.problem_id != "p0"
    moved = np.hypot(a.x - b.x, a.y - b.y)
    spread = np.hypot(a.x - a.x.mean(), a.y - a.y.mean()).mean()
    assert moved[unchanged].max() < 1e-3 * spread
    assert moved[~unchanged].mean() > 0.05 * spread  # the changed rows did move


@pytest.mark.slow
def test_umap_map_and_text_view(tmp_path):
    run = make_run(tmp_path / "demo", with_texts=True)
    res = analyze_run(run, projector="umap", text=True, n_epochs=50, progress=False)
    p = res.points
    a, b = (p[p.step == s].reset_index(drop=True) for s in (20, 30))
    unchanged = a.problem_id != "p0"
    spread = np.hypot(a.x - a.x.mean(), a.y - a.y.mean()).mean()
    assert np.hypot(a.x - b.x, a.y - b.y)[unchanged].median() < 0.1 * spread
    tp = pd.read_parquet(run / "analysis" / "text_points.parquet")
    assert len(tp) == N_PROBLEMS * len(PERSPECTIVES) and (tp.step == -1).all()
    # four very different writing styles: the text view (problem-centred, like the hidden states) separates the
    # perspectives: every cluster holds one style (homogeneity), though the mixture may split a style in two
    t = res.summary["text"]
    assert t["homogeneity"] >= 0.9 and t["ari"] >= 0.7 and t["dim"] == 384 and t["center"] == "problem", t


def test_cli_prints_a_table(tmp_path, capsys):
    run = make_run(tmp_path / "demo")
    assert main(["analyze", "--run", str(run), "--projector", "pca", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "ARI" in out and "active" in out
    assert [line.split()[0] for line in out.splitlines()[1:4]] == ["10", "20", "30"]


def test_errors_for_missing_corrupt_or_empty_runs(tmp_path, capsys):
    assert main(["analyze", "--run", str(tmp_path / "nope"), "--quiet"]) == 2
    assert "no such run directory" in capsys.readouterr().err
    empty = tmp_path / "empty"
    RunWriter(empty).write_json("config.json", {"perspectives": PERSPECTIVES})
    with pytest.raises(RunDirError, match="no hidden-state snapshots"):
        analyze_run(empty, progress=False)
    assert load_analysis(empty) is None
    bad = make_run(tmp_path / "bad")
    (bad / "snapshots" / "step_000020.safetensors").write_bytes(b"garbage")
    with pytest.raises(RunDirError, match="unreadable snapshot"):
        analyze_run(bad, projector="pca", progress=False)
    (bad / "analysis").mkdir()
    (bad / "analysis" / "metrics.json").write_text("{not json")
    (bad / "analysis" / "points.parquet").write_bytes(b"nope")
    with pytest.raises(RunDirError, match="re-run `mind analyze"):
        load_analysis(bad)
    assert main(["analyze", "--run", str(bad), "--max-clusters", "1", "--quiet"]) == 2
    assert "--max-clusters" in capsys.readouterr().err


def test_problem_centring_reveals_perspectives_under_problem_content(tmp_path):
    """States = large per-problem offset + small per-perspective offset: raw states cluster by problem; the
    default problem-centred analysis recovers the perspectives."""
    rng = np.random.default_rng(3)
    w = RunWriter(tmp_path / "r")
    w.write_json("config.json", {"perspectives": PERSPECTIVES, "method": "mind"})
    n_prob = 40
    w.write_jsonl("probes.jsonl", [{"problem_id": f"p{i}", "perspective": k} for i in range(n_prob) for k in PERSPECTIVES])
    prob = rng.normal(size=(n_prob, DIM)) * 20
    persp = rng.normal(size=(len(PERSPECTIVES), DIM)) * 3
    X = np.stack([prob[i] + persp[k] + rng.normal(size=DIM) * 0.3 for i in range(n_prob) for k in range(len(PERSPECTIVES))])
    w.write_snapshot(0, X.astype(np.float32), np.zeros(len(X), np.int8))
    centred = analyze_run(tmp_path / "r", projector="pca", progress=False, write=False).metrics.iloc[0]
    raw = analyze_run(tmp_path / "r", projector="pca", progress=False, write=False, center="none").metrics.iloc[0]
    assert centred["ari"] >= 0.9 and raw["ari"] < 0.2
