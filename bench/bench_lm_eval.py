"""Agreement with lm-evaluation-harness: the same student, the same items, scored by ``lm_eval`` and by ``mind eval``.

1. The student as a Hugging Face folder: ``mind export`` of ``--run`` (default ``cached_runs/smollm2-mind-s0``: the
   LoRA merged into SmolLM2), or ``--student`` (``smollm2-135m``: the base model folder; ``tiny``: a random tiny
   student saved to a folder; or any model folder).
2. lm-eval 0.4.13 (``lm_eval.simple_evaluate``, model ``hf``, fp32) on mind's task YAMLs
   (``mind/benchmarks/lm_eval_tasks``, written for ``--data`` with absolute paths) over the first ``--limit`` items:
   ``mind_csqa`` and ``mind_strategyqa`` (zero-shot ``Question: ...\\nAnswer:`` + each option, acc / acc_norm) and
   ``mind_gsm8k`` (greedy generation, exact match of the final number), with ``log_samples``.
3. ``mind eval`` (:func:`mind.evaluation.runner.evaluate`, teacher-forced pass only) on the same folder and items: its
   plain-format acc / acc_norm, and its own-format letter ranking.
4. Prints both harnesses' accuracies and the item-level agreement: the share of items where both pick the same
   option (raw and per character), the largest per-option log-likelihood difference, the items that differ; for
   GSM8K, lm-eval's exact match against mind's answer extractor on lm-eval's generations.

Exit status 0 when every choice item agrees (same pick, raw and normalised, and log-likelihoods within ``--tol``
nats), 1 when one does not, 2 on a bad argument (one line on stderr).

    .venv/bin/python bench/bench_lm_eval.py --limit 100                       # cached smollm2-mind-s0, all three tasks
    .venv/bin/python bench/bench_lm_eval.py --student smollm2-135m --tasks csqa --limit 100
    .venv/bin/python bench/bench_lm_eval.py --student tiny --limit 10 --out /tmp/agree --json /tmp/agree.json
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

import _env  # noqa: F401  (the repository on sys.path, the offline environment)

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")  # the task YAMLs read local JSON files; never ask the hub

DEFAULT_RUN = _env.ROOT / "cached_runs" / "smollm2-mind-s0"
INSTALL_HINT = "lm-eval is not installed; run .venv/bin/pip install -r requirements.txt (or pip install -e '.[bench]')"


class _Parser(argparse.ArgumentParser):
    """argparse, with a bad argument reported on one line (no usage block) and exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def parse_args(argv=None):
    ap = _Parser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    who = ap.add_mutually_exclusive_group()
    who.add_argument("--run", help=f"run directory to `mind export` (default: {DEFAULT_RUN.relative_to(_env.ROOT)})")
    who.add_argument("--student", help="score this student instead of an export: smollm2-135m, tiny or a model folder")
    ap.add_argument("--step", type=int, default=None, help="checkpoint step of --run to export (default: the latest)")
    ap.add_argument("--tasks", default="csqa,strategyqa,gsm8k", help="comma list of csqa,strategyqa,gsm8k")
    ap.add_argument("--limit", type=int, default=100, help="first N items of each task (default: 100)")
    ap.add_argument("--data", help="benchmark folder (default: $MIND_DATA_DIR or ../shared/data)")
    ap.add_argument("--batch-size", type=int, default=16, help="lm-eval's and mind eval's batch size (default: 16)")
    ap.add_argument("--max-gen-toks", type=int, default=256, help="GSM8K generation budget (default: 256, mind eval's)")
    ap.add_argument("--device", default=None, help="torch device (default: cuda when available, else cpu)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--tol", type=float, default=1e-3, help="largest allowed log-likelihood difference, nats (1e-3)")
    ap.add_argument("--show", type=int, default=10, help="differing items to list per task (default: 10)")
    ap.add_argument("--out", help="work folder (new or empty) for the export, task YAMLs and both evaluations "
                                  "(default: a temporary folder, deleted at the end)")
    ap.add_argument("--json", help="write the report (numbers, agreement, differing items) to this file")
    args = ap.parse_args(argv)
    for name in ("limit", "batch_size", "max_gen_toks"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.threads < 0 or not args.tol > 0 or args.show < 0:
        ap.error("--threads and --show must be >= 0 and --tol > 0")
    return args


def check_inputs(args) -> None:
    """Fail before any model loads: unknown tasks, a missing run or data file, a non-empty --out, no lm-eval."""
    from mind.benchmarks.lm_eval_tasks import data_file, resolve_tasks
    from mind.errors import ConfigError

    args.tasks = resolve_tasks(args.tasks)
    for task in args.tasks:
        data_file(task, args.data)
    if args.student is None:
        run = Path(args.run) if args.run else DEFAULT_RUN
        if not (run / "config.json").is_file():
            raise ConfigError(f"--run {run}: not a run directory (no config.json); pass a `mind train` run or "
                              "--student")
        args.run = run
    if args.out and Path(args.out).exists() and (not Path(args.out).is_dir() or any(Path(args.out).iterdir())):
        raise ConfigError(f"--out {args.out} exists and is not empty; choose a new folder")
    if args.json and Path(args.json).is_dir():
        raise ConfigError(f"--json {args.json} is a folder; give a file name")
    try:
        import lm_eval  # noqa: F401
    except ImportError:
        raise ConfigError(INSTALL_HINT) from None


def model_folder(args, work: Path) -> tuple[Path, dict]:
    """The student as a Hugging Face folder, and how mind eval should ask it its own-format questions
    (``chat_template``, ``prompt_version``: the run's, for an export)."""
    from mind.data.prompting import PROMPT_VERSION, run_prompt_version

    if args.run is not None:
        from mind.export.folder import export_run
        from mind.run import load_run

        t0 = time.perf_counter()
        res = export_run(args.run, work / "export", step=args.step)
        cfg = load_run(args.run).config
        wall = time.perf_counter() - t0
        print(f"mind export: {res.run.name} step {res.step} ({res.kind}) -> {res.out} in {wall:.1f} s")
        return res.out, {"chat_template": bool(cfg.get("chat_template", True)),
                         "prompt_version": run_prompt_version(cfg)}
    own = {"chat_template": True, "prompt_version": PROMPT_VERSION}
    if args.student == "tiny":  # random weights: save them so that both harnesses load the same folder
        from mind.model.student import load_causal_lm, load_tokenizer

        tok = load_tokenizer("tiny")
        folder = work / "tiny"
        load_causal_lm("tiny", tok, seed=0).save_pretrained(folder)
        tok.save_pretrained(folder)
        return folder, own
    from mind.model.student import resolve_student_path

    folder = Path(resolve_student_path(args.student))
    if not (folder / "config.json").is_file():
        from mind.errors import ConfigError

        raise ConfigError(f"--student {args.student}: not a model folder (no config.json); pass smollm2-135m, tiny "
                          "or a Hugging Face model folder (e.g. a `mind export`)")
    return folder, own


def run_lm_eval(args, folder: Path, tasks_dir: Path) -> tuple[dict, float]:
    """lm-eval's results and logged samples for the tasks, and its wall time."""
    import lm_eval
    from lm_eval.tasks import TaskManager

    t0 = time.perf_counter()
    res = lm_eval.simple_evaluate(
        model="hf", model_args={"pretrained": str(folder), "dtype": "float32", "device": args.device},
        tasks=list(args.tasks), limit=args.limit, batch_size=args.batch_size, log_samples=True, bootstrap_iters=0,
        task_manager=TaskManager(include_path=str(tasks_dir), include_defaults=False),
        gen_kwargs={"max_gen_toks": args.max_gen_toks})  # read by generate_until tasks only
    return res, time.perf_counter() - t0


def run_mind_eval(args, folder: Path, work: Path, own: dict, benchmarks: list[str]) -> tuple[dict, float]:
    """mind eval's teacher-forced records {benchmark: {id: record}} of the same items, and its wall time."""
    from mind.evaluation.runner import evaluate
    from mind.run import read_jsonl

    t0 = time.perf_counter()
    out = work / "mind_eval"
    evaluate(student=str(folder), out_dir=out, benchmarks=benchmarks, limit=args.limit, generate=(), data=args.data,
             batch_size=args.batch_size, device=args.device, **own)
    records: dict[str, dict] = {b: {} for b in benchmarks}
    for r in read_jsonl(out / "likelihoods.jsonl"):  # a fresh folder: one record per item
        records[str(r["benchmark"])][str(r["id"])] = r
    return records, time.perf_counter() - t0


def _f(x) -> str:
    return "-" if x is None or x != x else f"{x:.3f}"


def report_choice(task: str, cmp: dict, tol: float, show: int) -> bool:
    """Print one choice task's numbers; True when every item agrees within ``tol``."""
    ok = cmp["same_pred"] == 1.0 and cmp["same_pred_norm"] == 1.0 and cmp["same_options"] \
        and cmp["max_abs_logp_diff"] <= tol
    lm, ours, letter = cmp["lm_eval"], cmp["mind"], cmp["letter"]
    print(f"\n{task} ({cmp['n']} items)")
    print(f"  lm-eval    acc {_f(lm['acc'])}  acc_norm {_f(lm['acc_norm'])}")
    print(f"  mind eval  acc {_f(ours['acc'])}  acc_norm {_f(ours['acc_norm'])}   (plain format: the harness's prompt)")
    print(f"  same option: {_f(cmp['same_pred'])} (acc), {_f(cmp['same_pred_norm'])} (acc_norm); "
          f"max |dlogp| {cmp['max_abs_logp_diff']:.2e} nats -> {'AGREE' if ok else 'DISAGREE'} (tol {tol:g})")
    if cmp["differ"]:
        print(f"  differing items: {', '.join(cmp['differ'][:show])}")
    line = "'The answer is yes.' / 'no.'" if task == "mind_strategyqa" else "'The answer is (X).'"
    print(f"  mind's own format (trained prompt, {line} ranked): acc {_f(letter['acc'])}, "
          f"same option as lm-eval on {_f(letter['same_as_lm_eval'])} of the items")
    if letter["differ"] and show:
        print(f"    differs on {len(letter['differ'])}: {', '.join(letter['differ'][:show])}"
              f"{' ...' if len(letter['differ']) > show else ''}")
    return ok


def report_generation(task: str, cmp: dict, show: int) -> None:
    """Print one generation task's numbers and the items whose verdicts differ."""
    print(f"\n{task} ({cmp['n']} items, lm-eval's generations)")
    print("  lm-eval    exact_match " + ", ".join(f"{f} {_f(v)}" for f, v in cmp["lm_eval"].items()))
    print(f"  mind       extractor on the same texts: accuracy {_f(cmp['mind']['accuracy'])}")
    print("  same verdict: " + ", ".join(f"{f} {_f(v)}" for f, v in cmp["agree"].items())
          + f"; on the {cmp['comparable']} items where both extracted the same number: {_f(cmp['comparable_agree'])}")
    for d in cmp["differ"][:show]:
        print(f"    doc {d['doc_id']}: gold {d['gold']}, lm-eval {d['lm_eval']!r} ({d['lm_eval_correct']}), "
              f"mind {d['mind']!r} ({d['mind_correct']})")


def main(argv=None) -> int:
    args = parse_args(argv)
    from mind.errors import MindError

    # SIGTERM exits through the with-block below, so a killed bench still deletes its temporary export (~0.5 GB)
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143)) if main_thread else None
    try:
        check_inputs(args)
        import torch

        if args.threads:
            torch.set_num_threads(args.threads)
        args.device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
        if args.out:
            Path(args.out).mkdir(parents=True, exist_ok=True)
            return run(args, Path(args.out))
        with tempfile.TemporaryDirectory(prefix="bench_lm_eval_") as tmp:
            return run(args, Path(tmp))
    except MindError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


