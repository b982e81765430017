"""Teacher-forced evaluation metrics: one batched forward pass per batch of items, no generation.

What is scored, exactly (:class:`Scoring` describes one item):

* ``answer_logp`` - the trained format: the item is asked with the prompt the student was trained with
  (:func:`mind.data.prompting.prompt_ids`: question, lettered options, its answer type's instruction, chat template
  when the student has one), and the reply is forced to be the canonical answer line without a rationale:
  ``The answer is`` (context, not scored), then the value and the period (scored), e.g. `` 72.`` or `` (B).``.
  Summed over its tokens (nats; higher is better). Like :func:`mind.model.batching.encode_problem`, the pieces are
  tokenised separately (``"The answer is"``, ``" " + value``, ``"."``) and concatenated.
* ``letter_logp`` (choice and yes/no items) - the same continuation for every option (`` (A).``, `` (B).``, ... or
  `` yes.`` / `` no.``): ``letter_pred`` is the highest, ``letter_correct`` whether it is the gold one. The
  student's own answer form, ranked.
* ``plain_logp`` (choice and yes/no items) - lm-evaluation-harness's multiple-choice scoring with its zero-shot
  prompt: context ``Question: <question>\nAnswer:`` (no chat template, no options listed), continuation
  ``" " + option text`` (``yes``/``no`` for yes/no items), tokenised as the harness does (context and
  context + continuation encoded whole, the continuation being the tail), log-probability summed over the
  continuation's tokens. ``acc``: the option with the highest sum is the gold one; ``acc_norm``: the highest sum
  divided by the option text's length in characters (the harness's definitions). ``plain_chars`` holds those
  lengths. These are the primary metrics of the choice benchmarks: a 135M student's generations rarely end in a
  parseable letter, while its option likelihoods still rank.
* Rationale loss (heldout problems, :func:`rationale_ce`): the per-rationale cross-entropy of every perspective's
  rationale, exactly as training measures L_real (:func:`mind.model.forward.score_rationales`): mean over the
  rationale and answer-line tokens.

For items with several continuations the prompt is computed once for all of them (the shared-prefix layout of
:func:`mind.model.batching.collate`, through :class:`mind.model.student.StudentLM`) when the student supports it;
with one or two continuations per item the plain layout (each continuation after its own copy of the prompt) was
faster here (SmolLM2 on 2 CPU cores: 8 GSM8K items 1.3x; 8 CSQA items about even), so :data:`SHARE_FROM`
continuations per item on average switch the shared layout on. Both give the same numbers
(tests/test_eval_likelihood.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from mind.data.prompting import LEAD
from mind.evaluation.items import YESNO_OPTIONS
from mind.model.batching import EncodedProblem, collate, encode_problem

SHARE_FROM = 3  # continuations per item (on average in a batch) from which the prompt is shared
PLAIN_TEMPLATE = "Question: {question}\nAnswer:"  # lm-evaluation-harness's zero-shot multiple-choice context


@dataclass(frozen=True)
class Scoring:
    """What to score for one item: its trained-format prompt ids, the gold's answer-line value, and for choice /
    yes/no items the options' values, the plain (harness) context and option texts, and the gold option."""

    prompt: tuple[int, ...]
    value: str  # the gold as its answer line writes it: "72", "(B)", "yes"
    option_values: tuple[str, ...] = ()  # every option so: "(A)", "(B)", ... / "yes", "no"
    plain_context: str = ""  # "Question: ...\nAnswer:" ('' for items without options)
    plain_options: tuple[str, ...] = ()  # option texts, the harness's choices
    gold_index: int = -1  # the gold option's position (-1 without options)


def scoring_for(item, prompt: list[int], version: int) -> Scoring:
    """The :class:`Scoring` of a :class:`mind.benchmarks.BenchmarkItem` asked with ``prompt`` (prompt ``version``)."""
    from mind.data.prompting import answer_value

    value = answer_value(item.answer, item.answer_type, version)
    if item.answer_type == "choice" and item.choices:
        letters = [chr(65 + i) for i in range(len(item.choices))]
        gold = letters.index(str(item.answer).strip().upper()) if str(item.answer).strip().upper() in letters else -1
        return Scoring(tuple(prompt), value, tuple(answer_value(x, "choice", version) for x in letters),
                       PLAIN_TEMPLATE.format(question=item.question.strip()), tuple(str(c).strip() for c in item.choices),
                       gold)
    if item.answer_type == "yesno":
        opts = YESNO_OPTIONS
        gold = opts.index(str(item.answer).strip().lower()) if str(item.answer).strip().lower() in opts else -1
        return Scoring(tuple(prompt), value, tuple(answer_value(x, "yesno", version) for x in opts),
                       PLAIN_TEMPLATE.format(question=item.question.strip()), opts, gold)
    return Scoring(tuple(prompt), value)


