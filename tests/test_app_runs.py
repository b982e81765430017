"""Real run directories for the dashboard tests, and tests of app.loading on them.

``real_runs()`` trains one tiny MIND run with ``mind train`` (a random 2-layer student, a few steps) once per
test session and caches it; other dashboard test modules import it. Corrupt and partial runs are made by
damaging copies of that real run.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app import loading, logs, settings  # noqa: E402
from conftest import assert_run_finished  # noqa: E402
from mind.data import write_problems  # noqa: E402
from mind.errors import RunDirError  # noqa: E402
from mind.data.perspectives import DEFAULT_IDS  # noqa: E402

TRAIN_STEPS = 6
TRAIN_ARGS = ["--student", "tiny", "--method", "mind", "--steps", str(TRAIN_STEPS), "--quiet",
              "snapshot_every=3", "probe_problems=4", "max_length=96", "checkpoint_every=0", "meta_warmup_steps=2"]


def tiny_dataset(path: Path, n: int = 8) -> Path:
    """A small multi-perspective dataset in the schema of mind/data/schema.py (two-digit answers)."""
    probs = []
    for i in range(n):
        a, b = 12 + i, 11 + 2 * i
        probs.append({
            "id": f"t{i}", "question": f"Tom has {a} apples and buys {b} more. How many apples does he have now?",
            "answer": str(a + b),
            "rationales": [{"perspective": p, "text": f"({p}) Start from {a} and add {b}: {a} + {b} = {a + b}.\n"
                                                       f"The answer is {a + b}.", "answer": str(a + b)}
                           for p in DEFAULT_IDS],
        })
    write_problems(path, probs)
    return path


def train(out: Path, data: Path, *extra: str) -> Path:
    cmd = [sys.executable, "-m", "mind", "train", "--data", str(data), "--out", str(out), *TRAIN_ARGS, *extra]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=900)
    assert_run_finished(out, proc=res)
    return out


@functools.lru_cache(maxsize=None)
def real_runs() -> Path:
    """A folder holding one real tiny MIND run (``tiny-mind``), trained once per session."""
    base = Path(tempfile.mkdtemp(prefix="mind-app-runs-"))
    atexit.register(shutil.rmtree, base, ignore_errors=True)
    data = tiny_dataset(base / "tiny.jsonl")
    runs = base / "runs"
    runs.mkdir()
    train(runs / "tiny-mind", data)
    return runs


def copy_run(dst_root: Path, name: str = "tiny-mind") -> Path:
    dst_root.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copytree(real_runs() / "tiny-mind", dst_root / name))


@pytest.fixture
def roots(tmp_path, monkeypatch):
    """Point the dashboard at an empty runs folder and an empty cached folder; returns the runs folder."""
    runs, cached = tmp_path / "runs", tmp_path / "cached"
    runs.mkdir()
    cached.mkdir()
    monkeypatch.setenv(settings.ENV_RUNS, str(runs))
    monkeypatch.setenv(settings.ENV_CACHED, str(cached))
    return runs


@pytest.mark.slow
def test_real_run_has_what_the_pages_read():
    run = loading.open_run(real_runs() / "tiny-mind")
    steps = loading.steps(run.path)
    assert run.state == "finished"
    assert steps["step"].tolist() == list(range(1, TRAIN_STEPS + 1))
    ps = loading.perspectives(run, steps)
    assert ps == list(DEFAULT_IDS)
    for p in ps:
        for k in ("weight", "score", "selected", "loss_raw", "loss_filtered"):
            assert steps[f"{k}/{p}"].notna().all(), f"{k}/{p}"
    smp = loading.samples(run.path)
    assert len(smp) and {"scores", "alphas", "selected", "attention"} <= set(smp.columns)
    assert run.snapshot_steps and run.snapshot_steps[-1] == TRAIN_STEPS


@pytest.mark.slow
def test_runs_table_summarises_real_and_corrupt_runs(roots):
    good = copy_run(roots, "good")
    bad = copy_run(roots, "bad")
    (bad / "config.json").write_text('{"method": "mind", "stu', encoding="utf-8")  # truncated JSON
    table = loading.runs_table(loading.discover())
    assert set(table["run"]) == {"good", "bad"}
    g = table.set_index("run").loc["good"]
    assert g["state"] == "finished" and g["method"] == "mind" and g["student"] == "tiny"
    assert g["steps"] == f"{TRAIN_STEPS}/{TRAIN_STEPS}"
    assert g["beta"] == 0.7 and g["lambda"] == 0.1 and g["tau_student"] == 1.0
    last = loading.steps(good).iloc[-1]
    assert g["loss_total"] == pytest.approx(float(last["loss_total"]))
    b = table.set_index("run").loc["bad"]
    assert b["state"] == "corrupt" and "config.json" in b["error"] and "invalid JSON" in b["error"]


@pytest.mark.slow
def test_cached_steps_follow_a_run_that_is_still_written(roots):
    run = copy_run(roots, "live")
    lines = (run / "steps.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    (run / "steps.jsonl").write_text("".join(lines[:3]), encoding="utf-8")
    assert len(loading.steps(run)) == 3
    with open(run / "steps.jsonl", "a", encoding="utf-8") as f:
        f.write(lines[3])
        f.write(lines[4][: len(lines[4]) // 2])  # a torn record in flight
    assert loading.steps(run)["step"].tolist() == [1, 2, 3, 4]


@pytest.mark.slow
def test_corrupt_step_line_is_a_run_dir_error(roots):
    run = copy_run(roots, "garbled")
    lines = (run / "steps.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    lines[1] = "{not json\n"
    (run / "steps.jsonl").write_text("".join(lines), encoding="utf-8")
    with pytest.raises(RunDirError, match="line 2"):
        loading.steps(run)
    assert loading.summarize(run)["state"] == "corrupt"


@pytest.mark.slow
def test_progress_and_eta_from_real_status():
    run = loading.open_run(real_runs() / "tiny-mind")
    prog = loading.progress(run.status, loading.steps(run.path), total=TRAIN_STEPS)
    assert prog["done"] == TRAIN_STEPS and prog["total"] == TRAIN_STEPS
    assert prog["fraction"] == 1.0 and prog["eta_s"] == 0.0 and prog["rate"] > 0
    # half-way through a running run: 3 steps in 30 s of per-step wall clock -> 10 s/step, ETA 30 s for 3 more
    import pandas as pd

    df = pd.DataFrame({"step": [1, 2, 3], "wall": [100.0, 115.0, 120.0]})
    mid = loading.progress({"state": "running", "step": 3, "total_steps": 6}, df)
    assert mid["fraction"] == 0.5 and mid["rate"] == pytest.approx(0.1) and mid["eta_s"] == pytest.approx(30.0)
    assert loading.format_eta(None) == "estimating..." and loading.format_eta(75) == "1 min 15 s"


def test_log_tail_and_progress_line(tmp_path):
    (tmp_path / "log.txt").write_text("a\nb\nstep  10%|#\rstep  50%|#####\r\n", encoding="utf-8")
    assert logs.log_tail(tmp_path, 2).splitlines()[0] == "b"
    assert logs.last_progress_line(logs.log_tail(tmp_path)) == "step  50%|#####"
    assert logs.log_tail(tmp_path / "missing") == ""


def test_settings_from_env_and_argv(monkeypatch, tmp_path):
    monkeypatch.setenv(settings.ENV_RUNS, str(tmp_path / "mine"))
    assert settings.runs_dir() == (tmp_path / "mine").resolve()
    monkeypatch.delenv(settings.ENV_RUNS)
    monkeypatch.setattr(sys, "argv", ["main.py", "--runs-dir", str(tmp_path / "argv")])
    assert settings.runs_dir() == (tmp_path / "argv").resolve()
    monkeypatch.setattr(sys, "argv", ["main.py"])
    assert settings.runs_dir() == settings.ROOT / "runs"
    monkeypatch.setenv(settings.ENV_CACHED, str(tmp_path / "c"))
    assert settings.root_label(tmp_path / "c" / "x") == "cached" and settings.root_label(tmp_path / "y") == "runs"


def test_the_bundled_runs_are_listed_beside_the_users_and_nested_students_are_not(monkeypatch, tmp_path):
    cached, runs = tmp_path / "c", tmp_path / "mine"
    for d in (cached / "smollm2-mind-s0", cached / "smollm2-separation" / "single-formal", runs / "mine"):
        d.mkdir(parents=True)
        (d / "config.json").write_text("{}")
    monkeypatch.setenv(settings.ENV_CACHED, str(cached))
    monkeypatch.setenv(settings.ENV_RUNS, str(runs))
    assert settings.roots() == [runs.resolve(), cached.resolve()]
    assert sorted(p.name for p in loading.discover()) == ["mine", "smollm2-mind-s0"]
    assert settings.root_label(cached / "smollm2-mind-s0") == "cached"
    assert settings.root_label(runs / "mine") == "runs"


def test_bundled_runs_come_in_start_heres_order_after_the_users_newest_first(monkeypatch, tmp_path):
    """A fresh clone gives every bundled run the same mtime: the default (first) run is START_HERE's first one, not
    an accident of the checkout; the user's own runs still come first, newest first."""
    cached, runs = tmp_path / "c", tmp_path / "mine"
    for i, d in enumerate((cached / "zeta", cached / "beta-s0", cached / "alpha-s0", runs / "old", runs / "new")):
        d.mkdir(parents=True)
        (d / "config.json").write_text("{}")
        os.utime(d / "config.json", (1_000_000 + i, 1_000_000 + i))
    (cached / "START_HERE.md").write_text("- **Try `zeta`** first, then `beta-s0/s1/s2` and `gamma`.\n")
    monkeypatch.setenv(settings.ENV_CACHED, str(cached))
    monkeypatch.setenv(settings.ENV_RUNS, str(runs))
    assert [p.name for p in loading.discover()] == ["new", "old", "zeta", "beta-s0", "alpha-s0"]
    (cached / "START_HERE.md").unlink()  # without it: newest first, as for the user's runs
    assert [p.name for p in loading.discover()] == ["new", "old", "alpha-s0", "beta-s0", "zeta"]


def test_cfg_get_reads_flat_and_nested():
    assert loading.cfg_get({"lam": 0.2}, "lambda_cons", "lam") == 0.2
    assert loading.cfg_get({"metanet": {"meta_lr": 1e-4}}, "meta_lr") == 1e-4
    assert loading.cfg_get({}, "beta", default=0.7) == 0.7
