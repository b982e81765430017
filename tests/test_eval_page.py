"""The Evaluation page on real tiny evaluations (AppTest): error bars in every accuracy and likelihood chart,
paired differences marked by significance, forgetting with intervals; the Evaluate form's job function; progress
parsing of a `mind eval` log; the chart builders' error bars."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from test_app_pages import figures, open_page, texts, values  # noqa: F401
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
    assert [t["name"] for t in acc["data"]] == ["first", "second", "base tiny", evaluation.MAJORITY_ROW,
                                                evaluation.CHANCE_ROW]  # the last two: legend entries of lines
    lines = [(sh["x0"], sh["x1"], round(sh["y0"], 9), sh["line"]["dash"]) for sh in acc["layout"]["shapes"]]
    assert (0.55, 1.45, 20.0, "dot") in lines and len(lines) == 2  # csqa (x 1): chance 20%, and the commonest answer
    assert len(bars) == 3 and all(e["symmetric"] is False and len(e["array"]) == 2 for e in bars)
    assert all(u > 0 for e in bars for u in e["array"])  # 0 of 3 right still has an upper Wilson bound
    diff = figs["Accuracy difference"]
    runs = [t for t in diff["data"] if t.get("error_y")]  # less the legend-only entries (filled / open, one per run)
    assert len(runs) == 1 and runs[0]["name"] == "second" and _error_bars(diff)
    assert list(diff["layout"]["xaxis"]["ticktext"]) == ["gsm8k", "csqa", "ID avg", "OOD avg"]
    assert [row[0] for row in runs[0]["customdata"]] == ["gsm8k", "csqa", "ID avg", "OOD avg"]
    assert diff["data"][0]["marker"]["symbol"] == ["circle-open"] * 4  # identical runs: no difference
    assert "Answer log-likelihood difference" in figs
    lik = figs["Answer log-likelihood"]
    assert {t["name"] for t in lik["data"]} == {"first", "second", "base tiny"} and len(_error_bars(lik)) == 3
    assert "Every accuracy metric of the choice benchmarks" in figs
    shown = at.dataframe[2].value  # the paired table
    assert set(shown["metric"]) >= {"accuracy", "answer log-lik", "generated accuracy", "acc accuracy"}
    assert {"p", "Holm p", "★"} <= set(shown.columns) and "None" not in shown.to_string()
    assert set(shown["benchmark"]) >= {"gsm8k", "csqa", "ID avg", "OOD avg"}
    intervals = at.dataframe[1].value
    assert intervals.loc["first", "gsm8k"].startswith("0.0 [0.0, ") and "base tiny" in intervals.index
    fg = at.dataframe[3].value  # forgetting: the OOD average and each OOD benchmark, with intervals
    lo, d, hi = (fg[c].astype(float) for c in ("lo", "diff", "hi"))
    assert set(fg["benchmark"]) == {"OOD avg", "csqa"} and (lo <= d).all() and (d <= hi).all()
    assert "p_holm" in fg.columns and "★" in fg.columns
    at.checkbox(key="eval_base").uncheck().run()
    assert "base tiny" not in at.dataframe[1].value.index
    golds = [r["gold"] for r in map(json.loads, (first / "eval" / "likelihoods.jsonl").read_text().splitlines())
             if r["benchmark"] == "csqa"]
    top = max(golds.count(g) for g in golds)
    table = at.dataframe[0].value
    assert table.loc[evaluation.MAJORITY_ROW, "csqa"] == f"{100 * top / len(golds):.2f}"
    assert table.loc[evaluation.CHANCE_ROW, "csqa"] == "20.00" and table.loc[evaluation.CHANCE_ROW, "gsm8k"] == ""
    assert table.loc[evaluation.MAJORITY_ROW, "OOD avg"] == ""  # a constant answer pools nothing
    majority = [sh["y0"] for sh in acc["layout"]["shapes"] if sh["line"]["dash"] == "dash"]
    assert majority == [pytest.approx(100 * top / len(golds))]
    at.checkbox(key="eval_constant").uncheck().run()
    assert evaluation.MAJORITY_ROW not in at.dataframe[0].value.index


def test_constant_answers_count_the_commonest_gold_and_the_options(tmp_path):
    """57 "no" of 100 StrategyQA items is 57% for always "no", chance 50%; GPQA's four options 25%; a tie goes to
    the first answer in sorted order; a generation-only benchmark and a run without likelihoods give nothing."""
    eval_dir = tmp_path / "run" / "eval"
    eval_dir.mkdir(parents=True)
    rows = [{"benchmark": "strategyqa", "gold": "no" if i < 57 else "yes", "plain_logp": [-1.0, -2.0]}
            for i in range(100)]
    rows += [{"benchmark": "gpqa", "gold": g, "plain_logp": [-1.0] * 4} for g in "BBAA"]
    rows += [{"benchmark": "gsm8k", "gold": "3", "answer_logp": -2.0}]
    (eval_dir / "likelihoods.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    table, commonest = evaluation.constant_answers(tmp_path / "run")
    assert table == {evaluation.MAJORITY_ROW: {"strategyqa": 57.0, "gpqa": 50.0},
                     evaluation.CHANCE_ROW: {"strategyqa": 50.0, "gpqa": 25.0}}
    assert commonest == {"strategyqa": "no", "gpqa": "A"}
    assert evaluation.constant_answers(tmp_path / "nothing") == ({}, {})


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
    assert at.dataframe[0].value.loc["solo", "gsm8k"] == "0.00"
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


def test_difference_markers_are_visible_offset_and_in_the_run_colours():
    """Open markers are rings in the run's colour (not white on white), error bars too; two runs never share an x."""
    diffs = pd.DataFrame({"run": ["b", "b", "c", "c"], "benchmark": ["gsm8k", "csqa"] * 2, "diff": [5.0, -1.0, 2.0, 0.0],
                          "lo": [1.0, -4.0, -1.0, -2.0], "hi": [9.0, 2.0, 5.0, 2.0], "p": [0.01, 0.6, 0.3, 1.0],
                          "n": [40] * 4, "significant": [True, False, False, False]})
    colours = {"b": "#0072B2", "c": "#E69F00"}
    fig = eval_charts.difference_chart(diffs, "t", "points", colours).to_plotly_json()
    runs = {t["name"]: t for t in fig["data"] if t["name"] in colours and t.get("error_y")}
    legend = {t["name"]: t for t in fig["data"] if t["name"] in colours and t.get("showlegend") is not False}
    for name, t in runs.items():
        assert t["showlegend"] is False and legend[name]["legendgroup"] == name  # one legend entry per run...
        assert legend[name]["marker"]["symbol"] == "circle" and legend[name]["marker"]["color"] == colours[name]
        assert t["marker"]["color"] == colours[name] and t["marker"]["line"]["color"] == colours[name]
        assert t["error_y"]["color"] == colours[name]
    assert set(runs["b"]["x"]).isdisjoint(runs["c"]["x"])  # offset per run
    assert [round(x) for x in runs["b"]["x"]] == [0, 1] and list(fig["layout"]["xaxis"]["ticktext"]) == ["gsm8k", "csqa"]
    key = [t for t in fig["data"] if t.get("legendgroup") == "_key"]
    assert [t["marker"]["symbol"] for t in key] == ["circle", "circle-open"]  # the legend says filled vs open
    assert fig["layout"]["legend"]["orientation"] == "h"  # ...under the plot, which keeps the chart's width


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


