"""Pure loss and selection functions of the MIND method (exactly tested in tests/test_losses.py).

Notation (GUIDE.md section 1): K perspectives, s in R^K the MetaNet scores (positive), L~ the inertia-filtered
losses, ``mask`` marks the perspectives a problem actually has (a judge may have dropped some).
"""

from __future__ import annotations

import math

import torch


LN2 = math.log(2.0)


def jsd(logp: torch.Tensor, logq: torch.Tensor) -> torch.Tensor:
    """Jensen-Shannon divergence (nats) between distributions given as log-probabilities on the last axis.

    JSD(P||Q) = 1/2 KL(P||M) + 1/2 KL(Q||M), M = (P+Q)/2. Symmetric, 0 iff P = Q, at most ln 2.
    Returns the divergence per leading index (shape ``logp.shape[:-1]``).
    """
    logp, logq = logp.clamp(min=-1e4), logq.clamp(min=-1e4)  # exact zeros: 0 * log 0 -> 0, not NaN
    logm = torch.logaddexp(logp, logq) - LN2
    kl_pm = (logp.exp() * (logp - logm)).sum(-1)
    kl_qm = (logq.exp() * (logq - logm)).sum(-1)
    return (0.5 * (kl_pm + kl_qm)).clamp(min=0.0)


