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

# Decoders whose attention takes a cache object through ``past_key_values.update(k, v, layer_idx)`` and a ready 4-D
# mask: the shared-prompt path feeds them each question's prompt keys/values that way.
SHARED_PREFIX_MODELS = ("llama", "mistral", "qwen2", "qwen3")

TINY = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)


def resolve_student_path(name: str) -> str:
    if name in ("smollm2-135m", "smollm2", "HuggingFaceTB/SmolLM2-135M-Instruct"):
        from mind.model.embedded import smollm2_path

        return str(smollm2_path())
    return name


def load_tokenizer(name: str):
    from transformers import AutoTokenizer

    if name == "tiny":
        from mind.model.embedded import smollm2_tokenizer_path

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


class PromptCache:
    """Each question's prompt as the decoder computed it: every layer's keys and values, and the last prompt
    position's hidden state, for the prompt rows of one :class:`mind.model.batching.Prefix`.

    Hand an empty one to :meth:`StudentLM.forward` and the prompt pass fills it: it is the duck-typed cache the
    decoder layers write into (``past_key_values.update(key, value, layer_idx)``). Hand a filled one and the prompt
    pass is skipped: its keys/values feed the rationales directly, so a batch laid out over the same prompt rows
    (``collate(..., prompts=...)``) does not compute the prompts again. :meth:`detached` gives the copy a no-grad
    pass reads (same values, no graph). Recording overwrites, so a gradient-checkpointing replay of a layer records
    the same tensors again."""

    def __init__(self):
        self.kv: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self.last: torch.Tensor | None = None  # (Q, d) hidden state at each prompt's last real position
        self.prompt_ids: torch.Tensor | None = None  # (Q, P) the prefix it was computed for (checked on reuse)

    @property
    def filled(self) -> bool:
        return self.last is not None

    def update(self, key, value, layer_idx, *args, **kwargs):
        self.kv[layer_idx] = (key, value)
        return key, value

    def detached(self) -> "PromptCache":
        """The same keys, values and states, cut from the graph that computed them (no copy of the data)."""
        out = PromptCache()
        out.kv = {i: (k.detach(), v.detach()) for i, (k, v) in self.kv.items()}
        out.last = None if self.last is None else self.last.detach()
        out.prompt_ids = self.prompt_ids
        return out


class _SharedKV:
    """The cache the rationale pass reads: every sequence's question's prompt keys/values, then its own."""

    def __init__(self, prompt: PromptCache, seq: torch.Tensor):
        self.kv, self.seq = dict(prompt.kv), seq

    def update(self, key, value, layer_idx, *args, **kwargs):
        pk, pv = self.kv[layer_idx]
        return torch.cat([pk.index_select(0, self.seq), key], -2), torch.cat([pv.index_select(0, self.seq), value], -2)


def _additive_mask(allowed: torch.Tensor, dtype) -> torch.Tensor:
    """(n, q, k) booleans -> the (n, 1, q, k) additive mask Hugging Face attention takes as is."""
    return torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill(~allowed, torch.finfo(dtype).min)[:, None]


