"""``mind eval``: benchmark accuracy of runs (or a bare student), forgetting, and the paper-style table."""

from __future__ import annotations

import argparse

EXAMPLES = """examples:
  mind eval --run runs/demo --benchmarks gsm8k,svamp,csqa --limit 50
  mind eval --run runs/mind --run runs/single --limit 100          # side by side, one table
  mind eval --student smollm2-135m --benchmarks gsm8k --limit 20 --out eval/smollm2
Results go to <run>/eval/ (predictions.jsonl, base_predictions.jsonl, summary.json); rerunning resumes."""


def add_parser(sub) -> None:
    p = sub.add_parser("eval", help="evaluate runs or a student on the ID/OOD benchmarks (accuracy, forgetting)",
                       description="Greedy, batched evaluation on GSM8K, SVAMP, MATH500 (in-distribution) and "
                                   "CommonsenseQA, StrategyQA, GPQA-Diamond (out-of-distribution), with forgetting "
                                   "against the base student. Prints a table laid out like the paper's main table.",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    who = p.add_argument_group("what to evaluate (one of)")
    who.add_argument("--run", action="append", default=[], metavar="RUN_DIR",
                     help="run directory (repeat to compare several runs); its latest checkpoint is evaluated")
    who.add_argument("--student", help="a student without a run: tiny, smollm2-135m, a model folder or HF id")
    p.add_argument("--out", help="output folder (required with --student; a run writes to <run>/eval)")
    p.add_argument("--benchmarks", default="gsm8k,svamp,math500,csqa,strategyqa,gpqa",
                   help="comma list (default: all six)")
    p.add_argument("--limit", type=int, default=None, help="first N items of each benchmark (default: all)")
    p.add_argument("--max-new-tokens", type=int, default=256, help="generation budget per item (default: 256)")
    p.add_argument("--batch-size", type=int, default=16, help="prompts decoded together (default: 16)")
    p.add_argument("--precision", default="fp32", choices=("fp32", "bf16"),
                   help="generate with fp32 or bf16 weights (bf16: ~2x faster on AMX CPUs and GPUs; cached apart)")
    p.add_argument("--data", help="benchmark folder or file (default: $MIND_DATA_DIR or ../shared/data)")
    p.add_argument("--no-base", action="store_true", help="skip the base student (no forgetting unless cached)")
    p.add_argument("--no-chat-template", action="store_true", help="--student only: plain 'Question:/Answer:' prompt")
    p.add_argument("--device", help="torch device (default: cuda when available, else cpu)")
    p.add_argument("--no-reference", action="store_true", help="leave the paper's rows out of the table")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from mind.errors import ConfigError
    from mind.evaluate import EvalSettings, evaluate
    from mind.evaluation.table import format_table, summary_rows

    if bool(args.run) == bool(args.student):
        raise ConfigError("pass --run RUN_DIR (one or more) or --student ID, not both and not neither")
    if args.student and not args.out:
        raise ConfigError("--out is required with --student: the folder for predictions.jsonl and summary.json")
    if args.run and args.out:
        raise ConfigError("--out applies to --student only; a run's evaluation is written to <run>/eval")
    if args.run:
        from mind.run import load_run

        for r in args.run:  # fail on a bad run before spending time on the first one
            load_run(r)
    settings = EvalSettings(args.benchmarks, args.limit, args.max_new_tokens, args.batch_size, args.data, args.precision)
    common = dict(benchmarks=settings.benchmarks, limit=settings.limit, max_new_tokens=settings.max_new_tokens,
                  batch_size=settings.batch_size, data=settings.data, progress=not args.quiet, device=args.device,
                  precision=settings.precision)
    rows: dict[str, dict[str, float]] = {}
    written = []
    if args.student:
        s = evaluate(student=args.student, out_dir=args.out, chat_template=not args.no_chat_template, **common)
        rows.update(summary_rows(s, args.student))
        written.append(Path(args.out) / "summary.json")
    for r in args.run:
        s = evaluate(run_dir=r, base=not args.no_base, **common)
        for label, row in summary_rows(s, Path(r).name).items():
            rows.setdefault(label, row)
        written.append(Path(r) / "eval" / "summary.json")
        if s.get("forgetting") is not None:
            print(f"{Path(r).name}: forgetting (OOD avg after - before) = {100 * s['forgetting']:+.2f} points")
    n = {b: v["n"] for b, v in s["benchmarks"].items()}
    print(format_table(rows, reference=not args.no_reference))
    print("items per benchmark: " + ", ".join(f"{b}={k}" for b, k in n.items()))
    for w in written:
        print(f"summary written to {w}")
    return 0
