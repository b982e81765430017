"""Malformed benchmark files: each gives one clear one-line DataError that names the file, where in it (row, and
the line for pretty-printed JSON lists and GPQA's multi-line CSV), what is wrong and how to fix it; an evaluation
that meets one stops before scoring anything and keeps what its store already holds.

The bad files are small and written to tmp_path; the real files of ../shared/data are checked for the line
numbers the loader reports."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from mind.benchmarks import load_benchmark
from mind.benchmarks.files import read_located_rows
from mind.errors import DataError


def _error(name: str, path, split: str | None = None) -> str:
    """The message of the DataError that loading ``path`` as benchmark ``name`` raises, checked to be one line
    that names the file."""
    with pytest.raises(DataError) as info:
        load_benchmark(name, split, path=path, exclude_train_overlap=False)
    msg = str(info.value)
    assert "\n" not in msg, msg
    assert str(path) in msg, msg
    return msg


def _jsonl(path, lines):
    """Write ``lines`` (objects are JSON-encoded, strings written as they are) one per line."""
    path.write_text("".join((ln if isinstance(ln, str) else json.dumps(ln)) + "\n" for ln in lines), encoding="utf-8")
    return path


GSM_OK = {"question": "What is 2 + 2?", "answer": "2 + 2 = 4\n#### 4"}


def _csqa_row(labels="ABCDE", key="A", item_id="c1"):
    return {"id": item_id, "answerKey": key,
            "question": {"stem": "Where is it?", "choices": [{"label": x, "text": f"place {x}"} for x in labels]}}


def test_missing_answer_field_names_the_fields_the_row_has(tmp_path):
    f = _jsonl(tmp_path / "test.jsonl", [GSM_OK, {"question": "q", "solution": "#### 3"}])
    msg = _error("gsm8k", f)
    assert "row 2: field 'answer' is missing" in msg
    assert '"solution"' in msg and "rename" in msg  # the renamed answer field is visible, and the fix says so


def test_blank_lines_count_so_row_is_the_line_number(tmp_path):
    f = _jsonl(tmp_path / "test.jsonl", [GSM_OK, "", '{"question": "q", "answer": "#### 1"', GSM_OK])
    msg = _error("gsm8k", f)
    assert "row 3: not valid JSON" in msg and "fix or remove the line" in msg


def test_row_that_is_not_an_object(tmp_path):
    f = _jsonl(tmp_path / "test.jsonl", [GSM_OK, ["question", "answer"]])
    msg = _error("gsm8k", f)
    assert "row 2: expected an object" in msg and "got a list" in msg


def test_gsm8k_answer_without_a_number(tmp_path):
    f = _jsonl(tmp_path / "test.jsonl", [{"question": "q", "answer": "so it is\n#### seven"}])
    msg = _error("gsm8k", f)
    assert "field 'answer' is not a number ('seven')" in msg and "'#### 42'" in msg


def test_csqa_wrong_number_of_options(tmp_path):
    f = _jsonl(tmp_path / "dev_rand_split.jsonl", [_csqa_row(), _csqa_row("ABCD", "B", "c2")])
    msg = _error("csqa", f)
    assert "row 2: field 'choices' has 4 options (A, B, C, D)" in msg and "have 5 (A, B, C, D, E)" in msg


def test_csqa_answer_letter_outside_its_options(tmp_path):
    f = _jsonl(tmp_path / "dev_rand_split.jsonl", [_csqa_row(key="F")])
    msg = _error("csqa", f)
    assert "field 'answerKey' 'F' is not one of the labels" in msg and "letter of the correct option" in msg


def test_csqa_answer_of_the_wrong_type(tmp_path):
    f = _jsonl(tmp_path / "dev_rand_split.jsonl", [_csqa_row(key=2)])
    msg = _error("csqa", f)
    assert "field 'answerKey' is a number 2, expected the gold option's letter" in msg


def test_csqa_hub_layout_with_labels_and_texts_of_different_lengths(tmp_path):
    row = {"id": "h1", "question": "Where?", "answerKey": "A",
           "choices": {"label": ["A", "B", "C", "D", "E"], "text": ["a", "b", "c", "d"]}}
    msg = _error("csqa", _jsonl(tmp_path / "dev_rand_split.jsonl", [row]))
    assert "5 labels but 4 texts" in msg


def test_duplicate_ids_name_the_id_and_both_rows(tmp_path):
    f = _jsonl(tmp_path / "dev_rand_split.jsonl", [_csqa_row(item_id=i) for i in "xyx"])
    msg = _error("csqa", f)
    assert "row 3: item id 'x' repeats the id of row 1" in msg


def _pretty_list(path, items):
    """A JSON list written the way the real StrategyQA / SVAMP files are (indented, an item over many lines);
    returns the line each item starts on."""
    text = json.dumps(items, indent=4)
    path.write_text(text, encoding="utf-8")
    return [n for n, ln in enumerate(text.splitlines(), start=1) if ln == "    {"]


def test_strategyqa_answer_maybe_names_row_and_line(tmp_path):
    f = tmp_path / "dev.json"
    starts = _pretty_list(f, [{"qid": "a", "question": "Is ice cold?", "answer": True, "facts": ["x", "y"]},
                              {"qid": "b", "question": "Is fire cold?", "answer": "maybe"}])
    msg = _error("strategyqa", f)
    assert "row 2: field 'answer' is a string \"maybe\", expected true or false" in msg
    assert msg.endswith(f"(row 2 starts at line {starts[1]})") and starts[1] > 2


def test_svamp_answer_that_is_not_a_number(tmp_path):
    f = tmp_path / "SVAMP.json"
    starts = _pretty_list(f, [{"ID": "s1", "Body": "Tom has 3.", "Question": "How many?", "Answer": 3},
                              {"ID": "s2", "Body": "Ann has 2.", "Question": "How many?", "Answer": "lots"}])
    msg = _error("svamp", f)
    assert "row 2: field 'Answer' is not a number ('lots')" in msg and f"line {starts[1]}" in msg


def test_json_list_file_that_is_an_object_or_broken(tmp_path):
    f = tmp_path / "dev.json"
    f.write_text(json.dumps({"qid": "a", "question": "q", "answer": True}), encoding="utf-8")
    assert "expected a JSON list of items, got a JSON dict" in _error("strategyqa", f)
    f.write_text('[\n  {"qid": "a",\n   "question": "q"\n   "answer": true}\n]', encoding="utf-8")
    msg = _error("strategyqa", f)
    assert "not valid JSON" in msg and "at line 4" in msg


def _gpqa_zip(path, header, records):
    """An unencrypted GPQA-style zip (the loader's password is then unused) holding dataset/gpqa_diamond.csv."""
    import csv

    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(records)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("dataset/gpqa_diamond.csv", buf.getvalue())
    path.write_bytes(out.getvalue())
    return path


GPQA_HEADER = ["Question", "Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3",
               "Record ID"]


def test_gpqa_row_without_its_four_options_hides_the_text(tmp_path):
    rows = [["first secret\nover two lines", "right", "w1", "w2", "w3", "r1"],
            ["second secret", "right", "w1", "w2", "", "r2"]]
    f = _gpqa_zip(tmp_path / "dataset.zip", GPQA_HEADER, rows)
    msg = _error("gpqa", f)
    assert "gpqa_diamond.csv row 2: field 'Incorrect Answer 3' is missing or empty" in msg
    assert "all 4 options" in msg and msg.endswith("(row 2 starts at line 4)")  # header 1, row 1 on lines 2-3
    assert "secret" not in msg and "right" not in msg  # GPQA's items are never shown


def test_gpqa_csv_without_an_option_column(tmp_path):
    f = _gpqa_zip(tmp_path / "dataset.zip", GPQA_HEADER[:4] + GPQA_HEADER[5:], [["q", "right", "w1", "w2", "r1"]])
    assert "field 'Incorrect Answer 3' is missing or empty" in _error("gpqa", f)


def test_byte_order_mark_is_accepted(tmp_path):
    f = tmp_path / "test.jsonl"
    f.write_bytes(b"\xef\xbb\xbf" + (json.dumps(GSM_OK) + "\n").encode())
    assert [it.answer for it in load_benchmark("gsm8k", path=f)] == ["4"]


def test_real_json_lists_report_the_lines_their_items_start_on(shared_data):
    """On the real pretty-printed files, the line given for every item is the line of its opening brace."""
    for rel in ("strategyqa/dev.json", "svamp/SVAMP.json"):
        path = shared_data / rel
        lines = path.read_text(encoding="utf-8").splitlines()
        rows = read_located_rows(path, rel.split("/")[0], "")
        assert len(rows) > 200 and all(lines[ln - 1].strip() == "{" for _, _, ln in rows), rel
        assert [ln for _, _, ln in rows] == sorted({ln for _, _, ln in rows})


def test_bad_file_stops_an_evaluation_before_scoring_and_keeps_its_store(tmp_path):
    """mind eval loads every benchmark before it scores, so a malformed file costs nothing already evaluated: the
    store is byte for byte what it was, and the CLI prints the one-line error with exit status 2."""
    from mind.evaluation.runner import evaluate

    data = tmp_path / "data"
    (data / "strategyqa").mkdir(parents=True)
    good = [{"qid": "a", "question": "Is ice cold?", "answer": True},
            {"qid": "b", "question": "Is fire wet?", "answer": False}]
    (data / "strategyqa" / "dev.json").write_text(json.dumps(good), encoding="utf-8")
    out = tmp_path / "eval"
    evaluate(student="tiny", out_dir=out, benchmarks="strategyqa", data=str(data), generate=(), progress=False)
    store = (out / "likelihoods.jsonl").read_bytes()
    assert store.count(b"\n") == 2
    bad = good + [{"qid": "c", "question": "Is it?", "answer": "maybe"}]
    (data / "strategyqa" / "dev.json").write_text(json.dumps(bad), encoding="utf-8")
    with pytest.raises(DataError, match="row 3: field 'answer'"):
        evaluate(student="tiny", out_dir=out, benchmarks="strategyqa", data=str(data), generate=(), progress=False)
    assert (out / "likelihoods.jsonl").read_bytes() == store


def test_cli_prints_the_error_on_one_line(tmp_path, capsys):
    from mind.cli import main

    (tmp_path / "gsm8k").mkdir()
    _jsonl(tmp_path / "gsm8k" / "test.jsonl", [GSM_OK, {"question": "q"}])
    code = main(["eval", "--student", "tiny", "--benchmarks", "gsm8k", "--data", str(tmp_path), "--out",
                 str(tmp_path / "eval"), "--no-likelihood"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith("error: ") and "test.jsonl row 2: field 'answer' is missing" in err[0]
