"""Training configuration: one frozen dataclass, validated on construction.

The CLI builds it from flags, a YAML/JSON file (``--config``) and ``key=value`` overrides, in that order of
precedence (overrides win); every run saves the resolved config as ``config.json``. Where the MIND paper is
silent we chose a reading; each such choice is an option here and says so in its help text.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from mind.errors import ConfigError
from mind.fileio import read_yaml_or_json
from mind.data.perspectives import validate_ids
from mind.data.prompting import PROMPT_VERSIONS

METHODS = ("mind", "single", "uniform", "uniform-consistency", "instant", "instant-fast", "no-attention")
# What each method changes against `mind` (everything else is the config as given). `instant` is the paper's
# instantaneous-loss ablation and changes g only; `instant-fast` is what `instant` meant before December 2026: g = 0
# and also MetaNet at the student's learning rate, updated every step (three changes; kept to read old runs).
METHOD_CHANGES = {
    "mind": "nothing (the full method)",
    "single": "one rationale per problem (golden_perspective), no MetaNet, no consistency term",
    "uniform": "all rationales at equal weight, no MetaNet, no consistency term",
    "uniform-consistency": "all rationales at equal weight with the consistency term, no MetaNet",
    "instant": "g = 0: MetaNet follows the instantaneous loss L_real instead of the inertia-filtered L~",
    "instant-fast": "g = 0, MetaNet at the student's learning rate and updated every step",
    "no-attention": "MetaNet without its synergy self-attention layer",
}
KL_DIRECTIONS = ("scores||losses", "losses||scores")
META_TARGETS = ("loss", "zscore")


def _f(default, help: str, **kw):
    return field(default=default, metadata={"help": help, **kw})


@dataclass(frozen=True)
class TrainConfig:
    # ---- what to train
    data: str = _f("demo", "multi-perspective JSONL dataset (see mind/data/schema.py), 'demo' for the bundled set, or 'svamp-multi-teacher' for the real GPT-4o/Gemini/Llama/human SVAMP rationales in the benchmark data folder")
    student: str = _f("tiny", "'tiny' (random 2-layer Llama), 'smollm2-135m' (embedded), or a HF model id / local folder")
    method: str = _f("mind", f"one of {', '.join(METHODS)}")
    perspectives: tuple[str, ...] = _f((), "perspective ids to use (comma-separated); empty = all found in the data")
    golden_perspective: str = _f("decomposition", "the one rationale the 'single' baseline trains on (falls back to the first present)")
    seed: int = _f(0, "random seed: the data order (the per-epoch permutations), the initial weights of a 'tiny' student, the LoRA initialisation, MetaNet's initialisation and its calibration shuffles, and torch's generator (dropout); not the held-out split (holdout_seed) nor the problems chosen (max_problems takes the first N)")
    holdout: int = _f(-1, "problems kept out of training (seeded by holdout_seed): `mind eval` scores them as the 'heldout' benchmark and MetaNet's tracking is measured on them; -1 = 16 for the demo set, 0 for a dataset file")
    holdout_seed: int = _f(0, "seed of the held-out split alone, so runs with other seeds share it")
    max_problems: int = _f(0, "train on the first N problems of the training part only (0 = all): quick demos on a subset")
    # ---- student optimisation
    steps: int = _f(20, "optimiser steps of the student")
    batch_size: int = _f(2, "problems per optimiser step per process (each problem brings its K rationales)")
    grad_accum: int = _f(1, "student gradient-accumulation micro-batches per optimiser step")
    lr: float = _f(2e-4, "student learning rate (AdamW)")
    weight_decay: float = _f(0.0, "student AdamW weight decay")
    warmup_steps: int = _f(0, "linear learning-rate warm-up steps, then cosine decay to 10%")
    max_grad_norm: float = _f(1.0, "gradient clipping for the student (0 = off)")
    max_length: int = _f(384, "max tokens of prompt + rationale; longer rationales are cut before the answer line")
    finetune: str = _f("lora", "'lora' (peft) or 'full' fine-tuning")
    lora_r: int = _f(8, "LoRA rank")
    lora_alpha: int = _f(16, "LoRA alpha")
    lora_dropout: float = _f(0.0, "LoRA dropout")
    lora_targets: tuple[str, ...] = _f(("q_proj", "k_proj", "v_proj", "o_proj"), "module names LoRA adapts")
    gradient_checkpointing: bool = _f(True, "recompute decoder activations in backward: SmolLM2 batch 2x8x256 peaks at 3.8 instead of 6.2 GiB (bench_memory.py) for more time")
    checkpoint_layers: int = _f(1, "with gradient_checkpointing: recompute every Nth decoder layer only (1 = all; larger N = faster, more memory)")
    precision: str = _f("auto", "'auto' (bf16 where the device computes it fast: a CUDA GPU with bf16, or a CPU whose measured bf16 matmul is >= 1.5x fp32's, as on AMX Xeons; else fp32; recorded in config.json as precision_resolved), 'fp32', or 'bf16' mixed precision (autocast; weights and optimiser stay fp32; losses agree with fp32 to ~1e-3)")
    shared_prefix: bool = _f(True, "run each question's prompt once for its K rationales (Llama/Mistral/Qwen2/Qwen3 students with sdpa or eager attention; others run full sequences); same losses")
    chat_template: bool = _f(True, "wrap the question in the tokenizer's chat template when it has one")
    prompt_version: int = _f(2, "how questions are asked and answer lines written (mind/data/prompting.py): 2 = an instruction and final line per answer type with no placeholder a student can copy; 1 = the single 'The answer is <answer>.' instruction of runs made before it (runs without the field were trained with 1)")
    # ---- MIND method
    beta: float = _f(0.7, "selection threshold: keep perspective k if s_k >= beta * max(s), in (0, 1]")
    lam: float = _f(0.1, "lambda: weight of the pairwise JSD consistency term between answer distributions")
    rescore_every: int = _f(1, "measure L_real of the rationales not trained on (alpha = 0) every Nth step only; 1 = every step, as in the paper; between, MetaNet ranks them by the L~ they last had")
    tau: float = _f(1.0, "temperature of the ListNet meta loss, softmax(s/tau) vs softmax(-L~/tau)")
    tau_student: float = _f(1.0, "temperature of the student weights alpha = softmax over I_dyn of s/tau_student")
    g: float = _f(0.9, "inertia: EMA factor of the filtered loss, L~ <- g*L~ + (1-g)*L_real (0 = instantaneous)")
    meta_kl_direction: str = _f("scores||losses", "L_meta = KL(softmax(s/tau) || softmax(-L~/tau)) ('scores||losses', the paper's) or the reverse")
    meta_lr: float = _f(5e-5, "MetaNet learning rate after warm-up (smaller than the student's: the optimisation lag)")
    meta_warmup_lr: float = _f(1e-3, "MetaNet learning rate during its warm-up")
    meta_warmup_steps: int = _f(4, "steps in which MetaNet learns (every step, meta_warmup_lr) while the student trains on uniform weights; our reading of the paper's warm-up")
    meta_grad_accum: int = _f(4, "MetaNet steps once every this many student steps after warm-up (more accumulation than the student)")
    meta_every_epochs: float = _f(0.0, "if > 0, MetaNet steps once every this fraction of an epoch after warm-up instead of every meta_grad_accum steps: the same lag at any dataset size and batch")
    meta_calibrate_epochs: int = _f(50, "calibration pass before step 1 (our reading of 'MetaNet is warmed up first'): L_real of the initial student on every training rationale (no grad) seeds L~, and MetaNet is fitted to it for this many of its own epochs (batches of 8 problems) at meta_warmup_lr; 0 = off, only the warm-up steps. Default chosen by the tracking table (README): SmolLM2 rho 0.95 vs 0.68 without")
    meta_target: str = _f("loss", "MetaNet's target distribution: 'loss' = softmax(-L~/tau) (the paper's); 'zscore' = L~ standardised per problem over its perspectives first, so small loss spreads still rank")
    meta_hidden: int = _f(128, "MetaNet hidden size")
    meta_heads: int = _f(4, "heads of the synergy self-attention across perspectives")
    meta_attention: bool = _f(True, "use the synergy self-attention layer (off = the 'no-attention' ablation)")
    meta_score: str = _f("softplus", "positive score function of the heads: 'softplus' or 'sigmoid'")
    encoder: str = _f("all-MiniLM-L6-v2", "Sentence-BERT encoder for MetaNet features: the embedded default or a HF id / folder")
    # ---- telemetry and checkpoints
    log_samples_every: int = _f(1, "write per-problem MetaNet details every N steps")
    snapshot_every: int = _f(10, "hidden-state snapshot of the probe set every N steps (and at the end); 0 = only at the end")
    probe_problems: int = _f(16, "problems in the fixed probe set (all their perspectives are probed)")
    checkpoint_every: int = _f(50, "checkpoint every N steps (and at the end); 0 = only at the end")
    checkpoint_minutes: float = _f(10.0, "also checkpoint when this many minutes have passed since the last checkpoint, so a crash loses at most that much work; 0 = off")
    report_to: str = _f("none", "also send step records to Accelerate trackers: none, tensorboard, wandb, mlflow (comma-separated)")

    def __post_init__(self):
        def bad(name, value, fix):
            raise ConfigError(f"{name}={value!r} is invalid; {fix}")

        for f in fields(self):  # wrong types (from Python callers) and NaN/inf are errors, not TypeErrors later
            v, typ = getattr(self, f.name), str(f.type)
            if typ in ("int", "float") and (not isinstance(v, (int, float)) or (isinstance(v, float) and not math.isfinite(v))):
                bad(f.name, v, f"give a finite {typ}")
            if typ == "str" and not isinstance(v, str):
                bad(f.name, v, "give a string")

        if self.method not in METHODS:
            bad("method", self.method, f"use one of {', '.join(METHODS)}")
        if not self.student or not isinstance(self.student, str):
            bad("student", self.student, "use tiny, smollm2-135m, a HF model id or a local folder")
        if not (0.0 < self.beta <= 1.0):
            bad("beta", self.beta, "it must be in (0, 1]")
        if self.lam < 0:
            bad("lam", self.lam, "lambda must be >= 0")
        for name in ("tau", "tau_student", "lr", "meta_lr", "meta_warmup_lr"):
            if not getattr(self, name) > 0:
                bad(name, getattr(self, name), "it must be > 0")
        if not (0.0 <= self.g < 1.0):
            bad("g", self.g, "the EMA factor must be in [0, 1)")
        for name in ("steps", "batch_size", "grad_accum", "meta_grad_accum", "meta_hidden", "meta_heads", "lora_r",
                     "probe_problems", "log_samples_every", "rescore_every", "checkpoint_layers"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 1):
                bad(name, getattr(self, name), "it must be an integer >= 1")
        if self.holdout < -1:
            bad("holdout", self.holdout, "use -1 (auto), 0 (none) or the number of problems to hold out")
        for name in ("warmup_steps", "meta_warmup_steps", "snapshot_every", "checkpoint_every", "checkpoint_minutes", "max_problems"):
            if getattr(self, name) < 0:
                bad(name, getattr(self, name), "it must be >= 0")
        if self.meta_hidden % self.meta_heads:
            bad("meta_heads", self.meta_heads, f"meta_hidden ({self.meta_hidden}) must be divisible by it")
        if self.max_length < 32:
            bad("max_length", self.max_length, "use at least 32 tokens")
        if self.precision not in ("auto", "fp32", "bf16"):
            bad("precision", self.precision, "use 'auto', 'fp32' or 'bf16'")
        if self.finetune not in ("lora", "full"):
            bad("finetune", self.finetune, "use 'lora' or 'full'")
        if self.meta_kl_direction not in KL_DIRECTIONS:
            bad("meta_kl_direction", self.meta_kl_direction, f"use one of {', '.join(KL_DIRECTIONS)}")
        if self.meta_target not in META_TARGETS:
            bad("meta_target", self.meta_target, f"use one of {', '.join(META_TARGETS)}")
        if self.meta_every_epochs < 0:
            bad("meta_every_epochs", self.meta_every_epochs, "use 0 (off) or a positive fraction of an epoch")
        if self.meta_calibrate_epochs < 0:
            bad("meta_calibrate_epochs", self.meta_calibrate_epochs, "use 0 (off) or a number of MetaNet epochs")
        if self.meta_score not in ("softplus", "sigmoid"):
            bad("meta_score", self.meta_score, "use 'softplus' or 'sigmoid'")
        if self.perspectives:
            validate_ids(self.perspectives)
        if self.prompt_version not in PROMPT_VERSIONS:
            bad("prompt_version", self.prompt_version, f"use one of {', '.join(map(str, PROMPT_VERSIONS))}")
        for tracker in self.trackers:
            if tracker not in ("tensorboard", "wandb", "mlflow"):
                bad("report_to", self.report_to, "use none, tensorboard, wandb or mlflow")

    # -- derived settings of the methods (one place, so the trainer reads like the paper)
    @property
    def uses_metanet(self) -> bool:
        return self.method in ("mind", "instant", "instant-fast", "no-attention")

    @property
    def effective_g(self) -> float:
        return 0.0 if self.method in ("instant", "instant-fast") else self.g

    @property
    def effective_meta_lr(self) -> float:
        return self.lr if self.method == "instant-fast" else self.meta_lr

    def meta_accum_steps(self, steps_per_epoch: float) -> int:
        """Student steps between MetaNet updates after warm-up: 1 for ``instant-fast``, else ``meta_every_epochs``
        of an epoch when set, else ``meta_grad_accum``."""
        if self.method == "instant-fast":
            return 1
        if self.meta_every_epochs > 0:
            return max(1, round(self.meta_every_epochs * steps_per_epoch))
        return self.meta_grad_accum

    @property
    def effective_attention(self) -> bool:
        return self.meta_attention and self.method != "no-attention"

    @property
    def effective_lam(self) -> float:
        return 0.0 if self.method in ("single", "uniform") else self.lam

    def effective(self, steps_per_epoch: float) -> dict:
        """Every value the method implies, resolved (what the run actually trains with; config.json's
        ``effective``): the raw flags can say g = 0.9 for an ``instant`` run, which trains with g = 0."""
        metanet = self.uses_metanet
        return {"method": self.method, "changes": METHOD_CHANGES[self.method], "metanet": metanet,
                "g": self.effective_g if metanet else None,
                "meta_lr": self.effective_meta_lr if metanet else None,
                "meta_update_every": self.meta_accum_steps(steps_per_epoch) if metanet else None,
                "meta_attention": self.effective_attention if metanet else None,
                "meta_calibrate_epochs": self.meta_calibrate_epochs if metanet else None,
                "meta_warmup_steps": self.meta_warmup_steps if metanet else None,
                "lam": self.effective_lam, "beta": self.beta if metanet else None,
                "weights": {"single": "one-hot on the golden perspective", "uniform": "uniform",
                            "uniform-consistency": "uniform"}.get(self.method, "MetaNet's selection (uniform in warm-up)"),
                "prompt_version": self.prompt_version}

    @property
    def trackers(self) -> list[str]:
        return [t.strip() for t in self.report_to.split(",") if t.strip() and t.strip() != "none"]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _coerce(name: str, raw: Any, typ: Any) -> Any:
    """Turn a CLI/YAML value into the field's type, with an error naming the field."""
    typ = str(typ)
    try:
        if "tuple" in typ:
            if isinstance(raw, str):
                return tuple(s.strip() for s in raw.split(",") if s.strip())
            return tuple(str(x) for x in raw)
        if typ in ("bool", "<class 'bool'>"):
            if isinstance(raw, bool):
                return raw
            s = str(raw).strip().lower()
            if s in ("1", "true", "yes", "on"):
                return True
            if s in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if typ in ("int", "<class 'int'>"):
            if isinstance(raw, float) and not raw.is_integer():
                raise ValueError
            return int(raw) if not isinstance(raw, str) else int(raw.strip())
        if typ in ("float", "<class 'float'>"):
            return float(raw)
        return str(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}={raw!r} is not a valid {typ.replace('<class ', '').strip('>')}; fix the value") from None


