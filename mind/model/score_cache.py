"""A cache of the rationale losses of an untrained student: the calibration pass and the step-0 held-out scoring.

Before step 1, a MetaNet run scores every training rationale (the calibration pass's L_real) and every held-out
rationale (held-out tracking at step 0) with the initial student. In an experiment that trains several methods
and seeds from the same base model, that student is the same model every time: PEFT initialises every ``lora_B``
to zero, so the adapter adds exactly 0 to each layer's output whatever ``lora_A`` (the seed) is, and the problems
trained on do not depend on the seed. These two passes cost 6.8 and 11.5 uniform training steps on SmolLM2-135M
(``bench/bench_fixed_costs.py``, fp32; a hit 0.71 s); with the cache only the first run of an experiment pays them.

The key is a hash of everything the losses depend on: every parameter and buffer of the student as stored (bytes,
dtype, shape, name; the LoRA matrices are left out only when every ``lora_B`` is zero, i.e. when they contribute
nothing), the model's class and config, the encoded problems (prompt and target ids, answer spans), the pad id,
the batch layout and chunk, the caller's precision tag, the torch, transformers and mind versions and the source
of the modules that compute the losses (``mind.model.forward``, ``batching``, ``losses``). A hit
therefore returns the tensor that the same computation wrote, bit for bit; anything that differs is a miss.

Entries are safetensors files under ``$MIND_CACHE_DIR/initial_scores/`` (default ``~/.cache/mind``), written
atomically; an unreadable entry is recomputed and replaced, and a cache that cannot be written is skipped (the
losses are returned either way). ``MIND_SCORE_CACHE=0`` turns it off.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch

from mind.model.forward import score_rationales


def cache_dir() -> Path:
    return Path(os.environ.get("MIND_CACHE_DIR") or Path.home() / ".cache" / "mind") / "initial_scores"


def enabled() -> bool:
    return os.environ.get("MIND_SCORE_CACHE", "1").strip().lower() not in ("0", "false", "no", "off")


def lora_is_zero(student) -> bool:
    """Whether the student has LoRA matrices and every ``lora_B`` is exactly zero (the adapter adds nothing)."""
    bs = [p for n, p in student.named_parameters() if "lora_B" in n]
    return bool(bs) and all(not torch.count_nonzero(p.detach()) for p in bs)


def _tensor_bytes(t: torch.Tensor) -> bytes:
    t = t.detach().cpu().contiguous()
    return t.view(torch.uint8).numpy().tobytes() if t.numel() else b""


def fingerprint(student, encoded, pad_id: int, shared: bool, chunk: int, tag: str = "") -> str:
    """The cache key of ``score_rationales(student, encoded, pad_id, shared, chunk=chunk)`` under ``tag``."""
    import transformers

    from mind._version import __version__
    from mind.model import batching, forward, losses

    h = hashlib.blake2b(digest_size=20)

    def add(*parts) -> None:
        for p in parts:
            h.update(p if isinstance(p, bytes) else repr(p).encode())
            h.update(b"\x00")

    add("mind-initial-scores-v1", torch.__version__, transformers.__version__, __version__, type(student).__name__)
    for module in (forward, batching, losses):  # the code that computes the losses, as it is now
        add(Path(module.__file__).read_bytes())
    config = getattr(student, "config", None)
    add(config.to_json_string(use_diff=False) if hasattr(config, "to_json_string") else repr(config))
    skip_lora = lora_is_zero(student)
    add("lora-zero" if skip_lora else "weights-as-they-are")
    for name, t in [*student.named_parameters(), *student.named_buffers()]:
        if skip_lora and ("lora_A" in name or "lora_B" in name):
            continue
        add(name, str(t.dtype), tuple(t.shape), _tensor_bytes(t))
    add(pad_id, bool(shared), int(chunk), tag, len(encoded))
    for ep in encoded:
        add(ep.prompt, ep.targets, ep.answer_start, ep.answer_len)
    return h.hexdigest()


def initial_scores(student, encoded, pad_id: int, shared: bool, device, chunk: int = 8, tag: str = "") -> torch.Tensor:
    """:func:`mind.model.forward.score_rationales`, read from the cache when this exact computation was made
    before (see the module docstring), else computed and stored. Meant for the scores before step 1; any other
    student works too (its key includes its weights) but would only fill the cache."""
    if not enabled() or not encoded:
        return score_rationales(student, encoded, pad_id, shared, device, chunk)
    from safetensors.torch import load_file, save_file

    key = fingerprint(student, encoded, pad_id, shared, chunk, f"{tag}|{torch.device(device).type}")
    path = cache_dir() / f"{key}.safetensors"
    K = len(encoded[0].targets)
    if path.is_file():
        try:
            got = load_file(str(path))["losses"]
            if tuple(got.shape) == (len(encoded), K):
                return got
        except Exception:  # noqa: BLE001 - a torn or foreign file: recompute and replace it
            pass
    losses = score_rationales(student, encoded, pad_id, shared, device, chunk)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        save_file({"losses": losses.detach().cpu().contiguous()}, str(tmp))
        tmp.replace(path)
    except OSError:
        pass  # a read-only or full cache: the losses are still right
    return losses
