"""Benchmark loaders on the real files in ../shared/data, user paths, malformed files and the hub code path.

GPQA items are never printed: its tests compute booleans and counts first and assert on those only.
"""

from __future__ import annotations

import io
import json
import logging
import sys
import types
import zipfile
from collections import Counter

import pytest

from mind.benchmarks import items as benchmarks
from mind.benchmarks.answers import check_answer
from mind.benchmarks import BENCHMARKS, BenchmarkItem, load_benchmark, normalize_question
from mind.benchmarks.svamp_multi_teacher import MULTI_TEACHER_FILES, load_svamp_multi_teacher, svamp_multi_teacher_questions
from mind.errors import ConfigError, DataError


@pytest.fixture(autouse=True)
def _data_dir(shared_data, monkeypatch):
    monkeypatch.setenv("MIND_DATA_DIR", str(shared_data))


@pytest.mark.parametrize(
    "name,split,count",
    [("gsm8k", None, 1319), ("gsm8k", "train", 7473), ("math500", None, 500), ("csqa", None, 1221),
     ("strategyqa", None, 229), ("strategyqa", "train", 2061), ("gpqa", None, 198), ("gpqa", "main", 448)],
)
def test_counts(name, split, count):
    items = load_benchmark(name, split)
    n_ids = len({it.id for it in items})
    assert (len(items), n_ids) == (count, count)


def test_svamp_counts_with_and_without_training_overlap(caplog):
    full = load_benchmark("svamp", exclude_train_overlap=False)
    with caplog.at_level(logging.INFO, logger="mind.benchmarks"):
        held_out = load_benchmark("svamp")
    train_questions = svamp_multi_teacher_questions()
    assert len(full) == 1000 and len(train_questions) == 700
    assert len(held_out) == 300
    assert not any(normalize_question(it.question) in train_questions for it in held_out)
    assert "excluded 700 of 1000" in caplog.text


def test_shapes():
    for name, spec in BENCHMARKS.items():
        items = load_benchmark(name, limit=50)
        assert all(isinstance(it, BenchmarkItem) and it.benchmark == name for it in items)
        assert all(it.answer_type == spec.answer_type and it.question.strip() and it.answer for it in items)
    assert all(len(it.choices) == 5 and it.answer in "ABCDE" for it in load_benchmark("csqa"))
    assert {it.answer for it in load_benchmark("strategyqa")} == {"yes", "no"}
    assert all(it.choices == () for it in load_benchmark("gsm8k", limit=20))


def test_known_items():
    g = load_benchmark("gsm8k")[0]
    assert (g.id, g.answer, g.answer_type) == ("gsm8k-test-0", "18", "number")
    assert g.question.startswith("Janet\u2019s ducks lay 16 eggs per day.")
    s = load_benchmark("svamp", exclude_train_overlap=False)[0]
    assert (s.id, s.answer) == ("chal-1", "51")
    assert s.question == ("Each pack of dvds costs 76 dollars. If there is a discount of 25 dollars on each pack "
                          "How much do you have to pay to buy each pack?")
    m = load_benchmark("math500")[0]
    assert (m.id, m.answer) == ("test/precalculus/807.json", "\\left( 3, \\frac{\\pi}{2} \\right)")
    c = load_benchmark("csqa")[0]
    assert (c.id, c.answer, c.choices[0], c.choices[2]) == ("1afa02df02c908a558b4036e80242fac", "A", "bank", "department store")
    assert c.prompt_text().endswith("(E) new york")
    q = load_benchmark("strategyqa")[0]
    assert (q.id, q.answer) == ("e0044a7b4d146d611e73", "no")
    assert load_benchmark("gsm8k", "train")[0].answer == "72"


def test_gsm8k_gold_has_commas_removed():
    golds = [it.answer for it in load_benchmark("gsm8k")]
    assert not any("," in g for g in golds)
    assert "1000" in golds or any(len(g) >= 4 for g in golds)