FIELD_TYPES = {f.name: f.type for f in fields(TrainConfig)}


def saved_values(config: dict) -> dict:
    """The TrainConfig fields of a run's config.json, read as the run was trained: a run made before a field existed
    gets the value it trained with, not today's default (``prompt_version`` 1; an ``instant`` run without a recorded
    ``effective`` block is the old three-change ``instant``, now ``instant-fast``). For ``--resume``."""
    values = {k: v for k, v in config.items() if k in FIELD_TYPES}
    values.setdefault("prompt_version", 1)
    if values.get("method") == "instant" and "effective" not in config:
        values["method"] = "instant-fast"
    return values


def effective_values(config: dict) -> dict:
    """config.json's ``effective`` block, or for a run made before it was recorded, the one its saved flags imply."""
    if isinstance(config.get("effective"), dict):
        return config["effective"]
    try:
        cfg = TrainConfig(**{k: _coerce(k, v, FIELD_TYPES[k]) for k, v in saved_values(config).items()})
    except ConfigError:
        return {}
    n, batch = config.get("n_problems"), config.get("global_batch") or cfg.batch_size
    return cfg.effective(n / batch if n else 1.0)


PRESETS_DIR = Path(__file__).parent / "presets"


def presets() -> list[str]:
    """Names of the bundled presets (``mind/training/presets/<name>.yaml``), for ``mind train --preset NAME``."""
    return sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))