# ------------------------------------------------------------------------------------------ seed-level results


def _seed_experiment(runs) -> dict:
    """Two methods x two seeds, written as files: run folders ``<method>-s<seed>`` (config, an evaluated summary;
    uniform-s0 also has svamp) and compare.json whose seed_level is mind.evaluation.seeds.experiment_table over
    synthetic items (those of tests/test_eval_seeds.py). One raw p is set to 0.02 and the table re-adjusted, so a
    test that is significant before Holm and not after exists. Then a newer run without an evaluation."""
    import numpy as np

    from mind.evaluation import seeds
    from test_eval_seeds import _items

    rng = np.random.default_rng(5)
    frames = {(m, s): _items(rng, p, 0.2) for m, p in (("mind", 0.3), ("uniform", 0.95)) for s in (0, 1)}
    level = seeds.experiment_table(frames, ("mind", "uniform"))
    level["comparisons"]["uniform"]["targets"]["csqa"]["accuracy"]["p"] = 0.02
    seeds.adjust(level["comparisons"])
    rows = []
    for (m, s), df in frames.items():
        run = runs / f"{m}-s{s}"
        (run / "eval").mkdir(parents=True)
        (run / "config.json").write_text(json.dumps({"method": m, "seed": s, "student": "tiny"}))
        benches = {"gsm8k": {"accuracy": float(df[df["benchmark"] == "gsm8k"]["correct"].mean()), "n": 60}}
        if (m, s) == ("uniform", 0):
            benches["svamp"] = {"accuracy": 0.5, "n": 10}
        (run / "eval" / "summary.json").write_text(json.dumps({"benchmarks": benches}))
        rows.append({"run": run.name, "method": m, "seed": s})
    (runs / "compare.json").write_text(json.dumps({"methods": ["mind", "uniform"], "rows": rows, "seed_level": level,
                                                    "paired": {}}))
    fresh = runs / "fresh"
    fresh.mkdir()
    (fresh / "config.json").write_text(json.dumps({"method": "mind"}))
    return level


