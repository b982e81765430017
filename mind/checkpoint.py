"""Checkpoints for ``--resume``: student adapter or weights, MetaNet, optimisers, schedulers, calibrator, RNG.

Tensors go to safetensors; optimiser states (nested dicts of tensors and numbers) to ``torch.save`` files that are
read back with ``torch.load(weights_only=True)``; everything else to JSON. ``trainer_state.json`` is written last:
a checkpoint folder without it is incomplete and ignored. Nothing is ever unpickled.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, load_model, save_file, save_model

from mind.errors import RunDirError


def save_checkpoint(folder: Path, *, step: int, student, metanet, opt_s, opt_m, sched_s, calibrator, lora: bool,
                    extra: dict | None = None, keep: int = 2) -> Path:
    ckpt = folder / f"step_{step:06d}"
    tmp = folder / f".step_{step:06d}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    if lora:
        student.save_pretrained(tmp / "adapter")  # safetensors adapter + adapter_config.json
    else:
        save_model(student, str(tmp / "student.safetensors"))  # handles tied weights (embeddings = lm_head)
    if metanet is not None:
        save_file({k: v.contiguous() for k, v in metanet.state_dict().items()}, str(tmp / "metanet.safetensors"))
        torch.save(opt_m.state_dict(), tmp / "optim_metanet.pt")
    torch.save(opt_s.state_dict(), tmp / "optim_student.pt")
    save_file(calibrator.state_dict(), str(tmp / "calibrator.safetensors"))
    save_file({"torch": torch.get_rng_state()}, str(tmp / "rng.safetensors"))
    np_state = np.random.get_state()
    state = {
        "step": step,
        "scheduler": sched_s.state_dict(),
        "python_random": [random.getstate()[0], list(random.getstate()[1]), random.getstate()[2]],
        "numpy_random": [np_state[0], np_state[1].tolist(), *np_state[2:]],
        **(extra or {}),
    }
    (tmp / "trainer_state.json").write_text(json.dumps(state))
    shutil.rmtree(ckpt, ignore_errors=True)
    tmp.rename(ckpt)
    for old in sorted(folder.glob("step_*"))[:-keep] if keep else []:
        shutil.rmtree(old, ignore_errors=True)
    return ckpt


def latest_checkpoint(folder: Path) -> Path | None:
    done = sorted(p for p in folder.glob("step_*") if (p / "trainer_state.json").exists())
    return done[-1] if done else None


def load_checkpoint(ckpt: Path, *, student, metanet, opt_s, opt_m, sched_s, calibrator, lora: bool) -> dict:
    """Restore everything saved by :func:`save_checkpoint` in place; return trainer_state."""
    try:
        state = json.loads((ckpt / "trainer_state.json").read_text())
        if lora:
            from peft import set_peft_model_state_dict

            adapter = load_file(str(ckpt / "adapter" / "adapter_model.safetensors"))
            set_peft_model_state_dict(student, adapter)
        else:
            load_model(student, str(ckpt / "student.safetensors"))
        if metanet is not None:
            metanet.load_state_dict(load_file(str(ckpt / "metanet.safetensors")))
            opt_m.load_state_dict(torch.load(ckpt / "optim_metanet.pt", weights_only=True))
        opt_s.load_state_dict(torch.load(ckpt / "optim_student.pt", weights_only=True))
        sched_s.load_state_dict(state["scheduler"])
        calibrator.load_state_dict(load_file(str(ckpt / "calibrator.safetensors")))
        torch.set_rng_state(load_file(str(ckpt / "rng.safetensors"))["torch"])
    except (OSError, KeyError, ValueError, RuntimeError, json.JSONDecodeError) as exc:
        raise RunDirError(f"{ckpt}: checkpoint is corrupt ({type(exc).__name__}: {str(exc)[:120]}); delete it to resume from an older one") from None
    py = state["python_random"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    nps = state["numpy_random"]
    np.random.set_state((nps[0], np.array(nps[1], dtype=np.uint32), *nps[2:]))
    return state
