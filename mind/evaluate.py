"""``evaluate``: accuracy of a trained run (or any student) on the paper's benchmarks, with forgetting.

For a run directory the student is rebuilt exactly as training built it (``config.json``: student, seed, finetune,
chat_template), its latest checkpoint is applied (LoRA adapter merged, or full weights), and every item is asked
with the same prompt as training (:func:`mind.prompting.prompt_ids` on the question and its lettered options).
Decoding is batched and greedy (:mod:`mind.evaluation.generate`); answers are extracted and checked with
:mod:`mind.answers`. Results go to ``<run>/eval/``:

    predictions.jsonl       one line per item: benchmark, id, prediction, extracted, gold, correct (append-only)
    base_predictions.jsonl  the same for the base student (before training), cached across evaluations
    summary.json            accuracy per benchmark, ID / OOD averages, the base student's, and forgetting

Forgetting is the OOD average after distillation minus the base student's on the same items (negative = forgot).
An interrupted evaluation resumes: items already in a predictions file (for the same checkpoint and settings) are
not generated again. ``evaluate(student=...)`` evaluates a bare student into ``out_dir`` (no base, no forgetting).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from mind.errors import ConfigError, RunDirError
from mind.evaluation.store import PredictionStore, dumps_key
from mind.evaluation.table import ID_BENCHMARKS, OOD_BENCHMARKS, averages

ALL_BENCHMARKS = ("gsm8k", "svamp", "math500", "csqa", "strategyqa", "gpqa")
_ALIASES = {"commonsenseqa": "csqa", "gpqadiamond": "gpqa", "math": "math500"}


def resolve_benchmarks(names) -> tuple[str, ...]:
    """Canonical benchmark names (aliases such as ``gpqa-diamond`` accepted, duplicates dropped, order kept)."""
    if isinstance(names, str):
        names = [n for n in names.split(",") if n.strip()]
    out: list[str] = []
    for name in names or ():
        key = str(name).strip().lower().replace("-", "").replace("_", "")
        key = _ALIASES.get(key, key)
        if key not in ALL_BENCHMARKS:
            raise ConfigError(f"benchmark {str(name).strip()!r} is unknown; use a comma list of {','.join(ALL_BENCHMARKS)}")
        if key not in out:
            out.append(key)
    if not out:
        raise ConfigError(f"no benchmark given; pass e.g. --benchmarks {','.join(ALL_BENCHMARKS)}")
    return tuple(out)


@dataclass(frozen=True)
class EvalSettings:
    benchmarks: tuple[str, ...] = ALL_BENCHMARKS  # which benchmarks, canonical names
    limit: int | None = None  # first N items of each benchmark (None: all)
    max_new_tokens: int = 256  # generation budget per item
    batch_size: int = 16  # prompts decoded together
    data: str | None = None  # benchmark file/folder (default: $MIND_DATA_DIR or ../shared/data, then the hub)
    precision: str = "fp32"  # or "bf16": generate with bf16 weights (predictions are cached apart from fp32 ones)

    def __post_init__(self):
        object.__setattr__(self, "benchmarks", resolve_benchmarks(self.benchmarks))
        if self.precision not in ("fp32", "bf16"):
            raise ConfigError(f"precision must be fp32 or bf16, got {self.precision!r}; pass --precision bf16")
        for name, value, lo in (("limit", self.limit, 1), ("max_new_tokens", self.max_new_tokens, 1),
                                ("batch_size", self.batch_size, 1)):
            if value is None and name == "limit":
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < lo:
                raise ConfigError(f"{name} must be an integer >= {lo}, got {value!r}; pass --{name.replace('_', '-')} N")


# ------------------------------------------------------------------------------------------------ models


def _device(device: str | None) -> str:
    import torch

    return device or ("cuda" if torch.cuda.is_available() else "cpu")


def latest_checkpoint_dir(run) -> tuple[int, Path]:
    steps = run.checkpoints
    if not steps:
        raise RunDirError(f"{run.path}: no finished checkpoint to evaluate; let the training reach a checkpoint "
                          "(checkpoint_every) or finish")
    return steps[-1], run.path / "checkpoints" / f"step_{steps[-1]:06d}"


def apply_checkpoint(model, ckpt: Path, finetune: str):
    """The base model with a run checkpoint applied: a LoRA adapter merged in, or full weights loaded."""
    from safetensors import SafetensorError  # a truncated or garbage .safetensors file

    if finetune == "lora":
        folder = ckpt / "adapter"
        if not (folder / "adapter_config.json").is_file():
            raise RunDirError(f"{ckpt}: no adapter/adapter_config.json (corrupt checkpoint); delete it or re-run the training")
        from peft import PeftModel

        try:
            with warnings.catch_warnings():  # peft calls a transformers method deprecated in v5
                warnings.simplefilter("ignore", FutureWarning)
                return PeftModel.from_pretrained(model, str(folder)).merge_and_unload()
        except (OSError, ValueError, RuntimeError, KeyError, SafetensorError) as exc:
            raise RunDirError(f"{folder}: cannot load the LoRA adapter ({type(exc).__name__}); delete the checkpoint "
                              "or re-run the training") from None
    from safetensors.torch import load_file

    f = ckpt / "student.safetensors"
    try:
        state = load_file(str(f))
    except (OSError, ValueError, RuntimeError, SafetensorError) as exc:
        raise RunDirError(f"{f}: cannot read the student weights ({type(exc).__name__}); delete the checkpoint "
                          "or re-run the training") from None
    missing, unexpected = model.load_state_dict(state, strict=False)
    tied = {"lm_head.weight"} if getattr(model.config, "tie_word_embeddings", False) else set()
    if unexpected or set(missing) - tied:
        raise RunDirError(f"{f}: weights do not fit the student ({len(missing)} missing, {len(unexpected)} unexpected "
                          "tensors); was the run trained with another student?")
    return model


# ------------------------------------------------------------------------------------------------ scoring


def _generate_pending(model, tok, store: PredictionStore, items: dict, prompts: dict, settings: EvalSettings,
                      progress: bool, desc: str) -> int:
    """Generate the items missing from ``store``; append each finished batch. Returns how many were generated."""
    from tqdm.auto import tqdm

    from mind.answers import check_answer, extract_answer
    from mind.evaluation.generate import iter_greedy

    todo = [(b, it) for b, its in items.items() for it in its if not store.has(b, it.id)]
    if not todo:
        return 0
    bar = tqdm(total=len(todo), desc=desc, unit="item", disable=not progress, dynamic_ncols=True)
    done = 0
    dtype = next(model.parameters()).dtype
    if settings.precision == "bf16":
        import torch

        model.to(torch.bfloat16)  # in place; back to the original dtype below (for merging a checkpoint)
    try:
        for batch in iter_greedy(model, tok, [prompts[(b, it.id)] for b, it in todo], settings.max_new_tokens,
                                 settings.batch_size):
            records = []
            for g in batch:
                b, it = todo[g.index]
                choices = list(it.choices) or None
                records.append({"benchmark": b, "id": it.id, "prediction": g.text,
                                "extracted": extract_answer(g.text, it.answer_type, choices), "gold": it.answer,
                                "correct": bool(check_answer(g.text, it.answer, it.answer_type, choices)),
                                "n_tokens": g.n_tokens})
            store.add(records)
            done += len(records)
            bar.update(len(records))
    finally:
        model.to(dtype)
        bar.close()
    return done


def score(store: PredictionStore, items: dict) -> dict | None:
    """{"benchmarks": {name: {accuracy, n, correct, kind}}, "id_avg", "ood_avg"}; None if any item is missing."""
    from mind.benchmarks import BENCHMARKS

    out = {}
    for b, its in items.items():
        recs = [store.get(b, it.id) for it in its]
        if any(r is None for r in recs):
            return None
        correct = sum(bool(r["correct"]) for r in recs)
        out[b] = {"accuracy": correct / len(recs), "n": len(recs), "correct": correct, "kind": BENCHMARKS[b].kind}
    id_avg, ood_avg = averages({b: v["accuracy"] for b, v in out.items()})
    return {"benchmarks": out, "id_avg": id_avg, "ood_avg": ood_avg}


# ------------------------------------------------------------------------------------------------ entry point


def evaluate(student: str | None = None, run_dir: str | Path | None = None, benchmarks=ALL_BENCHMARKS,
             limit: int | None = None, max_new_tokens: int = 256, batch_size: int = 16,
             out_dir: str | Path | None = None, base: bool = True, data: str | None = None, progress: bool = True,
             device: str | None = None, chat_template: bool = True, seed: int = 0, precision: str = "fp32") -> dict:
    """Evaluate a run's latest checkpoint (``run_dir``) or a bare ``student`` and return the summary dict.

    ``base`` (runs only) also evaluates the base student for forgetting; with ``base=False`` a base evaluation
    already cached for the same items and settings is still reported. ``chat_template``/``seed`` apply to a bare
    student; a run uses its own config. ``precision="bf16"`` generates with bf16 weights (the base weights are
    rounded to bf16 once; a checkpoint is merged onto them in fp32): about 2x the tokens/s on CPUs with AMX and on
    GPUs, with answers that can differ from fp32 ones.
    """
    settings = EvalSettings(benchmarks, limit, max_new_tokens, batch_size, data, precision)
    if (student is None) == (run_dir is None):
        raise ConfigError("pass exactly one of --run RUN_DIR or --student ID")
    run = step = ckpt = None
    if run_dir is not None:
        from mind.run import load_run

        run = load_run(run_dir)
        cfg = run.config
        if not cfg.get("student"):
            raise RunDirError(f"{run.path}/config.json has no 'student'; re-run the training")
        student, seed = str(cfg["student"]), int(cfg.get("seed", 0))
        chat_template, finetune = bool(cfg.get("chat_template", True)), str(cfg.get("finetune", "lora"))
        step, ckpt = latest_checkpoint_dir(run)
        out = run.path / "eval"
    else:
        if out_dir is None:
            raise ConfigError("--out is required with --student: the folder to write predictions and summary.json to")
        out, base = Path(out_dir), False

    from mind.benchmarks import load_benchmark
    from mind.prompting import prompt_ids
    from mind.run import write_json_atomic
    from mind.student import load_causal_lm, load_tokenizer

    items = {b: load_benchmark(b, path=settings.data, limit=settings.limit) for b in settings.benchmarks}
    tok = load_tokenizer(student)
    prompts = {(b, it.id): prompt_ids(tok, it.prompt_text(), chat_template) for b, its in items.items() for it in its}
    common = dict(student=student, seed=seed if student == "tiny" else None, chat_template=chat_template,
                  max_new_tokens=settings.max_new_tokens, **({"precision": "bf16"} if settings.precision == "bf16" else {}))
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    model = load_causal_lm(student, tok, seed=seed).to(_device(device))
    generated = {"student": 0, "base": 0}

    base_summary = None
    if run is not None:
        base_store = PredictionStore(out / "base_predictions.jsonl", dumps_key(model="base", **common))
        if base:
            generated["base"] = _generate_pending(model, tok, base_store, items, prompts, settings, progress,
                                                  f"base {student}")
        base_summary = score(base_store, items)
        model = apply_checkpoint(model, ckpt, finetune)
    store = PredictionStore(out / "predictions.jsonl", dumps_key(model=f"step_{step}" if run else "student", **common))
    generated["student"] = _generate_pending(model, tok, store, items, prompts, settings, progress,
                                             f"{run.name if run else student}")
    summary = score(store, items)
    assert summary is not None  # every item was just generated or already present
    forgetting = per_bench = None
    if base_summary and summary["ood_avg"] is not None:
        forgetting = summary["ood_avg"] - base_summary["ood_avg"]
        per_bench = {b: summary["benchmarks"][b]["accuracy"] - base_summary["benchmarks"][b]["accuracy"]
                     for b in OOD_BENCHMARKS if b in summary["benchmarks"]}
    result = {
        "student": student, "run": str(run.path) if run else None, "checkpoint_step": step,
        **summary,
        "accuracy": {b: v["accuracy"] for b, v in summary["benchmarks"].items()},
        "base": base_summary,
        "base_accuracy": {b: v["accuracy"] for b, v in base_summary["benchmarks"].items()} if base_summary else None,
        "forgetting": forgetting, "forgetting_per_benchmark": per_bench,
        "limit": settings.limit, "max_new_tokens": settings.max_new_tokens, "batch_size": settings.batch_size,
        "chat_template": chat_template, "generated": generated, "wall_s": round(time.time() - t0, 2),
        "id_benchmarks": [b for b in ID_BENCHMARKS if b in items], "ood_benchmarks": [b for b in OOD_BENCHMARKS if b in items],
    }
    write_json_atomic(out / "summary.json", result)
    return result
