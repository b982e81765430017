"""Crash safety of `mind train`: SIGKILL inside MetaNet's gradient-accumulation window, then ``--resume``, must
reproduce the uninterrupted run; so must a run checkpointed by time (``checkpoint_minutes``, with a fake clock);
the dashboard's Stop (a stop request, then SIGTERM) must checkpoint, say "stopped", and resume to the end; a run killed before its
first checkpoint says how to restart, and ``--resume RUN --restart`` trains it again from step 1.

The checkpoint interval and MetaNet's ``meta_grad_accum`` are drawn once per session from pairs that do not align,
and the kill falls just after the first checkpoint, which lies inside an accumulation window: MetaNet's gradients of
the steps since its last update must be in that checkpoint, or its next update and every later step differ. The draw
(and the SIGTERM test's stop step) comes from a seed that every assertion message and printed line names; set
``MIND_TEST_RESUME_SEED`` to it to rerun the same draw (one draw, not all four pairs: each pair needs its own
uninterrupted reference run, and the file already takes ~2 minutes). All tests compare against one uninterrupted run of the same command (tiny student, 12 steps, snapshots
every 4). On CPU with the same seed the resumed trajectory is expected to be bit-identical; the assertions allow
1e-6 (relative) and print the largest difference actually seen.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from conftest import assert_run_finished, run_report
from mind import load_run
from mind.run import read_jsonl
from mind.run.stop import request_stop

pytestmark = pytest.mark.slow

HERE = Path(__file__).parent
DATA = HERE / "data" / "mini.jsonl"
STEPS, WARMUP = 12, 2
# (checkpoint_every, meta_grad_accum): the first checkpoint (step C > WARMUP) falls inside an accumulation window,
# and the next MetaNet update after it (step < STEPS) feeds later steps, so a lost gradient shows.
PAIRS = [(5, 4), (5, 3), (4, 3), (7, 4)]
SEED = int(os.environ.get("MIND_TEST_RESUME_SEED") or random.SystemRandom().randrange(10_000))
_DRAW = random.Random(SEED)
EVERY, ACCUM = _DRAW.choice(PAIRS)
STOP_AT = _DRAW.randint(3, 9)  # the SIGTERM test's stop request: after this step
FAKE_TICK_S = 12.5  # with checkpoint_minutes=1: a time-based checkpoint every 5 steps (5 x 12.5 s >= 60 s > 4 x 12.5 s)
COMMON = ["--data", str(DATA), "--student", "tiny", "--steps", str(STEPS), "snapshot_every=4", "checkpoint_minutes=0",
          f"meta_warmup_steps={WARMUP}", f"meta_grad_accum={ACCUM}", "lam=0.5", "beta=0.5", "--quiet"]
COMPARED = ("loss_total", "loss_sft", "loss_cons", "loss_meta", "n_selected", "lr",
            "weight/formal", "weight/intuitive", "weight/decomposition", "score/formal", "score/intuitive",
            "loss_filtered/formal")
RTOL, ATOL = 1e-6, 1e-7
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}
ENV.pop("MIND_FAKE_CLOCK_S", None)
DRAWN = f"(drawn: checkpoint_every={EVERY}, meta_grad_accum={ACCUM}; rerun with MIND_TEST_RESUME_SEED={SEED})"


def _mind(*args: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "mind", *args], capture_output=True, text=True, env=env or ENV, timeout=600)
    if check:
        assert proc.returncode == 0, f"mind {' '.join(args)} failed ({proc.returncode}) {DRAWN}:\n{proc.stderr[-3000:]}"
    return proc


def _start(out: Path, *extra: str, env: dict | None = None) -> subprocess.Popen:
    log = open(out.parent / f"{out.name}.log", "wb")
    return subprocess.Popen([sys.executable, "-m", "mind", "train", *COMMON, *extra, "--out", str(out)], stdout=log,
                            stderr=subprocess.STDOUT, env=env or ENV)


def _wait_for_step(proc: subprocess.Popen, out: Path, k: int, timeout: float = 400.0) -> int:
    """Poll steps.jsonl (tolerating the line in flight) until step ``k`` is recorded; return the last step seen."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, \
            f"training ended early with {proc.returncode} {DRAWN}: {(out.parent / f'{out.name}.log').read_text()[-2000:]}"
        rows = read_jsonl(out / "steps.jsonl")
        if rows and rows[-1]["step"] >= k:
            return rows[-1]["step"]
        time.sleep(0.02)
    proc.kill()
    raise AssertionError(f"step {k} not reached in {timeout} s {DRAWN}")