def test_seed_experiment_shows_a_dot_per_seed_and_holm_adjusted_stars(roots):
    from app import colors, seed_results

    level = _seed_experiment(roots)
    at = open_page("evaluation")
    assert not at.exception, texts(at.exception)
    # opens on the evaluated runs, one per method of the experiment, reference first; not on the newest ("fresh")
    assert [p.split("/")[-1] for p in at.multiselect(key="eval_runs").value] == ["mind-s0", "uniform-s0"]
    assert at.dataframe[1].value.loc["mind-s0", "svamp"] == ""  # a benchmark it was not evaluated on: blank
    figs = {f["layout"]["title"]["text"]: f for f in figures(at)}
    agg = figs["Accuracy over seeds"]["data"]
    means = {t["name"]: t for t in agg if t["name"] in ("mind", "uniform") and t.get("error_y")}
    dots = {t["name"]: t for t in agg if t["name"].endswith("one dot per seed")}
    for m in ("mind", "uniform"):
        targets = level["aggregate"][m]["targets"]
        expect = [100 * v for t in targets.values() for v in t["accuracy"]["per_seed"]]
        assert values(dots[f"{m}: one dot per seed"]["y"]) == pytest.approx(expect)  # 2 seeds x every target
        assert values(means[m]["y"]) == pytest.approx([100 * t["accuracy"]["mean"] for t in targets.values()])
        assert means[m]["marker"]["color"] == colors.run_colour(f"{m}-s0")
        assert means[m]["error_y"]["color"] == colors.run_colour(f"{m}-s0")
    assert values(means["mind"]["x"])[0] != values(means["uniform"]["x"])[0]  # offset, not on one x position
    diff = next(t for t in figs["Accuracy minus mind, over seeds"]["data"] if t["name"] == "uniform")
    targets = list(level["comparisons"]["uniform"]["targets"])
    sig = [level["comparisons"]["uniform"]["targets"][t]["accuracy"]["significant"] for t in targets]
    assert diff["marker"]["symbol"] == ["diamond" if s else "diamond-open" for s in sig] and any(sig) and not all(sig)
    table = next(d.value for d in at.dataframe if "Holm p" in d.value.columns and "minus" in d.value.columns)
    rows = table[table["metric"] == "accuracy (points)"].set_index("target")
    assert set(table["metric"]) == {"accuracy (points)", "answer log-lik (nats)"} and "" not in set(table["difference"])
    gsm = level["comparisons"]["uniform"]["targets"]["gsm8k"]["accuracy"]
    assert gsm["p"] == pytest.approx(gsm["p_floor"]) and rows.loc["gsm8k", "p"] == "< 0.0002"
    assert rows.loc["gsm8k", "Holm p"].startswith("< ") and rows.loc["gsm8k", seed_results.STAR] == seed_results.STAR
    csqa = level["comparisons"]["uniform"]["targets"]["csqa"]["accuracy"]
    assert csqa["p"] == 0.02 and csqa["p_holm"] >= 0.05  # significant before the correction, not after
    assert rows.loc["csqa", "p"] == "0.02" and rows.loc["csqa", "Holm p"] == f"{csqa['p_holm']:.3g}"
    assert rows.loc["csqa", seed_results.STAR] == ""
    assert "Holm" in texts(at.caption)


def test_how_mind_works_sentence_counts_seeds_items_and_the_correction(roots):
    from app import seed_results

    level = _seed_experiment(roots)
    exp = seed_results.find([roots / "mind-s0"])[0]
    said = seed_results.pooled_sentence(exp)
    ood = level["comparisons"]["uniform"]["targets"]["OOD pooled"]["accuracy"]
    assert "each method minus **mind**" in said and f"Holm over the {level['family_size']} tests" in said
    assert "uniform ID pooled" in said and "over 2 seeds (0, 1) x 60 items" in said
    assert f"uniform OOD pooled: {100 * ood['diff']:+.1f} points" in said
    assert ("★" in said) == any(level["comparisons"]["uniform"]["targets"][t]["accuracy"]["significant"]
                                 for t in ("ID pooled", "OOD pooled"))
    lik = seed_results.pooled_sentence(exp, "answer_logp")
    ood_ll = level["comparisons"]["uniform"]["targets"]["OOD pooled"]["answer_logp"]
    assert "(answer log-lik, higher is better)" in lik and f"uniform OOD pooled: {ood_ll['diff']:+.2f} nats" in lik
    assert "over 2 seeds (0, 1) x 60 items" in lik
