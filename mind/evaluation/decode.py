"""Batched greedy decoding for evaluation.

Prompts (token id lists) are sorted by length so that each batch holds prompts of similar length (little padding),
left-padded with the tokenizer's pad token (its eos when it has none) under an attention mask, and decoded greedily
with Hugging Face ``generate`` until every sequence has emitted an end-of-sequence token or ``max_new_tokens``.
Results come back batch by batch (:func:`iter_greedy`), in the caller's indexing, so a caller can save each batch
as soon as it is done.

With ``stop_at_answer`` a sequence also stops once it has written a complete answer line: "The answer is ..." (or
"The final answer is ...") up to a period followed by whitespace, or a newline (:data:`ANSWER_DONE`). The prompt
asks for exactly that line at the end, so this only cuts what a model writes after its answer (often the same
line repeated until the token budget runs out), and a batch is done as soon as its last member has answered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator, Sequence

import torch

from mind.errors import ConfigError


@dataclass(frozen=True)
class Generation:
    index: int  # position of the prompt in the caller's list
    text: str  # decoded continuation, special tokens dropped
    n_tokens: int  # generated tokens up to and including the first end-of-sequence token


ANSWER_DONE = re.compile(r"answer\s+is\b[^\n]*?(?:\.\s|\n)", re.I)
_TAIL = 64  # tokens decoded per check: enough for an answer line


def answer_line_done(text: str) -> bool:
    """Whether ``text`` holds a complete answer line (see the module docstring)."""
    return ANSWER_DONE.search(text) is not None


class AnswerLineStop:
    """A ``generate`` stopping criterion, per row: True once the row's new tokens hold a complete answer line.

    ``stopped_at[row]`` records how many new tokens the row had when it stopped (the rest of its output is padding).
    """

    def __init__(self, tokenizer, prompt_width: int, batch: int):
        self.tokenizer, self.width = tokenizer, prompt_width
        self.stopped_at: list[int | None] = [None] * batch

    def __call__(self, input_ids: torch.Tensor, scores=None, **kwargs) -> torch.Tensor:
        new = input_ids[:, self.width:]
        done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        for r in range(new.shape[0]):
            if self.stopped_at[r] is None:
                text = self.tokenizer.decode(new[r, -_TAIL:].tolist(), skip_special_tokens=True)
                if answer_line_done(text):
                    self.stopped_at[r] = new.shape[1]
            done[r] = self.stopped_at[r] is not None
        return done


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
                batch_size: int = 8, stop_at_answer: bool = False) -> Iterator[list[Generation]]:
    """Greedy continuations of ``prompts``, yielded one batch at a time (batches in length order); with
    ``stop_at_answer`` each one ends after its first complete answer line."""
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
            crit = AnswerLineStop(tokenizer, ids.shape[1], len(idx)) if stop_at_answer else None
            extra = {"stopping_criteria": [crit]} if crit else {}
            out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens, do_sample=False,
                                 num_beams=1, temperature=None, top_p=None, top_k=None, pad_token_id=pad,
                                 eos_token_id=stops, **extra)
            new = out[:, ids.shape[1]:].tolist()
            batch = []
            for r, (i, row) in enumerate(zip(idx, new)):
                if crit is not None and crit.stopped_at[r] is not None:
                    row = row[: crit.stopped_at[r]]
                end = next((j + 1 for j, t in enumerate(row) if t in stops), len(row))
                text = tokenizer.decode(row[:end], skip_special_tokens=True)
                batch.append(Generation(i, text.strip(), end))
            yield batch
    finally:
        model.train(was_training)


def greedy(model, tokenizer, prompts: Sequence[Sequence[int]], max_new_tokens: int = 256,
           batch_size: int = 8, stop_at_answer: bool = False) -> list[Generation]:
    """All of :func:`iter_greedy`, in the order of ``prompts``."""
    out: list[Generation | None] = [None] * len(prompts)
    for batch in iter_greedy(model, tokenizer, prompts, max_new_tokens, batch_size, stop_at_answer):
        for g in batch:
            out[g.index] = g
    return out  # type: ignore[return-value]
