"""Activation checkpointing: step time of a `uniform` training step with every layer, every Nth layer, or no layer
recomputed (``checkpoint_layers`` / ``gradient_checkpointing=false``); peak memory of the same settings is
``bench_memory.py --variants default,ckpt-every-2,ckpt-every-3,no-ckpt``.

One student per setting (same seed, LoRA r=8 q/k/v/o), the trainer's shared-prompt batches of ``--problems``
demo problems x all their perspectives, forward + backward; the settings run interleaved on the same batch each
round, medians over ``--repeats`` rounds after one warm-up round.

    .venv/bin/python bench/bench_checkpointing.py --student smollm2-135m --repeats 4
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import _env  # noqa: F401  (the repository on sys.path, the offline environment)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--student", default="tiny", help="tiny or smollm2-135m")
    ap.add_argument("--repeats", type=int, default=4, help="timed rounds (medians over these)")
    ap.add_argument("--problems", type=int, default=2, help="problems per step (each with all its perspectives)")
    ap.add_argument("--every", default="1,2,0", help="comma list of checkpoint_layers values; 0 = no checkpointing")
    args = ap.parse_args(argv)

    import torch

    from mind.model.batching import collate, encode_problem
    from mind.data import load_problems, perspectives_in
    from mind.model.student import StudentLM, add_lora, load_causal_lm, load_tokenizer
    from mind.model.forward import student_pass
    from mind.training.loop import batch_indices

    settings = [int(x) for x in args.every.split(",")]
    tok = load_tokenizer(args.student)
    problems = load_problems("demo")
    persp = tuple(perspectives_in(problems))
    encoded = [encode_problem(tok, p, i, persp, 256, True) for i, p in enumerate(problems)]
    students = {}
    for n in settings:
        hf = load_causal_lm(args.student, tok, seed=0)
        if n:
            hf.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False}, every_n_layers=n)
        students[n] = StudentLM(add_lora(hf, 8, 16, 0.0, ("q_proj", "k_proj", "v_proj", "o_proj"), seed=0)).train()
    from mind.model.precision import machine_line

    print(f"machine: {machine_line()}")
    print(f"student {args.student}; {args.problems} problems x {len(persp)} perspectives per step (fp32); torch "
          f"{torch.__version__}, {torch.get_num_threads()} threads, load avg {os.getloadavg()[0]:.1f}", flush=True)
    times: dict[int, list[float]] = {n: [] for n in settings}
    for r in range(args.repeats + 1):
        idx = batch_indices(r + 1, args.problems, len(encoded), 0).tolist()
        eps = [encoded[i] for i in idx]
        batch = collate(eps, [ep.mask for ep in eps], tok.pad_token_id, shared_prefix=True)
        for n, student in students.items():
            student.zero_grad(set_to_none=True)
            t = time.perf_counter()
            ce, _ = student_pass(student, batch, len(eps), len(persp), True, "cpu")
            ce.nansum().backward()
            if r:  # round 0 warms up
                times[n].append(time.perf_counter() - t)
        print(f"round {r}{' (warm-up)' if r == 0 else ''}: " + "  ".join(
            f"{n or 'none'} {times[n][-1] if r else 0:.2f}s" for n in settings), file=sys.stderr, flush=True)
    med = {n: statistics.median(v) for n, v in times.items()}
    name = lambda n: "no checkpointing" if n == 0 else ("every layer" if n == 1 else f"1 in {n} layers")  # noqa: E731
    print(f"\n{'recompute':<18} {'median s':>9} {'min-max s':>15}  vs every layer")
    base = med.get(1, next(iter(med.values())))
    for n in settings:
        print(f"{name(n):<18} {med[n]:>9.3f} {min(times[n]):>7.3f}-{max(times[n]):<7.3f}  {base / med[n]:.2f}x faster")
    print(f"\nsummary [{args.student}, median of {args.repeats}]: " + ", ".join(
        f"{name(n)} {base / med[n]:.2f}x" for n in settings if n != 1) + " the speed of checkpointing every layer")
    return 0


if __name__ == "__main__":
    sys.exit(main())