@pytest.mark.parametrize("name", ["gsm8k", "svamp"])
def test_every_gold_passes_its_own_answer_line(name):
    items = load_benchmark(name, exclude_train_overlap=False)
    failures = [it.id for it in items if not check_answer(f"The answer is {it.answer}.", it.answer)]
    assert failures == []


def _gold_letters_point_at_correct_answer(items, zip_path) -> bool:
    """Decrypt the CSV in memory and check each gold letter; only a bool leaves this frame (nothing to print)."""
    import csv

    with zipfile.ZipFile(zip_path) as zf:
        raw = zf.read("dataset/gpqa_diamond.csv", pwd=benchmarks.GPQA_PASSWORD).decode("utf-8")
    correct = {row["Record ID"]: row["Correct Answer"].strip() for row in csv.DictReader(io.StringIO(raw))}
    return all(it.choices["ABCD".index(it.answer)] == correct[it.id] for it in items)


def test_gpqa_options_are_shuffled_deterministically(shared_data):
    first = load_benchmark("gpqa")
    second = load_benchmark("gpqa")
    same = all(a.answer == b.answer and a.choices == b.choices for a, b in zip(first, second))
    four = all(len(it.choices) == 4 and it.answer in "ABCD" and all(c.strip() for c in it.choices) for it in first)
    n_repeated_options = sum(len(set(it.choices)) != 4 for it in first)  # 2 diamond items repeat an option text
    points_right = _gold_letters_point_at_correct_answer(first, shared_data / "gpqa" / "dataset.zip")
    letters = Counter(it.answer for it in first)
    assert same and four and points_right
    assert n_repeated_options <= 2
    assert sorted(letters) == ["A", "B", "C", "D"] and min(letters.values()) > 25


def test_gpqa_repr_hides_the_text():
    item = load_benchmark("gpqa", limit=1)[0]
    text = repr(item)
    leaked = item.question[:40] in text or any(c[:20] in text for c in item.choices)
    assert not leaked
    assert "<hidden>" in text


def test_limit():
    assert [it.id for it in load_benchmark("gsm8k", limit=3)] == ["gsm8k-test-0", "gsm8k-test-1", "gsm8k-test-2"]
    assert len(load_benchmark("svamp", limit=7)) == 7
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ConfigError, match="limit"):
            load_benchmark("gsm8k", limit=bad)


def test_names_and_splits():
    assert len(load_benchmark("GPQA-Diamond", limit=2)) == 2
    assert len(load_benchmark("CommonsenseQA", limit=2)) == 2
    with pytest.raises(ConfigError, match="unknown"):
        load_benchmark("mmlu")
    with pytest.raises(ConfigError, match="split 'validation'"):
        load_benchmark("gsm8k", "validation")
    assert {s.kind for s in BENCHMARKS.values()} == {"ID", "OOD"}


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_user_path_file_and_folder(tmp_path):
    rows = [{"question": "What is 2 + 3?", "answer": "2 + 3 = 5\n#### 5"}, {"question": "Big?", "answer": "#### 1,250"}]
    file = _write_jsonl(tmp_path / "mine.jsonl", rows)
    items = load_benchmark("gsm8k", path=file)
    assert [(it.id, it.answer) for it in items] == [("gsm8k-test-0", "5"), ("gsm8k-test-1", "1250")]
    (tmp_path / "gsm8k").mkdir()
    _write_jsonl(tmp_path / "gsm8k" / "test.jsonl", rows[:1])
    assert len(load_benchmark("gsm8k", path=tmp_path)) == 1
    with pytest.raises(DataError, match="does not exist"):
        load_benchmark("gsm8k", path=tmp_path / "nope.jsonl")


