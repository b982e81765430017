"""Evaluation speed: mind eval's teacher-forced pass against simpler ways to compute the same numbers, its cost
next to generation, and (``--end-to-end``) the wall time of a whole ``mind eval``.

Part 1 scores ``--items`` items of each of GSM8K, CommonsenseQA and StrategyQA with the embedded SmolLM2-135M
(fp32): the log-likelihood of the gold answer line and, for CSQA, of all five options (six continuations per item).

* ``eval``: what ``mind eval`` runs: batches of ``--batch-size`` items, the prompt shared by the continuations of
  choice items (``mind.evaluation.likelihood.SHARE_FROM``), plain sequences otherwise;
* ``shared``: the same batches, every prompt computed once for all its continuations (StudentLM's shared prefix);
* ``plain``: the same batches, every continuation a full sequence that repeats its prompt;
* ``single``: one item at a time, full sequences (the baseline of the ratios);
* ``generate``: mind eval's greedy decoding (batch ``--batch-size``) of the first ``--gen-items`` items,
  ``--gen-tokens`` each, reported per item for comparison; once with torch's default threads and once with 1 (on a
  CPU shared with other work, threads that wait for each other can make 2 slower than 1: ``mind eval --threads``).

The modes are interleaved ``--repeats`` times; medians are reported, and the scores of every mode are checked
against ``single`` (max absolute difference). Part 2 (``--end-to-end RUN``) runs ``mind eval --run RUN
--benchmarks gsm8k,svamp,csqa,strategyqa,heldout --limit 100`` once per ``--precisions`` in a fresh copy of the run
(nothing cached) and reports the wall time of each; ``--train-run DIR`` first trains such a run (SmolLM2, 1 step).

    .venv/bin/python bench/bench_eval.py --items 32 --repeats 3
    nice .venv/bin/python bench/bench_eval.py --items 0 --end-to-end runs/smol --precisions fp32,bf16
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _env  # noqa: F401  (the repository on sys.path, the offline environment)


def likelihood_part(args) -> str:
    import torch

    from mind.benchmarks import load_benchmark
    from mind.evaluation.decode import greedy
    from mind.evaluation.likelihood import score_items
    from mind.data.prompting import prompt_ids
    from mind.model.student import StudentLM, load_causal_lm, load_tokenizer

    class Plain(StudentLM):
        @property
        def shares_prefix(self) -> bool:
            return False

    t0 = time.perf_counter()
    tok = load_tokenizer(args.student)
    hf = load_causal_lm(args.student, tok).eval()
    print(f"loaded {args.student} in {time.perf_counter() - t0:.1f} s; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, load avg {os.getloadavg()[0]:.1f}")
    items = [it for b in ("gsm8k", "csqa", "strategyqa") for it in load_benchmark(b, limit=args.items)]
    prompts = [prompt_ids(tok, it.prompt_text()) for it in items]
    answers, choices = [it.answer for it in items], [it.choices for it in items]
    n_seq = sum(1 + len(c) for c in choices)
    print(f"{len(items)} items ({n_seq} continuations), prompts {min(map(len, prompts))}-{max(map(len, prompts))} tokens")
    student = StudentLM(hf)
    modes = {"eval": (student, args.batch_size, None), "shared": (student, args.batch_size, True),
             "plain": (student, args.batch_size, False), "single": (Plain(hf), 1, False)}
    walls: dict[str, list[float]] = {m: [] for m in modes}
    scores = {}
    with torch.no_grad():
        score_items(student, tok, prompts[:2], answers[:2], choices[:2], "cpu")  # warm-up
        for _ in range(args.repeats):
            for m, (st, bs, shared) in modes.items():
                t = time.perf_counter()
                scores[m] = score_items(st, tok, prompts, answers, choices, "cpu", bs, shared)
                walls[m].append(time.perf_counter() - t)
    gen_items = items[: args.gen_items]
    gen_wall, gen_threads = None, {}
    if gen_items:
        gen_prompts = [prompt_ids(tok, it.prompt_text()) for it in gen_items]
        default = torch.get_num_threads()
        for th in ([default, 1] if default > 1 else [default]):  # threads that wait for each other on a busy CPU
            torch.set_num_threads(th)
            t = time.perf_counter()
            greedy(hf, tok, gen_prompts, args.gen_tokens, args.batch_size)
            gen_threads[th] = time.perf_counter() - t
        torch.set_num_threads(default)
        gen_wall = gen_threads[default]
    print(f"\n{'mode':>8}  {'median s':>8}  {'items/s':>8}  {'max |d logp| vs single':>22}")
    med = {m: statistics.median(w) for m, w in walls.items()}
    for m in modes:
        diff = max(abs(a["answer_logp"] - b["answer_logp"]) for a, b in zip(scores[m], scores["single"]))
        print(f"{m:>8}  {med[m]:>8.2f}  {len(items) / med[m]:>8.1f}  {diff:>22.2e}")
    for th, w in gen_threads.items():
        print(f"{'generate':>8}  {w:>8.2f}  {len(gen_items) / w:>8.2f}  ({len(gen_items)} items x {args.gen_tokens} "
              f"new tokens, batch {args.batch_size}, {th} thread{'s' if th > 1 else ''}, once)")
    line = (f"teacher-forced, {len(items)} items: mind eval {len(items) / med['eval']:.1f} items/s = "
            f"{med['single'] / med['eval']:.1f}x one-at-a-time, {med['plain'] / med['eval']:.2f}x plain batches, "
            f"{med['shared'] / med['eval']:.2f}x shared-prompt batches")
    if gen_wall is not None:
        line += (f"; {(gen_wall / len(gen_items)) / (med['eval'] / len(items)):.0f}x cheaper per item than generating "
                 f"{args.gen_tokens} tokens")
    if len(gen_threads) == 2:
        (d, wd), (_, w1) = gen_threads.items()
        line += f"; generation with 1 thread {wd / w1:.2f}x the speed of {d} (load avg {os.getloadavg()[0]:.1f})"
    return line


def end_to_end(args) -> str:
    run = Path(args.end_to_end)
    parts = []
    for precision in args.precisions.split(","):
        with tempfile.TemporaryDirectory(prefix="bench-eval-") as tmp:
            copy = Path(shutil.copytree(run, Path(tmp) / run.name, ignore=shutil.ignore_patterns("eval", "analysis")))
            cmd = [sys.executable, "-m", "mind", "eval", "--run", str(copy), "--benchmarks",
                   "gsm8k,svamp,csqa,strategyqa,heldout", "--limit", str(args.limit), "--precision", precision, "--quiet",
                   *(["--threads", str(args.threads)] if args.threads else [])]
            print("$ " + " ".join(cmd[2:]), flush=True)
            t = time.perf_counter()
            res = subprocess.run(cmd, capture_output=True, text=True)
            wall = time.perf_counter() - t
            if res.returncode != 0:
                raise SystemExit(f"mind eval failed:\n{res.stderr[-3000:]}")
            print(res.stdout)
            s = json.loads((copy / "eval" / "summary.json").read_text())
            n = {b: v["n"] for b, v in s["benchmarks"].items()}
            gen = s["generated"]
            print(f"{precision}: {wall:.0f} s wall ({s['wall_s']:.0f} s inside evaluate), items {n}, generated {gen}",
                  flush=True)
            parts.append(f"{precision} {wall / 60:.1f} min")
    return (f"mind eval end to end ({args.limit} items/benchmark, base + run, threads {args.threads or 'default'}, "
            f"load avg {os.getloadavg()[0]:.1f} at the end): " + ", ".join(parts))


def train_run(out: str) -> None:
    cmd = [sys.executable, "-m", "mind", "train", "--data", "demo", "--student", "smollm2-135m", "--method", "uniform",
           "--steps", "1", "--batch-size", "1", "--out", out, "--quiet"]
    print("$ " + " ".join(cmd[2:]), flush=True)
    subprocess.run(cmd, check=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--student", default="smollm2-135m")
    ap.add_argument("--items", type=int, default=32, help="items per benchmark for part 1 (0: skip part 1)")
    ap.add_argument("--gen-items", type=int, default=16, help="items generated for the comparison (0: skip)")
    ap.add_argument("--gen-tokens", type=int, default=64, help="new tokens per generated item (no early stop)")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--end-to-end", metavar="RUN", help="also time `mind eval` on this run (fresh copy)")
    ap.add_argument("--train-run", metavar="DIR", help="first train a 1-step SmolLM2 run into DIR for --end-to-end")
    ap.add_argument("--limit", type=int, default=100, help="items per benchmark for --end-to-end")
    ap.add_argument("--precisions", default="fp32,bf16")
    ap.add_argument("--threads", type=int, default=0, help="mind eval --threads for --end-to-end (0: its default)")
    args = ap.parse_args(argv)
    lines = []
    if args.items:
        lines.append(likelihood_part(args))
    if args.train_run:
        if not (Path(args.train_run) / "checkpoints").is_dir():
            train_run(args.train_run)
        args.end_to_end = args.end_to_end or args.train_run
    if args.end_to_end:
        lines.append(end_to_end(args))
    from mind.model.precision import cpu_model

    print(f"\nsummary ({cpu_model()}): " + " | ".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
