"""Evaluation of a run's student (or any student) on the ID/OOD benchmarks: items, greedy decoding, teacher-forced
likelihoods, the prediction store, statistics (intervals, paired tests), comparison against the base student and
the tables ``mind eval`` prints.

Entry point: :func:`evaluate` (``mind eval``), in ``runner``. Names load lazily (the passes import torch).
"""

from __future__ import annotations

from mind._lazy import lazy_face

__getattr__, __dir__, __all__ = lazy_face(__name__, {
    "evaluate": "mind.evaluation.runner",
    "EvalSettings": "mind.evaluation.runner",
    "resolve_benchmarks": "mind.evaluation.runner",
})
