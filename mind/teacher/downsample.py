"""Down-sampling of easy problems after judging.

A problem's difficulty is read from a configurable signal:

* ``solve_rate`` (default): the fraction of the requested perspectives whose rationale the judge kept. With
  the default ``threshold=1.0`` a problem is *easy* when every perspective got it right; lower the threshold to
  call more problems easy (``0.75`` = at least three quarters right).
* ``length``: the median length, in words, of the kept rationales. A problem is *easy* when that median is at
  most ``threshold`` words (default 80): short solutions mean few steps.

Problems that are not easy are always kept; easy ones are kept with probability ``easy_keep``. The draw for a
problem depends only on ``(seed, problem id)``, so it does not change with the order of problems, the number
of workers, or a rerun. Problems with fewer than ``min_rationales`` kept rationales are dropped first (a
problem needs at least one rationale to be a training example).
"""

from __future__ import annotations

import random
import statistics
from dataclasses import dataclass, field

from mind.errors import ConfigError

SIGNALS = ("solve_rate", "length")
DEFAULT_THRESHOLDS = {"solve_rate": 1.0, "length": 80.0}


@dataclass(frozen=True)
class DownsampleConfig:
    signal: str = "solve_rate"  # difficulty signal, one of SIGNALS
    easy_keep: float = 0.5  # probability of keeping an easy problem (1.0 = no down-sampling)
    threshold: float | None = None  # where "easy" starts; None = the signal's default (DEFAULT_THRESHOLDS)
    min_rationales: int = 1  # drop problems with fewer kept rationales than this
    seed: int = 0  # seeds the per-problem keep draws
    resolved_threshold: float = field(init=False, default=0.0)

    def __post_init__(self):
        if self.signal not in SIGNALS:
            raise ConfigError(f"--difficulty {self.signal!r}: unknown signal; use one of {', '.join(SIGNALS)}")
        if not 0.0 <= self.easy_keep <= 1.0:
            raise ConfigError(f"--easy-keep {self.easy_keep}: must be a probability in [0, 1]")
        if self.min_rationales < 1:
            raise ConfigError(f"--min-rationales {self.min_rationales}: must be >= 1")
        th = DEFAULT_THRESHOLDS[self.signal] if self.threshold is None else float(self.threshold)
        if self.signal == "solve_rate" and not 0.0 < th <= 1.0:
            raise ConfigError(f"--easy-threshold {th}: a solve-rate threshold must be in (0, 1]")
        if self.signal == "length" and th <= 0:
            raise ConfigError(f"--easy-threshold {th}: a length threshold must be > 0 words")
        object.__setattr__(self, "resolved_threshold", th)


def difficulty_value(kept_texts: list[str], n_requested: int, signal: str) -> float:
    """The signal's value for one problem (higher solve rate / shorter median = easier)."""
    if signal == "solve_rate":
        return len(kept_texts) / n_requested if n_requested else 0.0
    if not kept_texts:
        return 0.0
    return float(statistics.median(len(t.split()) for t in kept_texts))


def is_easy(value: float, cfg: DownsampleConfig) -> bool:
    if cfg.signal == "solve_rate":
        return value >= cfg.resolved_threshold - 1e-12
    return value <= cfg.resolved_threshold


def keep_draw(seed: int, problem_id: str) -> float:
    """The uniform [0, 1) draw that decides whether an easy problem stays."""
    return random.Random(f"mind-downsample:{seed}:{problem_id}").random()


def select(kept: dict[str, list[str]], n_requested: int, cfg: DownsampleConfig) -> dict[str, dict]:
    """Decide, per problem id, whether it stays. ``kept`` maps problem id to its kept rationale texts.

    Returns ``{id: {"value", "easy", "kept", "reason"}}`` where reason is ``""`` (kept),
    ``too_few_rationales`` or ``easy_downsampled``.
    """
    out: dict[str, dict] = {}
    for pid, texts in kept.items():
        value = difficulty_value(texts, n_requested, cfg.signal)
        easy = is_easy(value, cfg) if texts else False
        if len(texts) < cfg.min_rationales:
            decision, reason = False, "too_few_rationales"
        elif easy and keep_draw(cfg.seed, pid) >= cfg.easy_keep:
            decision, reason = False, "easy_downsampled"
        else:
            decision, reason = True, ""
        out[pid] = {"value": round(value, 4), "easy": easy, "kept": decision, "reason": reason}
    return out
