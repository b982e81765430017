"""Peak memory of a short training run: resident set size of `python -m mind train` in a child process.

Each configuration runs as its own child; ``os.wait4`` returns that child's resource usage (the same ``ru_maxrss``
that ``resource.getrusage(RUSAGE_CHILDREN)`` accumulates, but per child, so runs do not mask each other). On
Linux ``ru_maxrss`` is in KiB. The run is the issue's setting: batch 2 problems x 8 perspectives x 256 tokens,
LoRA, method mind, 2 steps, no intermediate snapshots or checkpoints (the final ones are still written).

The first line names the machine (CPU model, ISA flags, torch); each row shows the precision the run resolved
(``precision=auto``, the default, is bf16 only where this CPU's bf16 matmul is fast). The ``bf16`` variant is skipped
where bf16 is slow (a 2-step SmolLM2 run would take many minutes), saying so.

    .venv/bin/python bench/bench_memory.py --students smollm2-135m,tiny --variants default,no-ckpt,full-prompts
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _env  # noqa: F401  (the repository on sys.path, the offline environment)

ROOT = Path(__file__).resolve().parents[1]
LIMIT_GIB = 6.0


def measure(student: str, steps: int, out: Path, batch: tuple[int, int] = (2, 1), extra: tuple[str, ...] = ()) -> tuple[float, float, int]:
    """(peak RSS GiB, wall s, exit code) of one `mind train` child."""
    cmd = [sys.executable, "-m", "mind", "train", "--student", student, "--method", "mind",
           "--batch-size", str(batch[0]), "--grad-accum", str(batch[1]), "--max-length", "256",
           "--steps", str(steps), "--out", str(out), "--quiet", "snapshot_every=0", "checkpoint_every=0", *extra]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "MIND_CACHE_DIR": os.environ.get("MIND_CACHE_DIR", str(ROOT / ".cache" / "mind"))}
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        print(f"{student}: mind train failed (exit {proc.returncode}): {err.strip().splitlines()[-1:]}")
    return usage.ru_maxrss / 2**20, time.perf_counter() - t, proc.returncode


VARIANTS = {  # name: extra `mind train` options
    "default": (),
    "no-ckpt": ("gradient_checkpointing=false",),
    "full-prompts": ("shared_prefix=false",),
    "no-ckpt+full-prompts": ("gradient_checkpointing=false", "shared_prefix=false"),
    "bf16": ("precision=bf16",),
    "ckpt-every-2": ("checkpoint_layers=2",),
    "ckpt-every-3": ("checkpoint_layers=3",),
}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--students", default="smollm2-135m,tiny", help="comma list of students to run")
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--variants", default="default,no-ckpt",
                    help=f"comma list of configurations per student, from {', '.join(VARIANTS)} "
                         "(default = the trainer's defaults: activation checkpointing, shared prompts, precision auto)")
    ap.add_argument("--accum", action="store_true",
                    help="also run each student's default as batch 1 x grad_accum 2 (the same 2 problems per optimiser step)")
    args = ap.parse_args(argv)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        ap.error(f"--variants: unknown {unknown}; pick from {list(VARIANTS)}")

    from mind.model.precision import cached_probe, cpu_model, is_fast, machine_line

    print(f"machine: {machine_line()}", flush=True)
    if "bf16" in variants:
        probe = cached_probe()
        if not is_fast(probe.speedup):
            variants.remove("bf16")
            print(f"bf16 variant SKIPPED: bf16 matmul {probe.speedup:.2f}x the fp32 speed on this CPU (probe, cached)")

    def precision_of(out: Path) -> str:
        try:
            return json.loads((out / "config.json").read_text()).get("precision_resolved") or "fp32"
        except (OSError, ValueError):
            return "?"

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_memory_") as tmp:
        for s in [x.strip() for x in args.students.split(",") if x.strip()]:
            for v in variants:
                name = s if v == "default" else f"{s} ({v})"
                out = Path(tmp) / name.replace(" ", "_")
                rows.append((name, *measure(s, args.steps, out, extra=VARIANTS[v]), precision_of(out)))
            if args.accum:
                out = Path(tmp) / f"{s}-acc"
                rows.append((f"{s} (1x2 acc)", *measure(s, args.steps, out, (1, 2)), precision_of(out)))
    total = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    print(f"\n{'student (variant)':<36} {'peak RSS GiB':>12} {'wall s':>8}  exit  precision  (mind train --method mind "
          f"--batch-size 2 --max-length 256 --steps {args.steps} snapshot_every=0 checkpoint_every=0)")
    for s, gib, wall, rc, prec in rows:
        print(f"{s:<36} {gib:>12.2f} {wall:>8.1f}  {rc:>4}  {prec}")
    rows = [r[:4] for r in rows]
    print(f"(RUSAGE_CHILDREN ru_maxrss over all children: {total:.2f} GiB)")
    ok = all(rc == 0 for *_, rc in rows)
    parts = [f"{s} {gib:.2f} GiB" for s, gib, _, _ in rows]
    big = [gib for s, gib, _, rc in rows if s == "smollm2-135m"]
    verdict = f"; smollm2 (defaults) / {LIMIT_GIB:.0f} GiB limit = {big[0] / LIMIT_GIB:.2f}x (<1.0)" if big else ""
    print(f"\nsummary [{cpu_model()}]: peak RSS {', '.join(parts)}{verdict}{'' if ok else '; SOME RUNS FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