def _kill_after(out: Path, k: int, *extra: str, env: dict | None = None) -> int:
    """Start a run, SIGKILL it once step ``k`` is recorded; return the last step recorded at the kill."""
    proc = _start(out, *extra, env=env)
    _wait_for_step(proc, out, k)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=60) == -signal.SIGKILL
    assert load_run(out).status["state"] == "running"  # nobody had the chance to write anything else
    return read_jsonl(out / "steps.jsonl")[-1]["step"]


def _raw_steps(out: Path) -> list[int]:
    """Steps of steps.jsonl read strictly: every line must be complete JSON (no torn or garbage rows)."""
    raw = (out / "steps.jsonl").read_bytes()
    assert raw.endswith(b"\n"), "steps.jsonl ends in a torn line"
    return [json.loads(line)["step"] for line in raw.splitlines()]


def _final_tensors(run: Path) -> dict[str, torch.Tensor]:
    ckpt = run / "checkpoints" / f"step_{STEPS:06d}"
    out = {}
    for name in ("adapter/adapter_model.safetensors", "metanet.safetensors", "calibrator.safetensors"):
        out.update({f"{name}:{k}": v for k, v in load_file(str(ckpt / name)).items()})
    return out


def _assert_same_trajectory(ref: Path, got: Path) -> float:
    """Every step record, sample row, snapshot and the final weights of ``got`` equal those of ``ref``; returns the
    largest absolute difference seen."""
    assert _raw_steps(got) == list(range(1, STEPS + 1)), "steps must appear exactly once each, in order"
    a, b = load_run(ref), load_run(got)
    assert b.samples["step"].tolist() == [s for s in range(1, STEPS + 1) for _ in range(2)], "missing or duplicate samples"
    worst = 0.0
    for col in COMPARED:
        x, y = a.steps[col].to_numpy(float), b.steps[col].to_numpy(float)
        assert np.allclose(x, y, rtol=RTOL, atol=ATOL, equal_nan=True), f"{col} {DRAWN}: {x} vs {y}"
        worst = max(worst, float(np.nanmax(np.abs(x - y))))
    for col in ("scores", "alphas"):  # MetaNet's per-problem scores and the student weights, every step
        x, y = np.array(a.samples[col].tolist(), float), np.array(b.samples[col].tolist(), float)
        assert np.allclose(x, y, rtol=RTOL, atol=ATOL, equal_nan=True), f"samples {col} {DRAWN}"
        worst = max(worst, float(np.nanmax(np.abs(x - y))))
    ta, tb = _final_tensors(ref), _final_tensors(got)
    assert ta.keys() == tb.keys()
    for k in ta:
        assert torch.allclose(ta[k].float(), tb[k].float(), rtol=RTOL, atol=ATOL), f"final {k} {DRAWN}"
        worst = max(worst, float((ta[k].float() - tb[k].float()).abs().max()))
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
    proc = _mind("train", *COMMON, f"checkpoint_every={EVERY}", "--out", str(out))
    assert_run_finished(out, STEPS, proc)
    return out


def test_sigkill_inside_metanet_accumulation_window_then_resume_matches_uninterrupted(reference, tmp_path):
    out = tmp_path / "killed"
    seen = _kill_after(out, EVERY + 1, f"checkpoint_every={EVERY}")
    ckpt = load_run(out).checkpoints
    assert ckpt == [EVERY], f"expected the step-{EVERY} checkpoint only, found {ckpt} (killed after step {seen}) {DRAWN}"
    assert EVERY % ACCUM != 0 and (out / "checkpoints" / f"step_{EVERY:06d}" / "grads_metanet.safetensors").exists(), \
        "the checkpoint lies inside MetaNet's accumulation window, so it must carry the accumulated gradients"
    _mind("train", "--resume", str(out), "--quiet")
    worst = _assert_same_trajectory(reference, out)
    print(f"SIGKILL {DRAWN}: killed after step {seen}, resumed from {EVERY}; max |diff| vs uninterrupted = "
          f"{worst:.3g} (tolerance rtol {RTOL}, atol {ATOL})")


