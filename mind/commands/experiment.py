"""``mind experiment``: the paper's experiments, one command each, writing their runs and a summary table."""

from __future__ import annotations

import argparse
from pathlib import Path

# The recipe behind cached_runs/ (`make cached-runs`), sized for 2 CPU cores; each run's card.json has its commands.
# SmolLM2: 3 epochs of 32 demo training problems, 2 problems per step, a snapshot (and held-out tracking) once per
# epoch; 48 of the demo set's 96 problems are held out (tracking and `mind eval`'s heldout on 48, not 16), the
# remaining 48 give the first 32 to train on. Every method trains on the same problems; a seed sets the data order and
# the LoRA/MetaNet initialisation (TrainConfig.seed). Three seeds for the main methods, one for the other
# ablations. fp32 for every method on every machine, so that no comparison mixes precisions across sittings (on an
# AVX2-only EPYC bf16 is ~50x slower; on an AMX Xeon it is faster but changes the numbers).
CACHED_SMOLLM2 = ["--steps", "48", "--batch-size", "2", "--snapshot-every", "16", "--probe-problems", "8",
                  "--checkpoint-every", "16", "max_problems=32", "holdout=48", "precision=fp32"]
CACHED_METHODS = ("mind", "uniform", "instant", "single", "no-attention", "uniform-consistency")
CACHED_SEEDS = {"mind": (0, 1, 2), "uniform": (0, 1, 2), "instant": (0, 1, 2), "single": (0, 1, 2),
                "no-attention": (0,), "uniform-consistency": (0,)}
CACHED_TINY = ["--preset", "demo", "precision=fp32"]  # fp32: reproducible on any CPU (tests re-run it)
# The paper's seven columns: the first 100 items of each public benchmark (every GPQA-Diamond item, 198, scored by
# its options only: a 135M student does not generate GPQA answers worth the time), the 48 held-out problems.
CACHED_EVAL = ["--benchmarks", "gsm8k,svamp,math500,csqa,strategyqa,gpqa,heldout", "--limit", "100",
               "--limit-per", "gpqa=all", "--generate", "gsm8k,svamp,math500,csqa,strategyqa,heldout",
               "--batch-size", "16", "--precision", "auto"]  # bf16 generation where it is fast (teacher-forced: fp32)
# RQ4: one single-perspective SmolLM2 student per perspective, one epoch each.
CACHED_SEPARATION = ["--steps", "40", "--batch-size", "2", "--snapshot-every", "0", "--probe-problems", "8",
                     "--checkpoint-every", "0", "--seed", "0"]
# Real teacher text: the multi-teacher SVAMP rationales (GPT-4o, Gemini, Llama, human), `mind` against `uniform`
# (three seeds each) and `instant` (g = 0) on 64 problems for 3 epochs, 48 other problems held out, evaluated on
# the 300 SVAMP questions outside that corpus.
CACHED_MT = ["--steps", "96", "--batch-size", "2", "--snapshot-every", "32", "--probe-problems", "8",
             "--checkpoint-every", "32", "max_problems=64", "holdout=48", "precision=fp32"]
CACHED_MT_METHODS = ("mind", "uniform", "instant")
CACHED_MT_SEEDS = {"mind": (0, 1, 2), "uniform": (0, 1, 2), "instant": (0,)}
CACHED_MT_EVAL = ["--benchmarks", "svamp,heldout", "--limit", "300", "--batch-size", "16", "--precision", "auto"]
CACHED_ANALYZE = ("--text",)  # Sentence-BERT text clusters beside the hidden states': style separable before training
CACHED_PARTS = ("tiny", "smollm2", "separation", "multi-teacher")


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
        if name == "compare":
            e.add_argument("--seeds", default="0", help="comma-separated seeds; every method is trained once per seed "
                                                      "(runs <method>-s<seed>; the seed sets the data order and the "
                                                      "LoRA/MetaNet initialisation), and results aggregate over seeds")
        else:
            e.add_argument("--seed", type=int, default=0)
        if name == "compare":
            e.add_argument("--methods", default=",".join(("mind", "single", "uniform", "uniform-consistency", "instant", "no-attention")),
                           help="comma-separated methods")
            e.add_argument("--stages", default="train,analyze,eval", help="which of train,analyze,eval to run")
            e.add_argument("--eval-args", default="--benchmarks gsm8k,svamp,csqa,strategyqa --limit 20",
                           help="arguments passed to `mind eval`")
        else:
            e.add_argument("--perspectives", default="", help="comma-separated ids (default: all in the data)")
            e.add_argument("--center", choices=("problem", "none"), default="problem",
                           help="subtract each problem's mean state over the students before clustering (default, as "
                                "in mind analyze: raw states cluster by problem) or cluster raw states")
        e.add_argument("train_args", nargs="*", metavar="key=value", help="extra training options for every run")
        e.set_defaults(func=run)
    c = esub.add_parser("cached-runs", help="regenerate cached_runs/ (the small experiment shipped with mind)",
                        description="Regenerate the runs shipped in cached_runs/: a tiny-student run (the demo preset); "
                                    f"the embedded SmolLM2-135M-Instruct trained with {', '.join(CACHED_METHODS)} for 3 "
                                    "epochs of 32 demo problems (three seeds for mind, uniform, instant and single, one "
                                    "for the others) and evaluated with intervals; the separation experiment "
                                    "(one SmolLM2 student per perspective); and mind, uniform (three seeds each) and "
                                    "instant on the real multi-teacher SVAMP rationales. Finished runs are skipped; "
                                    "interrupted ones resume.")
    c.add_argument("--out", default="cached_runs")
    c.add_argument("--stages", default="train,analyze,eval")
    c.add_argument("--parts", default=",".join(CACHED_PARTS),
                   help=f"which experiments, in this order: {', '.join(CACHED_PARTS)} (default: all)")
    c.add_argument("--skip-smollm2", action="store_true", help="only the tiny run (under a minute); same as --parts tiny")
    c.set_defaults(func=run_cached)


