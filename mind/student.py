"""The student: any causal LM (LoRA by default), wrapped so that training computes logits only where needed.

``load_student(name)`` understands ``tiny`` (a randomly initialised 2-layer Llama with SmolLM2's tokenizer, for
tests and quick demos), ``smollm2-135m`` (the embedded SmolLM2-135M-Instruct) and any Hugging Face model id or
local folder (the real code path for users who are online or have their own checkpoints).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from mind.errors import ConfigError

TINY = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)


def resolve_student_path(name: str) -> str:
    if name in ("smollm2-135m", "smollm2", "HuggingFaceTB/SmolLM2-135M-Instruct"):
        from mind.embedded import smollm2_path

        return str(smollm2_path())
    return name


def load_tokenizer(name: str):
    from transformers import AutoTokenizer

    if name == "tiny":
        from mind.embedded import smollm2_tokenizer_path

        path = str(smollm2_tokenizer_path())
    else:
        path = resolve_student_path(name)
    try:
        tok = AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"student {name!r}: cannot load its tokenizer ({str(exc).splitlines()[0][:160]}); "
            "pass tiny, smollm2-135m, a local folder, or a HF id while online"
        ) from None
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


def load_causal_lm(name: str, tokenizer, seed: int = 0, dtype=torch.float32):
    """The bare Hugging Face model for ``name`` (fresh random weights for ``tiny``)."""
    from transformers import AutoModelForCausalLM, LlamaConfig

    if name == "tiny":
        cfg = LlamaConfig(vocab_size=len(tokenizer), max_position_embeddings=2048, tie_word_embeddings=True,
                          bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                          pad_token_id=tokenizer.pad_token_id, **TINY)
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            return AutoModelForCausalLM.from_config(cfg, dtype=dtype)
    path = resolve_student_path(name)
    try:
        return AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
    except (OSError, ValueError):
        hint = "the folder has no model files" if Path(path).is_dir() else "no local folder by that name and the hub is unreachable offline"
        raise ConfigError(f"student {name!r}: cannot load it ({hint}); pass tiny, smollm2-135m, or a valid model folder") from None


def add_lora(model, r: int, alpha: int, dropout: float, targets: tuple[str, ...], seed: int = 0):
    from peft import LoraConfig, get_peft_model

    names = {n.split(".")[-1] for n, _ in model.named_modules()}
    present = [t for t in targets if t in names]
    if not present:
        raise ConfigError(f"lora_targets={list(targets)} match no module of this student; pick names from its layers")
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return get_peft_model(model, LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=present,
                                                 task_type="CAUSAL_LM"))


class StudentLM(nn.Module):
    """Runs the decoder once and projects to the vocabulary only where training needs it.

    ``forward(input_ids, attention_mask, rows, cols, targets, answer_index)`` returns

    * ``hidden`` (N, T, d): the last hidden layer (for snapshots),
    * ``token_logp`` (M,): log p(targets[m]) at positions ``(rows[m], cols[m])``, the positions that predict target
      tokens, computed in chunks of ``chunk`` rows under activation checkpointing: no (M, V) logits tensor is kept
      for backward (it is recomputed chunk by chunk), so memory stays flat in the number of target tokens;
    * ``answer_logp`` (A, V): full log-distributions at the ``answer_index`` rows (a few per sequence), for the
      consistency term.
    """

    def __init__(self, lm: nn.Module, chunk: int = 1024):
        super().__init__()
        self.lm = lm
        self.chunk = chunk

    def _target_logp(self, h: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        logits = self.lm.get_output_embeddings()(h).float()
        return logits.gather(1, targets[:, None]).squeeze(1) - torch.logsumexp(logits, dim=-1)

    def forward(self, input_ids, attention_mask, rows, cols, targets, answer_index):
        hidden = self.lm.get_decoder()(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).last_hidden_state
        h = hidden[rows, cols]
        parts = []
        for lo in range(0, h.shape[0], self.chunk):
            hc, tc = h[lo : lo + self.chunk], targets[lo : lo + self.chunk]
            if torch.is_grad_enabled() and hc.requires_grad:
                parts.append(torch.utils.checkpoint.checkpoint(self._target_logp, hc, tc, use_reentrant=False))
            else:
                parts.append(self._target_logp(hc, tc))
        token_logp = torch.cat(parts)
        answer_logp = torch.log_softmax(self.lm.get_output_embeddings()(h.index_select(0, answer_index)).float(), dim=-1)
        return hidden, token_logp, answer_logp
