"""The MetaNet debugger's what-if: recompute MIND's selection and weights from recorded scores.

MIND keeps the perspectives whose score is close enough to the best one,
``I = {k : s_k >= beta * max(s)}``, and weights them with ``alpha = softmax over I of s / tau_student``
(zero elsewhere). :func:`select` calls the trainer's own rule (:func:`mind.model.losses.perspective_weights`) on the
scores a run recorded, so a user can see which rationales a different beta or temperature would have kept.
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


def select(scores, beta: float, tau_student: float, warm: bool = False) -> Selection:
    """Selection mask and weights for one problem's K scores (NaN marks a missing rationale), by the library's rule
    (:func:`mind.model.losses.perspective_weights`, the one the trainer calls). ``warm``: the step was in MetaNet's
    warm-up, where the student trains on every present rationale at equal weight whatever the scores."""
    if not (0.0 < beta <= 1.0):
        raise ConfigError(f"beta: {beta} is outside (0, 1]; choose a threshold fraction such as 0.5")
    if not (tau_student > 0.0 and math.isfinite(tau_student)):
        raise ConfigError(f"tau_student: {tau_student} must be > 0; choose a temperature such as 1.0")
    import torch

    from mind.model.losses import perspective_weights

    s = torch.as_tensor(np.asarray(scores, dtype=np.float64))[None]
    present = torch.isfinite(s)
    alpha = perspective_weights("mind", warm, s.nan_to_num(0.0), present, torch.zeros(1, dtype=torch.long), beta,
                                tau_student)[0].numpy()
    return Selection(alpha > 0, alpha)


def entropy(alphas) -> float:
    """Shannon entropy (nats) of a weight vector: 0 when one perspective takes everything."""
    a = np.asarray(alphas, dtype=np.float64)
    a = a[a > 0]
    return float(-(a * np.log(a)).sum())
