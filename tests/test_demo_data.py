"""Integrity of the bundled demo dataset (mind/data/demo.jsonl) and its data card."""

from __future__ import annotations

import ast
import json
import re
from collections import Counter
from fractions import Fraction

import pytest

from mind.benchmarks.answers import check_answer, extract_answer
from mind.data import DEMO_PATH, load_problems
from mind.data.perspectives import ANSWER_LINE, DEFAULT_IDS

_WORD = re.compile(r"[a-z0-9]+")


def _norm(text: str) -> str:
    return " ".join(_WORD.findall(text.lower().replace(",", "")))


@pytest.fixture(scope="module")
def demo():
    return load_problems("demo")


@pytest.fixture(scope="module")
def raw_rows():
    return [json.loads(line) for line in DEMO_PATH.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_size_and_perspectives(demo):
    assert len(demo) >= 96
    for p in demo:
        assert [r.perspective for r in p.rationales] == list(DEFAULT_IDS), p.id
        assert p.answer_type == "number"
        assert len({r.text for r in p.rationales}) == len(DEFAULT_IDS), f"{p.id}: two perspectives share a text"


def test_every_rationale_ends_with_canonical_line_and_checks(demo):
    for p in demo:
        line = ANSWER_LINE.format(answer=p.answer)
        for r in p.rationales:
            assert r.text.rstrip().splitlines()[-1] == line, (p.id, r.perspective)
            assert r.answer == p.answer, (p.id, r.perspective)
            assert check_answer(r.text, p.answer), (p.id, r.perspective)
            assert extract_answer(r.text) is not None


def test_checker_rejects_a_wrong_final_line(demo):
    """Guards the check above: the same texts with a changed answer line must fail."""
    p = demo[0]
    for r in p.rationales:
        wrong = r.text.rsplit("\n", 1)[0] + "\n" + ANSWER_LINE.format(answer=str(int(float(p.answer)) + 1))
        assert not check_answer(wrong, p.answer)


_EQ = re.compile(r"=\s*(-?\d+(?:\.\d+)?)")


def _eval(expr: str) -> Fraction:
    def ev(node):
        if isinstance(node, ast.BinOp):
            a, b = ev(node.left), ev(node.right)
            return {ast.Add: a + b, ast.Sub: a - b, ast.Mult: a * b}.get(type(node.op)) if not isinstance(node.op, ast.Div) else a / b
        if isinstance(node, ast.Constant):
            return Fraction(str(node.value))
        raise ValueError(expr)

    return ev(ast.parse(expr, mode="eval").body)


def test_written_arithmetic_is_correct(demo):
    """Every 'number op number = result' written in any rationale evaluates exactly to the result."""
    checked = 0
    for p in demo:
        for r in p.rationales:
            for m in _EQ.finditer(r.text):
                run = re.search(r"[\d.\s+\-*/()]*$", r.text[: m.start()]).group(0).strip()
                if not run or not (run[0].isdigit() or run[0] == "(") or not re.search(r"\d\s*[-+*/]\s*[\d(]", run):
                    continue
                if run.count("(") != run.count(")"):
                    continue
                assert _eval(run) == Fraction(m.group(1)), f"{p.id} {r.perspective}: {run} = {m.group(1)}"
                checked += 1
    assert checked > 2000, checked


def test_no_duplicate_questions(demo):
    norm = [_norm(p.question) for p in demo]
    dupes = [q for q, n in Counter(norm).items() if n > 1]
    assert not dupes


def test_no_overlap_with_gsm8k_or_svamp(demo, shared_data):
    texts = []
    for split in ("train", "test"):
        with open(shared_data / "gsm8k" / f"{split}.jsonl", encoding="utf-8") as f:
            texts += [json.loads(line)["question"] for line in f if line.strip()]
    svamp = json.loads((shared_data / "svamp" / "SVAMP.json").read_text(encoding="utf-8"))
    texts += [f"{r['Body']} {r['Question']}" for r in svamp]
    assert len(texts) == 7473 + 1319 + 1000
    bench = {_norm(t) for t in texts}
    assert not [p.id for p in demo if _norm(p.question) in bench]
    # no long verbatim run either (a paraphrase keeping a 10-word stretch would show here)
    grams = set()
    for t in texts:
        w = _norm(t).split()
        grams.update(hash(tuple(w[i:i + 10])) for i in range(len(w) - 9))
    for p in demo:
        w = _norm(p.question).split()
        assert not any(hash(tuple(w[i:i + 10])) in grams for i in range(len(w) - 9)), p.id


def test_difficulty_and_topic_spread(raw_rows):
    hist = Counter(r["difficulty"] for r in raw_rows)
    assert set(hist) == {1, 2, 3, 4, 5, 6}
    assert min(hist.values()) >= len(raw_rows) // 10, hist
    topics = Counter(r["topic"] for r in raw_rows)
    assert len(topics) >= 8 and max(topics.values()) <= len(raw_rows) // 4, topics


_MARKERS = {
    "formal": lambda t, d: re.search(r"^(Let|Define|Unknowns:) ", t, re.M) and re.search(r"^[a-z] = .+ = ", t, re.M),
    "intuitive": lambda t, d: "=" not in t and not re.search(r"^(Let|Step \d|\d\.) ", t, re.M),
    "decomposition": lambda t, d: all(re.search(rf"^{k}\. ", t, re.M) for k in range(1, d + 3)),
    "planning": lambda t, d: t.startswith("Plan:") and all(f"Step {k}:" in t for k in range(1, d + 1)),
    "analogy": lambda t, d: re.search(r"simpler version|easier case|smaller twin", t) and re.search(r"map|Back to", t),
    "socratic": lambda t, d: t.count("?") >= d + 1,
    "contrastive": lambda t, d: "Approach A" in t and "Approach B" in t and re.search(r"reject|Eliminate|fails", t),
    "counterfactual": lambda t, d: re.match(r"(Suppose|Imagine instead|What if) ", t) and "key constraint" in t
    and " would be " in t,
}


def test_each_rationale_shows_its_perspective_style(demo, raw_rows):
    steps = {r["id"]: r["difficulty"] for r in raw_rows}
    for p in demo:
        for r in p.rationales:
            assert _MARKERS[r.perspective](r.text, steps[p.id]), f"{p.id} {r.perspective}: style marker missing"


def test_rationales_are_short(demo):
    by_persp = {pid: [] for pid in DEFAULT_IDS}
    for p in demo:
        for r in p.rationales:
            by_persp[r.perspective].append(len(r.text.split()))
    for pid, lengths in by_persp.items():
        assert max(lengths) <= 180, pid
        assert 40 <= sum(lengths) / len(lengths) <= 120, pid


def test_data_card_matches_data(raw_rows):
    card = json.loads((DEMO_PATH.parent / "demo_card.json").read_text(encoding="utf-8"))
    assert card["problems"] == len(raw_rows)
    assert card["rationales"] == sum(len(r["rationales"]) for r in raw_rows)
    assert card["difficulty_histogram"] == {str(k): v for k, v in sorted(Counter(r["difficulty"] for r in raw_rows).items())}
    assert card["topics"] == dict(sorted(Counter(r["topic"] for r in raw_rows).items()))
    assert card["perspectives"] == list(DEFAULT_IDS)
    assert card["license"].startswith("Apache-2.0")
    assert card["answer_check"]["rationales_passed"] == card["rationales"]
    assert "teacher role" in card["provenance"] and "check_answer" in card["provenance"]
    assert card["regenerate"] == "python tools/demo_data/build.py"
    md = (DEMO_PATH.parent / "demo_card.md").read_text(encoding="utf-8")
    assert f"**{len(raw_rows)}**" in md and "Apache-2.0" in md and "Templated" in md