def run(args) -> int:
    from mind import experiment

    out = Path(args.out)
    if args.experiment == "compare":
        methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
        table = experiment.compare(out, data=args.data, student=args.student, methods=methods,
                                   train_args=["--steps", str(args.steps), *args.train_args], seeds=_seeds(args.seeds),
                                   stages=tuple(args.stages.split(",")), eval_args=args.eval_args.split())
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        _print_paired(table.attrs.get("paired"))
    else:
        from mind.data import perspectives_in
        from mind.training.sets import load_training_set

        train_args = ["--steps", str(args.steps), "--seed", str(args.seed), *args.train_args]
        persp = [p for p in args.perspectives.split(",") if p] or list(perspectives_in(load_training_set(args.data)))
        res = experiment.separation(out, data=args.data, student=args.student, train_args=train_args, perspectives=persp,
                                  center=args.center)
        print(" ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in res.items() if k != "perspectives"))
    return 0


def run_cached(args) -> int:
    """Regenerate cached_runs/ part by part; finished runs are skipped, so an interrupted call picks up where it
    stopped (a run killed mid-way resumes from its last checkpoint)."""
    from mind import experiment
    from mind.data import perspectives_in
    from mind.training.sets import load_training_set

    out = Path(args.out)
    stages = tuple(args.stages.split(","))
    parts = ("tiny",) if args.skip_smollm2 else tuple(p.strip() for p in args.parts.split(",") if p.strip())
    unknown = sorted(set(parts) - set(CACHED_PARTS))
    if unknown:
        from mind.errors import ConfigError

        raise ConfigError(f"--parts {','.join(unknown)} unknown; use some of {','.join(CACHED_PARTS)}")
    if "tiny" in parts:
        experiment.compare(out, data="demo", student="tiny", methods=("mind",), train_args=CACHED_TINY,
                           stages=tuple(s for s in stages if s != "eval"), eval_args=[], prefix="tiny-",
                           analyze_args=CACHED_ANALYZE)
    if "smollm2" in parts:
        table = experiment.compare(out, data="demo", student="smollm2-135m", methods=CACHED_METHODS,
                                   seeds_for=CACHED_SEEDS, train_args=CACHED_SMOLLM2, stages=stages,
                                   eval_args=CACHED_EVAL, prefix="smollm2-", analyze_args=CACHED_ANALYZE)
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        _print_paired(table.attrs.get("paired"))
    if "separation" in parts and "train" in stages:
        persp = list(perspectives_in(load_training_set("demo")))
        res = experiment.separation(out / "smollm2-separation", data="demo", student="smollm2-135m",
                                    train_args=CACHED_SEPARATION, perspectives=persp)
        print("separation:", " ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in res.items()
                                      if k != "perspectives"))
    if "multi-teacher" in parts:
        table = experiment.compare(out, data="svamp-multi-teacher", student="smollm2-135m", methods=CACHED_MT_METHODS,
                                   seeds_for=CACHED_MT_SEEDS, train_args=CACHED_MT, stages=stages,
                                   eval_args=CACHED_MT_EVAL, prefix="svamp-mt-", analyze_args=CACHED_ANALYZE)
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        _print_paired(table.attrs.get("paired"))
    for run_dir in [*out.glob("*/"), *out.glob("*/*/")]:  # the second level: the separation students
        if (run_dir / "config.json").exists() and load_run_state(run_dir) == "finished":
            experiment.prune_for_shipping(run_dir, **shipping_policy(run_dir, out))
    return 0


def shipping_policy(run_dir: Path, out: Path) -> dict[str, bool]:
    """What a finished run of the recipe keeps when it ships (:func:`mind.experiment.prune_for_shipping`): seed 0
    of every method keeps its final adapter and MetaNet (export it, re-evaluate it); the
    other seeds (``-s1``, ``-s2``) keep what the seed-level tables and pages read (steps, tracking, snapshots,
    analysis, evaluation) but no weights and no raw base-model records, which keeps 16 SmolLM2 runs inside the
    repository's size budget; the separation students (one level down) keep no weights either."""
    import re

    top = run_dir.parent.resolve() == out.resolve()
    seed = re.search(r"-s(\d+)$", run_dir.name)
    later_seed = seed is not None and int(seed.group(1)) > 0
    return {"keep_weights": top and not later_seed, "keep_base_records": not later_seed}


def load_run_state(run_dir: Path) -> str:
    from mind.run import load_run

    try:
        return load_run(run_dir).state
    except Exception:  # noqa: BLE001 - unreadable: not finished
        return "unknown"


def _seeds(text: str) -> tuple[int, ...]:
    from mind.errors import ConfigError

    try:
        seeds = tuple(dict.fromkeys(int(s) for s in text.split(",") if s.strip()))
    except ValueError:
        raise ConfigError(f"--seeds {text!r}: give comma-separated integers, e.g. --seeds 0,1,2") from None
    if not seeds:
        raise ConfigError("--seeds is empty; give at least one seed, e.g. --seeds 0")
    return seeds


def _print_paired(paired: dict | None) -> None:
    """Per seed, each method minus the first, item by item (mind eval's paired table)."""
    if not paired:
        return
    from mind.evaluation.table import format_paired

    for seed, block in paired.get("seeds", {}).items():
        ref = block["reference"]
        print(f"\nSeed {seed}: paired, each run minus {ref} on the same items (95% interval; Holm over the "
              f"{paired.get('family_size', '?')} tests of every seed; * adjusted p < 0.05):")
        print(format_paired(ref, block["runs"]))
