"""``mind experiment``: the paper's experiments, one command each, writing their runs and a summary table."""

from __future__ import annotations

import argparse
from pathlib import Path

# The recipe behind cached_runs/ (`make cached-runs`). Small enough for 2 CPU cores; see each run's card.json.
CACHED_SMOLLM2 = ["--steps", "16", "--batch-size", "1", "--snapshot-every", "8", "--probe-problems", "8",
                  "--checkpoint-every", "0", "--seed", "0"]
CACHED_TINY = ["--steps", "24", "--batch-size", "2", "--snapshot-every", "4", "--probe-problems", "16", "--seed", "0",
               "--finetune", "full", "--lr", "1e-3"]
CACHED_METHODS = ("mind", "single", "uniform", "uniform-consistency")
CACHED_EVAL = ["--benchmarks", "gsm8k,svamp,csqa,strategyqa", "--limit", "8", "--max-new-tokens", "128", "--batch-size", "8"]


def add_parser(sub) -> None:
    p = sub.add_parser("experiment", help="run a paper experiment (compare, separation, cached-runs)",
                       description="Paper experiments. Every stage calls `mind train/analyze/eval`; finished runs are "
                                   "reused, so an interrupted experiment can simply be rerun.",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    esub = p.add_subparsers(dest="experiment", metavar="EXPERIMENT", required=True)
    for name, help_ in (("compare", "the same student and data trained with every method, then analyzed and evaluated"),
                        ("separation", "one single-perspective student per perspective; are they separate clusters? (RQ4)")):
        e = esub.add_parser(name, help=help_, description=help_)
        e.add_argument("--data", default="demo", help="multi-perspective dataset (default: the bundled demo set)")
        e.add_argument("--student", default="tiny", help="tiny, smollm2-135m, or a HF id / folder")
        e.add_argument("--out", required=True, help="folder for the runs and the summary")
        e.add_argument("--steps", type=int, default=20, help="training steps per run")
        e.add_argument("--seed", type=int, default=0)
        if name == "compare":
            e.add_argument("--methods", default=",".join(("mind", "single", "uniform", "uniform-consistency", "instant", "no-attention")),
                           help="comma-separated methods")
            e.add_argument("--stages", default="train,analyze,eval", help="which of train,analyze,eval to run")
            e.add_argument("--eval-args", default="--benchmarks gsm8k,svamp,csqa,strategyqa --limit 20",
                           help="arguments passed to `mind eval`")
        else:
            e.add_argument("--perspectives", default="", help="comma-separated ids (default: all in the data)")
        e.add_argument("train_args", nargs="*", metavar="key=value", help="extra training options for every run")
        e.set_defaults(func=run)
    c = esub.add_parser("cached-runs", help="regenerate cached_runs/ (SmolLM2 x 4 methods + one tiny run)",
                        description="Regenerate the runs shipped in cached_runs/: the embedded SmolLM2-135M-Instruct "
                                    f"trained with {', '.join(CACHED_METHODS)} on the demo set, and a tiny-student run.")
    c.add_argument("--out", default="cached_runs")
    c.add_argument("--stages", default="train,analyze,eval")
    c.add_argument("--skip-smollm2", action="store_true", help="only the tiny run (seconds)")
    c.set_defaults(func=run_cached)


def run(args) -> int:
    from mind import experiment

    out = Path(args.out)
    train_args = ["--steps", str(args.steps), "--seed", str(args.seed), *args.train_args]
    if args.experiment == "compare":
        methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
        table = experiment.compare(out, data=args.data, student=args.student, methods=methods, train_args=train_args,
                                   stages=tuple(args.stages.split(",")), eval_args=args.eval_args.split())
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        _print_paired(table.attrs.get("paired"))
    else:
        from mind.data import load_problems, perspectives_in

        persp = [p for p in args.perspectives.split(",") if p] or list(perspectives_in(load_problems(args.data)))
        res = experiment.separation(out, data=args.data, student=args.student, train_args=train_args, perspectives=persp)
        print(" ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in res.items() if k != "perspectives"))
    return 0


def run_cached(args) -> int:
    from mind import experiment

    out = Path(args.out)
    stages = tuple(args.stages.split(","))
    experiment.compare(out, data="demo", student="tiny", methods=("mind",), train_args=CACHED_TINY,
                       stages=tuple(s for s in stages if s != "eval"), eval_args=[], prefix="tiny-")
    if not args.skip_smollm2:
        table = experiment.compare(out, data="demo", student="smollm2-135m", methods=CACHED_METHODS,
                                   train_args=CACHED_SMOLLM2, stages=stages, eval_args=CACHED_EVAL, prefix="smollm2-")
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        _print_paired(table.attrs.get("paired"))
    for run_dir in out.glob("*/"):
        if (run_dir / "config.json").exists():
            experiment.prune_for_shipping(run_dir)
    return 0


def _print_paired(paired: dict | None) -> None:
    """Each method minus the first, item by item (mind eval's paired table)."""
    if not paired:
        return
    from mind.evaluation.table import format_paired

    ref = paired["reference"]
    print(f"\nPaired, each run minus {ref} on the same items (95% interval; * p < 0.05):")
    print(format_paired(ref, paired["runs"]))
