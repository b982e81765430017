"""Synthetic run directories of any length, written through ``mind.run.RunWriter`` itself (for the reader benches
and the dashboard tests on a large run).

What it writes is shaped like a real ``mind train --method mind`` run, by the trainer's own record builders
(``mind.training.telemetry.step_record`` / ``sample_records`` and ``mind.training.tracking.agreement``):

- config.json (the demo set's 8 perspectives, ``student: synthetic``), data.jsonl (the bundled demo problems),
  probes.jsonl, status.json (``finished``, or ``running`` with a fresh heartbeat for ``--running``);
- per step, ``problems_per_step`` problems (default 8) drawn in epoch order: MetaNet scores that drift as seeded
  random walks per perspective, selection ``s >= beta * max(s)`` with ``alpha = softmax(s)`` over it, raw losses that
  fall with the step plus noise, their inertia-filtered EMA (g = 0.9), a random K x K attention; the step record
  has the trainer's scalar columns (lr schedule, phases, tokens, timing) and the tracking columns, with the
  ``heldout_*`` ones only on snapshot steps (every ``snapshot_every``), as the trainer writes them;
- samples every step (Parquet chunks of ``chunk_steps``; ``--chunk-steps 0`` writes the JSONL-only layout of runs
  made before chunks) and a hidden-state snapshot every ``snapshot_every`` steps (probe rows x 32, float16).

Deterministic for a seed: the first N steps of a longer run equal an N-step run. :func:`append_steps` continues a
run by more steps (the "10 new steps" of a live refresh). Usage::

    .venv/bin/python bench/synth_run.py --steps 10000 --out /tmp/synth-10k            # ~1 min on 2 cores
    .venv/bin/python bench/synth_run.py --steps 1000 --chunk-steps 0 --out /tmp/legacy-1k
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

try:
    import _env  # noqa: F401  (as a script: the checkout's root on sys.path, offline environment)
except ImportError:  # imported as bench.synth_run
    from bench import _env  # noqa: F401

import numpy as np
import torch

from mind.run import RunWriter, read_jsonl
from mind.training.telemetry import sample_records, step_record
from mind.training.tracking import agreement

torch.set_num_threads(1)  # tiny tensors: one thread is fastest (and fair to a shared machine)
DEMO = Path(__file__).resolve().parents[1] / "mind" / "data" / "demo.jsonl"
G, BETA, PROBES, DIM = 0.9, 0.7, 4, 32


class _Sim:
    """The seeded state of a synthetic run: scores, inertia-filtered losses, the problem order."""

    def __init__(self, n_problems: int, k: int, seed: int):
        self.rng = np.random.default_rng(seed)
        self.k, self.n = k, n_problems
        self.drift = self.rng.normal(0, 1, k)
        self.filtered = np.full((n_problems, k), np.nan)
        self.order = self.rng.permutation(n_problems)
        self.pos = 0

    def batch(self, b: int) -> np.ndarray:
        out = []
        for _ in range(b):
            if self.pos == self.n:
                self.order, self.pos = self.rng.permutation(self.n), 0
            out.append(self.order[self.pos])
            self.pos += 1
        return np.array(out)

    def step(self, step: int, idx: np.ndarray) -> dict:
        b, k, rng = len(idx), self.k, self.rng
        self.drift += rng.normal(0, 0.05, k)
        scores = np.log1p(np.exp(self.drift[None, :] + rng.normal(0, 0.3, (b, k))))  # softplus: positive
        selected = scores >= BETA * scores.max(-1, keepdims=True)
        e = np.where(selected, np.exp(scores), 0.0)
        alpha = e / e.sum(-1, keepdims=True)
        ce = 2.5 * math.exp(-step / 3000) + 0.3 + 0.2 * rng.random((b, k)) + 0.05 * np.arange(k)[None, :]
        prev = self.filtered[idx]
        filt = np.where(np.isnan(prev), ce, G * prev + (1 - G) * ce)
        self.filtered[idx] = filt
        att = rng.random((b, k, k))
        att /= att.sum(-1, keepdims=True)
        meta = np.abs(rng.normal(0.01, 0.005, b))
        t = lambda x: torch.as_tensor(x, dtype=torch.float32)  # noqa: E731
        return dict(mask=torch.ones(b, k, dtype=torch.bool), alpha=t(alpha), scores=t(scores), ce=t(ce),
                    filtered=t(filt), attention=t(att), meta=t(meta))


def _records(sim: _Sim, step: int, total: int, persp: list[str], ids: list[str], b: int, snapshot_every: int):
    idx = sim.batch(b)
    g = sim.step(step, idx)
    warm = step <= 4
    base = torch.as_tensor(np.nanmean(np.where(np.isnan(sim.filtered), np.nan, -sim.filtered), 0), dtype=torch.float32)
    tracking = agreement(g["scores"], g["filtered"], g["mask"], torch.nan_to_num(base))
    tracking["curriculum_shift"] = float(abs(math.sin(step / 97.0))) * 0.2
    if snapshot_every and step % snapshot_every == 0:
        tracking.update(agreement(g["scores"], g["ce"], g["mask"], torch.nan_to_num(base), prefix="heldout_"))
        tracking["heldout_loss"] = float(g["ce"].mean())
    loss_sft = float((g["alpha"] * g["ce"]).sum(-1).mean())
    rec = step_record(step, persp, mask=g["mask"], alpha=g["alpha"], scores=g["scores"], ce=g["ce"],
                      filtered=g["filtered"], epoch=step * b / len(ids), lr=1e-3 * (1 - step / (total + 1)),
                      **tracking, meta_lr=1e-3 if warm else 5e-5, meta_phase="warmup" if warm else "joint",
                      time_s=0.5, tokens_per_s=4000.0 + 10 * math.sin(step), wall=1.7e9 + 0.5 * step,
                      loss_total=loss_sft + 0.01, loss_sft=loss_sft, loss_cons=0.01, loss_meta=float(g["meta"].mean()),
                      tokens=b * 8 * 120)
    samples = sample_records(step, [ids[i] for i in idx.tolist()], persp, mask=g["mask"], alpha=g["alpha"],
                             scores=g["scores"], ce=g["ce"], filtered=g["filtered"], attention=g["attention"],
                             meta_loss=g["meta"])
    return rec, samples


def _problems() -> list[dict]:
    return read_jsonl(DEMO)


def make_run(out: str | Path, steps: int, problems_per_step: int = 8, seed: int = 0, chunk_steps: int = 100,
             snapshot_every: int = 500, running: bool = False) -> Path:
    """Write a synthetic run of ``steps`` steps to ``out`` (which must not exist); returns its path."""
    out = Path(out)
    if out.exists():
        raise SystemExit(f"error: {out} exists; pick a new --out")
    probs = _problems()
    persp = [r["perspective"] for r in probs[0]["rationales"]]
    ids = [p["id"] for p in probs]
    w = RunWriter(out, samples_chunk_steps=chunk_steps)
    w.write_json("config.json", {"data": "demo", "student": "synthetic", "method": "mind", "perspectives": persp,
                                 "seed": seed, "steps": steps, "batch_size": problems_per_step, "beta": BETA, "g": G,
                                 "tau_student": 1.0, "snapshot_every": snapshot_every,
                                 "synthetic": {"generator": "bench/synth_run.py", "chunk_steps": chunk_steps}})
    w.write_jsonl("data.jsonl", probs)
    w.write_jsonl("probes.jsonl", [{"problem_id": ids[i], "perspective": p} for i in range(PROBES) for p in persp])
    w.set_status("running", step=0, total_steps=steps)
    _write(w, _Sim(len(ids), len(persp), seed), 1, steps, steps, persp, ids, problems_per_step, snapshot_every)
    _status(w, steps, steps, running)
    (out / "synthetic.json").write_text(json.dumps({"seed": seed, "problems_per_step": problems_per_step,
                                                    "snapshot_every": snapshot_every, "chunk_steps": chunk_steps,
                                                    "steps": steps}))
    return out


def _write(w: RunWriter, sim: _Sim, first: int, last: int, total: int, persp, ids, b: int, snapshot_every: int) -> None:
    rng = np.random.default_rng(first)
    for step in range(first, last + 1):
        rec, samples = _records(sim, step, total, persp, ids, b, snapshot_every)
        w.log_step(rec)
        w.log_samples(samples)
        if snapshot_every and step % snapshot_every == 0:
            w.write_snapshot(step, rng.normal(0, 1, (PROBES * len(persp), DIM)), rng.integers(0, 2, PROBES * len(persp)))


def _status(w: RunWriter, step: int, total: int, running: bool) -> None:
    w.set_status("running" if running else "finished", step=step, total_steps=total)


def append_steps(run: str | Path, n: int, running: bool = True) -> int:
    """Continue a synthetic run by ``n`` steps (replaying its seeded state up to its last step); returns the new
    last step. Used to time one live refresh after ``n`` new steps."""
    run = Path(run)
    meta = json.loads((run / "synthetic.json").read_text())
    probs = _problems()
    persp = [r["perspective"] for r in probs[0]["rationales"]]
    ids = [p["id"] for p in probs]
    done = meta["steps"]
    sim = _Sim(len(ids), len(persp), meta["seed"])
    for step in range(1, done + 1):  # replay the random state (cheap next to writing)
        sim.step(step, sim.batch(meta["problems_per_step"]))
    w = RunWriter(run, samples_chunk_steps=meta["chunk_steps"])
    total = done + n
    _write(w, sim, done + 1, total, max(total, json.loads((run / "config.json").read_text())["steps"]), persp, ids,
           meta["problems_per_step"], meta["snapshot_every"])
    meta["steps"] = total
    (run / "synthetic.json").write_text(json.dumps(meta))
    _status(w, total, max(total, meta["steps"]), running)
    return total


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="run folder to create")
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--problems-per-step", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--chunk-steps", type=int, default=100, help="samples per Parquet chunk (0: JSONL-only layout)")
    ap.add_argument("--snapshot-every", type=int, default=500)
    ap.add_argument("--running", action="store_true", help="leave status.json 'running' with a fresh heartbeat")
    a = ap.parse_args(argv)
    t = time.perf_counter()
    out = make_run(a.out, a.steps, a.problems_per_step, a.seed, a.chunk_steps, a.snapshot_every, a.running)
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"{out}: {a.steps} steps x {a.problems_per_step} problems, {size / 2**20:.1f} MiB, "
          f"{time.perf_counter() - t:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
