"""Batched greedy decoding for evaluation.

Prompts (token id lists) are sorted by length so that each batch holds prompts of similar length (little padding),
left-padded with the tokenizer's pad token (its eos when it has none) under an attention mask, and decoded greedily
with Hugging Face ``generate`` until every sequence has emitted an end-of-sequence token or ``max_new_tokens``.
Results come back batch by batch (:func:`iter_greedy`), in the caller's indexing, so a caller can save each batch
as soon as it is done.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import torch

from mind.errors import ConfigError


@dataclass(frozen=True)
class Generation:
    index: int  # position of the prompt in the caller's list
    text: str  # decoded continuation, special tokens dropped
    n_tokens: int  # generated tokens up to and including the first end-of-sequence token


def stop_ids(tokenizer, model) -> list[int]:
    """Every token id that ends a generation: the tokenizer's eos and the model's generation-config eos ids."""
    ids: list[int] = []
    for src in (tokenizer.eos_token_id, getattr(getattr(model, "generation_config", None), "eos_token_id", None)):
        for i in src if isinstance(src, (list, tuple)) else [src]:
            if i is not None and int(i) not in ids:
                ids.append(int(i))
    if not ids:
        raise ConfigError("the student's tokenizer has no eos token; set tokenizer.eos_token before evaluating")
    return ids


def pad_id(tokenizer) -> int:
    pid = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    if pid is None:
        raise ConfigError("the student's tokenizer has neither a pad nor an eos token; set one before evaluating")
    return int(pid)


def left_pad(prompts: Sequence[Sequence[int]], pad: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """(input_ids, attention_mask) with every prompt right-aligned."""
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for r, p in enumerate(prompts):
        if p:
            ids[r, width - len(p):] = torch.tensor(list(p), dtype=torch.long)
            mask[r, width - len(p):] = 1
    return ids.to(device), mask.to(device)


def length_order(prompts: Sequence[Sequence[int]]) -> list[int]:
    """Indices sorted longest first (ties keep input order): similar lengths share a batch, and a batch that would
    run out of memory does so at the start."""
    return sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))


@torch.no_grad()
def iter_greedy(model, tokenizer, prompts: Sequence[Sequence[int]], max_new_tokens: int = 256,
                batch_size: int = 8) -> Iterator[list[Generation]]:
    """Greedy continuations of ``prompts``, yielded one batch at a time (batches in length order)."""
    if max_new_tokens < 1:
        raise ConfigError(f"max_new_tokens must be >= 1, got {max_new_tokens}; pass e.g. --max-new-tokens 256")
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}; pass e.g. --batch-size 8")
    if any(len(p) == 0 for p in prompts):
        raise ConfigError("an evaluation prompt is empty; check the benchmark items")
    pad, stops = pad_id(tokenizer), stop_ids(tokenizer, model)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    order = length_order(prompts)
    try:
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            ids, mask = left_pad([prompts[i] for i in idx], pad, device)
            out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens, do_sample=False,
                                 num_beams=1, temperature=None, top_p=None, top_k=None, pad_token_id=pad,
                                 eos_token_id=stops)
            new = out[:, ids.shape[1]:].tolist()
            batch = []
            for i, row in zip(idx, new):
                end = next((j + 1 for j, t in enumerate(row) if t in stops), len(row))
                text = tokenizer.decode(row[:end], skip_special_tokens=True)
                batch.append(Generation(i, text.strip(), end))
            yield batch
    finally:
        model.train(was_training)


def greedy(model, tokenizer, prompts: Sequence[Sequence[int]], max_new_tokens: int = 256,
           batch_size: int = 8) -> list[Generation]:
    """All of :func:`iter_greedy`, in the order of ``prompts``."""
    out: list[Generation | None] = [None] * len(prompts)
    for batch in iter_greedy(model, tokenizer, prompts, max_new_tokens, batch_size):
        for g in batch:
            out[g.index] = g
    return out  # type: ignore[return-value]
