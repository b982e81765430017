"""Checkpoints for ``--resume``, and when to write them.

A checkpoint holds everything the next step depends on, so that a resumed run continues bit for bit: the student
adapter or weights, MetaNet, both optimisers, the learning-rate schedule, the calibrator, the RNG streams (Python,
NumPy, torch CPU and every CUDA device), and any gradients accumulated but not yet applied (MetaNet steps once every
``meta_grad_accum`` student steps, so a checkpoint inside that window carries the gradients of the steps since its
last update; the student's own are saved too when present).

Tensors go to safetensors; optimiser states (nested dicts of tensors and numbers) to ``torch.save`` files that are
read back with ``torch.load(weights_only=True)``; everything else to JSON. ``trainer_state.json`` is written last:
a checkpoint folder without it is incomplete and ignored. Nothing is ever unpickled.

:class:`CheckpointPolicy` decides when: every ``checkpoint_every`` steps, at the end, on a stop request, and
whenever ``checkpoint_minutes`` have passed since the last one, so a crash loses at most that much work. Its clock is
the module-level ``_clock`` (``time.monotonic``), replaceable in tests; ``MIND_FAKE_CLOCK_S=x`` in the environment
makes it a clock that advances x seconds per reading (one reading per step), for tests that run ``mind train`` as a
subprocess.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import shutil
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, load_model, save_file, save_model

from mind.errors import ConfigError, RunDirError


def save_checkpoint(folder: Path, *, step: int, student, metanet, opt_s, opt_m, sched_s, calibrator, lora: bool,
                    extra: dict | None = None, keep: int = 2) -> Path:
    """Write ``folder/step_NNNNNN`` (through a temporary folder renamed at the end), keeping the ``keep`` newest;
    ``extra`` goes into trainer_state.json. Returns the checkpoint folder."""
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
    for name, module in (("student", student), ("metanet", metanet)):
        pending = grads_of(module) if module is not None else {}
        if pending:  # gradients accumulated since the last optimiser step
            save_file(pending, str(tmp / f"grads_{name}.safetensors"))
    save_file(rng_tensors(), str(tmp / "rng.safetensors"))
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
        for name, module in (("student", student), ("metanet", metanet)):
            if module is not None:
                f = ckpt / f"grads_{name}.safetensors"
                set_grads(module, load_file(str(f)) if f.exists() else {})
        set_rng_tensors(load_file(str(ckpt / "rng.safetensors")))
    except (OSError, KeyError, ValueError, RuntimeError, json.JSONDecodeError) as exc:
        raise RunDirError(f"{ckpt}: checkpoint is corrupt ({type(exc).__name__}: {str(exc)[:120]}); delete it to resume from an older one") from None
    py = state["python_random"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    nps = state["numpy_random"]
    np.random.set_state((nps[0], np.array(nps[1], dtype=np.uint32), *nps[2:]))
    return state


# --------------------------------------------------------------------------------------------- pieces


def grads_of(module) -> dict[str, torch.Tensor]:
    """The gradients a module holds (parameter name -> CPU copy), for the parameters that have one."""
    return {n: p.grad.detach().cpu().contiguous() for n, p in module.named_parameters() if p.grad is not None}


def set_grads(module, grads: dict[str, torch.Tensor]) -> None:
    """Give each parameter of ``module`` the gradient ``grads`` holds for its name, and no gradient otherwise."""
    params = dict(module.named_parameters())
    unknown = sorted(set(grads) - set(params))
    if unknown:
        raise KeyError(f"saved gradients for unknown parameters {unknown[:3]}")
    for n, p in params.items():
        p.grad = grads[n].to(device=p.device, dtype=p.dtype).clone() if n in grads else None


def rng_tensors() -> dict[str, torch.Tensor]:
    """torch's CPU generator state and, where CUDA is initialised, every CUDA device's."""
    out = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        out.update({f"cuda_{i}": s for i, s in enumerate(torch.cuda.get_rng_state_all())})
    return out


def set_rng_tensors(state: dict[str, torch.Tensor]) -> None:
    """Restore what :func:`rng_tensors` saved; CUDA states only where this machine has that device."""
    torch.set_rng_state(state["torch"])
    n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    for i in range(n):
        if f"cuda_{i}" in state:
            torch.cuda.set_rng_state(state[f"cuda_{i}"], i)


def checkpoint_due(step: int, every: int, minutes: float, elapsed_s: float, last: bool) -> bool:
    """Whether step ``step`` ends with a checkpoint: the last step (end of run or stop request), every ``every``
    steps (0 = off), or ``minutes`` (0 = off) after the previous one (``elapsed_s`` seconds ago)."""
    return last or bool(every and step % every == 0) or bool(minutes > 0 and elapsed_s >= 60.0 * minutes)


def _clock_from_env():
    """``time.monotonic``, or with ``MIND_FAKE_CLOCK_S=x`` a clock that reads 0, x, 2x, ... (one reading per step)."""
    tick = os.environ.get("MIND_FAKE_CLOCK_S")
    if not tick:
        return time.monotonic
    counter = itertools.count()
    return lambda: next(counter) * float(tick)


_clock = _clock_from_env()


class CheckpointPolicy:
    """When the training loop checkpoints: :func:`checkpoint_due` with the time since the last checkpoint (or since
    the policy was made, at the start of the loop). Reads ``_clock`` once per :meth:`due` call."""

    def __init__(self, every: int, minutes: float):
        self.every, self.minutes = every, minutes
        self._since = _clock()

    def due(self, step: int, last: bool = False) -> bool:
        now = _clock()
        hit = checkpoint_due(step, self.every, self.minutes, now - self._since, last)
        if hit:
            self._since = now
        return hit


# --------------------------------------------------------------------------------------------- resume / restart


def no_checkpoint_message(run_dir: Path) -> str:
    """One line for ``--resume`` of a run that has no complete checkpoint yet, saying how to restart it in place."""
    return (f"{run_dir}: no complete checkpoint to resume from (the run stopped before its first one); restart it "
            f"from step 1 with its saved config: mind train --resume {run_dir} --restart")


def clear_for_restart(run_dir: Path) -> None:
    """Make a run directory without a complete checkpoint ready to train again from step 1 (``--restart``): drop
    its step and sample records, snapshots and unfinished checkpoint folders; config.json and anything written by
    other commands (log.txt, analysis/, eval/) stay. Refuses (RunDirError) when a complete checkpoint exists, whose
    work ``--resume`` alone would keep."""
    from mind.run import RunWriter

    run_dir = Path(run_dir)
    done = latest_checkpoint(run_dir / "checkpoints")
    if done is not None:
        raise RunDirError(f"{run_dir}: has a checkpoint at step {int(done.name.split('_')[1])}; continue it with "
                          f"mind train --resume {run_dir} (without --restart), or start over under a new --out")
    RunWriter(run_dir).truncate_after(0)
    for partial in (run_dir / "checkpoints").glob("*step_*"):
        shutil.rmtree(partial, ignore_errors=True)


# --------------------------------------------------------------------------------------------- reading back


def checkpoint_at(run, step: int | None = None, purpose: str = "export") -> tuple[int, Path]:
    """(step, folder) of the run's checkpoint at ``step``, or its latest one when ``step`` is None; ``purpose`` names
    what it is for in the error ('evaluate', 'export')."""
    steps = run.checkpoints
    if not steps:
        raise RunDirError(f"{run.path}: no finished checkpoint to {purpose}; let the training reach a checkpoint "
                          "(checkpoint_every) or finish")
    if step is None:
        step = steps[-1]
    elif step not in steps:
        raise ConfigError(f"--step {step}: {run.path} has no checkpoint at that step; available: "
                          f"{', '.join(map(str, steps))}")
    return step, run.path / "checkpoints" / f"step_{step:06d}"


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
    # safetensors' save_model keeps one name of a tied tensor (embeddings = lm_head), either one: the other is missing
    emb = model.get_input_embeddings().weight
    shared = {n for n, p in model.named_parameters(remove_duplicate=False) if p is emb}
    tied = shared if getattr(model.config, "tie_word_embeddings", False) and shared & set(state) else set()
    if unexpected or set(missing) - tied:
        raise RunDirError(f"{f}: weights do not fit the student ({len(missing)} missing, {len(unexpected)} unexpected "
                          "tensors); was the run trained with another student?")
    return model
