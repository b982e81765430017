"""The Evaluation page on real tiny evaluations (AppTest): error bars in every accuracy and likelihood chart,
paired differences marked by significance, forgetting with intervals; the Evaluate form's job function; progress
parsing of a `mind eval` log; the chart builders' error bars."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from test_app_pages import figures, open_page, texts  # noqa: F401
from test_app_runs import copy_run, roots  # noqa: F401  (roots is a fixture)

from app import eval_charts, evaluation, jobs, settings, ui
from mind.cli import main as cli
from mind.errors import ConfigError


@pytest.fixture
def evaluated(roots):
    first, second = copy_run(roots, "first"), copy_run(roots, "second")
    assert cli(["eval", "--run", str(first), "--run", str(second), "--benchmarks", "gsm8k,csqa", "--limit", "3",
                "--max-new-tokens", "4", "--quiet"]) == 0
    return first, second


def _error_bars(fig: dict) -> list[dict]:
    return [t["error_y"] for t in fig["data"] if t.get("error_y", {}).get("visible", True) and "error_y" in t]


@pytest.mark.slow
def test_evaluation_page_shows_error_bars_and_paired_differences(evaluated):
    first, second = evaluated
    at = open_page("evaluation")
    at.multiselect(key="eval_runs").set_value([str(first), str(second)]).run()
    assert not at.exception, texts(at.exception)
    assert not at.error, texts(at.error)
    figs = {f["layout"]["title"]["text"]: f for f in figures(at)}
    acc = figs["Accuracy (95% Wilson intervals)"]
    bars = _error_bars(acc)
    assert [t["name"] for t in acc["data"]] == ["first", "second", "base tiny"]
    assert len(bars) == 3 and all(e["symmetric"] is False and len(e["array"]) == 2 for e in bars)
    assert all(u > 0 for e in bars for u in e["array"])  # 0 of 3 right still has an upper Wilson bound
    diff = figs["Accuracy difference"]
    assert len(diff["data"]) == 1 and diff["data"][0]["name"] == "second" and _error_bars(diff)
    assert list(diff["data"][0]["x"]) == ["gsm8k", "csqa", "ID avg", "OOD avg"]
    assert diff["data"][0]["marker"]["symbol"] == ["circle-open"] * 4  # identical runs: no difference
    assert "Answer log-likelihood difference" in figs
    lik = figs["Answer log-likelihood"]
    assert {t["name"] for t in lik["data"]} == {"first", "second", "base tiny"} and len(_error_bars(lik)) == 3
    assert "Every accuracy metric of the choice benchmarks" in figs
    shown = at.dataframe[2].value  # the paired table
    assert set(shown["metric"]) >= {"accuracy", "answer log-lik", "generated accuracy", "acc accuracy"}
    assert set(shown["benchmark"]) >= {"gsm8k", "csqa", "ID avg", "OOD avg"}
    intervals = at.dataframe[1].value
    assert intervals.loc["first", "gsm8k"].startswith("0.0 [0.0, ") and "base tiny" in intervals.index
    fg = at.dataframe[3].value  # forgetting: the OOD average and each OOD benchmark, with intervals
    assert set(fg["benchmark"]) == {"OOD avg", "csqa"} and (fg["lo"] <= fg["diff"]).all() and (fg["diff"] <= fg["hi"]).all()
    at.checkbox(key="eval_base").uncheck().run()
    assert "base tiny" not in at.dataframe[1].value.index


@pytest.mark.slow
def test_evaluate_form_starts_mind_eval_and_the_page_shows_the_result(roots):
    run = copy_run(roots, "solo")
    at = open_page("evaluation")
    assert "no evaluation yet" in texts(at.info)
    at.multiselect(key="eval_runs").set_value([str(run)]).run()
    at.number_input[0].set_value(2)
    at.multiselect[1].set_value(["gsm8k"])
    at.button[0].click().run()
    assert not at.exception, texts(at.exception)
    job = next(j for j in ui.registry().jobs() if j.kind == "eval")
    assert job.argv[3:] == ["eval", "--run", str(run), "--benchmarks", "gsm8k", "--limit", "2", "--precision", "auto"]
    assert job.proc.wait(300) == 0, evaluation.log_tail(job.log_path)
    at.run()
    assert not at.exception, texts(at.exception)
    assert "Evaluation finished" in texts(at.success)
    assert at.dataframe[0].value.loc["solo", "gsm8k"] == pytest.approx(0.0)
    assert json.loads((run / "eval" / "summary.json").read_text())["benchmarks"]["gsm8k"]["n"] == 2


def test_start_eval_validates_and_is_refused_read_only(roots, tmp_path, monkeypatch):
    reg = jobs.JobRegistry()
    with pytest.raises(Exception, match="not a run directory"):
        reg.start_eval([tmp_path], ["gsm8k"], 5)
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ConfigError, match="benchmark 'mmlu' is unknown"):
        reg.start_eval([tmp_path], ["mmlu"], 5)
    with pytest.raises(ConfigError, match="limit=0"):
        reg.start_eval([tmp_path], ["gsm8k"], 0)
    with pytest.raises(ConfigError, match="precision"):
        reg.start_eval([tmp_path], ["gsm8k"], 5, precision="fp8")
    monkeypatch.setenv(settings.ENV_READ_ONLY, "1")
    with pytest.raises(Exception, match="read-only"):
        reg.start_eval([tmp_path], ["gsm8k"], 5)
    assert not reg.jobs()


def test_a_read_only_dashboard_offers_no_evaluate_form(roots, monkeypatch):
    run = copy_run(roots, "solo")
    monkeypatch.setenv(settings.ENV_READ_ONLY, "1")
    at = open_page("evaluation")
    at.multiselect(key="eval_runs").set_value([str(run)]).run()
    assert not at.exception, texts(at.exception)
    assert "no evaluation yet" in texts(at.info) and "press Evaluate" not in texts(at.info)
    assert not [b for b in at.button if "Evaluate" in str(b.label)] and len(at.number_input) == 0
    monkeypatch.delenv(settings.ENV_READ_ONLY)
    at = open_page("evaluation")
    at.multiselect(key="eval_runs").set_value([str(run)]).run()
    assert [b.label for b in at.button if "Evaluate" in str(b.label)] == ["Evaluate"]


def test_eval_progress_from_a_tqdm_log():
    log = ("$ mind eval --run r\n[1/4] likelihood base tiny:   0%|          | 0/10 [00:00<?, ?item/s]"
           "\r[1/4] likelihood base tiny:  40%|####      | 4/10 [00:01<00:01,  3.30item/s]\n"
           "[2/4] generate base tiny:  30%|###       | 3/10 [00:02<00:05,  1.2item/s]")
    frac, label = evaluation.eval_progress(log)
    assert frac == pytest.approx(0.3) and label == "[2/4] generate base tiny: 3/10 items"
    assert evaluation.eval_progress("$ mind eval --run r\n")[0] == 0.0


def test_chart_error_bars_are_asymmetric_and_marked():
    table = pd.DataFrame({"gsm8k": [10.0, 50.0]}, index=["a", "b"])
    lo = pd.DataFrame({"gsm8k": [2.0, 30.0]}, index=["a", "b"])
    hi = pd.DataFrame({"gsm8k": [30.0, 70.0]}, index=["a", "b"])
    fig = eval_charts.accuracy_bars(table, lo, hi).to_plotly_json()
    assert fig["data"][0]["error_y"]["array"] == [20.0] and fig["data"][0]["error_y"]["arrayminus"] == [8.0]
    diffs = pd.DataFrame({"run": ["b", "b"], "benchmark": ["gsm8k", "csqa"], "diff": [5.0, -1.0], "lo": [1.0, -4.0],
                          "hi": [9.0, 2.0], "p": [0.01, 0.6], "n": [40, 40], "significant": [True, False]})
    d = eval_charts.difference_chart(diffs, "t", "points").to_plotly_json()["data"][0]
    assert list(d["marker"]["symbol"]) == ["circle", "circle-open"] and list(d["error_y"]["arrayminus"]) == [4.0, 3.0]


def test_intervals_for_summaries_without_them():
    from mind.evaluation.stats import wilson

    old = {"benchmarks": {"gsm8k": {"accuracy": 0.125, "n": 8, "correct": 1}, "svamp": {"accuracy": 0.0, "n": 8}}}
    got = evaluation.intervals(old)
    assert got["gsm8k"] == pytest.approx(tuple(100 * x for x in wilson(1, 8)))
    w1, w0 = wilson(1, 8), wilson(0, 8)
    assert got["ID avg"][1] == pytest.approx(100 * (0.0625 + ((w1[1] - 0.125) ** 2 + w0[1] ** 2) ** 0.5 / 2))
    assert "OOD avg" not in got
    new = {"benchmarks": {"gsm8k": {"accuracy": 0.5, "n": 4, "ci": [0.1, 0.9]}}, "id_avg_ci": [0.2, 0.8]}
    assert evaluation.intervals(new) == {"gsm8k": (10.0, 90.0), "ID avg": (20.0, 80.0)}


def test_parse_summary_reads_a_likelihood_only_base_block():
    obj = {"benchmarks": {"gsm8k": {"accuracy": 0.5, "n": 2}}, "base_accuracy": None,
           "base": {"benchmarks": {"gsm8k": {"n": 2, "answer_logp": {"mean": -3.0, "ci": [-4, -2]}}}, "id_avg": None}}
    parsed = evaluation.parse_summary(obj)
    assert parsed["accuracy"] == {"gsm8k": 50.0} and parsed["base"] == {}


@pytest.mark.slow
def test_how_mind_works_shows_the_comparison_its_run_belongs_to(evaluated):
    from mind.experiment import paired_against_first, summarize
    from mind.run.jsonl import write_json_atomic

    first, second = evaluated
    at = open_page("how-mind-works", mind_run=str(first))
    assert not at.exception and "is not part of a comparison" in texts(at.caption)
    rows = [summarize(first), summarize(second)]
    write_json_atomic(first.parent / "x-compare.json", {"methods": ["mind", "mind"], "rows": rows,
                                                        "paired": paired_against_first([first, second])})
    at = open_page("how-mind-works", mind_run=str(first))
    assert not at.exception, texts(at.exception)
    table = at.dataframe[0].value
    assert table["run"].tolist() == ["first", "second"] and {"ID avg", "ID lo", "ID hi", "OOD avg"} <= set(table.columns)
    assert (table["ID lo"] <= table["ID avg"]).all() and (table["ID avg"] <= table["ID hi"]).all()
    said = texts(at.markdown)
    assert "Item by item against **first**" in said and "distinguishable from zero" in said  # identical runs
    assert "answer log-likelihood, same items (paired bootstrap): none of the 2 ID/OOD differences" in said
    assert "Does MetaNet follow the student" in said
