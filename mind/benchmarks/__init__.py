"""Evaluation benchmarks: items and their sources (``items``), reading the benchmark files (``files``), answer
extraction and checking (``answers``), and the multi-teacher SVAMP rationale set (``svamp_multi_teacher``).

``from mind.benchmarks import load_benchmark, BenchmarkItem``; answers from :mod:`mind.benchmarks.answers`.
"""

from __future__ import annotations

from mind.benchmarks.files import normalize_question
from mind.benchmarks.items import ANSWER_TYPES, BENCHMARKS, BenchmarkItem, BenchmarkSpec, load_benchmark

__all__ = ["ANSWER_TYPES", "BENCHMARKS", "BenchmarkItem", "BenchmarkSpec", "load_benchmark", "normalize_question"]
