"""The demo dataset's data card: statistics computed from the rows, plus a plain provenance statement."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from statistics import mean

PROVENANCE = (
    "Every question was written for this project by the assistant that built it, acting in the teacher role; "
    "none is copied or paraphrased from GSM8K, SVAMP or any other benchmark. Each problem is authored once as "
    "structured data in tools/demo_data/problems_*.py: the question text, the given quantities, a chain of named "
    "solution steps (1 to 6 arithmetic operations), the gold answer, and three hand-written problem-specific "
    "parts: a simpler analogous case, a counterfactual change with its key constraint, and a tempting wrong "
    "approach with the reason it fails. The eight rationales are rendered from that structure by one writer per "
    "perspective (tools/demo_data/writers.py) that follows the project's eight perspective styles "
    "(mind/data/perspectives.py), choosing among several phrasings per sentence. All numbers are computed with exact "
    "fractions from the structured solution and asserted equal to the hand-written gold; every rationale ends in "
    "the canonical line 'The answer is N.' and is accepted by the project's answer checker "
    "(mind.benchmarks.answers.check_answer). No language model generated any of the text."
)

TEMPLATING = (
    "Hand-written: questions, gold answers, step labels, given-quantity meanings, simpler cases, counterfactual "
    "changes and key constraints, rejected approaches and their reasons. Templated: the sentence frames of each "
    "perspective (openers, connectives, question forms, plan and step layout) and all rendered arithmetic. "
    "Rationales of one problem therefore share the same numbers and step labels; they differ in structure and "
    "framing, not in the underlying solution."
)


def _words(text: str) -> int:
    return len(text.split())


def build_card(rows: list[dict], answers: dict, overlap: dict) -> dict:
    persps = [r["perspective"] for r in rows[0]["rationales"]]
    lengths = {p: [_words(r["text"]) for row in rows for r in row["rationales"] if r["perspective"] == p] for p in persps}
    return {
        "name": "mind demo: original multi-perspective grade-school math",
        "file": "mind/data/demo.jsonl",
        "load": 'mind.data.load_problems("demo")',
        "problems": len(rows),
        "rationales": sum(len(r["rationales"]) for r in rows),
        "perspectives": persps,
        "topics": dict(sorted(Counter(r["topic"] for r in rows).items())),
        "difficulty_histogram": {str(k): v for k, v in sorted(Counter(r["difficulty"] for r in rows).items())},
        "difficulty_meaning": "number of arithmetic steps in the reference solution",
        "rationale_words": {p: {"mean": round(mean(v), 1), "min": min(v), "max": max(v)} for p, v in lengths.items()},
        "answers": {"integer": sum("." not in r["answer"] for r in rows), "decimal": sum("." in r["answer"] for r in rows)},
        "provenance": PROVENANCE,
        "templated_vs_handwritten": TEMPLATING,
        "answer_check": answers,
        "benchmark_overlap_check": overlap,
        "license": "Apache-2.0 (same as the project)",
        "regenerate": "python tools/demo_data/build.py",
        "extra_fields": {"difficulty": "int, 1-6 steps", "topic": "str"},
    }


def _markdown(card: dict) -> str:
    persp_rows = "\n".join(f"| {p} | {v['mean']} | {v['min']} | {v['max']} |" for p, v in card["rationale_words"].items())
    topics = ", ".join(f"{t} ({n})" for t, n in card["topics"].items())
    hist = " | ".join(card["difficulty_histogram"])
    counts = " | ".join(str(v) for v in card["difficulty_histogram"].values())
    ov = card["benchmark_overlap_check"]
    ov_text = (f"checked against {', '.join(ov['benchmarks'])} ({ov['benchmark_questions']} distinct questions): "
               f"{ov['exact_matches']} identical questions (normalised text), {ov['shared_8_word_runs']} questions sharing "
               "any 8-word run." if ov.get("checked") else f"not checked ({ov.get('reason')}).")
    ans = card["answer_check"]
    return f"""# Data card: {card['name']}

`{card['file']}` — load it with `{card['load']}` (the default dataset of `make app` and the cached demo runs).

- Problems: **{card['problems']}**; rationales: **{card['rationales']}** (one per perspective: {', '.join(card['perspectives'])}).
- Gold answers: {card['answers']['integer']} integers, {card['answers']['decimal']} simple decimals; `answer_type` is `number`.
- Extra fields per problem: `difficulty` (number of arithmetic steps, 1-6) and `topic`.
- Licence: {card['license']}.
- Regenerate: `{card['regenerate']}` (deterministic).

## How it was made

{card['provenance']}

{card['templated_vs_handwritten']}

Answer check: {ans['rationales_passed']} of {ans['rationales_checked']} rationales accepted by `{ans['checker']}`.
Benchmark overlap: {ov_text}

## Topics

{topics}

## Difficulty (steps)

| steps | {hist} |
|---|{'---|' * len(card['difficulty_histogram'])}
| problems | {counts} |

## Rationale length (words, including the answer line)

| perspective | mean | min | max |
|---|---|---|---|
{persp_rows}

## Limits

The problems are grade-school arithmetic only (no algebra word problems, geometry or multiple choice). Rationales
are rendered from templates, so their wording is more regular than a real teacher model's; use the demo to try
the pipeline and the dashboard, and a teacher-generated set (`mind generate`) for real experiments.
"""


def write_card(card: dict, folder: Path) -> None:
    (folder / "demo_card.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    (folder / "demo_card.md").write_text(_markdown(card), encoding="utf-8")
