"""Originality checks of the demo questions against the GSM8K and SVAMP questions in ``../shared/data``."""

from __future__ import annotations

import json
import re
from pathlib import Path

_WORD = re.compile(r"[a-z0-9]+")


def normalise(text: str) -> str:
    """Lower-case words and numbers joined by single spaces (punctuation and spacing ignored)."""
    return " ".join(_WORD.findall(text.lower().replace(",", "")))


def benchmark_questions(shared: Path) -> dict:
    """Question texts of GSM8K train/test and SVAMP (Body + " " + Question)."""
    texts, sources = [], []
    for split in ("train", "test"):
        path = shared / "gsm8k" / f"{split}.jsonl"
        with open(path, encoding="utf-8") as f:
            texts.extend(json.loads(line)["question"] for line in f if line.strip())
        sources.append(f"gsm8k/{split}.jsonl")
    svamp = json.loads((shared / "svamp" / "SVAMP.json").read_text(encoding="utf-8"))
    texts.extend(f"{r['Body']} {r['Question']}" for r in svamp)
    sources.append("svamp/SVAMP.json")
    return {"texts": texts, "normalised": {normalise(t) for t in texts}, "sources": sources}


def _ngrams(words: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def long_shared_ngrams(questions: list[str], texts: list[str], n: int = 10) -> list[tuple[str, str]]:
    """(question, shared run) pairs for questions sharing a run of ``n`` or more words with a benchmark text."""
    bench: set[int] = set()
    for t in texts:
        bench.update(hash(g) for g in _ngrams(normalise(t).split(), n))
    hits = []
    for q in questions:
        shared = sorted(g for g in _ngrams(normalise(q).split(), n) if hash(g) in bench)
        if shared:
            hits.append((q, " ".join(shared[0])))
    return hits