def test_time_based_checkpoints_resume_exactly(reference, tmp_path):
    """checkpoint_every=0 with checkpoint_minutes=1 and a clock that advances 12.5 s per step: checkpoints at steps
    5 and 10 (and the end) come from the time bound alone; a kill after step 6 resumes from 5, exactly."""
    env = {**ENV, "MIND_FAKE_CLOCK_S": str(FAKE_TICK_S)}
    out = tmp_path / "timed"
    seen = _kill_after(out, 6, "checkpoint_every=0", "checkpoint_minutes=1", env=env)
    assert load_run(out).checkpoints == [5], f"killed after step {seen}: {load_run(out).checkpoints}"
    _mind("train", "--resume", str(out), "--quiet", env=env)
    assert load_run(out).checkpoints == [10, 12]  # the resumed process's clock restarts at step 5: 5 steps later, then the end
    assert load_run(out).config["checkpoint_minutes"] == 1.0
    worst = _assert_same_trajectory(reference, out)
    print(f"time-based {DRAWN}: killed after step {seen}, resumed from 5; max |diff| = {worst:.3g}")


def test_sigterm_stops_with_checkpoint_then_resume_finishes(reference, tmp_path):
    k = STOP_AT
    out = tmp_path / "stopped"
    proc = _start(out, f"checkpoint_every={EVERY}")
    _wait_for_step(proc, out, k)
    request_stop(out)  # the dashboard's Stop: the request, then SIGTERM (a bare SIGTERM: tests/test_stop_signals.py)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=300) == 0, run_report(out, proc, tmp_path / "stopped.log")
    run = load_run(out)
    stop_step = run.status["step"]
    assert run.status["state"] == "stopped" and k <= stop_step < STEPS, (run.status, k, DRAWN)
    assert run.status["stopped_by"] == "request", run_report(out, proc, tmp_path / "stopped.log")
    assert run.checkpoints[-1] == stop_step, f"no checkpoint at the stop step {stop_step}: {run.checkpoints} {DRAWN}"
    assert _raw_steps(out) == list(range(1, stop_step + 1))
    _mind("train", "--resume", str(out), "--quiet")
    worst = _assert_same_trajectory(reference, out)
    print(f"SIGTERM {DRAWN}: asked k={k}, stopped at step {stop_step}; max |diff| vs uninterrupted = {worst:.3g}")


def _killed_before_first_checkpoint(reference: Path, dest: Path) -> Path:
    """The reference run as a kill at step 3 would leave it with no checkpoint yet: records of steps 1-3 plus a torn
    line, a step-4 checkpoint still being written, status 'running'."""
    shutil.copytree(reference, dest)
    shutil.rmtree(dest / "checkpoints")
    (dest / "checkpoints" / ".step_000004.tmp").mkdir(parents=True)
    lines = (dest / "steps.jsonl").read_text().splitlines(keepends=True)
    (dest / "steps.jsonl").write_text("".join(lines[:3]) + '{"step": 4, "loss_tot')
    status = json.loads((dest / "status.json").read_text())
    (dest / "status.json").write_text(json.dumps({**status, "state": "running", "step": 3}))
    return dest


def test_resume_without_checkpoint_says_how_to_restart_and_restart_trains_from_step_1(reference, tmp_path):
    out = _killed_before_first_checkpoint(reference, tmp_path / "early")
    proc = _mind("train", "--resume", str(out), check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "no complete checkpoint" in lines[0]
    assert f"mind train --resume {out} --restart" in lines[0]
    _mind("train", "--resume", str(out), "--restart", "--quiet")
    assert not (out / "checkpoints" / ".step_000004.tmp").exists()
    worst = _assert_same_trajectory(reference, out)
    assert load_run(out).config["checkpoint_every"] == EVERY  # its own saved config
    print(f"--restart {DRAWN}: max |diff| vs uninterrupted = {worst:.3g}")


def test_restart_refuses_a_run_with_a_checkpoint_and_needs_resume(reference, tmp_path):
    out = tmp_path / "done"
    shutil.copytree(reference, out)
    before = (out / "steps.jsonl").read_bytes()
    proc = _mind("train", "--resume", str(out), "--restart", check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"has a checkpoint at step {STEPS}" in proc.stderr and "without --restart" in proc.stderr
    assert (out / "steps.jsonl").read_bytes() == before  # nothing was cleared
    proc = _mind("train", "--restart", "--out", str(tmp_path / "new"), check=False)
    assert proc.returncode == 2 and "--restart goes with --resume" in proc.stderr
