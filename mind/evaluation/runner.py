"""``evaluate``: a trained run (or any student) on the paper's benchmarks and the run's held-out problems, with
intervals, teacher-forced likelihood metrics and forgetting.

For a run directory the student is rebuilt exactly as training built it (``config.json``: student, seed, finetune,
chat_template), its latest checkpoint is applied (LoRA adapter merged, or full weights), and every item is asked
with the same prompt as training (:func:`mind.data.prompting.prompt_ids` on the question and its lettered options).
Each model (the base student, then the trained one) goes through two passes:

1. teacher-forced, no generation (:mod:`mind.evaluation.likelihood`, fp32): the log-likelihood of the gold answer
   line, the option ranking of choice benchmarks, and on ``heldout`` the per-perspective rationale loss;
2. greedy batched generation (:mod:`mind.evaluation.decode`; bf16 on a bf16 copy with ``precision="bf16"``),
   stopping after the first complete answer line (``stop_at_answer``); answers are extracted and checked with
   :mod:`mind.benchmarks.answers`.

Results go to ``<run>/eval/`` (or ``out_dir`` for a bare student)::

    predictions.jsonl, base_predictions.jsonl   one line per generated item (append-only; resumable)
    likelihoods.jsonl, base_likelihoods.jsonl   one line per teacher-forced item (append-only; resumable)
    items.jsonl                                 every metric of every item of this evaluation (mind.evaluation.items)
    summary.json                                per benchmark and averaged, with 95% intervals; base; forgetting

Intervals (:mod:`mind.evaluation.stats`, all 95%): Wilson for an accuracy and MOVER over Wilson for an average of
accuracies; percentile bootstrap over items for mean log-likelihoods and rationale losses (resampling within each
benchmark for averages). Forgetting is the OOD average after distillation minus the base student's on the same
items, on accuracy (per benchmark: Newcombe interval, McNemar's exact test; averaged: MOVER, p by inversion) and on
answer log-likelihood (paired bootstrap). An interrupted evaluation resumes:
items already in a file (for the same checkpoint and settings) are not computed again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from mind.errors import ConfigError, RunDirError
from mind.evaluation.store import PredictionStore
from mind.data.prompting import PROMPT_VERSION, check_version, run_prompt_version
from mind.evaluation.table import ID_BENCHMARKS, OOD_BENCHMARKS

ALL_BENCHMARKS = ("gsm8k", "svamp", "math500", "csqa", "strategyqa", "gpqa")
HELDOUT = "heldout"
KNOWN_BENCHMARKS = (*ALL_BENCHMARKS, HELDOUT)
_ALIASES = {"commonsenseqa": "csqa", "gpqadiamond": "gpqa", "math": "math500", "holdout": HELDOUT}
# Default generation budget by answer type: worked math needs room, a choice or yes/no answer much less.
BUDGETS = {"number": 256, "math": 256, "choice": 128, "yesno": 128}


def resolve_benchmarks(names) -> tuple[str, ...]:
    """Canonical benchmark names (aliases such as ``gpqa-diamond`` accepted, duplicates dropped, order kept)."""
    if isinstance(names, str):
        names = [n for n in names.split(",") if n.strip()]
    out: list[str] = []
    for name in names or ():
        key = str(name).strip().lower().replace("-", "").replace("_", "")
        key = _ALIASES.get(key, key)
        if key not in KNOWN_BENCHMARKS:
            raise ConfigError(f"benchmark {str(name).strip()!r} is unknown; use a comma list of {','.join(KNOWN_BENCHMARKS)}")
        if key not in out:
            out.append(key)
    if not out:
        raise ConfigError(f"no benchmark given; pass e.g. --benchmarks {','.join(ALL_BENCHMARKS)}")
    return tuple(out)


@dataclass(frozen=True)
class EvalSettings:
    benchmarks: tuple[str, ...] = ALL_BENCHMARKS  # which benchmarks, canonical names (heldout: the run's held-out problems)
    limit: int | None = None  # first N items of each benchmark (None: all)
    max_new_tokens: int | None = None  # generation budget per item (None: BUDGETS by answer type, 256 for math)
    batch_size: int = 16  # prompts decoded (and items scored) together
    data: str | None = None  # benchmark file/folder (default: $MIND_DATA_DIR or ../shared/data, then the hub)
    precision: str = "fp32"  # or "bf16": generate with bf16 weights (predictions are cached apart from fp32 ones)
    stop_at_answer: bool = True  # end a generation after its first complete "The answer is ..." line
    likelihood: bool = True  # the teacher-forced pass (answer log-likelihood, option scoring, rationale loss)
    generate: tuple[str, ...] | None = None  # benchmarks to generate for (None: all; the others are scored only)
    limits: dict | None = None  # {benchmark: N or None (all)} overriding ``limit`` for those benchmarks
    # a bare student only (a run uses its own config.json):
    chat_template: bool = True  # wrap questions in the tokenizer's chat template
    seed: int = 0  # the seed of a 'tiny' student's random weights
    prompt_version: int = PROMPT_VERSION  # how questions are asked (mind/data/prompting.py)

    def __post_init__(self):
        object.__setattr__(self, "benchmarks", resolve_benchmarks(self.benchmarks))
        if self.generate is not None:
            gen = resolve_benchmarks(self.generate) if self.generate else ()
            unknown = [b for b in gen if b not in self.benchmarks]
            if unknown:
                raise ConfigError(f"--generate {','.join(unknown)}: not among --benchmarks {','.join(self.benchmarks)}")
            object.__setattr__(self, "generate", gen)
        if self.precision not in ("fp32", "bf16"):
            raise ConfigError(f"precision must be fp32 or bf16, got {self.precision!r}; pass --precision bf16")
        check_version(self.prompt_version)
        if self.limits:
            names = resolve_benchmarks(list(self.limits))
            for b, v in zip(names, self.limits.values()):
                if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
                    raise ConfigError(f"--limit-per {b}={v!r}: give an integer >= 1 or 'all'")
            object.__setattr__(self, "limits", dict(zip(names, self.limits.values())))
        for name, value, lo in (("limit", self.limit, 1), ("max_new_tokens", self.max_new_tokens, 1),
                                ("batch_size", self.batch_size, 1)):
            if value is None and name in ("limit", "max_new_tokens"):
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < lo:
                raise ConfigError(f"{name} must be an integer >= {lo}, got {value!r}; pass --{name.replace('_', '-')} N")

    def limit_for(self, benchmark: str) -> int | None:
        """Items of ``benchmark`` to take: its ``limits`` entry when it has one, else ``limit``."""
        return self.limits[benchmark] if self.limits and benchmark in self.limits else self.limit

    def generates(self, benchmark: str) -> bool:
        return self.generate is None or benchmark in self.generate

    def budget(self, answer_type: str) -> int:
        """max_new_tokens for an item with this answer type."""
        return self.max_new_tokens or BUDGETS.get(answer_type, 256)


# ------------------------------------------------------------------------------------------------ models


def _device(device: str | None) -> str:
    import torch

    return device or ("cuda" if torch.cuda.is_available() else "cpu")


# ------------------------------------------------------------------------------------------------ entry point


def load_items(settings: EvalSettings, heldout) -> dict:
    """{benchmark: items} for the settings (heldout from ``heldout``, a HeldoutSource)."""
    from mind.benchmarks import load_benchmark

    return {b: heldout.items(settings.limit_for(b)) if b == HELDOUT
            else load_benchmark(b, path=settings.data, limit=settings.limit_for(b))
            for b in settings.benchmarks}


@dataclass
class Target:
    """What one evaluation scores: the student rebuilt as its run trained it (or a bare student), where results
    go, and the held-out problems when the heldout benchmark is asked for."""

    student: str
    seed: int
    chat_template: bool
    prompt_version: int
    out: Path
    run: object = None  # the Run, or None for a bare student
    step: int | None = None
    ckpt: Path | None = None
    finetune: str = "lora"
    heldout: object = None  # HeldoutSource

    @property
    def name(self) -> str:
        return self.run.name if self.run is not None else self.student


def evaluate(settings: EvalSettings | None = None, *, run_dir: str | Path | None = None, student: str | None = None,
             out_dir: str | Path | None = None, base: bool = True, heldout_from: str | Path | None = None,
             device: str | None = None, progress: bool = True, **options) -> dict:
    """Evaluate a run's latest checkpoint (``run_dir``) or a bare ``student`` and return the summary dict.

    ``settings`` (or the :class:`EvalSettings` fields as keyword ``options``; ``precision="auto"`` is resolved for
    ``device``) say what to score. ``base`` (runs only) also evaluates the base student for forgetting; with
    ``base=False`` a base evaluation already cached for the same items and settings is still reported. A run is
    asked its questions with the prompt version it was trained with (config.json; 1 for runs made before versions),
    and so is its base student. The ``heldout`` benchmark takes a run's held-out problems: the run's own, or for a
    bare student those of ``heldout_from``. ``precision="bf16"`` generates with a bf16 copy of the weights; the
    teacher-forced metrics are always computed in fp32. ``likelihood=False`` skips the teacher-forced pass.
    """
    from mind.model.precision import resolve_name  # precision="auto": bf16 where this device computes it fast

    if settings is None:
        options["precision"] = resolve_name(options.get("precision", "fp32"), device)
        settings = EvalSettings(**options)
    elif options:
        raise ConfigError(f"pass either settings or options, not both ({', '.join(options)})")
    target = _target(settings, run_dir, student, out_dir, heldout_from, progress)
    t0 = time.time()
    items = load_items(settings, target.heldout)
    stores, counts = _run_passes(settings, target, items, base=base and target.run is not None, device=_device(device),
                                 progress=progress)
    result = _summary(settings, target, items, stores, counts, time.time() - t0)
    from mind.run import write_json_atomic

    write_json_atomic(target.out / "summary.json", result)
    return result


def _target(settings: EvalSettings, run_dir, student, out_dir, heldout_from, progress: bool) -> Target:
    """Resolve what to evaluate: a run (its config and latest checkpoint) or a bare student."""
    import sys

    from mind.model.checkpoint import checkpoint_at
    from mind.run import load_run

    if (student is None) == (run_dir is None):
        raise ConfigError("pass exactly one of --run RUN_DIR or --student ID")
    if run_dir is not None:
        if heldout_from is not None:
            raise ConfigError("--heldout-from applies to --student only; a run is scored on its own held-out problems")
        run = load_run(run_dir)
        cfg = run.config
        if not cfg.get("student"):
            raise RunDirError(f"{run.path}/config.json has no 'student'; re-run the training")
        version = run_prompt_version(cfg)
        if version != PROMPT_VERSION and progress:
            print(f"note: {run.name} was trained with prompt version {version} (mind/data/prompting.py); its questions "
                  f"are asked that way, and so are its base student's", file=sys.stderr)
        step, ckpt = checkpoint_at(run, purpose="evaluate")
        target = Target(str(cfg["student"]), int(cfg.get("seed", 0)), bool(cfg.get("chat_template", True)), version,
                        run.path / "eval", run, step, ckpt, str(cfg.get("finetune", "lora")))
    else:
        if out_dir is None:
            raise ConfigError("--out is required with --student: the folder to write predictions and summary.json to")
        target = Target(student, settings.seed, settings.chat_template, settings.prompt_version, Path(out_dir))
    if HELDOUT in settings.benchmarks:
        from mind.evaluation.heldout import load_heldout

        source = target.run if target.run is not None else (load_run(heldout_from) if heldout_from is not None else None)
        if source is None:
            raise ConfigError("benchmark heldout with --student needs --heldout-from RUN_DIR: the run whose held-out "
                              "problems to score")
        target.heldout = load_heldout(source)
    return target


def _run_passes(settings: EvalSettings, target: Target, items: dict, base: bool, device: str, progress: bool):
    """The teacher-forced and generation passes of the base student (``base``) and then the trained one, each
    resumable through its store. Returns ({model: (generation store, likelihood store)}, {generated, scored})."""
    from mind.data.prompting import prompt_ids
    from mind.evaluation.passes import generate_pending, score_pending, store_keys
    from mind.model.checkpoint import apply_checkpoint
    from mind.model.student import load_causal_lm, load_tokenizer

    tok = load_tokenizer(target.student)
    prompts = {(b, it.id): prompt_ids(tok, it.prompt_text(), target.chat_template, it.answer_type, target.prompt_version)
               for b, its in items.items() for it in its}
    common = dict(student=target.student, seed=target.seed if target.student == "tiny" else None,
                  chat_template=target.chat_template)
    if target.prompt_version != 1:  # keys of prompt-1 evaluations (made before versions) stay what they were
        common["prompt_version"] = target.prompt_version
    target.out.mkdir(parents=True, exist_ok=True)
    model = load_causal_lm(target.student, tok, seed=target.seed).to(device)
    counts = {"generated": {"student": 0, "base": 0}, "scored": {"student": 0, "base": 0}}
    who = f"step_{target.step}" if target.run is not None else "student"
    models = (["base"] if target.run is not None else []) + ["student"]
    phases = (2 if settings.likelihood else 1) * (len(models) if base else 1)
    phase, stores = 0, {}
    generate = {b: its for b, its in items.items() if settings.generates(b)}
    for m in models:
        gkey, lkey = store_keys("base" if m == "base" else who, common, items, settings, target.heldout)
        stem = "base_" if m == "base" else ""
        stores[m] = (PredictionStore(target.out / f"{stem}predictions.jsonl", gkey),
                     PredictionStore(target.out / f"{stem}likelihoods.jsonl", lkey))
        label = f"base {target.student}" if m == "base" else target.name
        if m == "student" and target.run is not None:
            model = apply_checkpoint(model, target.ckpt, target.finetune)
        if m == "base" and not base:
            continue
        if settings.likelihood:
            phase += 1
            counts["scored"][m] = score_pending(model, tok, stores[m][1], items, prompts, settings, target.heldout,
                                                target.chat_template, device, progress,
                                                f"[{phase}/{phases}] likelihood {label}", target.prompt_version)
        phase += 1
        counts["generated"][m] = generate_pending(model, tok, stores[m][0], generate, prompts, settings, progress,
                                                  f"[{phase}/{phases}] generate {label}")
    return stores, counts


def _summary(settings: EvalSettings, target: Target, items: dict, stores: dict, counts: dict, wall_s: float) -> dict:
    """items.jsonl (every metric of every item) and the summary dict built from it."""
    import pandas as pd

    from mind.evaluation import items as items_mod
    from mind.evaluation.compare import forgetting as forgetting_of
    from mind.evaluation.compare import model_block

    rows = []
    for b, its in items.items():
        for it in its:
            row = {"benchmark": b, "id": it.id}
            for m, prefix in (("student", ""), ("base", "base_")):
                if m in stores:
                    g, lk = stores[m]
                    row.update(items_mod.item_row(b, it.id, g.get(b, it.id), lk.get(b, it.id), prefix))
            rows.append(row)
    items_mod.write_items(target.out / items_mod.FILE, rows)
    df = pd.DataFrame.from_records(rows)
    summary = model_block(df, "")
    base_summary = model_block(df, "base_") if "base" in stores else None
    base_acc = {b: v["accuracy"] for b, v in (base_summary or {}).get("benchmarks", {}).items() if "accuracy" in v}
    fg = forgetting_of(df) if base_summary is not None else None
    fg_acc = (fg or {}).get("accuracy")
    heldout = target.heldout
    return {
        "student": target.student, "run": str(target.run.path) if target.run is not None else None,
        "checkpoint_step": target.step, "prompt_version": target.prompt_version,
        **summary,
        "accuracy": {b: v["accuracy"] for b, v in summary["benchmarks"].items() if "accuracy" in v},
        "accuracy_ci": {b: v["ci"] for b, v in summary["benchmarks"].items() if "ci" in v},
        "base": base_summary,
        "base_accuracy": base_acc or None,
        "forgetting": fg_acc["diff"] if fg_acc else None,
        "forgetting_ci": fg_acc["ci"] if fg_acc else None,
        "forgetting_per_benchmark": ({b: e["accuracy"]["diff"] for b, e in fg["benchmarks"].items() if "accuracy" in e}
                                     if fg_acc else None),
        "forgetting_detail": fg,
        "heldout": {"run": heldout.run, "n": len(heldout.problems), "perspectives": list(heldout.perspectives)}
        if heldout else None,
        "items": {b: [it.id for it in its] for b, its in items.items()},
        "metrics": METRICS_NOTE,
        "intervals": INTERVALS_NOTE,
        "limit": settings.limit, "limits": settings.limits, "max_new_tokens": {b: settings.budget(its[0].answer_type if its else "number")
                                                    for b, its in items.items() if settings.generates(b)},
        "generate": list(settings.generate) if settings.generate is not None else None,
        "batch_size": settings.batch_size, "precision": settings.precision, "stop_at_answer": settings.stop_at_answer,
        "chat_template": target.chat_template, **counts, "wall_s": round(wall_s, 2),
        "id_benchmarks": [b for b in ID_BENCHMARKS if b in items], "ood_benchmarks": [b for b in OOD_BENCHMARKS if b in items],
    }


METRICS_NOTE = ("Per benchmark 'accuracy' is its primary metric ('primary'): for the choice benchmarks (csqa, gpqa, "
                "strategyqa) acc_norm, lm-evaluation-harness's option scoring (sum of log-probs of ' <option text>' "
                "after 'Question: ...\nAnswer:', divided by the option's characters); for the others the generated "
                "answer's exact match (math-verify). Every benchmark's other metrics are under 'metrics' (generated "
                "= greedy generation with the trained prompt, acc, acc_norm, letter = the highest 'The answer is "
                "(X).' continuation). ID/OOD averages are micro-averages: the primary metric pooled over the items of "
                "the group, every item weighing the same (heldout counts as ID).")
INTERVALS_NOTE = ("95%. Accuracy: Wilson (per benchmark and for the pooled average); forgetting (accuracy): Newcombe "
                  "(McNemar exact p) per benchmark and pooled. Log-likelihoods and rationale losses: percentile "
                  "bootstrap over items (5000 resamples, seed 0).")