def test_data_dir_env_override(tmp_path, monkeypatch):
    (tmp_path / "strategyqa").mkdir()
    (tmp_path / "strategyqa" / "dev.json").write_text(json.dumps([{"qid": "q1", "question": "Is ice cold?", "answer": True}]))
    monkeypatch.setenv("MIND_DATA_DIR", str(tmp_path))
    items = load_benchmark("strategyqa")
    assert [(it.id, it.answer, it.answer_type) for it in items] == [("q1", "yes", "yesno")]


@pytest.mark.parametrize(
    "name,filename,content,match",
    [
        ("gsm8k", "test.jsonl", '{"question": "q", "answer": "#### 1"}\n{"question": "q2"\n', r"test\.jsonl row 2: not valid JSON"),
        ("gsm8k", "test.jsonl", '{"question": "q", "answer": "no final line"}\n', r"row 1: field 'answer' has no final '#### N'"),
        ("gsm8k", "test.jsonl", '{"answer": "#### 3"}\n', r"row 1: field 'question' is missing"),
        ("gsm8k", "test.jsonl", '{"question": "q", "answer": "#### seven"}\n', r"row 1: field 'answer' is not a number"),
        ("svamp", "SVAMP.json", '[{"ID": "x", "Body": "b", "Question": "q", "Answer": "lots"}]', r"SVAMP\.json row 1: field 'Answer'"),
        ("svamp", "SVAMP.json", '{"ID": "x"}', r"expected a JSON list"),
        ("math500", "test.jsonl", '{"problem": "p"}\n', r"row 1: field 'answer' is missing"),
        ("csqa", "dev_rand_split.jsonl",
         '{"id": "c", "answerKey": "F", "question": {"stem": "s", "choices": [{"label": "A", "text": "a"}, {"label": "B", "text": "b"}]}}\n',
         r"row 1: field 'answerKey' 'F'"),
        ("csqa", "dev_rand_split.jsonl",
         '{"id": "c", "answerKey": "A", "question": {"stem": "s", "choices": [{"label": "B", "text": "a"}, {"label": "A", "text": "b"}]}}\n',
         r"row 1: field 'choices' labels"),
        ("strategyqa", "dev.json", '[{"qid": "q", "question": "Is it?", "answer": "maybe"}]', r"dev\.json row 1: field 'answer'"),
        ("gsm8k", "test.jsonl", "\n\n", r"no items found"),
    ],
)
def test_malformed_files(tmp_path, name, filename, content, match):
    file = tmp_path / filename
    file.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=match):
        load_benchmark(name, path=file, exclude_train_overlap=False)


def test_malformed_gpqa_zip(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:  # unencrypted: the loader's password is then simply unused
        zf.writestr("dataset/gpqa_diamond.csv", "Question,Correct Answer,Incorrect Answer 1,Record ID\nq,a,b,r1\n")
    (tmp_path / "dataset.zip").write_bytes(buf.getvalue())
    with pytest.raises(DataError, match=r"gpqa_diamond\.csv row 1: field 'Incorrect Answer 2'"):
        load_benchmark("gpqa", path=tmp_path / "dataset.zip")
    with pytest.raises(DataError, match="no gpqa_main.csv"):
        load_benchmark("gpqa", "main", path=tmp_path / "dataset.zip")
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="cannot open the GPQA zip"):
        load_benchmark("gpqa", path=tmp_path / "bad.zip")


