"""What ``--data`` can name: a multi-perspective JSONL file, ``demo`` (the bundled set) or ``svamp-multi-teacher``
(the real GPT-4o / Gemini / Llama / human SVAMP rationales of the benchmark data folder).

A layer above :mod:`mind.data` and :mod:`mind.benchmarks.svamp_multi_teacher`, so that neither has to import the other.
"""

from __future__ import annotations

from pathlib import Path

from mind.data import Problem, load_problems, parse_problem
from mind.benchmarks.svamp_multi_teacher import load_svamp_multi_teacher

MULTI_TEACHER = "svamp-multi-teacher"


def load_training_set(data: str | Path, perspectives: tuple[str, ...] | None = None) -> list[Problem]:
    """The problems ``--data`` names. For ``svamp-multi-teacher``, views whose answer differs from the gold are
    dropped, as the judge of ``mind generate`` does; ``perspectives`` restricts the ids allowed, as for a file."""
    if str(data) != MULTI_TEACHER:
        return load_problems(data, perspectives=perspectives)
    problems = load_svamp_multi_teacher(drop_wrong=True)
    if perspectives is not None:
        problems = [parse_problem(p.to_json(), f"{MULTI_TEACHER} {p.id}", perspectives) for p in problems]
    return problems