class StudentLM(nn.Module):
    """Runs the decoder once and projects to the vocabulary only where training needs it.

    ``forward(input_ids, attention_mask, rows, cols, targets, answer_index, prefix=None)`` returns

    * ``hidden`` (N, T, d): the last hidden layer at the positions ``rows``/``cols`` address (for snapshots),
    * ``token_logp`` (M,): log p(targets[m]) at positions ``(rows[m], cols[m])``, the positions that predict target
      tokens, computed in chunks of ``chunk`` rows under activation checkpointing: no (M, V) logits tensor is kept
      for backward (it is recomputed chunk by chunk), so memory stays flat in the number of target tokens;
    * ``answer_logp`` (A, V): full log-distributions at the ``answer_index`` rows (a few per sequence), for the
      consistency term.

    With ``prefix`` (a :class:`mind.model.batching.Prefix`, from ``collate(shared_prefix=True)``) each question's prompt
    runs once; its per-layer keys and values are handed to the rationale pass of all its sequences through a
    read-only cache, and ``hidden`` is then (N, 1 + S, d): the last prompt position, then the S rationale positions.
    The rationale pass runs in the prefix's row groups (similar lengths, :func:`mind.model.batching.length_groups`), each
    padded only to its own longest, and the rows come back in the batch's order.
    Gradients reach the prompt's computation through those keys and values, so the losses and gradients equal the
    plain path's (``tests/test_fast_paths.py``). With ``prompt`` (a :class:`PromptCache`) the prompt pass fills it,
    or, if it is already filled for the same prefix, is skipped and the cached keys/values are used. Only decoders in
    ``SHARED_PREFIX_MODELS`` with sdpa or eager attention take this path (:attr:`shares_prefix`); others run full
    sequences.
    """

    def __init__(self, lm: nn.Module, chunk: int = 1024):
        super().__init__()
        self.lm = lm
        self.chunk = chunk
        if self.shares_prefix:  # our caches are read-only in the rationale pass, so checkpointed layers may keep them
            for layer in self.lm.get_decoder().layers:
                layer._can_checkpoint_with_cache = True

    @property
    def shares_prefix(self) -> bool:
        cfg = getattr(self.lm, "config", None)
        return (getattr(cfg, "model_type", None) in SHARED_PREFIX_MODELS
                and getattr(cfg, "_attn_implementation", None) in ("sdpa", "eager")
                and hasattr(self.lm.get_decoder(), "layers"))

    def _target_logp(self, h: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        logits = self.lm.get_output_embeddings()(h).float()
        return logits.gather(1, targets[:, None]).squeeze(1) - torch.logsumexp(logits, dim=-1)

    def _decode_shared(self, input_ids, attention_mask, prefix, prompt: PromptCache | None = None) -> torch.Tensor:
        dec = self.lm.get_decoder()
        dtype = dec.get_input_embeddings().weight.dtype
        dev = input_ids.device
        Q, P = prefix.input_ids.shape
        N, S = input_ids.shape
        causal = lambda n: torch.ones(n, n, dtype=torch.bool, device=dev).tril()  # noqa: E731
        pmask = prefix.attention_mask.bool()
        if prompt is not None and prompt.filled:  # the prompts were computed by an earlier pass over the same prefix
            if prompt.prompt_ids is None or not torch.equal(prompt.prompt_ids, prefix.input_ids):
                raise ValueError("this PromptCache was filled for other prompts; collate both batches with the same prompts=")
            record, last = prompt, prompt.last
        else:
            record = prompt if prompt is not None else PromptCache()
            h_prompt = dec(input_ids=prefix.input_ids, attention_mask=_additive_mask(causal(P)[None] & pmask[:, None, :], dtype),
                           position_ids=torch.arange(P, device=dev)[None].expand(Q, P), past_key_values=record,
                           use_cache=False).last_hidden_state
            last = h_prompt[torch.arange(Q, device=dev), prefix.lengths - 1]
            record.last, record.prompt_ids = last, prefix.input_ids
        # The rationale pass, in groups of similar length so that short rationales are not padded to the longest.
        lens = attention_mask.sum(1).tolist()
        groups = prefix.groups
        outs = []
        for g in groups:
            ix = torch.as_tensor(g, device=dev)
            s = max(lens[i] for i in g)
            seq = prefix.seq.index_select(0, ix)
            allowed = torch.cat([pmask[seq][:, None, :].expand(len(g), s, P),
                                 causal(s)[None] & attention_mask[ix, :s].bool()[:, None, :]], -1)
            if s == 0:  # one-token continuations only (" yes", " no"): predicted from the prompt's last position
                h = last.new_zeros(len(g), 0, last.shape[-1])
            else:
                h = dec(input_ids=input_ids[ix, :s], attention_mask=_additive_mask(allowed, dtype),
                        position_ids=prefix.position_ids[ix, :s], past_key_values=_SharedKV(record, seq),
                        use_cache=False).last_hidden_state
            outs.append(torch.cat([last.index_select(0, seq)[:, None], torch.nn.functional.pad(h, (0, 0, 0, S - s))], 1))
        order = [i for g in groups for i in g]  # rows in group order; put them back in the batch's order
        out = torch.cat(outs) if len(outs) > 1 else outs[0]
        if order == list(range(N)):
            return out
        return out.index_select(0, torch.argsort(torch.as_tensor(order, device=dev)))

    def forward(self, input_ids, attention_mask, rows, cols, targets, answer_index, prefix=None, prompt=None):
        if prefix is not None:
            hidden = self._decode_shared(input_ids, attention_mask, prefix, prompt)
        else:
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
