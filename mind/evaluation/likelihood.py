"""Teacher-forced evaluation metrics: one batched forward pass per batch of items, no generation.

What is scored, exactly. Each item is asked with the training prompt (:func:`mind.data.prompting.prompt_ids`: the
question and its lettered options, chat template when the student has one). The student's reply is then forced to
be the canonical answer line of training (:data:`mind.data.perspectives.ANSWER_LINE`) without a rationale:
``The answer is`` (context, not scored), then the continuation `` <gold>.`` (scored). Like
:func:`mind.model.batching.encode_problem`, the pieces are tokenised separately (``"The answer is"``, ``" " + gold``,
``"."``) and concatenated.

* ``answer_logp``: log p(`` <gold>.`` | prompt, ``The answer is``), summed over its tokens (nats; higher is
  better). For csqa/gpqa the gold is the option letter, for strategyqa ``yes``/``no``, else the number or
  expression.
* ``option_logp`` (choice benchmarks): for every option the continuation `` <option text>.`` scored the same
  way, divided by its number of tokens (length-normalised, per-token mean). ``option_pred`` is the letter of the
  highest one, and ``option_correct`` whether it is the gold letter: a second accuracy that needs no generation.
* Rationale loss (heldout problems, :func:`rationale_ce`): the per-rationale cross-entropy of every perspective's
  rationale, exactly as training measures L_real (:func:`mind.model.forward.score_rationales`): mean over the rationale
  and answer-line tokens.

For choice items (several continuations per prompt) the prompt is computed once for all its continuations (the
shared-prefix layout of :func:`mind.model.batching.collate`, through :class:`mind.model.student.StudentLM`) when the student
supports it; with one or two continuations per item the plain layout (each continuation after its own copy of the
prompt) was faster here (SmolLM2 on 2 CPU cores: 8 GSM8K items 1.3x; 8 CSQA items about even), so
:data:`SHARE_FROM` continuations per item on average switch the shared layout on. Both give the same numbers
(tests/test_eval_likelihood.py).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from mind.model.batching import EncodedProblem, collate, encode_problem

LEAD = "The answer is"
SHARE_FROM = 3  # continuations per item (on average in a batch) from which the prompt is shared


def _enc(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def continuations(tokenizer, answer: str, choices: Sequence[str] = ()) -> tuple[list[int], list[list[int]]]:
    """(lead, [gold continuation, option continuations...]) token ids for one item."""
    lead = _enc(tokenizer, LEAD)
    period = _enc(tokenizer, ".")
    conts = [_enc(tokenizer, " " + str(answer).strip()) + period]
    for c in choices:
        text = str(c).strip().rstrip(".")
        conts.append(_enc(tokenizer, " " + text) + period)
    return lead, conts


def encode_items(tokenizer, prompts: Sequence[Sequence[int]], answers: Sequence[str],
                 choices: Sequence[Sequence[str]]) -> list[EncodedProblem]:
    """One :class:`EncodedProblem` per item whose slots are (gold, option 1, option 2, ...), each target being
    ``The answer is`` + continuation; ``answer_start`` marks where the scored continuation begins."""
    out = []
    for i, (prompt, ans, ch) in enumerate(zip(prompts, answers, choices)):
        lead, conts = continuations(tokenizer, ans, ch)
        out.append(EncodedProblem(i, list(prompt), [lead + c for c in conts], [len(lead)] * len(conts), 0))
    return out


@torch.no_grad()
def span_logp(student, encoded: list[EncodedProblem], pad_id: int, device,
              shared: bool | None = None) -> list[list[tuple[float, int]]]:
    """For every problem and slot: (sum of log p over the target tokens from ``answer_start`` on, their count).
    ``shared``: run each prompt once for its continuations (None: when the student can and the batch has at least
    :data:`SHARE_FROM` continuations per problem)."""
    if shared is None:
        shared = sum(len(ep.targets) for ep in encoded) >= SHARE_FROM * len(encoded)
    shared = shared and student.shares_prefix
    batch = collate(encoded, [ep.mask for ep in encoded], pad_id, shared)
    prefix = batch.prefix.to(device) if batch.prefix is not None else None
    _, tok_logp, _ = student(batch.input_ids.to(device), batch.attention_mask.to(device), batch.rows.to(device),
                             batch.cols.to(device), batch.target_ids.to(device),
                             torch.zeros(0, dtype=torch.long, device=device), prefix=prefix)
    tok_logp = tok_logp.float().cpu()
    out: list[list[tuple[float, int]]] = [[] for _ in encoded]
    m = 0
    for b, ep in enumerate(encoded):  # collate lays the sequences and their targets out in this order
        for k, tgt in enumerate(ep.targets):
            if tgt is None:
                continue
            lo, hi = m + ep.answer_start[k], m + len(tgt)
            out[b].append((float(tok_logp[lo:hi].sum()), hi - lo))
            m += len(tgt)
    assert m == tok_logp.shape[0], "collate changed its target layout"
    return out


def score_items(student, tokenizer, prompts: Sequence[Sequence[int]], answers: Sequence[str],
                choices: Sequence[Sequence[str]], device, batch_size: int = 16, shared: bool | None = None) -> list[dict]:
    """Per item: ``answer_logp``, ``answer_tokens`` and, with options, ``option_logp`` (per-token means),
    ``option_pred`` (letter) and ``option_correct`` (against ``answers``, the gold letters). ``shared``: see
    :func:`span_logp`."""
    from mind.evaluation.decode import pad_id

    was_training = student.training
    student.eval()
    encoded = encode_items(tokenizer, prompts, answers, choices)
    order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i].prompt))  # similar prompt lengths together
    out: list[dict | None] = [None] * len(encoded)
    try:
        for lo in range(0, len(order), batch_size):
            idx = order[lo : lo + batch_size]
            spans = span_logp(student, [encoded[i] for i in idx], pad_id(tokenizer), device, shared)
            for i, sp in zip(idx, spans):
                (gold_sum, gold_n), opts = sp[0], sp[1:]
                rec = {"answer_logp": gold_sum, "answer_tokens": gold_n}
                if opts:
                    norm = [s / max(n, 1) for s, n in opts]
                    pred = chr(65 + int(np.argmax(norm)))
                    rec.update(option_logp=norm, option_pred=pred,
                               option_correct=pred == str(answers[i]).strip().upper())
                out[i] = rec
    finally:
        student.train(was_training)
    return out  # type: ignore[return-value]


def rationale_ce(student, tokenizer, problems, perspectives: Sequence[str], max_length: int, chat_template: bool,
                 device, chunk: int = 8) -> np.ndarray:
    """(N, K) per-rationale cross-entropy of ``problems`` (NaN where a perspective is missing), computed by the
    trainer's own no-grad pass so that it is the L_real training logs."""
    from mind.evaluation.decode import pad_id
    from mind.model.forward import score_rationales

    if not problems:
        return np.zeros((0, len(perspectives)))
    encoded = [encode_problem(tokenizer, p, i, tuple(perspectives), max_length, chat_template)
               for i, p in enumerate(problems)]
    ce = score_rationales(student, encoded, pad_id(tokenizer), student.shares_prefix, device, chunk)
    return ce.numpy().astype(float)
