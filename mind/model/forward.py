"""The student's teacher-forced passes: what training, calibration, held-out tracking, snapshots and evaluation
all run, so that every L_real in the project is the same computation.

* :func:`forward` - one pass over a collated batch (:func:`mind.model.batching.collate`): hidden states, per-target
  log-probs and, when asked, the answer rows' log-distributions.
* :func:`rationale_losses` - the student's side of one training micro-batch: the selected rationales with
  gradients (weighted SFT + lambda x consistency, handed to ``backward``), the others in a no-grad pass.
* :func:`score_rationales` - L_real without gradients for whole problems (calibration, held-out, evaluation).
* :func:`student_pass` - per-rationale CE (B, K) and answer tables of one batch.
* :func:`probe_states` - the pooled hidden states a snapshot stores.
"""

from __future__ import annotations

import numpy as np
import torch

from mind.model import losses
from mind.model.batching import collate
from mind.model.threads import intra_op_threads, threads_for


def forward(student, batch, device, answers: bool = True, prompt=None):
    """One teacher-forced pass: (hidden, per-target log-probs, answer-row log-distributions or None, answer splits).

    ``answers=False`` skips the answer rows' full log-distributions (only the consistency term and snapshots use
    them). ``prompt``: a :class:`mind.model.student.PromptCache` the shared-prompt pass fills, or reuses when filled."""
    n_ans = [len(ix) for ix in batch.answer_index] if answers else None
    answer_index = torch.cat(batch.answer_index).to(device) if answers else torch.zeros(0, dtype=torch.long, device=device)
    prefix = batch.prefix.to(device) if batch.prefix is not None else None
    hidden, tok_logp, ans_logp = student(batch.input_ids.to(device), batch.attention_mask.to(device), batch.rows.to(device),
                                         batch.cols.to(device), batch.target_ids.to(device), answer_index, prefix=prefix,
                                         prompt=prompt)
    return hidden, tok_logp, ans_logp.split(n_ans) if answers else None


def rationale_losses(student, probs, alpha: torch.Tensor, rest: torch.Tensor, K: int, lam: float, pad_id: int,
                     shared: bool, device, backward, reuse_prompt: bool = True):
    """The student's side of one micro-batch of problems ``probs``.

    The rationales with alpha > 0 run with gradients: weighted SFT plus lambda x consistency, handed to
    ``backward`` (before the next pass, so their graph is freed). The ``rest`` rationales (alpha = 0) then run in a
    no-grad pass: calibration needs their L_real, the student does not train on them. With ``shared`` (the
    shared-prompt layout) both batches are laid out over the same prompts and the no-grad pass reads the first
    pass's prompt keys/values, detached (same values, so the same losses; ``reuse_prompt=False`` computes them
    again, as before). Returns per-rationale CE (B, K) of every rationale run (NaN elsewhere), the objective's
    (total, sft, cons) and the tokens run.
    """
    from mind.model.student import PromptCache

    selected = alpha > 0
    more = bool(rest.any())
    reuse = shared and reuse_prompt and more
    prompts = (selected | rest).any(-1).tolist() if reuse else None
    cache = PromptCache() if reuse else None
    batch = collate(probs, selected.tolist(), pad_id, shared, prompts=prompts)
    B = len(probs)
    _, tok_logp, ans = forward(student, batch, device, answers=lam > 0, prompt=cache)
    ce = _ce_table(batch, tok_logp, B, K, device)
    kept = cache.detached() if cache is not None and cache.filled else None  # before backward replays any layer
    alpha = alpha.to(ce.device)
    if lam > 0:
        # The consistency term is many element-wise ops over (pairs, A, V): it runs on a detached copy of the answer
        # rows, on few threads (mind/model/threads.py), and hands its gradient to the rows; the student's backward then
        # takes sft + <rows, that gradient>, whose gradient is the objective's own.
        rows = torch.cat(ans)
        leaf = rows.detach().requires_grad_()
        pairs = max(int(selected.sum(-1).max()) - 1, 1) / 2  # pairs per selected row: the JSD tensors' size
        with intra_op_threads(threads_for(int(rows.numel() * pairs))):
            answer_logp = _answer_tables(batch, leaf.split([len(ix) for ix in batch.answer_index]), B, K, device)
            total, sft, cons = losses.student_objective(ce, alpha, answer_logp, lam)
            grad = torch.autograd.grad(cons, leaf, grad_outputs=torch.tensor(lam, dtype=cons.dtype, device=cons.device))[0] \
                if cons.requires_grad else None
        backward(sft if grad is None else sft + torch.dot(rows.flatten(), grad.flatten()))
    else:
        total, sft, cons = losses.student_objective(ce, alpha, [None] * B, lam)
        backward(total)
    total, sft, cons = total.detach(), sft.detach(), cons.detach()
    n_tokens = batch.n_tokens
    if more:
        with torch.no_grad():
            rest_batch = collate(probs, rest.tolist(), pad_id, shared, prompts=prompts)
            ce_rest, _ = student_pass(student, rest_batch, B, K, False, device, prompt=kept)
        ce = torch.where(rest.to(ce.device), ce_rest, ce)
        n_tokens += rest_batch.n_tokens
    return ce, total, sft, cons, n_tokens


