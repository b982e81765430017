"""``mind export``: a run's student as an ordinary Hugging Face model folder (or its PEFT adapter folder).

:func:`export_run` rebuilds the student exactly as ``mind eval`` does (:func:`mind.model.student.load_causal_lm` with the
run's ``student`` and ``seed``, then :func:`mind.model.checkpoint.apply_checkpoint`: the LoRA adapter merged in, or the full
fine-tuned weights loaded) and writes::

    DIR/
      config.json  model.safetensors  generation_config.json      (merged or full weights, fp32; no quantization_config)
      tokenizer.json  tokenizer_config.json  chat_template.jinja  (the tokenizer training used, pad token set)
      README.md         the model card (:mod:`mind.export.card`): base, method, hyperparameters, data, evaluation, command
      mind_export.json  what was exported: run, step, kind, student, mind version

With ``adapter_only=True`` the weights are the run's adapter instead (``adapter_config.json`` +
``adapter_model.safetensors``, checked by applying it to the base once). The generation config is greedy with the
stop tokens ``mind eval`` uses and 256 new tokens, so ``model.generate(ids)`` decodes as ``mind eval`` does.

The folder is written under a temporary name beside ``out`` and renamed into place when complete. ``out`` must be
new or empty; ``force=True`` replaces it only when it holds a previous export (``mind_export.json``), so a typo in
``--out`` never deletes someone's folder.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from mind.errors import ConfigError, RunDirError

MARKER = "mind_export.json"
DEFAULT_MAX_NEW_TOKENS = 256  # mind eval's default generation budget


@dataclass(frozen=True)
class ExportResult:
    out: Path  # the folder written
    run: Path  # the run it came from
    step: int  # the checkpoint step exported
    kind: str  # "merged" (LoRA merged into the base), "full" (fine-tuned weights) or "adapter" (PEFT adapter only)
    files: tuple[str, ...]  # file names in ``out``
    replaced: bool = False  # True when a previous export in ``out`` was replaced (``force``)


def check_out_dir(out: Path, run_path: Path, force: bool) -> bool:
    """Refuse an ``out`` that would hold the run or clobber a folder; True when a previous export must be replaced."""
    o, r = out.resolve(), run_path.resolve()
    if o == r or o in r.parents:
        raise ConfigError(f"--out {out}: that folder holds the run itself; choose a new folder, e.g. {run_path}/export")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: a file with that name exists; choose a new folder")
    if not out.is_dir() or not any(out.iterdir()):
        return False
    if not force:
        raise ConfigError(f"--out {out} exists and is not empty; choose a new folder, or pass --force to replace a "
                          "previous export")
    if not (out / MARKER).is_file():
        raise ConfigError(f"--out {out} is not empty and holds no previous `mind export` ({MARKER}); --force only "
                          "replaces an export: choose a new or empty folder")
    return True


def _generation_config(tok, model):
    """Greedy decoding with ``mind eval``'s stop tokens, pad token and default budget."""
    from transformers import GenerationConfig

    from mind.evaluation.decode import pad_id, stop_ids

    stops = stop_ids(tok, model)
    return GenerationConfig(bos_token_id=tok.bos_token_id, eos_token_id=stops[0] if len(stops) == 1 else stops,
                            pad_token_id=pad_id(tok), do_sample=False, num_beams=1,
                            max_new_tokens=DEFAULT_MAX_NEW_TOKENS)


def _save_model(model, tok, folder: Path) -> None:
    """``save_pretrained`` of a plain fp32 causal LM: no quantizer left over, greedy generation config."""
    cfg = model.config
    if hasattr(cfg, "quantization_config"):  # a GGUF/bitsandbytes leftover makes save_pretrained refuse the model
        del cfg.quantization_config
    if getattr(model, "hf_quantizer", None) is not None:
        model.hf_quantizer = None
    model.generation_config = _generation_config(tok, model)
    model.save_pretrained(str(folder))


