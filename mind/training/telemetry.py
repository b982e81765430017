"""Turn one optimiser step's tensors into the plain records the run directory stores.

Everything here works on tensors already gathered from all processes: (B, K) per-problem arrays, where B is the
global batch. Per-perspective means follow the column contract of mind/run/reader.py.
"""

from __future__ import annotations

import math

import torch


def _mean_where(values: torch.Tensor, where: torch.Tensor) -> list[float]:
    """Column means of ``values`` over rows where ``where`` (NaN where no row qualifies)."""
    w = where & torch.isfinite(values)
    s = torch.where(w, values, torch.zeros_like(values)).sum(0)
    n = w.sum(0)
    return [float(s[k] / n[k]) if n[k] > 0 else math.nan for k in range(values.shape[1])]


def step_record(step: int, perspectives: list[str], *, mask, alpha, scores, ce, filtered, **scalars) -> dict:
    """One row of steps.jsonl: scalars plus weight/score/selected/loss_raw/loss_filtered per perspective."""
    selected = alpha > 0
    rec: dict = {"step": step, **scalars, "n_selected": float(selected.sum(-1).float().mean())}
    weight = alpha.float().mean(0)
    sel = selected.float().mean(0)
    score = _mean_where(scores.float(), mask) if scores is not None else [math.nan] * len(perspectives)
    raw = _mean_where(ce.float(), mask)
    filt = _mean_where(filtered.float(), mask)
    for k, p in enumerate(perspectives):
        rec[f"weight/{p}"] = float(weight[k])
        rec[f"score/{p}"] = score[k]
        rec[f"selected/{p}"] = float(sel[k])
        rec[f"loss_raw/{p}"] = raw[k]
        rec[f"loss_filtered/{p}"] = filt[k]
    return rec


def sample_records(step: int, problem_ids: list[str], perspectives: list[str], *, mask, alpha, scores, ce,
                   filtered, attention, meta_loss, tracking: dict | None = None) -> list[dict]:
    """Rows of samples.jsonl: one per problem, per-perspective lists aligned with ``perspectives`` (None = absent).
    ``tracking``: per-problem ``meta_spearman`` / ``baseline_spearman`` (:func:`mind.training.tracking.per_problem`),
    stored per row (None where undefined), so tracking can be summarised over problems with intervals."""

    def row(t, b):
        return [float(v) if m else None for v, m in zip(t[b].tolist(), mask[b].tolist())]

    out = []
    for b, pid in enumerate(problem_ids):
        out.append({
            "step": step,
            "problem_id": pid,
            "perspectives": list(perspectives),
            "scores": row(scores, b) if scores is not None else None,
            "alphas": [float(a) for a in alpha[b].tolist()],
            "selected": [bool(a > 0) for a in alpha[b].tolist()],
            "loss_raw": row(ce, b),
            "loss_filtered": row(filtered, b),
            "attention": attention[b].tolist() if attention is not None else None,
            "loss_meta": float(meta_loss[b]) if meta_loss is not None else None,
            **{k: _finite(tracking[k][b]) for k in ("meta_spearman", "baseline_spearman") if tracking is not None},
        })
    return out


def _finite(v: float) -> float | None:
    return float(v) if v == v else None
