"""mind/model/checkpoint.py in-process: when checkpoints are due (step interval, time bound with an injected clock), and
that a checkpoint carries accumulated gradients and RNG state back exactly."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch

from mind.model import checkpoint as ck
from mind.training.calibration import InertiaCalibrator
from mind.errors import RunDirError
from mind.model.metanet import MetaNet


@pytest.mark.parametrize(
    "step, every, minutes, elapsed, last, due",
    [
        (5, 5, 0, 0.0, False, True),  # the step interval
        (6, 5, 0, 1e9, False, False),  # no time bound: elapsed time does not matter
        (6, 0, 10, 599.9, False, False),
        (6, 0, 10, 600.0, False, True),  # the time bound alone
        (7, 0, 0, 1e9, False, False),  # both off: only the last step
        (7, 0, 0, 0.0, True, True),
        (3, 50, 0.5, 30.0, False, True),  # fractions of a minute
    ],
)
def test_checkpoint_due(step, every, minutes, elapsed, last, due):
    assert ck.checkpoint_due(step, every, minutes, elapsed, last) is due


def test_policy_measures_time_since_the_last_checkpoint(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(ck, "_clock", lambda: now[0])
    policy = ck.CheckpointPolicy(every=4, minutes=1)  # the clock starts here
    hits = []
    for step, t in zip(range(1, 11), (110, 150, 161, 170, 200, 215, 230, 250, 300, 310)):
        now[0] = t
        if policy.due(step, last=step == 10):
            hits.append(step)
    # 161 - 100 >= 60 -> 3; 4 by interval (the clock now counts from 170); 230 - 170 -> 7; 8 by interval; 10 last
    assert hits == [3, 4, 7, 8, 10]


def test_fake_clock_from_the_environment(monkeypatch):
    monkeypatch.setenv("MIND_FAKE_CLOCK_S", "12.5")
    clock = ck._clock_from_env()
    assert [clock() for _ in range(4)] == [0.0, 12.5, 25.0, 37.5]
    monkeypatch.delenv("MIND_FAKE_CLOCK_S")
    assert ck._clock_from_env() is ck.time.monotonic


def _parts(seed: int):
    torch.manual_seed(seed)
    student = torch.nn.Linear(4, 3)  # full fine-tuning: save_model / load_model
    metanet = MetaNet(8, 3, 16, 2, True, "softplus")
    opt_s = torch.optim.AdamW(student.parameters(), lr=1e-2)
    opt_m = torch.optim.AdamW(metanet.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.LambdaLR(opt_s, lambda i: 1.0 / (i + 1))
    cal = InertiaCalibrator(5, 3, 0.9)
    return dict(student=student, metanet=metanet, opt_s=opt_s, opt_m=opt_m, sched_s=sched, calibrator=cal)


def _meta_backward(metanet, seed: int):
    g = torch.Generator().manual_seed(seed)
    scores, _ = metanet(torch.randn(2, 3, 8, generator=g), torch.ones(2, 3, dtype=torch.bool))
    scores.sum().backward()


def test_accumulated_metanet_gradients_and_rng_survive_a_checkpoint(tmp_path):
    a = _parts(0)
    _meta_backward(a["metanet"], 1)  # MetaNet has stepped...
    a["opt_m"].step()
    a["opt_m"].zero_grad(set_to_none=True)
    _meta_backward(a["metanet"], 2)  # ... and accumulated two more steps' gradients since
    _meta_backward(a["metanet"], 3)
    a["opt_s"].step()  # no gradients: a no-op, but the schedule expects an optimiser step first
    a["sched_s"].step()
    random.seed(7), np.random.seed(7), torch.manual_seed(7)
    saved = ck.save_checkpoint(tmp_path, step=3, lora=False, extra={"note": "x"}, **a)
    assert (saved / "grads_metanet.safetensors").exists() and not (saved / "grads_student.safetensors").exists()
    expect = (random.random(), np.random.rand(), torch.rand(1))  # what the uninterrupted run draws next

    b = _parts(1)  # a fresh process: other weights, no gradients
    state = ck.load_checkpoint(ck.latest_checkpoint(tmp_path), lora=False, **b)
    assert state["step"] == 3 and state["note"] == "x"
    assert (random.random(), np.random.rand(), torch.rand(1)) == expect
    for (n, p), (_, q) in zip(a["metanet"].named_parameters(), b["metanet"].named_parameters()):
        assert torch.equal(p, q), n
        assert (p.grad is None) == (q.grad is None) and (p.grad is None or torch.equal(p.grad, q.grad)), n
    assert all(p.grad is None for p in b["student"].parameters())
    assert b["sched_s"].last_epoch == 1
    # the next accumulation and MetaNet step give the same weights in both
    for parts in (a, b):
        _meta_backward(parts["metanet"], 4)
        parts["opt_m"].step()
    for p, q in zip(a["metanet"].parameters(), b["metanet"].parameters()):
        assert torch.equal(p, q)


def test_a_checkpoint_without_pending_gradients_clears_stale_ones(tmp_path):
    a = _parts(0)
    ck.save_checkpoint(tmp_path, step=1, lora=False, **a)  # nothing accumulated
    assert not list(tmp_path.glob("step_000001/grads_*"))
    b = _parts(1)
    _meta_backward(b["metanet"], 5)
    ck.load_checkpoint(tmp_path / "step_000001", lora=False, **b)
    assert all(p.grad is None for p in b["metanet"].parameters())


def test_gradients_for_unknown_parameters_are_a_corrupt_checkpoint(tmp_path):
    a = _parts(0)
    _meta_backward(a["metanet"], 1)
    saved = ck.save_checkpoint(tmp_path, step=2, lora=False, **a)
    from safetensors.torch import save_file

    save_file({"no.such.weight": torch.zeros(2)}, str(saved / "grads_metanet.safetensors"))
    with pytest.raises(RunDirError, match="checkpoint is corrupt"):
        ck.load_checkpoint(saved, lora=False, **_parts(1))


def test_clear_for_restart_and_the_message(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints" / ".step_000004.tmp").mkdir(parents=True)
    (run / "checkpoints" / "step_000002").mkdir()  # incomplete: no trainer_state.json
    (run / "snapshots").mkdir()
    (run / "config.json").write_text("{}")
    (run / "steps.jsonl").write_text("".join(json.dumps({"step": s}) + "\n" for s in (1, 2, 3)))
    msg = ck.no_checkpoint_message(run)
    assert "\n" not in msg and f"mind train --resume {run} --restart" in msg
    ck.clear_for_restart(run)
    assert (run / "steps.jsonl").read_text() == "" and not list((run / "checkpoints").iterdir())
    assert (run / "config.json").exists()
    done = run / "checkpoints" / "step_000005"
    done.mkdir()
    (done / "trainer_state.json").write_text("{}")
    with pytest.raises(RunDirError, match="has a checkpoint at step 5"):
        ck.clear_for_restart(run)