def _save_tokenizer(tok, folder: Path) -> None:
    """``save_pretrained`` of the tokenizer, without the offline-loading flags it picked up on this machine."""
    tok.save_pretrained(str(folder))
    f = folder / "tokenizer_config.json"
    if f.is_file():
        cfg = json.loads(f.read_text(encoding="utf-8"))
        dropped = [cfg.pop(k) for k in ("local_files_only", "is_local") if k in cfg]
        if dropped:
            f.write_text(json.dumps(cfg, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _readable(folder: Path) -> None:
    """Give every file the permissions of the user's umask (safetensors writes 0600 temporary files)."""
    mask = os.umask(0)
    os.umask(mask)
    for f in folder.iterdir():
        if f.is_file():
            f.chmod(0o666 & ~mask)


def _save_adapter(ckpt: Path, folder: Path, student: str) -> None:
    """Copy the run's adapter; ``base_model_name_or_path`` names the base this machine loads it onto (for the
    embedded SmolLM2, its converted folder in the mind cache: the hub's weights differ slightly)."""
    from mind.model.student import resolve_student_path

    src = ckpt / "adapter"
    shutil.copyfile(src / "adapter_model.safetensors", folder / "adapter_model.safetensors")
    cfg = json.loads((src / "adapter_config.json").read_text(encoding="utf-8"))
    # the base it was just checked against (tiny: none on disk; the card says how to rebuild it)
    cfg["base_model_name_or_path"] = None if student == "tiny" else resolve_student_path(student)
    (folder / "adapter_config.json").write_text(json.dumps(cfg, indent=2), encoding="utf-8")


def _read_summary(run_path: Path) -> dict | None:
    f = run_path / "eval" / "summary.json"
    try:
        s = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # not evaluated (or a summary being rewritten): the card says so
    return s if isinstance(s, dict) else None


def _card_inputs(run) -> dict:
    """Data counts, demo card and held-out count for :func:`mind.export.card.render_card`."""
    from mind.export.card import data_counts
    from mind.run import read_jsonl

    cfg = run.config
    try:
        counts = data_counts(read_jsonl(run.path / "data.jsonl"), [p for p in cfg.get("perspectives") or [] if isinstance(p, str)])
    except RunDirError:
        counts = None
    if counts is not None and counts["problems"] == 0:
        counts = None
    heldout = cfg.get("heldout_ids")
    n_heldout = len(heldout) if isinstance(heldout, list) else None
    demo = None
    if cfg.get("data") == "demo":
        try:
            demo = json.loads((Path(__file__).parents[1] / "data" / "demo_card.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            demo = None
    return {"counts": counts, "demo_card": demo, "n_heldout": n_heldout, "summary": _read_summary(run.path)}


def export_command(run_path: Path, out: Path, step: int, adapter_only: bool) -> str:
    import shlex

    return shlex.join(["mind", "export", "--run", str(run_path), "--step", str(step), "--out", str(out)]
                      + (["--adapter-only"] if adapter_only else []))


def export_run(run_dir: str | Path, out: str | Path, step: int | None = None, adapter_only: bool = False,
               force: bool = False, device: str | None = None) -> ExportResult:
    """Write the student of ``run_dir`` (checkpoint ``step``, default the latest) to ``out``; see the module doc."""
    from mind._version import __version__
    from mind.model.checkpoint import apply_checkpoint, checkpoint_at
    from mind.export.card import render_card
    from mind.run import load_run, write_json_atomic
    from mind.model.student import load_causal_lm, load_tokenizer

    run = load_run(run_dir)
    cfg = run.config
    student = cfg.get("student")
    if not isinstance(student, str) or not student:
        raise RunDirError(f"{run.path}/config.json has no 'student'; re-run the training")
    finetune = str(cfg.get("finetune", "lora"))
    if adapter_only and finetune != "lora":
        raise ConfigError(f"{run.path} was trained with finetune={finetune}: it has no adapter; export without "
                          "--adapter-only to get its full weights")
    step, ckpt = checkpoint_at(run, step)
    out = Path(out)
    replace = check_out_dir(out, run.path, force)

    tok = load_tokenizer(student)
    model = load_causal_lm(student, tok, seed=int(cfg.get("seed", 0)))
    if device:
        model = model.to(device)
    model = apply_checkpoint(model, ckpt, finetune)  # merges (or loads) and validates the checkpoint
    kind = "adapter" if adapter_only else ("merged" if finetune == "lora" else "full")

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.export-{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        if adapter_only:
            _save_adapter(ckpt, tmp, student)
            _save_tokenizer(tok, tmp)
        else:
            _save_model(model.to("cpu"), tok, tmp)
            _save_tokenizer(tok, tmp)
        card = render_card(cfg, run_name=run.name, run_path=str(run.path), step=step, kind=kind,
                           export_command=export_command(run.path, out, step, adapter_only), **_card_inputs(run))
        (tmp / "README.md").write_text(card, encoding="utf-8")
        write_json_atomic(tmp / MARKER, {"run": str(run.path.resolve()), "step": step, "kind": kind,
                                         "student": student, "finetune": finetune, "mind_version": __version__,
                                         "exported_at": time.time()})
        _readable(tmp)
        _move_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return ExportResult(out=out, run=run.path, step=step, kind=kind, files=tuple(sorted(p.name for p in out.iterdir())),
                        replaced=replace)


def _move_into_place(tmp: Path, out: Path) -> None:
    """Rename the finished ``tmp`` folder to ``out``; an existing ``out`` (empty, or an export being replaced) is
    moved aside first and deleted only once the new folder is in place (put back if the rename fails)."""
    old = None
    if out.is_dir():
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        shutil.rmtree(old, ignore_errors=True)
        os.rename(out, old)
    try:
        os.rename(tmp, out)
    except OSError:
        if old is not None:
            os.rename(old, out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