@torch.no_grad()
def score_rationales(student, encoded, pad_id: int, shared: bool, device, chunk: int = 8) -> torch.Tensor:
    """L_real without gradients: the per-rationale cross-entropy (N, K) of every present rationale of the encoded
    problems (NaN where a perspective is missing), ``chunk`` problems at a time, in eval mode."""
    K = len(encoded[0].targets) if encoded else 0
    was_training = student.training
    student.eval()
    out = []
    try:
        for lo in range(0, len(encoded), chunk):
            part = encoded[lo : lo + chunk]
            batch = collate(part, [ep.mask for ep in part], pad_id, shared)
            ce, _ = student_pass(student, batch, len(part), K, False, device)
            out.append(ce.float().cpu())
    finally:
        student.train(was_training)
    return torch.cat(out) if out else torch.zeros(0, K)


def student_pass(student, batch, B: int, K: int, need_answers: bool, device, prompt=None):
    """Teacher-forced pass: per-rationale CE (B, K) (NaN where not run) and, if asked, per-problem (K, A, V)
    answer log-distributions (zeros for rationales not run). ``prompt``: see :func:`forward`."""
    _, tok_logp, ans = forward(student, batch, device, answers=need_answers, prompt=prompt)
    ce = _ce_table(batch, tok_logp, B, K, device)
    return ce, _answer_tables(batch, ans, B, K, device) if need_answers else [None] * B


def _ce_table(batch, tok_logp: torch.Tensor, B: int, K: int, device) -> torch.Tensor:
    """Per-rationale CE (B, K) from the per-target log-probs of ``batch``; NaN where a rationale did not run."""
    ce_seq = losses.per_sequence_ce(tok_logp, batch.seq_of_target.to(device), batch.input_ids.shape[0])
    ce = torch.full((B, K), float("nan"), device=device, dtype=ce_seq.dtype)
    return ce.index_put((batch.seq_problem.to(device), batch.seq_slot.to(device)), ce_seq)


def _answer_tables(batch, ans, B: int, K: int, device) -> list:
    """Per problem, its sequences' answer log-distributions ``ans`` (one (A, V) per sequence) as a (K, A, V) table
    with zeros for the rationales not run; None where fewer than two ran (no pair to compare)."""
    answer_logp = [None] * B
    for b in range(B):
        rows = (batch.seq_problem == b).nonzero().flatten().tolist()
        if len(rows) > 1:  # (K, A, V); the answer span has the same length A in every rationale of a problem
            stacked = torch.stack([ans[r] for r in rows])
            full = stacked.new_zeros((K,) + stacked.shape[1:])
            answer_logp[b] = full.index_copy(0, batch.seq_slot[rows].to(device), stacked)
    return answer_logp


@torch.no_grad()
def probe_states(student, encoded, probes, shared: bool = False, chunk: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Last-layer hidden states, mean-pooled over the rationale tokens, of every probe pair (problem index,
    perspective slot), (n, d) float32 in ``probes`` order; plus whether the student's teacher-forced argmax
    reproduces the answer tokens, (n,) bool. What a run's snapshots hold.

    The probes of one problem run together (its prompt once for all of them in the shared layout), about ``chunk``
    sequences per batch."""
    was_training = student.training
    student.eval()
    device = next(student.parameters()).device
    by_problem: dict[int, list[int]] = {}
    for i, k in probes:
        by_problem.setdefault(i, []).append(k)
    order = list(by_problem)
    found: dict[tuple[int, int], tuple[torch.Tensor, bool]] = {}
    lo = 0
    while lo < len(order):
        part, n_seq = [], 0
        while lo < len(order) and (not part or n_seq + len(by_problem[order[lo]]) <= chunk):
            part.append(order[lo])
            n_seq += len(by_problem[order[lo]])
            lo += 1
        eps = [encoded[i] for i in part]
        run = [[kk in by_problem[i] for kk in range(len(ep.targets))] for i, ep in zip(part, eps)]
        batch = collate(eps, run, 0, shared)
        hidden, _, ans = forward(student, batch, device)
        h = hidden[batch.rows.to(device), batch.cols.to(device)]
        n = batch.input_ids.shape[0]
        sums = torch.zeros(n, h.shape[-1], device=device).index_add(0, batch.rows.to(device), h.float())
        counts = torch.bincount(batch.rows.to(device), minlength=n).clamp(min=1)[:, None]
        pooled = (sums / counts).cpu()
        for r, (b, k) in enumerate(zip(batch.seq_problem.tolist(), batch.seq_slot.tolist())):
            found[(part[b], k)] = (pooled[r], bool((ans[r].argmax(-1).cpu() == batch.answer_ids[r]).all()))
    student.train(was_training)
    if not probes:
        return np.zeros((0, 0), np.float32), np.zeros(0, bool)
    return (torch.stack([found[p][0] for p in map(tuple, probes)]).numpy(),
            np.asarray([found[p][1] for p in map(tuple, probes)]))
