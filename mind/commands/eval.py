"""``mind eval``: benchmark accuracy and teacher-forced likelihoods of runs (or a bare student), with 95% intervals,
forgetting, and paired comparisons of several runs on the same items."""

from __future__ import annotations

import argparse

EXAMPLES = """examples:
  mind eval --run runs/demo --benchmarks gsm8k,svamp,csqa,strategyqa,heldout --limit 100
  mind eval --run runs/mind --run runs/single --limit 100     # side by side; each run vs the first, item by item
  mind eval --student smollm2-135m --benchmarks gsm8k,heldout --heldout-from runs/mind --limit 20 --out eval/smollm2
Results go to <run>/eval/ (predictions, likelihoods, items.jsonl, summary.json; with several runs also
<first run>/eval/compare.json); rerunning resumes. Each benchmark's accuracy column is its primary metric:
acc_norm for CSQA, StrategyQA and GPQA (lm-evaluation-harness's option scoring: log p(" <option>" | "Question:
...\nAnswer:") per character), the generated answer (exact match, math-verify) for the others; the other metrics
(acc, letter, generated) are printed below it. ID/OOD averages pool the items (every item weighs the same).
95% intervals: Wilson (accuracy), bootstrap over items (log-likelihoods); paired differences and forgetting:
Newcombe interval + McNemar exact test (accuracy), paired bootstrap (log-likelihood). * marks p < 0.05.
A run is asked its questions with the prompt version it was trained with (config.json prompt_version)."""


