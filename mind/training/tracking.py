"""Does MetaNet follow the student? Rank-agreement metrics between its scores and the student's losses.

MetaNet is trained so that ``softmax(s / tau)`` matches ``softmax(-L~ / tau)``: high scores for the rationales the
student currently finds easiest. These functions measure how well it does, per problem, over the perspectives the
problem has (``mask``):

* :func:`spearman`: Spearman's rank correlation between ``s`` and ``-L~`` (ties get their average rank, as in
  ``scipy.stats.spearmanr``); NaN where fewer than two perspectives are present or either side is constant.
* :func:`top1`: 1 if MetaNet's highest score sits on a lowest-loss rationale, else 0. Tied top scores share the
  credit (the fraction of them that are lowest-loss rationales); NaN where no perspective is present.
* :func:`curriculum_shift`: total-variation distance ``0.5 * sum_k |a_k - b_k|`` between two mean weight vectors,
  in [0, 1]: 0 when the curriculum did not move, 1 when it moved all weight to other perspectives.

:class:`CurriculumTracker` keeps the per-epoch mean weights the trainer needs for ``curriculum_shift``.
"""

from __future__ import annotations

import math

import torch


def average_ranks(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Ranks 1..n of the present entries of each row (ties share their average rank); 0 where masked."""
    x = x.double()
    big = torch.finfo(torch.float64).max
    filled = torch.where(mask, x, torch.full_like(x, big))
    # rank = 1 + (# present entries strictly smaller) + 0.5 * (# other present entries equal)
    less = (filled.unsqueeze(-1) > filled.unsqueeze(-2)) & mask.unsqueeze(-2)
    equal = (filled.unsqueeze(-1) == filled.unsqueeze(-2)) & mask.unsqueeze(-2)
    ranks = 1.0 + less.sum(-1).double() + 0.5 * (equal.sum(-1).double() - 1.0)
    return torch.where(mask, ranks, torch.zeros_like(ranks))


def spearman(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-row Spearman correlation of ``a`` and ``b`` (both (..., K)) over ``mask``; NaN where undefined."""
    mask = mask.bool() & torch.isfinite(a) & torch.isfinite(b)
    n = mask.sum(-1).double()
    ra, rb = average_ranks(a, mask), average_ranks(b, mask)
    mean = (n + 1.0) / 2.0  # the mean of average ranks is always (n + 1) / 2
    da = torch.where(mask, ra - mean.unsqueeze(-1), torch.zeros_like(ra))
    db = torch.where(mask, rb - mean.unsqueeze(-1), torch.zeros_like(rb))
    cov, va, vb = (da * db).sum(-1), (da * da).sum(-1), (db * db).sum(-1)
    ok = (n >= 2) & (va > 0) & (vb > 0)
    return torch.where(ok, cov / (va * vb).clamp(min=1e-300).sqrt(), torch.full_like(cov, math.nan))


def rank_agreement(scores, losses) -> float:
    """Spearman's rho between one problem's K scores and its negated losses (array-likes, NaN where missing): how
    closely MetaNet ranks the rationales as the student's losses do. NaN where undefined."""
    s = torch.as_tensor(scores, dtype=torch.float64)[None]
    l = torch.as_tensor(losses, dtype=torch.float64)[None]
    return float(spearman(s, -l, torch.isfinite(s) & torch.isfinite(l))[0])


def top1(scores: torch.Tensor, losses: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per row: the share of the top-scored present rationales that have the lowest loss (NaN if none present)."""
    mask = mask.bool() & torch.isfinite(scores) & torch.isfinite(losses)
    s = scores.double().masked_fill(~mask, -math.inf)
    l = losses.double().masked_fill(~mask, math.inf)
    best_s = (s == s.max(-1, keepdim=True).values) & mask
    best_l = (l == l.min(-1, keepdim=True).values) & mask
    hits = (best_s & best_l).sum(-1).double()
    n_top = best_s.sum(-1).double()
    return torch.where(mask.any(-1), hits / n_top.clamp(min=1), torch.full_like(hits, math.nan))


def perspective_mean_predictor(filtered: torch.Tensor, seen: torch.Tensor) -> torch.Tensor:
    """The trivial ranking MetaNet should beat: each perspective's mean L~ over the problems where it was measured,
    as a score (``-mean``, so that higher = easier). (K,); NaN for a perspective never measured."""
    seen = seen.bool()
    total = torch.where(seen, filtered.double(), torch.zeros_like(filtered, dtype=torch.float64)).sum(0)
    count = seen.sum(0).double()
    return torch.where(count > 0, -total / count.clamp(min=1), torch.full_like(total, math.nan))


def nanmean(x: torch.Tensor) -> float:
    """Mean of the finite entries (NaN when there are none): the batch-level value of a per-problem metric."""
    x = x[torch.isfinite(x)]
    return float(x.mean()) if x.numel() else math.nan


def curriculum_shift(a: torch.Tensor, b: torch.Tensor) -> float:
    """Total-variation distance between two weight vectors (each summing to 1): in [0, 1]."""
    return 0.5 * float((a.double() - b.double()).abs().sum())


class CurriculumTracker:
    """Mean student weights alpha per epoch, so each step can report how far the current epoch's curriculum has
    moved from the previous epoch's (:func:`curriculum_shift`). Its state is saved in checkpoints."""

    def __init__(self, n_perspectives: int):
        self.epoch = 0
        self.current = torch.zeros(n_perspectives, dtype=torch.float64)  # sum of per-problem alpha this epoch
        self.count = 0
        self.previous: torch.Tensor | None = None  # mean alpha of the last finished epoch

    def update(self, epoch: int, alpha: torch.Tensor) -> float:
        """Fold in one step's (B, K) weights of epoch ``epoch`` (0-based); return the shift (NaN in epoch 0)."""
        if epoch != self.epoch:
            if self.count:
                self.previous = self.current / self.count
            self.epoch, self.current, self.count = epoch, torch.zeros_like(self.current), 0
        self.current += alpha.double().sum(0)
        self.count += alpha.shape[0]
        if self.previous is None:
            return math.nan
        return curriculum_shift(self.current / self.count, self.previous)

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "current": self.current.tolist(), "count": self.count,
                "previous": None if self.previous is None else self.previous.tolist()}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.count = int(state["epoch"]), int(state["count"])
        self.current = torch.tensor(state["current"], dtype=torch.float64)
        self.previous = None if state["previous"] is None else torch.tensor(state["previous"], dtype=torch.float64)


def agreement(scores: torch.Tensor | None, losses: torch.Tensor, mask: torch.Tensor, baseline: torch.Tensor,
              prefix: str = "") -> dict[str, float]:
    """Batch-level tracking record: MetaNet's ``meta_spearman``/``meta_top1`` (NaN without MetaNet) and the
    perspective-mean predictor's ``baseline_spearman``/``baseline_top1`` against ``-losses``, over ``mask``.

    ``baseline`` is a (K,) score vector (see :func:`perspective_mean_predictor`) applied to every problem."""
    base = baseline.to(losses.dtype).expand_as(losses)
    mask = mask.bool() & torch.isfinite(base)
    out = {f"{prefix}baseline_spearman": nanmean(spearman(base, -losses, mask)),
           f"{prefix}baseline_top1": nanmean(top1(base, losses, mask))}
    if scores is None:
        out.update({f"{prefix}meta_spearman": math.nan, f"{prefix}meta_top1": math.nan})
    else:
        out.update({f"{prefix}meta_spearman": nanmean(spearman(scores, -losses, mask)),
                    f"{prefix}meta_top1": nanmean(top1(scores, losses, mask))})
    return out


def per_problem(scores: torch.Tensor | None, losses: torch.Tensor, mask: torch.Tensor, baseline: torch.Tensor) -> dict:
    """The same four metrics per problem (row), as lists of floats (NaN where undefined; MetaNet's all NaN without
    scores): what intervals over problems are computed from."""
    base = baseline.to(losses.dtype).expand_as(losses)
    mask = mask.bool() & torch.isfinite(base)
    nan = [math.nan] * losses.shape[0]
    return {"baseline_spearman": spearman(base, -losses, mask).tolist(), "baseline_top1": top1(base, losses, mask).tolist(),
            "meta_spearman": nan if scores is None else spearman(scores, -losses, mask).tolist(),
            "meta_top1": nan if scores is None else top1(scores, losses, mask).tolist()}


TRACKING_COLUMNS = ("meta_spearman", "meta_top1", "baseline_spearman", "baseline_top1")
HELDOUT_COLUMNS = tuple(f"heldout_{c}" for c in TRACKING_COLUMNS)


def tracking_summary(steps, samples=None) -> dict:
    """One run's tracking in numbers: the trained-problem metrics averaged over the last epoch, the held-out ones at
    the last snapshot that has them, the mean curriculum shift of the last epoch, and (from ``samples``) how many
    distinct selection sets the run trained on. ``steps``/``samples`` are :func:`mind.load_run` DataFrames."""
    out: dict = {"epochs": float(steps["epoch"].max()) if len(steps) else 0.0}
    if not len(steps):
        return out
    last = steps[steps["epoch"] > out["epochs"] - 1.0 + 1e-9]
    for c in (*TRACKING_COLUMNS, "curriculum_shift"):
        if c in last:
            vals = last[c].astype(float)
            out[c] = float(vals.mean()) if vals.notna().any() else math.nan
    held = steps.dropna(subset=[c for c in HELDOUT_COLUMNS[2:3] if c in steps])
    if len(held) and all(c in held for c in HELDOUT_COLUMNS):
        row = held.iloc[-1]
        out.update({c: float(row[c]) if row[c] == row[c] else math.nan for c in HELDOUT_COLUMNS})
        out["heldout_step"] = int(row["step"])
    if samples is not None and len(samples) and "selected" in samples:
        out["selection_sets"] = int(samples["selected"].map(lambda s: tuple(bool(x) for x in s)).nunique())
    return out


@torch.no_grad()
def heldout_tracking(student, metanet, encoded_h, features_h, calibrator, pad_id: int, shared: bool, device,
                     cache_tag: str | None = None):
    """Tracking on problems the student never trains on: MetaNet's scores (and the perspective-mean predictor built
    from the training problems' L~) against the student's current L_real there. Returns (the step record's
    ``heldout_*`` means, the per-problem values of :func:`per_problem` plus ``loss``, the mean L_real per problem).
    ``cache_tag`` (step 0): read L_real from :mod:`mind.model.score_cache` when the same untrained student scored
    these problems before."""
    from mind.model.forward import score_rationales
    from mind.model.score_cache import initial_scores

    if cache_tag is None:
        l_h = score_rationales(student, encoded_h, pad_id, shared, device)
    else:
        l_h = initial_scores(student, encoded_h, pad_id, shared, device, tag=cache_tag)
    mask_h = torch.isfinite(l_h)
    scores = None
    if metanet is not None:
        scores, _ = metanet(features_h.to(device), mask_h.to(device))
        scores = scores.cpu()
    baseline = perspective_mean_predictor(calibrator.filtered, calibrator.seen)
    out = agreement(scores, l_h, mask_h, baseline, prefix="heldout_")
    out["heldout_loss"] = float(l_h[mask_h].mean())
    rows = per_problem(scores, l_h, mask_h, baseline)
    rows["loss"] = torch.where(mask_h, l_h, torch.zeros_like(l_h)).sum(-1).div(mask_h.sum(-1).clamp(min=1)).tolist()
    return out, rows
