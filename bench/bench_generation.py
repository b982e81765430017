"""Evaluation throughput: batched vs one-at-a-time greedy generation with the same model and prompts.

Generates ``max_new_tokens`` greedily for a handful of GSM8K test prompts (chat template, as ``mind eval`` asks
them) with the embedded SmolLM2-135M-Instruct, once per batch size, ``--repeats`` times each, and reports the
median wall time and tokens/s. Tokens are the generated tokens up to and including each sequence's end-of-sequence
token (padding after a sequence ended is not counted), so both modes are credited with the same work. The
generated texts of the batched run are checked against the one-at-a-time run.

    .venv/bin/python bench/bench_generation.py --prompts 8 --max-new-tokens 64 --repeats 3 --batch-sizes 1,8
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MIND_CACHE_DIR", str(ROOT / ".cache" / "mind"))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--student", default="smollm2-135m")
    ap.add_argument("--prompts", type=int, default=8, help="number of GSM8K test prompts")
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch-sizes", default="1,8", help="comma list; the first is the baseline")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args(argv)

    import torch

    from mind.benchmarks import load_benchmark
    from mind.evaluation.generate import greedy
    from mind.prompting import prompt_ids
    from mind.student import load_causal_lm, load_tokenizer

    if args.threads:
        torch.set_num_threads(args.threads)
    sizes = [int(b) for b in args.batch_sizes.split(",")]
    t0 = time.perf_counter()
    tok = load_tokenizer(args.student)
    model = load_causal_lm(args.student, tok).eval()
    print(f"loaded {args.student} in {time.perf_counter() - t0:.1f} s; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {os.cpu_count()} cpus, load avg {os.getloadavg()[0]:.1f}")
    items = load_benchmark("gsm8k", limit=args.prompts)
    prompts = [prompt_ids(tok, it.prompt_text()) for it in items]
    lens = [len(p) for p in prompts]
    print(f"{len(prompts)} GSM8K prompts, {min(lens)}-{max(lens)} prompt tokens, max_new_tokens={args.max_new_tokens}")
    greedy(model, tok, prompts[:1], 4, 1)  # warm-up

    results, texts = {}, {}
    sys.stdout.flush()
    for _ in range(args.repeats):  # interleave the modes so that load from other processes hits both alike
        for bs in sizes:
            t = time.perf_counter()
            out = greedy(model, tok, prompts, args.max_new_tokens, bs)
            wall = time.perf_counter() - t
            n = sum(g.n_tokens for g in out)
            results.setdefault(bs, []).append((wall, n))
            texts[bs] = [g.text for g in out]
    print(f"\n{'batch':>5}  {'tokens':>6}  {'median s':>8}  {'tok/s':>7}  {'min-max tok/s':>15}  same text as batch {sizes[0]}")
    rate = {}
    for bs in sizes:
        walls = [w for w, _ in results[bs]]
        n = results[bs][0][1]
        rates = [k / w for w, k in results[bs]]
        rate[bs] = n / statistics.median(walls)
        same = sum(a == b for a, b in zip(texts[bs], texts[sizes[0]]))
        print(f"{bs:>5}  {n:>6}  {statistics.median(walls):>8.2f}  {rate[bs]:>7.1f}  "
              f"{min(rates):>7.1f}-{max(rates):<7.1f}  {same}/{len(prompts)}")
    best = max(sizes[1:], key=lambda b: rate[b]) if len(sizes) > 1 else sizes[0]
    print(f"\nratio: batched (batch {best}) {rate[best]:.1f} tok/s vs one-at-a-time {rate[sizes[0]]:.1f} tok/s = "
          f"{rate[best] / rate[sizes[0]]:.2f}x (median of {args.repeats}, {len(prompts)} prompts x "
          f"{args.max_new_tokens} new tokens)")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