def test_offline_without_local_copy_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("MIND_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DataError, match=r"benchmark gsm8k \(test\): no local copy .* openai/gsm8k could not be loaded"):
        load_benchmark("gsm8k")


def test_hub_code_path_maps_fields(tmp_path, monkeypatch):
    """The hub loader's ids and field mapping, against a stand-in ``datasets`` module (no network here)."""
    hub = {
        ("openai/gsm8k", "main", "test"): [{"question": "What is 4 + 4?", "answer": "4 + 4 = 8\n#### 8"}],
        ("ChilleD/SVAMP", None, "train"): [{"ID": "chal-9", "Body": "Tom has 3 toys.", "Question": "How many?", "Answer": 3.0}],
        ("ChilleD/SVAMP", None, "test"): [{"ID": "chal-8", "Body": "Ann has 2.", "Question": "How many?", "Answer": 2.0}],
        ("HuggingFaceH4/MATH-500", None, "test"): [{"problem": "p", "answer": "\\frac12", "unique_id": "test/a/1.json"}],
        ("tau/commonsense_qa", None, "validation"): [
            {"id": "c1", "question": "Where?", "answerKey": "B",
             "choices": {"label": ["A", "B", "C", "D", "E"], "text": ["a", "b", "c", "d", "e"]}}],
        ("ChilleD/StrategyQA", None, "test"): [{"qid": "s1", "question": "Is it?", "answer": False}],
        ("Idavidrein/gpqa", "gpqa_diamond", "train"): [
            {"Question": "synthetic", "Correct Answer": "right", "Incorrect Answer 1": "w1",
             "Incorrect Answer 2": "w2", "Incorrect Answer 3": "w3", "Record ID": "recX"}],
    }
    calls = []

    def load_dataset(hub_id, config=None, split=None):
        calls.append((hub_id, config, split))
        return hub[(hub_id, config, split)]

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=load_dataset))
    monkeypatch.setenv("MIND_DATA_DIR", str(tmp_path))  # no local copies
    got = {name: load_benchmark(name, exclude_train_overlap=False) for name in BENCHMARKS}
    assert [(i.id, i.answer) for i in got["gsm8k"]] == [("gsm8k-test-0", "8")]
    assert [(i.id, i.question, i.answer) for i in got["svamp"]] == [
        ("chal-9", "Tom has 3 toys. How many?", "3"), ("chal-8", "Ann has 2. How many?", "2")]
    assert [(i.id, i.answer) for i in got["math500"]] == [("test/a/1.json", "\\frac12")]
    assert [(i.id, i.answer, i.choices) for i in got["csqa"]] == [("c1", "B", ("a", "b", "c", "d", "e"))]
    assert [(i.id, i.answer) for i in got["strategyqa"]] == [("s1", "no")]
    gpqa = got["gpqa"][0]
    assert gpqa.choices["ABCD".index(gpqa.answer)] == "right" and sorted(gpqa.choices) == ["right", "w1", "w2", "w3"]
    assert ("Idavidrein/gpqa", "gpqa_diamond", "train") in calls and ("ChilleD/SVAMP", None, "test") in calls


def test_svamp_multi_teacher_problems():
    problems = load_svamp_multi_teacher()
    views = Counter(len(p.rationales) for p in problems)
    assert len(problems) == 700 and views[8] == 698
    assert {r.perspective for p in problems for r in p.rationales} == set(MULTI_TEACHER_FILES)
    assert all(r.answer and r.text for p in problems for r in p.rationales)
    svamp_gold = {normalize_question(i.question): i.answer for i in load_benchmark("svamp", exclude_train_overlap=False)}
    assert all(svamp_gold[normalize_question(p.question)] == p.answer for p in problems)
    first = problems[0]
    assert first.rationale("human").answer == "145" and first.answer == "145"
    judged = load_svamp_multi_teacher(drop_wrong=True)
    kept = sum(len(p.rationales) for p in judged)
    assert 5000 < kept < sum(len(p.rationales) for p in problems)
    assert all(check_answer(r.text, p.answer) for p in judged for r in p.rationales)


def test_svamp_multi_teacher_missing(tmp_path, caplog):
    with pytest.raises(DataError, match="multi-teacher folder"):
        load_svamp_multi_teacher(tmp_path / "absent")
    with caplog.at_level(logging.WARNING, logger="mind.benchmarks"):
        assert svamp_multi_teacher_questions(tmp_path / "absent") == set()
    assert "excludes no training questions" in caplog.text
    (tmp_path / "partial").mkdir()
    with pytest.raises(DataError, match="is missing"):
        load_svamp_multi_teacher(tmp_path / "partial")