def pairwise_consistency(answer_logp: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """sum_{i<j} alpha_i alpha_j JSD(P_i || P_j), JSD averaged over the answer positions.

    ``answer_logp``: (K, A, V) log-probabilities of the student over the vocabulary at the A answer-token
    positions of each of the K rationales (teacher-forced). ``alpha``: (K,) weights, zero for unselected
    perspectives (their pairs then contribute nothing and are skipped).
    """
    idx = torch.nonzero(alpha > 0).flatten()
    if idx.numel() < 2:
        return answer_logp.new_zeros(())
    i, j = torch.triu_indices(idx.numel(), idx.numel(), offset=1, device=idx.device)
    i, j = idx[i], idx[j]
    d = jsd(answer_logp[i], answer_logp[j]).mean(-1)  # (pairs,)
    return (alpha[i] * alpha[j] * d).sum()


def select_perspectives(scores: torch.Tensor, mask: torch.Tensor, beta: float) -> torch.Tensor:
    """I_dyn = {k : s_k >= beta * max(s)} over the present perspectives. Boolean, same shape as ``scores``.

    The argmax is always selected (beta <= 1 and scores are positive).
    """
    s = scores.masked_fill(~mask, float("-inf"))
    top = s.max(dim=-1, keepdim=True).values
    return mask & (s >= beta * top)


def selection_weights(scores: torch.Tensor, selected: torch.Tensor, tau_student: float) -> torch.Tensor:
    """alpha = softmax over I_dyn of s / tau_student, 0 outside I_dyn. Detached: no gradient into MetaNet."""
    logits = (scores.detach() / tau_student).masked_fill(~selected, float("-inf"))
    return torch.softmax(logits, dim=-1).nan_to_num(0.0)


def uniform_weights(mask: torch.Tensor) -> torch.Tensor:
    """1/|present| on every present perspective."""
    m = mask.float()
    return m / m.sum(-1, keepdim=True).clamp(min=1.0)


def standardize(values: torch.Tensor, mask: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Per-row z-scores over the present entries: (x - mean) / std (population std, floored at ``eps``); 0 where
    masked. The ``meta_target="zscore"`` reading of L~: a ranking signal whatever the size of the loss spread."""
    m = mask.bool()
    x = torch.where(m, values, torch.zeros_like(values))
    n = m.sum(-1, keepdim=True).clamp(min=1)
    mean = x.sum(-1, keepdim=True) / n
    var = (torch.where(m, values - mean, torch.zeros_like(values)) ** 2).sum(-1, keepdim=True) / n
    return torch.where(m, (values - mean) / var.sqrt().clamp(min=eps), torch.zeros_like(values))


def meta_loss(scores: torch.Tensor, filtered: torch.Tensor, mask: torch.Tensor, tau: float,
              direction: str = "scores||losses") -> torch.Tensor:
    """ListNet-style L_meta per problem: KL(softmax(s/tau) || softmax(-L~/tau)) over the present perspectives.

    ``direction="losses||scores"`` gives KL(softmax(-L~/tau) || softmax(s/tau)). Returns shape ``scores.shape[:-1]``.
    ``filtered`` (L~) is a target: no gradient flows into it.
    """
    neg_inf = -1e9  # finite: a -inf here would turn the masked terms' gradients into NaN
    log_p_s = torch.log_softmax((scores / tau).masked_fill(~mask, neg_inf), dim=-1)
    log_p_l = torch.log_softmax((-filtered.detach() / tau).masked_fill(~mask, neg_inf), dim=-1)
    if direction == "scores||losses":
        p, log_p, log_q = log_p_s.exp(), log_p_s, log_p_l
    elif direction == "losses||scores":
        p, log_p, log_q = log_p_l.exp(), log_p_l, log_p_s
    else:
        raise ValueError(f"unknown KL direction {direction!r}")
    terms = torch.where(mask, p * (log_p - log_q), torch.zeros_like(p))
    return terms.sum(-1)


def per_sequence_ce(token_logp: torch.Tensor, seq_index: torch.Tensor, n_seqs: int) -> torch.Tensor:
    """Mean token cross-entropy per sequence from the log-probabilities of the target tokens.

    ``token_logp``: (M,) log p(target token) for every target position of the batch; ``seq_index``: (M,) the
    sequence each position belongs to. Returns (n_seqs,) mean negative log-likelihood.
    """
    total = torch.zeros(n_seqs, dtype=token_logp.dtype, device=token_logp.device).index_add(0, seq_index, -token_logp)
    count = torch.zeros(n_seqs, dtype=token_logp.dtype, device=token_logp.device).index_add(
        0, seq_index, torch.ones_like(token_logp)
    )
    return total / count.clamp(min=1.0)


def student_objective(ce: torch.Tensor, alpha: torch.Tensor, answer_logp: list[torch.Tensor | None],
                      lam: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """L_total = mean over problems of [ sum_k alpha_k CE_k + lambda * sum_{i<j} alpha_i alpha_j JSD(P_i||P_j) ].

    ``ce`` and ``alpha``: (B, K) (ce may be anything where alpha is 0); ``answer_logp``: per problem a (K, A, V)
    tensor or None. Returns (total, sft, consistency) as scalars.
    """
    sft = (alpha * torch.nan_to_num(ce, nan=0.0)).sum(-1).mean()
    if lam > 0:
        cons = torch.stack([
            pairwise_consistency(lp, a) if lp is not None else ce.new_zeros(()) for lp, a in zip(answer_logp, alpha)
        ]).mean()
    else:
        cons = ce.new_zeros(())
    return sft + lam * cons, sft, cons




# ------------------------------------------------------------------------------------ weights per method


def perspective_weights(method: str, warm: bool, scores, mask: torch.Tensor, golden: torch.Tensor, beta: float,
                        tau_student: float) -> torch.Tensor:
    """alpha (B, K) on the CPU for ``method`` and phase; rows sum to 1 over the rationales trained on.

    ``single``: one-hot on the golden slot. Without scores (uniform baselines) or during MetaNet's warm-up
    (``warm``): uniform over the present rationales. Else MIND's rule: :func:`select_perspectives` with ``beta``,
    then :func:`selection_weights` with ``tau_student``. The one copy of the rule: the trainer and the dashboard's
    what-if both call it."""
    if method == "single":
        return torch.nn.functional.one_hot(golden, mask.shape[1]).float()
    if scores is None or warm:
        return uniform_weights(mask)
    s = scores.detach().cpu()
    selected = select_perspectives(s, mask, beta)
    return selection_weights(s, selected, tau_student)


def golden_slots(golden_perspective: str, perspectives: list[str], masks: torch.Tensor) -> torch.Tensor:
    """Slot of the 'single' baseline's rationale per problem: the golden perspective where present, else the
    first present one. (The caller checks that the perspective is in the run's set.)"""
    want = perspectives.index(golden_perspective) if golden_perspective in perspectives else 0
    first = masks.float().argmax(-1)
    return torch.where(masks[:, want], torch.full_like(first, want), first)


def meta_target(kind: str, filtered: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """What MetaNet's scores are matched to, as a loss-like table: L~ itself (``loss``), or its per-problem
    z-scores (``zscore``)."""
    return standardize(filtered, mask) if kind == "zscore" else filtered
