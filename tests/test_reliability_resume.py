"""Crash safety of `mind train`: SIGKILL at a random step, then ``--resume``, must reproduce the uninterrupted run;
SIGTERM (the dashboard's Stop button) must checkpoint, say "stopped", and resume to the end.

Both tests compare against one uninterrupted run of the same command (tiny student, 12 steps, a checkpoint every
2 steps, snapshots every 4). On CPU with the same seed the resumed trajectory is expected to be bit-identical;
the assertion allows 1e-6 (relative) and prints the largest difference actually seen.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from mind import load_run
from mind.run import read_jsonl

pytestmark = pytest.mark.slow

HERE = Path(__file__).parent
DATA = HERE / "data" / "mini.jsonl"
STEPS = 12
COMMON = ["--data", str(DATA), "--student", "tiny", "--steps", str(STEPS), "checkpoint_every=2", "snapshot_every=4",
          "meta_warmup_steps=2", "meta_grad_accum=2", "lam=0.5", "beta=0.5", "--quiet"]
COMPARED = ("loss_total", "loss_sft", "loss_cons", "loss_meta", "n_selected", "lr",
            "weight/formal", "weight/intuitive", "weight/decomposition", "score/formal", "loss_filtered/formal")
RTOL, ATOL = 1e-6, 1e-7
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def _mind(*args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "mind", *args], capture_output=True, text=True, env=ENV, timeout=600)
    assert proc.returncode == 0, f"mind {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
    return proc


def _start(out: Path) -> subprocess.Popen:
    log = open(out.parent / f"{out.name}.log", "wb")
    return subprocess.Popen([sys.executable, "-m", "mind", "train", *COMMON, "--out", str(out)], stdout=log,
                            stderr=subprocess.STDOUT, env=ENV)


def _wait_for_step(proc: subprocess.Popen, out: Path, k: int, timeout: float = 400.0) -> int:
    """Poll steps.jsonl (tolerating the line in flight) until step ``k`` is recorded; return the last step seen."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"training ended early with {proc.returncode}: {(out.parent / f'{out.name}.log').read_text()[-2000:]}"
        rows = read_jsonl(out / "steps.jsonl")
        if rows and rows[-1]["step"] >= k:
            return rows[-1]["step"]
        time.sleep(0.02)
    proc.kill()
    raise AssertionError(f"step {k} not reached in {timeout} s")


def _raw_steps(out: Path) -> list[int]:
    """Steps of steps.jsonl read strictly: every line must be complete JSON (no torn or garbage rows)."""
    raw = (out / "steps.jsonl").read_bytes()
    assert raw.endswith(b"\n"), "steps.jsonl ends in a torn line"
    return [json.loads(line)["step"] for line in raw.splitlines()]


def _assert_same_trajectory(ref: Path, got: Path) -> float:
    assert _raw_steps(got) == list(range(1, STEPS + 1)), "steps must appear exactly once each, in order"
    samples = [r["step"] for r in read_jsonl(got / "samples.jsonl")]
    assert samples == [s for s in range(1, STEPS + 1) for _ in range(2)], "samples.jsonl has missing or duplicate steps"
    a, b = load_run(ref), load_run(got)
    worst = 0.0
    for col in COMPARED:
        x, y = a.steps[col].to_numpy(float), b.steps[col].to_numpy(float)
        assert np.allclose(x, y, rtol=RTOL, atol=ATOL, equal_nan=True), f"{col}: {x} vs {y}"
        worst = max(worst, float(np.nanmax(np.abs(x - y))))
    assert b.snapshot_steps == a.snapshot_steps == [0, 4, 8, 12]
    ha, _ = a.hidden_states(STEPS)
    hb, _ = b.hidden_states(STEPS)
    worst = max(worst, float(np.abs(ha - hb).max()))
    assert np.allclose(ha, hb, rtol=1e-3, atol=1e-3)  # float16 snapshot of the final student
    assert b.state == "finished" and b.status["step"] == STEPS
    return worst


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ref") / "uninterrupted"
    _mind("train", *COMMON, "--out", str(out))
    return out


def test_sigkill_at_random_step_then_resume_matches_uninterrupted(reference, tmp_path):
    k = random.SystemRandom().randint(3, 9)
    out = tmp_path / "killed"
    proc = _start(out)
    seen = _wait_for_step(proc, out, k)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=60) == -signal.SIGKILL
    at_kill = read_jsonl(out / "steps.jsonl")
    ckpt = load_run(out).checkpoints
    assert ckpt and ckpt[-1] >= 2 and ckpt[-1] <= at_kill[-1]["step"]
    assert load_run(out).status["state"] == "running"  # nobody had the chance to write anything else
    _mind("train", "--resume", str(out), "--quiet")
    worst = _assert_same_trajectory(reference, out)
    print(f"SIGKILL: asked k={k}, killed after step {seen} (records up to {at_kill[-1]['step']}), "
          f"last checkpoint {ckpt[-1]}; max |diff| vs uninterrupted = {worst:.3g} (tolerance rtol {RTOL}, atol {ATOL})")


def test_sigterm_stops_with_checkpoint_then_resume_finishes(reference, tmp_path):
    k = random.SystemRandom().randint(3, 9)
    out = tmp_path / "stopped"
    proc = _start(out)
    _wait_for_step(proc, out, k)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=300) == 0, (tmp_path / "stopped.log").read_text()[-2000:]
    run = load_run(out)
    stop_step = run.status["step"]
    assert run.status["state"] == "stopped" and k <= stop_step < STEPS
    assert run.checkpoints[-1] == stop_step, f"no checkpoint at the stop step {stop_step}: {run.checkpoints}"
    assert _raw_steps(out) == list(range(1, stop_step + 1))
    _mind("train", "--resume", str(out), "--quiet")
    worst = _assert_same_trajectory(reference, out)
    print(f"SIGTERM: asked k={k}, stopped at step {stop_step}; max |diff| vs uninterrupted = {worst:.3g}")