def _enc(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def trained_continuations(tokenizer, value: str, option_values=()) -> tuple[list[int], list[list[int]]]:
    """(lead, [gold continuation, option continuations...]) token ids: ``The answer is`` then `` <value>.``."""
    lead = _enc(tokenizer, LEAD)
    period = _enc(tokenizer, ".")
    return lead, [_enc(tokenizer, " " + v) + period for v in (value, *option_values)]


def plain_pair(tokenizer, context: str, continuation: str) -> tuple[list[int], list[int]]:
    """(context ids, continuation ids) as lm-evaluation-harness encodes a pair for a causal LM: trailing spaces of
    the context move to the continuation, context + continuation is encoded whole (the tokenizer's default special
    tokens), and the continuation is what follows the context's own encoding."""
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces:
        continuation, context = context[-n_spaces:] + continuation, context[:-n_spaces]
    whole = tokenizer(context + continuation)["input_ids"]
    ctx = tokenizer(context)["input_ids"]
    return list(ctx), list(whole[len(ctx):])


def encode_items(tokenizer, scorings: Sequence[Scoring]) -> tuple[list[EncodedProblem], list[EncodedProblem | None]]:
    """Per item, the trained-format problem (slots: gold, then every option's value, each target ``The answer is``
    + continuation, ``answer_start`` where the scored part begins) and the plain-format problem (one slot per option
    text after the harness context; None for items without options)."""
    trained, plain = [], []
    for i, s in enumerate(scorings):
        lead, conts = trained_continuations(tokenizer, s.value, s.option_values)
        trained.append(EncodedProblem(i, list(s.prompt), [lead + c for c in conts], [len(lead)] * len(conts), 0))
        if s.plain_options:
            pairs = [plain_pair(tokenizer, s.plain_context, " " + o) for o in s.plain_options]
            ctx = pairs[0][0]
            assert all(c == ctx for c, _ in pairs), "the harness context encodes alike for every option"
            plain.append(EncodedProblem(i, ctx, [c for _, c in pairs], [0] * len(pairs), 0))
        else:
            plain.append(None)
    return trained, plain


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


def score_items(student, tokenizer, scorings: Sequence[Scoring], device, batch_size: int = 16,
                shared: bool | None = None) -> list[dict]:
    """Per item: ``answer_logp`` and ``answer_tokens``; with options also ``letter_logp`` / ``letter_pred`` /
    ``letter_correct`` and ``plain_logp`` / ``plain_chars`` / ``acc`` / ``acc_norm`` (see the module docstring).
    ``shared``: see :func:`span_logp`."""
    from mind.evaluation.decode import pad_id

    was_training = student.training
    student.eval()
    trained, plain = encode_items(tokenizer, scorings)
    out: list[dict] = [{} for _ in scorings]
    try:
        for problems, kind in ((trained, "trained"), (plain, "plain")):
            idx_all = [i for i, ep in enumerate(problems) if ep is not None]
            order = sorted(idx_all, key=lambda i: -len(problems[i].prompt))  # similar prompt lengths together
            for lo in range(0, len(order), batch_size):
                idx = order[lo : lo + batch_size]
                spans = span_logp(student, [problems[i] for i in idx], pad_id(tokenizer), device, shared)
                for i, sp in zip(idx, spans):
                    out[i].update(_record(kind, scorings[i], sp))
    finally:
        student.train(was_training)
    return out


def _record(kind: str, s: Scoring, spans: list[tuple[float, int]]) -> dict:
    """The metrics of one item from its spans (sum of log-probs, token count) in one format."""
    if kind == "trained":
        (gold_sum, gold_n), opts = spans[0], spans[1:]
        rec: dict = {"answer_logp": gold_sum, "answer_tokens": gold_n}
        if opts:
            sums = [x for x, _ in opts]
            pred = int(np.argmax(sums))
            rec.update(letter_logp=sums, letter_pred=pred, letter_correct=pred == s.gold_index)
        return rec
    sums = [x for x, _ in spans]
    chars = [len(o) for o in s.plain_options]
    pred, pred_norm = int(np.argmax(sums)), int(np.argmax([x / max(c, 1) for x, c in zip(sums, chars)]))
    return {"plain_logp": sums, "plain_chars": chars, "plain_pred": pred, "plain_pred_norm": pred_norm,
            "acc": pred == s.gold_index, "acc_norm": pred_norm == s.gold_index}


def rationale_ce(student, tokenizer, problems, perspectives: Sequence[str], max_length: int, chat_template: bool,
                 device, chunk: int = 8, prompt_version: int = 2) -> np.ndarray:
    """(N, K) per-rationale cross-entropy of ``problems`` (NaN where a perspective is missing), computed by the
    trainer's own no-grad pass so that it is the L_real training logs."""
    from mind.evaluation.decode import pad_id
    from mind.model.forward import score_rationales

    if not problems:
        return np.zeros((0, len(perspectives)))
    encoded = [encode_problem(tokenizer, p, i, tuple(perspectives), max_length, chat_template, prompt_version)
               for i, p in enumerate(problems)]
    ce = score_rationales(student, encoded, pad_id(tokenizer), student.shares_prefix, device, chunk)
    return ce.numpy().astype(float)
