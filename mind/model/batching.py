"""Tokenisation of (question, rationale) pairs and collation into one padded batch of B x K sequences.

Each target is ``rationale body`` + ``\\nThe answer is`` + `` <gold>`` + ``.`` + EOS, with the pieces tokenised
separately and concatenated, so the answer value is the *same token ids* in every perspective of a problem: the
positions of the answer span align across rationales, which the JSD consistency term needs.

``collate(..., shared_prefix=True)`` lays the batch out for :class:`mind.model.student.StudentLM`'s shared-prompt path:
each question's prompt appears once (``prefix``) and the N sequence rows hold only the rationale tokens, so the
prompt is computed once for its K rationales instead of K times.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from mind.data import Problem, split_answer_line
from mind.data.prompting import LEAD, PROMPT_VERSION, answer_value, prompt_ids


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
                   chat_template: bool = True, prompt_version: int = PROMPT_VERSION) -> EncodedProblem:
    """The problem's prompt (its answer type's instruction under ``prompt_version``) and one target per
    perspective: the rationale without its own answer line, then the canonical one (mind/data/prompting.py)."""
    enc = lambda s: tokenizer(s, add_special_tokens=False)["input_ids"]  # noqa: E731
    prompt = prompt_ids(tokenizer, problem.question, chat_template, problem.answer_type, prompt_version)
    value_text = answer_value(problem.answer, problem.answer_type, prompt_version)
    lead, value, tail = enc("\n" + LEAD), enc(" " + value_text), enc(".") + [tokenizer.eos_token_id]
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
class Prefix:
    """The prompts of a shared-prefix batch: each question once, right-padded."""

    input_ids: torch.Tensor  # (Q, P) Q = questions with at least one sequence in the batch
    attention_mask: torch.Tensor  # (Q, P)
    lengths: torch.Tensor  # (Q,) real prompt tokens
    seq: torch.Tensor  # (N,) the prompt row of every sequence
    position_ids: torch.Tensor  # (N, S) positions of the rationale tokens (prompt length + offset)
    groups: list[list[int]]  # rows run together in the rationale pass, each padded to its own longest

    def to(self, device) -> "Prefix":
        return Prefix(**{k: v.to(device) if torch.is_tensor(v) else v for k, v in vars(self).items()})


@dataclass
class Batch:
    input_ids: torch.Tensor  # (N, T) N = number of sequences run; with a prefix: the rationale tokens only
    attention_mask: torch.Tensor  # (N, T)
    seq_problem: torch.Tensor  # (N,) row of the problem in the batch (0..B-1)
    seq_slot: torch.Tensor  # (N,) perspective slot (0..K-1)
    rows: torch.Tensor  # (M,) sequence of every position that predicts a target token
    cols: torch.Tensor  # (M,) that position
    target_ids: torch.Tensor  # (M,) the token it predicts
    seq_of_target: torch.Tensor  # (M,) == rows, kept for clarity
    answer_index: list[torch.Tensor]  # per sequence: indices into the M targets of its answer-value tokens
    answer_ids: list[torch.Tensor]  # per sequence: the answer-value token ids (same length within a problem)
    n_tokens: int  # real (non-padding) tokens of the N sequences, prompt included in each (what a plain batch holds)
    prefix: Prefix | None = None  # set by collate(shared_prefix=True)
    n_computed: int = 0  # positions the decoder runs, padding and the prefix included (a reused PromptCache skips it)


def collate(problems: list[EncodedProblem], run: list[list[bool]], pad_id: int, shared_prefix: bool = False,
            group_lengths: bool = True, prompts: list[bool] | None = None) -> Batch:
    """Pack the sequences ``run[b][k]`` (and present) of ``problems`` into one right-padded batch.

    ``rows``/``cols`` address the hidden states that predict each target token. In the plain layout those are
    positions of ``input_ids``; with ``shared_prefix`` they address the student's combined hidden states, whose
    column 0 is the last prompt position and column j >= 1 the rationale position j - 1; ``group_lengths`` then
    splits the rationale rows into groups of similar length (:func:`length_groups`) that the student runs apart.
    ``prompts[b]`` (shared layout only) puts problem b's prompt in the prefix whether or not it runs a sequence here
    (default: the problems that do): two batches collated with the same ``prompts`` have the same prefix, so the
    second can reuse the first one's prompt keys/values (:class:`mind.model.student.PromptCache`).
    """
    if shared_prefix:
        return _collate_shared(problems, run, pad_id, group_lengths, prompts)
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
        answer_index=ans_idx, answer_ids=ans_ids, n_tokens=int(attn.sum()), n_computed=N * T,
    )


def _collate_shared(problems: list[EncodedProblem], run: list[list[bool]], pad_id: int, group_lengths: bool,
                    prompts: list[bool] | None = None) -> Batch:
    used = [b for b, ep in enumerate(problems) if any(t is not None and run[b][k] for k, t in enumerate(ep.targets))]
    if prompts is not None:
        if not all(prompts[b] for b in used):
            raise ValueError("prompts= must include every problem that runs a sequence in this batch")
        used = [b for b in range(len(problems)) if prompts[b]]
    row_of = {b: q for q, b in enumerate(used)}
    prompts = [problems[b].prompt for b in used]
    P = max(len(p) for p in prompts)
    prefix_ids = torch.full((len(used), P), pad_id, dtype=torch.long)
    prefix_mask = torch.zeros((len(used), P), dtype=torch.long)
    for q, p in enumerate(prompts):
        prefix_ids[q, : len(p)] = torch.tensor(p)
        prefix_mask[q, : len(p)] = 1
    seqs = [(b, k, t) for b in used for k, t in enumerate(problems[b].targets) if t is not None and run[b][k]]
    S = max(len(t) for _, _, t in seqs) - 1  # the last target token (EOS) is never an input
    N = len(seqs)
    input_ids = torch.full((N, S), pad_id, dtype=torch.long)
    attn = torch.zeros((N, S), dtype=torch.long)
    positions = torch.zeros((N, S), dtype=torch.long)
    rows, cols, tids, ans_idx, ans_ids = [], [], [], [], []
    m = 0
    for n, (b, k, tgt) in enumerate(seqs):
        ep = problems[b]
        input_ids[n, : len(tgt) - 1] = torch.tensor(tgt[:-1])
        attn[n, : len(tgt) - 1] = 1
        positions[n] = torch.arange(len(ep.prompt), len(ep.prompt) + S)
        rows += [n] * len(tgt)
        cols += list(range(len(tgt)))  # combined column j predicts target token j
        tids += tgt
        a_start = ep.answer_start[k]
        ans_idx.append(torch.arange(m + a_start, m + a_start + ep.answer_len))
        ans_ids.append(torch.tensor(tgt[a_start : a_start + ep.answer_len]))
        m += len(tgt)
    rows_t = torch.tensor(rows)
    seq_problem = torch.tensor([b for b, _, _ in seqs])
    lens = [len(t) - 1 for _, _, t in seqs]
    groups = length_groups(lens) if group_lengths and N > 1 else [list(range(N))]
    prefix = Prefix(input_ids=prefix_ids, attention_mask=prefix_mask, lengths=prefix_mask.sum(1),
                    seq=torch.tensor([row_of[b] for b, _, _ in seqs]), position_ids=positions, groups=groups)
    return Batch(
        input_ids=input_ids, attention_mask=attn, seq_problem=seq_problem, seq_slot=torch.tensor([k for _, k, _ in seqs]),
        rows=rows_t, cols=torch.tensor(cols), target_ids=torch.tensor(tids), seq_of_target=rows_t,
        answer_index=ans_idx, answer_ids=ans_ids,
        n_tokens=sum(len(problems[b].prompt) + len(t) for b, _, t in seqs), prefix=prefix,
        n_computed=len(used) * P + sum(len(g) * max(lens[i] for i in g) for g in groups),
    )


def length_groups(lengths: list[int], overhead: int = 32, max_groups: int = 4) -> list[list[int]]:
    """Split sequence indices into groups of similar length, each to be padded only to its own longest.

    Minimises ``sum(len(group) * longest(group)) + overhead * n_groups`` (padded positions computed, plus a per-call
    cost in positions) over splits of the length-sorted sequences into at most ``max_groups`` runs; exact by dynamic
    programming, O(n^2 * max_groups) for n sequences. Returns index lists, shortest sequences first.
    """
    n = len(lengths)
    order = sorted(range(n), key=lambda i: lengths[i])
    srt = [lengths[i] for i in order]
    inf = float("inf")
    best = [[inf] * (max_groups + 1) for _ in range(n + 1)]
    cut = [[0] * (max_groups + 1) for _ in range(n + 1)]
    best[0][0] = 0
    for j in range(1, n + 1):
        for g in range(1, max_groups + 1):
            for i in range(g - 1, j):  # last group = sorted[i:j], padded to srt[j - 1]
                c = best[i][g - 1] + (j - i) * srt[j - 1] + overhead
                if c < best[j][g]:
                    best[j][g], cut[j][g] = c, i
    g = min(range(1, max_groups + 1), key=lambda k: best[n][k]) if n else 0
    groups, j = [], n
    while g > 0:
        i = cut[j][g]
        groups.append(order[i:j])
        j, g = i, g - 1
    return groups[::-1]
