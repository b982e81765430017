"""The fixed costs of a run, against one training step: the calibration pass's L_real and a snapshot's held-out scoring.

Both are :func:`mind.model.forward.score_rationales` (no grad, eval mode, ``chunk`` problems per batch, the
shared-prompt layout where the student has it): over every training rationale of the initial student before step 1,
and over every held-out rationale at each snapshot. This script builds the trainer's data exactly as ``mind train``
does (``mind.training.loop.load_data``: the demo set, ``--problems`` trained on, ``--holdout`` held out, prompt
version 2), times both passes at several chunk sizes (interleaved, rotating order, medians over ``--repeats``), and
one ``uniform`` training step of ``--problems-per-step`` problems (all K rationales with gradients and backward:
the unit the costs are printed in). It also prints, from the collated batches alone, the positions the decoder
computes over the real tokens (padding included): what re-batching could save at most.

    .venv/bin/python bench/bench_fixed_costs.py                       # tiny random student
    .venv/bin/python bench/bench_fixed_costs.py --student smollm2-135m --repeats 2

The baseline is the trainer's chunk (8); the other chunk sizes print as ratios against it, measured in the same run.
Last, both passes through ``mind.model.score_cache`` (a miss, then hits), as ratios against the plain pass at chunk 8,
and what a MetaNet run's fixed costs are when its initial scores come from the cache.
"""

from __future__ import annotations

import argparse
import statistics
import time

import _env  # noqa: F401  (offline environment, this checkout's mind)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--student", default="tiny", help="tiny, smollm2-135m, or a HF id / folder")
    ap.add_argument("--problems", type=int, default=32, help="problems trained on (the recipe's max_problems)")
    ap.add_argument("--holdout", type=int, default=48, help="problems held out (the recipe's holdout)")
    ap.add_argument("--chunks", default="4,8,16", help="comma-separated chunk sizes to time (8 is the trainer's)")
    ap.add_argument("--repeats", type=int, default=3, help="timed rounds (medians over these)")
    ap.add_argument("--problems-per-step", type=int, default=2, help="problems in the training step used as the unit")
    args = ap.parse_args(argv)
    chunks = [int(c) for c in args.chunks.split(",")]
    if 8 not in chunks:
        ap.error("--chunks must include 8, the trainer's chunk (the baseline)")

    import torch
    from accelerate import Accelerator

    from mind.model.batching import collate
    from mind.model.forward import rationale_losses, score_rationales
    from mind.model.precision import machine_line, resolve
    from mind.training.config import TrainConfig
    from mind.training.loop import build, load_data
    from mind.training.runtime import StartupClock

    print(f"machine: {machine_line()}", flush=True)
    cfg = TrainConfig(student=args.student, method="uniform", max_problems=args.problems, holdout=args.holdout,
                      precision="fp32")  # the recipe trains in fp32
    acc = Accelerator(cpu=True)
    data = load_data(cfg, acc, resolve("fp32"))
    pad = data.tok.pad_token_id
    parts = build(cfg, acc, data, StartupClock(), show=False)  # the trainer's student: LoRA, checkpointing, layout
    student, shared = parts.student, parts.shared
    K = len(data.persp)
    sets = {"calibration L_real (training set)": data.encoded, "held-out scoring (one snapshot)": data.encoded_h}
    print(f"student {args.student}: {len(data.encoded)} training and {len(data.encoded_h)} held-out problems x {K} "
          f"perspectives, shared prompt layout {'on' if shared else 'off'}", flush=True)

    for name, enc in sets.items():
        real = sum(len(ep.prompt) for ep in enc) + sum(len(t) - 1 for ep in enc for t in ep.targets if t)
        line = []
        for c in chunks:
            computed = sum(collate(enc[lo: lo + c], [ep.mask for ep in enc[lo: lo + c]], pad, shared).n_computed
                           for lo in range(0, len(enc), c))
            line.append(f"chunk {c}: {computed / real:.3f}")
        print(f"{name}: positions computed / real tokens ({real} real): " + ", ".join(line))

    def step() -> float:
        student.train()
        probs = data.encoded[: args.problems_per_step]
        mask = torch.tensor([ep.mask for ep in probs])
        alpha = mask.float() / mask.sum(-1, keepdim=True)
        t = time.perf_counter()
        rationale_losses(student, probs, alpha, torch.zeros_like(mask), K, 0.0, pad, shared, "cpu",
                         backward=lambda loss: loss.backward())
        student.zero_grad(set_to_none=True)
        return time.perf_counter() - t

    times: dict[tuple[str, int], list[float]] = {}
    step_times: list[float] = []
    step()  # warm-up (allocator, oneDNN primitives)
    jobs = [(name, c) for name in sets for c in chunks]
    for r in range(args.repeats):
        step_times.append(step())
        for name, c in jobs[r % len(jobs):] + jobs[: r % len(jobs)]:
            t = time.perf_counter()
            score_rationales(student, sets[name], pad, shared, "cpu", chunk=c)
            times.setdefault((name, c), []).append(time.perf_counter() - t)
        print(f"round {r + 1}/{args.repeats} done", flush=True)

    unit = statistics.median(step_times)
    print(f"\none uniform step ({args.problems_per_step} problems x {K}, with backward): {unit:.2f} s (median of "
          f"{len(step_times)})")
    for name in sets:
        base = statistics.median(times[(name, 8)])
        cells = [f"chunk {c}: {statistics.median(times[(name, c)]):.2f} s ({statistics.median(times[(name, c)]) / base:.2f}x)"
                 for c in chunks]
        print(f"{name}: " + ", ".join(cells) + f"; at chunk 8 = {base / unit:.1f} steps")
    calib, held = statistics.median(times[(list(sets)[0], 8)]), statistics.median(times[(list(sets)[1], 8)])
    steps, snaps = 48, 4  # the recipe: 48 steps, snapshots at 0 (after calibration), 16, 32, 48
    print(f"a recipe run (48 steps, held-out scoring at steps 0/16/32/48): fixed costs {calib + snaps * held:.1f} s "
          f"= {(calib + snaps * held) / (steps * unit):.0%} of its 48 uniform steps")

    # The score cache (mind.model.score_cache): the untrained student's two passes, on a miss (hash, compute,
    # write) and on a hit (hash, read), in a cache folder of this run's own; the student here is the initial one
    # (LoRA B = 0), as before step 1 of every run of the recipe.
    import os
    import tempfile

    from mind.model import score_cache

    hit: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MIND_CACHE_DIR"], os.environ["MIND_SCORE_CACHE"] = tmp, "1"
        for name, enc in sets.items():
            t = time.perf_counter()
            want = score_cache.initial_scores(student, enc, pad, shared, "cpu", tag="bench")
            miss = time.perf_counter() - t
            for _ in range(args.repeats):
                t = time.perf_counter()
                got = score_cache.initial_scores(student, enc, pad, shared, "cpu", tag="bench")
                hit.setdefault(name, []).append(time.perf_counter() - t)
            assert torch.equal(got, want), "a cache hit differs from the computation"
            base = statistics.median(times[(name, 8)])
            print(f"{name} through the score cache: miss {miss:.2f} s ({miss / base:.2f}x the plain pass), hit "
                  f"{statistics.median(hit[name]):.3f} s ({statistics.median(hit[name]) / base:.3f}x), identical")
    cached = sum(statistics.median(v) for v in hit.values()) + (snaps - 1) * held
    print(f"a MetaNet recipe run after the first (calibration and step-0 scores from the cache): fixed costs "
          f"{cached:.1f} s = {cached / (steps * unit):.0%} of its 48 uniform steps ({cached / (calib + snaps * held):.2f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