def preset_values(name: str) -> dict[str, Any]:
    """The options of a bundled preset; an unknown name is a one-line ConfigError listing the known ones."""
    if name not in presets():
        raise ConfigError(f"preset {name!r} is unknown; use one of {', '.join(presets())}")
    loaded = read_yaml_or_json(PRESETS_DIR / f"{name}.yaml", "preset", "reinstall mind")
    return dict(loaded or {})


def build_config(file: str | Path | None = None, overrides: dict[str, Any] | None = None,
                 preset: str | None = None) -> TrainConfig:
    """Config from an optional bundled preset, then a YAML/JSON file, then overrides (later wins). Unknown keys are
    errors."""
    values: dict[str, Any] = preset_values(preset) if preset else {}
    if file:
        path = Path(file)
        loaded = read_yaml_or_json(path, "config file", "check --config")
        if path.suffix in (".yaml", ".yml"):
            loaded = loaded or {}  # an empty YAML file is an empty config
        if not isinstance(loaded, dict) or not all(isinstance(k, str) for k in loaded):
            raise ConfigError(f"config file {path}: expected a mapping of option: value; write one `name: value` per line")
        values.update(loaded)
    values.update(overrides or {})
    unknown = sorted(set(values) - set(FIELD_TYPES))
    if unknown:
        shown = ", ".join(k if k.isprintable() else repr(k) for k in unknown)
        raise ConfigError(f"unknown option(s) {shown}; see `mind train --help` for the list")
    return TrainConfig(**{k: _coerce(k, v, FIELD_TYPES[k]) for k, v in values.items()})
