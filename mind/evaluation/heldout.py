"""The ``heldout`` benchmark: a run's held-out training problems (``mind train --holdout``), asked with the
training prompt and reported as in-distribution.

The problems come from ``<run>/heldout.jsonl`` (same schema as the dataset) and their ids from ``config.json``'s
``heldout_ids``. Runs compared with each other must hold out the same problems (same data and ``holdout_seed``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mind.benchmarks import BenchmarkItem
from mind.errors import ConfigError, RunDirError

NAME = "heldout"


@dataclass(frozen=True)
class HeldoutSource:
    """Where the held-out problems of an evaluation come from, and how their rationales are encoded."""

    run: str  # the run directory they were taken from
    problems: tuple  # mind.data.Problem
    perspectives: tuple[str, ...]
    max_length: int

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(p.id for p in self.problems)

    def items(self, limit: int | None = None) -> list[BenchmarkItem]:
        probs = self.problems[:limit] if limit else self.problems
        return [BenchmarkItem(p.id, p.question, p.answer, p.answer_type, (), NAME) for p in probs]


def heldout_ids(run) -> list[str]:
    """The held-out problem ids recorded in a run's config ([] when it holds none out)."""
    ids = run.config.get("heldout_ids")
    return [str(i) for i in ids] if isinstance(ids, list) else []


def load_heldout(run) -> HeldoutSource:
    """The held-out problems of ``run`` (a :class:`mind.run.Run`); one-line errors when it has none."""
    from mind.data import load_problems

    ids = heldout_ids(run)
    f = Path(run.path) / "heldout.jsonl"
    if not ids or not f.is_file():
        raise ConfigError(f"{run.name}: no held-out problems (trained with holdout=0 or before the held-out split "
                          "existed); retrain with holdout=16, or drop heldout from --benchmarks")
    try:
        problems = load_problems(f)
    except Exception as exc:  # noqa: BLE001 - a DataError names the line; the run is what to fix
        raise RunDirError(f"{f}: cannot read the held-out problems ({str(exc)[:160]}); re-run the training") from None
    if [p.id for p in problems] != ids:
        raise RunDirError(f"{f}: its problems do not match config.json's heldout_ids; re-run the training")
    persp = run.config.get("perspectives") or sorted({r.perspective for p in problems for r in p.rationales})
    return HeldoutSource(str(run.path), tuple(problems), tuple(persp), int(run.config.get("max_length", 384)))


def check_same_heldout(runs) -> None:
    """Raise a one-line ConfigError unless every run holds out the same problem ids."""
    first = heldout_ids(runs[0])
    for r in runs[1:]:
        if heldout_ids(r) != first:
            raise ConfigError(f"{runs[0].name} and {r.name} hold out different problems, so their heldout scores are "
                              "not comparable; train them with the same data and holdout_seed, or evaluate them apart")
