"""The MetaNet debugger's what-if: recompute MIND's selection and weights from recorded scores.

MIND keeps the perspectives whose score is close enough to the best one,
``I = {k : s_k >= beta * max(s)}``, and weights them with ``alpha = softmax over I of s / tau_student``
(zero elsewhere). This is the same rule the trainer applies; here it runs on the scores a run recorded, so a
user can see which rationales a different beta or temperature would have kept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mind.errors import ConfigError


@dataclass(frozen=True)
class Selection:
    selected: np.ndarray  # bool, shape (K,)
    alphas: np.ndarray  # float, shape (K,), sums to 1 over the selected entries, 0 elsewhere


def select(scores, beta: float, tau_student: float) -> Selection:
    """Selection mask and weights for one problem's K scores (NaN marks a missing rationale)."""
    if not (0.0 < beta <= 1.0):
        raise ConfigError(f"beta: {beta} is outside (0, 1]; choose a threshold fraction such as 0.5")
    if not (tau_student > 0.0 and math.isfinite(tau_student)):
        raise ConfigError(f"tau_student: {tau_student} must be > 0; choose a temperature such as 1.0")
    s = np.asarray(scores, dtype=np.float64)
    present = np.isfinite(s)
    if not present.any():
        return Selection(np.zeros(s.shape, bool), np.zeros(s.shape))
    top = s[present].max()
    selected = present & (s >= beta * top)
    selected[np.flatnonzero(present & (s == top))[0]] = True  # the best perspective is always kept
    logits = np.where(selected, s / tau_student, -np.inf)
    logits -= logits[selected].max()
    w = np.where(selected, np.exp(logits), 0.0)
    return Selection(selected, w / w.sum())


def entropy(alphas) -> float:
    """Shannon entropy (nats) of a weight vector: 0 when one perspective takes everything."""
    a = np.asarray(alphas, dtype=np.float64)
    a = a[a > 0]
    return float(-(a * np.log(a)).sum())