def add_parser(sub) -> None:
    p = sub.add_parser("eval", help="evaluate runs or a student on the ID/OOD benchmarks (accuracy, likelihoods, forgetting)",
                       description="Batched evaluation on GSM8K, SVAMP, MATH500 and a run's held-out training problems "
                                   "(in-distribution) and CommonsenseQA, StrategyQA, GPQA-Diamond (out-of-distribution): "
                                   "greedy generation and answer checking, and teacher-forced log-likelihood of the gold "
                                   "answer line (no generation), with 95% intervals, forgetting against the base student "
                                   "and paired tests between runs. Prints a table laid out like the paper's main table.",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    who = p.add_argument_group("what to evaluate (one of)")
    who.add_argument("--run", action="append", default=[], metavar="RUN_DIR",
                     help="run directory (repeat to compare several runs); its latest checkpoint is evaluated")
    who.add_argument("--student", help="a student without a run: tiny, smollm2-135m, a model folder or HF id")
    p.add_argument("--out", help="output folder (required with --student; a run writes to <run>/eval)")
    p.add_argument("--benchmarks", default="gsm8k,svamp,math500,csqa,strategyqa,gpqa",
                   help="comma list of gsm8k,svamp,math500,csqa,strategyqa,gpqa,heldout (default: the six public ones; "
                        "heldout = the run's held-out training problems)")
    p.add_argument("--heldout-from", metavar="RUN_DIR",
                   help="--student only: score the held-out problems of this run as the heldout benchmark")
    p.add_argument("--limit", type=int, default=None, help="first N items of each benchmark (default: all)")
    p.add_argument("--limit-per", default="", metavar="BENCH=N,...",
                   help="per-benchmark limits overriding --limit, N or 'all' (e.g. gpqa=all: every GPQA-Diamond item)")
    p.add_argument("--max-new-tokens", type=int, default=None,
                   help="generation budget per item (default: 256 for math answers, 128 for choice and yes/no)")
    p.add_argument("--batch-size", type=int, default=16, help="prompts decoded together (default: 16)")
    p.add_argument("--precision", default="fp32", choices=("fp32", "bf16", "auto"),
                   help="generate with fp32 or bf16 weights (bf16: ~2x faster on AMX CPUs and GPUs; cached apart); "
                        "auto: bf16 where this machine computes bf16 fast (the training's probe), else fp32; "
                        "likelihoods are always fp32")
    p.add_argument("--no-stop-at-answer", action="store_true",
                   help="keep generating after the first complete 'The answer is ...' line (until EOS or the budget)")
    p.add_argument("--no-likelihood", action="store_true", help="skip the teacher-forced metrics (generation only)")
    p.add_argument("--generate", default=None, metavar="BENCHMARKS",
                   help="comma list of the benchmarks to generate for (default: all of --benchmarks); the others get "
                        "the teacher-forced metrics only (e.g. GPQA, scored by its options)")
    p.add_argument("--prompt-version", type=int, default=None,
                   help="--student only: how questions are asked (mind/data/prompting.py; default: the current "
                        "version, 2); a run uses the version it was trained with")
    p.add_argument("--data", help="benchmark folder or file (default: $MIND_DATA_DIR or ../shared/data)")
    p.add_argument("--no-base", action="store_true", help="skip the base student (no forgetting unless cached)")
    p.add_argument("--no-chat-template", action="store_true", help="--student only: plain 'Question:/Answer:' prompt")
    p.add_argument("--device", help="torch device (default: cuda when available, else cpu)")
    p.add_argument("--threads", type=int, default=0,
                   help="CPU threads for torch (default 0: torch's default, one per core); on a machine busy with "
                        "other work 1 can be several times faster (threads waiting for each other)")
    p.add_argument("--no-reference", action="store_true", help="leave the paper's rows out of the table")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from mind.errors import ConfigError
    from mind.evaluation.runner import HELDOUT, EvalSettings, evaluate

    if bool(args.run) == bool(args.student):
        raise ConfigError("pass --run RUN_DIR (one or more) or --student ID, not both and not neither")
    if args.student and not args.out:
        raise ConfigError("--out is required with --student: the folder for predictions.jsonl and summary.json")
    if args.run and args.out:
        raise ConfigError("--out applies to --student only; a run's evaluation is written to <run>/eval")
    if args.run and args.heldout_from:
        raise ConfigError("--heldout-from applies to --student only; a run is scored on its own held-out problems")
    from mind.model.precision import resolve_name  # auto: bf16 where this device computes it fast (mind/model/precision.py)

    args.precision = resolve_name(args.precision, args.device)
    if args.run and args.prompt_version is not None:
        raise ConfigError("--prompt-version applies to --student only; a run is asked with the prompt it was trained with")
    from mind.data.prompting import PROMPT_VERSION

    settings = EvalSettings(args.benchmarks, args.limit, args.max_new_tokens, args.batch_size, args.data, args.precision,
                            not args.no_stop_at_answer, not args.no_likelihood, args.generate, limits=_limits(args.limit_per),
                            chat_template=not args.no_chat_template, prompt_version=args.prompt_version or PROMPT_VERSION)
    if args.threads < 0:
        raise ConfigError(f"--threads must be >= 0, got {args.threads}; pass 0 for torch's default or e.g. --threads 1")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.run:
        from mind.evaluation.heldout import check_same_heldout, load_heldout
        from mind.run import load_run

        runs = [load_run(r) for r in args.run]  # fail on a bad run before spending time on the first one
        if len({str(r.path.resolve()) for r in runs}) != len(runs):
            raise ConfigError("the same run is given twice; pass each --run once")
        if HELDOUT in settings.benchmarks:
            load_heldout(runs[0])
            check_same_heldout(runs)
    common = dict(progress=not args.quiet, device=args.device)
    summaries: dict[str, dict] = {}
    if args.student:
        summaries[args.student] = evaluate(settings, student=args.student, out_dir=args.out,
                                           heldout_from=args.heldout_from, **common)
        written = [Path(args.out)]
    else:
        from mind.evaluation.store import share_records

        written = []
        for r in args.run:
            eval_dir = Path(r) / "eval"
            for prev in written:  # runs of one student share its base results (keys keep other students apart)
                for name in ("base_predictions.jsonl", "base_likelihoods.jsonl"):
                    eval_dir.mkdir(parents=True, exist_ok=True)
                    share_records(prev / name, eval_dir / name)
            summaries[_label(r, summaries)] = evaluate(settings, run_dir=r, base=not args.no_base, **common)
            written.append(eval_dir)
    print(report(summaries, reference=not args.no_reference))
    if len(args.run) > 1:
        comparison = compare_written(list(summaries), written)
        from mind.evaluation.table import format_paired, format_paired_rationale

        ref = list(summaries)[0]
        print("\nPaired, each run minus " + ref + " on the same items (95% interval; p, Holm-adjusted over the "
              f"{comparison['family_size']} tests; * adjusted p < 0.05):")
        print(format_paired(ref, comparison["runs"]))
        rat = format_paired_rationale(ref, comparison["runs"])
        if rat:
            print("\nRationale loss on heldout, each run minus " + ref + " (nats/token; negative = lower loss):")
            print(rat)
        print(f"comparison written to {written[0] / 'compare.json'}")
    for w in written:
        print(f"summary written to {w / 'summary.json'}")
    return 0


def _limits(text: str) -> dict | None:
    """--limit-per 'gpqa=all,csqa=50' as {benchmark: N or None}."""
    from mind.errors import ConfigError

    out = {}
    for part in filter(None, (s.strip() for s in text.split(","))):
        name, eq, value = part.partition("=")
        if not eq or not name.strip():
            raise ConfigError(f"--limit-per {part!r}: write BENCH=N or BENCH=all, e.g. --limit-per gpqa=all")
        value = value.strip().lower()
        try:
            out[name.strip()] = None if value == "all" else int(value)
        except ValueError:
            raise ConfigError(f"--limit-per {part!r}: {value!r} is not a number; write BENCH=N or BENCH=all") from None
    return out or None


def _label(run_dir, taken: dict) -> str:
    from pathlib import Path

    name = Path(run_dir).resolve().name
    return name if name not in taken else str(run_dir)


def report(summaries: dict[str, dict], reference: bool = True) -> str:
    """The printed report of one or several evaluations: accuracy table, teacher-forced metrics, forgetting."""
    from mind.evaluation.table import (METRIC_TITLES, TITLES, format_forgetting, format_likelihood, format_metrics,
                                       format_rationale, format_table, summary_intervals, summary_rows)

    rows, ivals, blocks, n = {}, {}, {}, {}
    for label, s in summaries.items():
        for k, row in summary_rows(s, label).items():
            if k not in rows:
                rows[k] = row
                ivals[k] = summary_intervals(s, label)[k]
        blocks[label] = s
        if isinstance(s.get("base"), dict):
            blocks.setdefault(f"base {s.get('student', 'student')}", s["base"])
        n.update({b: v["n"] for b, v in s["benchmarks"].items()})
    prim = {b: e.get("primary") for s in summaries.values() for b, e in s["benchmarks"].items() if e.get("primary")}
    out = ["Accuracy (%) by each benchmark's primary metric ("
           + ", ".join(f"{TITLES.get(b, b)} {METRIC_TITLES.get(m, m)}" for b, m in prim.items())
           + "); 95% Wilson intervals; ID/OOD avg: pooled over items (every item weighs the same)",
           format_table(rows, reference=reference, intervals=ivals, n=n),
           "items per benchmark: " + ", ".join(f"{b}={k}" for b, k in n.items())]
    met = format_metrics(blocks)
    if met:
        out += ["", "Every accuracy metric (%, Wilson; > = primary): acc_norm / acc = lm-evaluation-harness option "
                    "scoring (per character / summed) with its 'Question: ... Answer:' prompt; letter = the highest "
                    "'The answer is (X).' continuation with the trained prompt; generated = greedy generation", met]
    lik = format_likelihood(blocks)
    if lik:
        out += ["", "Teacher-forced, no generation: mean log p(' <gold value>.' | trained prompt, 'The answer is') "
                    "in nats (95% bootstrap interval; averages pooled over items)", lik]
    rat = format_rationale(blocks)
    if rat:
        out += ["", "Rationale loss on heldout per perspective (cross-entropy, nats/token, 95% bootstrap interval)", rat]
    fg = [format_forgetting(label, s.get("forgetting_detail")) for label, s in summaries.items()]
    fg = [f for f in fg if f]
    if fg:
        out += ["", *fg]
    return "\n".join(out)


def compare_written(labels: list[str], eval_dirs: list) -> dict:
    """Each evaluation against the first, item by item; written to ``<first>/compare.json`` and returned."""
    import time

    from mind.evaluation.compare import paired
    from mind.evaluation.items import read_items
    from mind.evaluation.stats import N_BOOT, SEED
    from mind.run import write_json_atomic

    ref = read_items(eval_dirs[0])
    runs = {}
    for label, d in zip(labels[1:], eval_dirs[1:]):
        runs[label] = {"eval_dir": str(d), **paired(ref, read_items(d))}
    out = {"reference": labels[0], "reference_eval_dir": str(eval_dirs[0]), "created": time.time(),
           "difference": "run minus reference, on the items both evaluated",
           "methods": {"accuracy": "each benchmark's primary metric (acc_norm for choice benchmarks, generated "
                                   "otherwise): Newcombe hybrid score interval, McNemar exact test",
                       "answer_logp": f"paired percentile bootstrap over items ({N_BOOT} resamples, seed {SEED})",
                       "averages": "pooled over the items of the ID / OOD benchmarks (every item weighs the same), "
                                   "the same tests"},
           "runs": runs}
    from mind.evaluation.seeds import adjust_all

    out["family_size"] = adjust_all(runs)
    out["multiplicity"] = f"Holm over the {out['family_size']} tests of this comparison; * marks p_holm < 0.05"
    write_json_atomic(eval_dirs[0] / "compare.json", out)
    return out
