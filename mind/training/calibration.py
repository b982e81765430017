"""Feedback-Driven Inertia Calibration: the per-(problem, perspective) moving average of the student's loss
(:class:`InertiaCalibrator`), and the calibration pass that seeds it and fits MetaNet to it before step 1
(:func:`calibrate_metanet`)."""

from __future__ import annotations

import time

import numpy as np
import torch
from tqdm.auto import tqdm

from mind.model import losses
from mind.model.score_cache import initial_scores
from mind.training.tracking import per_problem, perspective_mean_predictor, spearman


class InertiaCalibrator:
    """L~[i, k] <- g * L~[i, k] + (1 - g) * L_real[i, k], initialised with the first observation.

    ``g = 0`` keeps the instantaneous loss (the paper's "instantaneous loss" ablation). State is a dense
    (n_problems, K) table plus a "seen" mask; it is part of every checkpoint.
    """

    def __init__(self, n_problems: int, n_perspectives: int, g: float):
        if not 0.0 <= g < 1.0:
            raise ValueError(f"g must be in [0, 1), got {g}")
        self.g = g
        self.filtered = torch.zeros(n_problems, n_perspectives)
        self.seen = torch.zeros(n_problems, n_perspectives, dtype=torch.bool)

    def update(self, problem_idx: torch.Tensor, losses: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Fold in the losses (B, K) observed for ``problem_idx`` (B,) where ``mask`` is true; return L~ (B, K)."""
        losses = losses.detach().float().cpu()
        mask = mask.cpu() & torch.isfinite(losses)
        idx = problem_idx.cpu()
        old, seen = self.filtered[idx], self.seen[idx]
        ema = torch.where(seen, self.g * old + (1.0 - self.g) * losses, losses)
        self.filtered[idx] = torch.where(mask, ema, old)
        self.seen[idx] = seen | mask
        return self.filtered[idx].clone()

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"filtered": self.filtered.clone(), "seen": self.seen.clone()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        if state["filtered"].shape != self.filtered.shape:
            raise ValueError(f"calibrator shape {tuple(state['filtered'].shape)} != {tuple(self.filtered.shape)}")
        self.filtered = state["filtered"].clone().float()
        self.seen = state["seen"].clone().bool()


def calibrate_metanet(acc, metanet, opt_m, student, encoded, features, masks, calibrator, cfg, pad_id: int,
                      shared: bool, show: bool, batch: int = 8) -> dict:
    """The calibration pass (``meta_calibrate_epochs``): L_real of the initial student on every training rationale
    (no grad; read from :mod:`mind.model.score_cache` when the same initial student scored them before) seeds the
    calibrator, then MetaNet is fitted to it for that many epochs of its own (seeded shuffles of all training
    problems, ``batch`` at a time, ``meta_warmup_lr``). Returns what it measured, per epoch, and the per-problem
    rank agreement (MetaNet's and the perspective-mean baseline's) it ends with."""
    t0 = time.perf_counter()
    l0 = initial_scores(student, encoded, pad_id, shared, acc.device, tag=f"precision={acc.mixed_precision}")
    calibrator.update(torch.arange(len(encoded)), l0, masks)
    target = losses.meta_target(cfg.meta_target, calibrator.filtered, masks)
    for group in opt_m.param_groups:
        group["lr"] = cfg.meta_warmup_lr
    epochs = []
    for epoch in tqdm(range(cfg.meta_calibrate_epochs), desc="MetaNet calibration", disable=not show, leave=False):
        order = torch.from_numpy(np.random.default_rng([cfg.seed, epoch, 0xCA1]).permutation(len(encoded)))
        total = 0.0
        for lo in range(0, len(order), batch):
            idx = order[lo : lo + batch]
            m = masks[idx].to(acc.device)
            scores, _ = metanet(features[idx].to(acc.device), m)
            loss = losses.meta_loss(scores, target[idx].to(acc.device), m, cfg.tau, cfg.meta_kl_direction).mean()
            acc.backward(loss)
            opt_m.step()
            opt_m.zero_grad(set_to_none=True)
            total += float(loss.detach()) * len(idx)
        with torch.no_grad():
            scores, _ = metanet(features.to(acc.device), masks.to(acc.device))
        rho = spearman(scores.cpu(), -calibrator.filtered, masks)
        epochs.append({"epoch": epoch + 1, "loss_meta": total / len(order),
                       "meta_spearman": float(rho[torch.isfinite(rho)].mean())})
    rows = per_problem(scores.cpu(), calibrator.filtered, masks, perspective_mean_predictor(calibrator.filtered, calibrator.seen))
    return {"epochs": epochs, "loss_real_mean": float(l0[torch.isfinite(l0)].mean()), "n_problems": len(encoded),
            "time_s": round(time.perf_counter() - t0, 2),
            # the starting point of tracking, per training problem (data.jsonl order), after the last epoch
            "problem_meta_spearman": rows["meta_spearman"], "problem_baseline_spearman": rows["baseline_spearman"]}
