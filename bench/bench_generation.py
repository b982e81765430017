"""Evaluation throughput: batched vs one-at-a-time greedy generation with the same model and prompts.

Generates ``max_new_tokens`` greedily for a handful of GSM8K test prompts (chat template, as ``mind eval`` asks
them) with the embedded SmolLM2-135M-Instruct, once per batch size, ``--repeats`` times each, and reports the
median wall time and tokens/s. Tokens are the generated tokens up to and including each sequence's end-of-sequence
token (padding after a sequence ended is not counted), so both modes are credited with the same work. The
generated texts of the batched run are checked against the one-at-a-time run.

The first lines name the machine (CPU model, ISA flags, torch). bf16 runs only where this CPU's bf16 matmul is fast
(mind/model/precision.py's probe, the one behind ``precision=auto``): ``--precision both`` or ``auto`` then skips bf16,
saying so; an explicit ``--precision bf16`` runs it anyway, with the measured ratio.

    .venv/bin/python bench/bench_generation.py --prompts 16 --max-new-tokens 64 --repeats 3 --batch-sizes 1,16 --precision both
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
    ap.add_argument("--student", default="smollm2-135m")
    ap.add_argument("--prompts", type=int, default=16, help="number of GSM8K test prompts")
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch-sizes", default="1,16", help="comma list; the first is the baseline (16: mind eval's default)")
    ap.add_argument("--precision", default="fp32", choices=("fp32", "bf16", "both", "auto"),
                    help="weights for generation (mind eval --precision); both: every batch size in each, one baseline "
                         "(bf16 left out where it is slow); auto: what mind eval --precision auto picks")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args(argv)

    import torch

    from mind.benchmarks import load_benchmark
    from mind.evaluation.decode import greedy
    from mind.model.precision import cached_probe, is_fast, machine_line
    from mind.data.prompting import prompt_ids
    from mind.model.student import load_causal_lm, load_tokenizer

    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"machine: {machine_line()}", flush=True)
    sizes = [int(b) for b in args.batch_sizes.split(",")]
    precisions = ["fp32", "bf16"] if args.precision == "both" else [args.precision]
    if args.precision != "fp32":
        probe = cached_probe()
        fast = is_fast(probe.speedup)
        note = f"bf16 matmul {probe.speedup:.2f}x the fp32 speed on this CPU (probe, cached)"
        if args.precision == "auto":
            precisions = ["bf16" if fast else "fp32"]
            print(f"precision auto -> {precisions[0]}: {note}")
        elif not fast and args.precision == "both":
            precisions = ["fp32"]
            print(f"bf16 SKIPPED: {note}; --precision bf16 runs it anyway")
        elif not fast:
            print(f"warning: {note}; bf16 generation will be slow")
        else:
            print(note)
    t0 = time.perf_counter()
    tok = load_tokenizer(args.student)
    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16}
    models = {p: load_causal_lm(args.student, tok, dtype=dtypes[p]).eval() for p in precisions}
    print(f"loaded {args.student} ({', '.join(precisions)}) in {time.perf_counter() - t0:.1f} s; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {os.cpu_count()} cpus, load avg {os.getloadavg()[0]:.1f}")
    items = load_benchmark("gsm8k", limit=args.prompts)
    prompts = [prompt_ids(tok, it.prompt_text()) for it in items]
    lens = [len(p) for p in prompts]
    print(f"{len(prompts)} GSM8K prompts, {min(lens)}-{max(lens)} prompt tokens, max_new_tokens={args.max_new_tokens}")
    for m in models.values():
        greedy(m, tok, prompts[:1], 4, 1)  # warm-up

    modes = [(p, bs) for p in precisions for bs in sizes]
    base = modes[0]
    results, texts = {}, {}
    sys.stdout.flush()
    for _ in range(args.repeats):  # interleave the modes so that load from other processes hits all alike
        for mode in modes:
            t = time.perf_counter()
            out = greedy(models[mode[0]], tok, prompts, args.max_new_tokens, mode[1])
            wall = time.perf_counter() - t
            n = sum(g.n_tokens for g in out)
            results.setdefault(mode, []).append((wall, n))
            texts[mode] = [g.text for g in out]
    print(f"\n{'weights':>7} {'batch':>5}  {'tokens':>6}  {'median s':>8}  {'tok/s':>7}  {'min-max tok/s':>15}  "
          f"same text as {base[0]} batch {base[1]}")
    rate = {}
    for mode in modes:
        walls = [w for w, _ in results[mode]]
        n = results[mode][0][1]
        rates = [k / w for w, k in results[mode]]
        rate[mode] = n / statistics.median(walls)
        same = sum(a == b for a, b in zip(texts[mode], texts[base]))
        print(f"{mode[0]:>7} {mode[1]:>5}  {n:>6}  {statistics.median(walls):>8.2f}  {rate[mode]:>7.1f}  "
              f"{min(rates):>7.1f}-{max(rates):<7.1f}  {same}/{len(prompts)}")
    parts = []
    for p in precisions:  # the ratio: batched vs one-at-a-time with the same model (same weights)
        mine = [m for m in modes if m[0] == p]
        best = max(mine[1:], key=lambda m: rate[m]) if len(mine) > 1 else mine[0]
        parts.append(f"{p}: batch {best[1]} {rate[best]:.1f} tok/s vs one-at-a-time {rate[mine[0]]:.1f} = "
                     f"{rate[best] / rate[mine[0]]:.2f}x")
    if len(precisions) > 1:
        top = max(modes, key=lambda m: rate[m])
        parts.append(f"best ({top[0]} batch {top[1]}) vs {base[0]} one-at-a-time {rate[top] / rate[base]:.2f}x")
    from mind.model.precision import cpu_model

    print(f"\nratio (aim >= 4x; median of {args.repeats}, {len(prompts)} prompts x {args.max_new_tokens} new tokens, "
          f"{cpu_model()}): " + "; ".join(parts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