def run(args, work: Path) -> int:
    """Export, both harnesses, the comparison and the report (see the module docstring)."""
    from mind.benchmarks.lm_eval_tasks import CHOICE_TASKS, TASKS, write_task_configs
    from mind.benchmarks.lm_eval_tasks.agreement import compare_choices, compare_generations, lm_choice_rows, \
        lm_generation_rows

    t_all = time.perf_counter()
    folder, own = model_folder(args, work)
    write_task_configs(work / "tasks", args.data, args.tasks)
    res, t_lm = run_lm_eval(args, folder, work / "tasks")
    print(f"lm-eval: {', '.join(args.tasks)} on {folder} in {t_lm:.1f} s")
    choice = [t for t in args.tasks if t in CHOICE_TASKS]
    ours, t_mind = ({}, 0.0)
    if choice:
        ours, t_mind = run_mind_eval(args, folder, work, own, [TASKS[t][0] for t in choice])
        print(f"mind eval: {', '.join(TASKS[t][0] for t in choice)} in {t_mind:.1f} s "
              f"(own format: prompt version {own['prompt_version']}, chat template {own['chat_template']})")
    report = {"student": str(args.run or args.student), "folder": str(folder), "limit": args.limit,
              "device": args.device, "wall_s": {"lm_eval": t_lm, "mind_eval": t_mind}, "tasks": {}}
    ok = True
    for task in args.tasks:
        samples = res["samples"][task]
        if task in CHOICE_TASKS:
            cmp = compare_choices(lm_choice_rows(samples), ours[TASKS[task][0]])
            ok &= report_choice(task, cmp, args.tol, args.show)
        else:
            cmp = compare_generations(lm_generation_rows(samples))
            report_generation(task, cmp, args.show)
            keep = ("doc_id", "gold", "extracted", "exact_match", "mind_extracted", "mind_correct", "comparable")
            cmp["rows"] = [{**{k: r[k] for k in keep}, "text": r["text"][:400]} for r in cmp["rows"]]
        report["tasks"][task] = cmp
    report["wall_s"]["total"] = time.perf_counter() - t_all
    report["agree"] = ok
    print(f"\ntotal {report['wall_s']['total']:.1f} s; choice tasks {'agree' if ok else 'DISAGREE'} item by item")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, default=str) + "\n", encoding="utf-8")
        print(f"report: {args.json}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
