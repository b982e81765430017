"""Feedback-Driven Inertia Calibration: the per-(problem, perspective) moving average of the student's loss."""

from __future__ import annotations

import torch


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
