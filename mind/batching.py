"""Tokenisation of (question, rationale) pairs and collation into one padded batch of B x K sequences.

Each target is ``rationale body`` + ``\\nThe answer is`` + `` <gold>`` + ``.`` + EOS, with the pieces tokenised
separately and concatenated, so the answer value is the *same token ids* in every perspective of a problem: the
positions of the answer span align across rationales, which the JSD consistency term needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from mind.data import Problem, split_answer_line
from mind.prompting import prompt_ids


@dataclass
class EncodedProblem:
    index: int  # position of the problem in the dataset
    prompt: list[int]
    targets: list[list[int] | None]  # per perspective slot: target ids (None = perspective missing)
    answer_start: list[int]  # per slot: index of the first answer-value token inside the target
    answer_len: int  # answer-value tokens (identical across perspectives)
    truncated: int = 0  # rationales whose body was cut to fit max_length

    @property
    def mask(self) -> list[bool]:
        return [t is not None for t in self.targets]


def encode_problem(tokenizer, problem: Problem, index: int, perspectives: tuple[str, ...], max_length: int,
                   chat_template: bool = True) -> EncodedProblem:
    enc = lambda s: tokenizer(s, add_special_tokens=False)["input_ids"]  # noqa: E731
    prompt = prompt_ids(tokenizer, problem.question, chat_template)
    lead, value, tail = enc("\nThe answer is"), enc(" " + problem.answer), enc(".") + [tokenizer.eos_token_id]
    room = max(max_length - len(prompt) - len(lead) - len(value) - len(tail), 0)
    if room == 0:  # an extremely long question: keep its end
        prompt = prompt[-max(max_length // 2, 1):]
        room = max(max_length - len(prompt) - len(lead) - len(value) - len(tail), 0)
    targets, starts, truncated = [], [], 0
    for pid in perspectives:
        r = problem.rationale(pid)
        if r is None:
            targets.append(None)
            starts.append(-1)
            continue
        body = enc(split_answer_line(r.text))
        if len(body) > room:
            body, truncated = body[:room], truncated + 1
        targets.append(body + lead + value + tail)
        starts.append(len(body) + len(lead))
    return EncodedProblem(index, prompt, targets, starts, len(value), truncated)


@dataclass
class Batch:
    input_ids: torch.Tensor  # (N, T) N = number of sequences run
    attention_mask: torch.Tensor  # (N, T)
    seq_problem: torch.Tensor  # (N,) row of the problem in the batch (0..B-1)
    seq_slot: torch.Tensor  # (N,) perspective slot (0..K-1)
    rows: torch.Tensor  # (M,) sequence of every position that predicts a target token
    cols: torch.Tensor  # (M,) that position
    target_ids: torch.Tensor  # (M,) the token it predicts
    seq_of_target: torch.Tensor  # (M,) == rows, kept for clarity
    answer_index: list[torch.Tensor]  # per sequence: indices into the M targets of its answer-value tokens
    answer_ids: list[torch.Tensor]  # per sequence: the answer-value token ids (same length within a problem)
    n_tokens: int  # real (non-padding) tokens in the batch


def collate(problems: list[EncodedProblem], run: list[list[bool]], pad_id: int) -> Batch:
    """Pack the sequences ``run[b][k]`` (and present) of ``problems`` into one right-padded batch."""
    seqs, seq_problem, seq_slot, spans = [], [], [], []
    for b, ep in enumerate(problems):
        for k, tgt in enumerate(ep.targets):
            if tgt is None or not run[b][k]:
                continue
            seqs.append((ep.prompt, tgt))
            seq_problem.append(b)
            seq_slot.append(k)
            spans.append((ep.answer_start[k], ep.answer_len))
    T = max(len(p) + len(t) for p, t in seqs)
    N = len(seqs)
    input_ids = torch.full((N, T), pad_id, dtype=torch.long)
    attn = torch.zeros((N, T), dtype=torch.long)
    rows, cols, tids, ans_idx, ans_ids = [], [], [], [], []
    m = 0
    for n, ((prompt, tgt), (a_start, a_len)) in enumerate(zip(seqs, spans)):
        ids = prompt + tgt
        input_ids[n, : len(ids)] = torch.tensor(ids)
        attn[n, : len(ids)] = 1
        p = len(prompt)
        rows += [n] * len(tgt)
        cols += list(range(p - 1, p - 1 + len(tgt)))  # position t predicts token t+1
        tids += tgt
        ans_idx.append(torch.arange(m + a_start, m + a_start + a_len))
        ans_ids.append(torch.tensor(tgt[a_start : a_start + a_len]))
        m += len(tgt)
    rows_t = torch.tensor(rows)
    return Batch(
        input_ids=input_ids, attention_mask=attn, seq_problem=torch.tensor(seq_problem), seq_slot=torch.tensor(seq_slot),
        rows=rows_t, cols=torch.tensor(cols), target_ids=torch.tensor(tids), seq_of_target=rows_t,
        answer_index=ans_idx, answer_ids=ans_ids, n_tokens=int(attn.sum()),
    )
