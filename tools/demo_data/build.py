"""Build the bundled demo dataset: ``python tools/demo_data/build.py`` (from the repository root).

Collects the authored problems (``problems_*.py``), verifies every number from its structured solution
(:func:`spec.solve`), renders the eight perspective rationales (:mod:`writers`), checks each with the project's
answer checker (``mind.benchmarks.answers.check_answer``), rejects any question that overlaps the GSM8K / SVAMP questions in
``../shared/data`` when that folder exists, and writes ``mind/data/demo.jsonl`` plus the data card
(``demo_card.json`` / ``demo_card.md``). The output is deterministic.
"""

from __future__ import annotations

import hashlib
import importlib
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(HERE), str(ROOT)]

from card import build_card, write_card  # noqa: E402
from overlap import benchmark_questions, long_shared_ngrams, normalise  # noqa: E402
from spec import fmt, solve  # noqa: E402
from writers import WRITERS  # noqa: E402

from mind.data import DEMO_PATH, load_problems, write_problems  # noqa: E402
from mind.data.perspectives import ANSWER_LINE, DEFAULT_IDS  # noqa: E402

MODULES = ("problems_1step", "problems_2step", "problems_3step", "problems_4step", "problems_5step", "problems_6step")


def collect():
    specs = []
    for name in MODULES:
        specs.extend(importlib.import_module(name).PROBLEMS)
    return specs


def render(specs) -> list[dict]:
    """Verify and render every spec into a dataset row (raises AssertionError on any flaw)."""
    assert list(WRITERS) == list(DEFAULT_IDS), "writers must follow the default perspective order"
    rows, seen = [], set()
    for i, spec in enumerate(specs, start=1):
        env = solve(spec)
        key = normalise(spec.question)
        assert key not in seen, f"duplicate question: {spec.question[:60]}"
        seen.add(key)
        pid = f"demo-{i:03d}"
        gold = fmt(env[spec.steps[-1].sym])
        rats = []
        for persp, writer in WRITERS.items():
            seed = int(hashlib.sha256(f"{pid}/{persp}".encode()).hexdigest()[:8], 16)
            body = writer(spec, env, random.Random(seed)).rstrip()
            rats.append({"perspective": persp, "text": body + "\n" + ANSWER_LINE.format(answer=gold), "answer": gold})
        rows.append({"id": pid, "question": spec.question, "answer": gold, "answer_type": "number",
                     "difficulty": spec.difficulty, "topic": spec.topic, "rationales": rats})
    return rows


def check_answers(rows) -> dict:
    """Run the project's answer checker on every rationale; returns counts (raises if any fails)."""
    from mind.benchmarks.answers import check_answer, extract_answer

    n = 0
    for row in rows:
        for r in row["rationales"]:
            assert check_answer(r["text"], row["answer"]), f"{row['id']} {r['perspective']}: checker rejects"
            assert extract_answer(r["text"]) is not None, f"{row['id']} {r['perspective']}: nothing extracted"
            n += 1
    return {"checker": "mind.benchmarks.answers.check_answer", "rationales_checked": n, "rationales_passed": n}


def check_overlap(rows) -> dict:
    shared = ROOT.parent / "shared" / "data"
    if not shared.is_dir():
        return {"checked": False, "reason": f"{shared} not found"}
    bench = benchmark_questions(shared)
    exact = [r["id"] for r in rows if normalise(r["question"]) in bench["normalised"]]
    assert not exact, f"questions identical to a benchmark question: {exact}"
    hits = long_shared_ngrams([r["question"] for r in rows], bench["texts"], n=8)
    assert not hits, f"questions sharing an 8-word run with a benchmark question: {hits}"
    return {"checked": True, "benchmarks": bench["sources"], "benchmark_questions": len(bench["normalised"]),
            "exact_matches": 0, "shared_8_word_runs": 0}


def main() -> None:
    rows = render(collect())
    answers = check_answers(rows)
    overlap = check_overlap(rows)
    DEMO_PATH.parent.mkdir(parents=True, exist_ok=True)
    write_problems(DEMO_PATH, rows)
    problems = load_problems("demo")
    assert len(problems) == len(rows)
    write_card(build_card(rows, answers, overlap), DEMO_PATH.parent)
    print(f"wrote {len(rows)} problems x {len(DEFAULT_IDS)} rationales to {DEMO_PATH}")


if __name__ == "__main__":
    main()
