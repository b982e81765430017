"""`mind eval`: end to end on a 2-step tiny run, resume after a torn write, batched == unbatched decoding (with and
without stopping at the answer line), the paper-style table, scoring, and one-line CLI errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from mind.cli import main as cli
from mind.evaluation.runner import ALL_BENCHMARKS, evaluate, resolve_benchmarks
from mind.evaluation.store import PredictionStore, count_lines, share_records
from mind.evaluation.table import PAPER_ROWS, format_table, summary_rows
from mind.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
FAST = dict(limit=5, max_new_tokens=8, batch_size=8, progress=False)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, shared_data):
    out = tmp_path_factory.mktemp("evalrun") / "run"
    torch.set_num_threads(1)
    assert cli(["train", "--data", str(ROOT / "tests/data/mini.jsonl"), "--student", "tiny", "--steps", "2",
                "--out", str(out), "--quiet"]) == 0
    return out


@pytest.fixture(scope="module")
def evaluated(run_dir, shared_data):
    torch.set_num_threads(1)
    return evaluate(run_dir=run_dir, data=str(shared_data), **FAST)


def test_end_to_end_summary_and_files(run_dir, evaluated):
    s = evaluated
    on_disk = json.loads((run_dir / "eval" / "summary.json").read_text())
    assert on_disk == json.loads(json.dumps(s))
    assert set(s["benchmarks"]) == set(ALL_BENCHMARKS)
    for name, b in s["benchmarks"].items():
        assert b["n"] == 5 and 0.0 <= b["accuracy"] <= 1.0 and b["accuracy"] == b["correct"] / 5
        assert b["kind"] == ("ID" if name in ("gsm8k", "svamp", "math500") else "OOD")
        assert s["base"]["benchmarks"][name]["n"] == 5
        # the headline is the primary metric: the harness's acc_norm for choice benchmarks, else the generation
        assert b["primary"] == ("acc_norm" if name in ("csqa", "strategyqa", "gpqa") else "correct")
        assert b["accuracy"] == b["metrics"][b["primary"]]["accuracy"]
        if name in ("csqa", "strategyqa", "gpqa"):
            assert set(b["metrics"]) == {"acc_norm", "acc", "letter_correct", "correct"}
    # averages pool the items: every item weighs the same
    ids = ("gsm8k", "svamp", "math500")
    assert s["id_avg"] == pytest.approx(sum(s["benchmarks"][b]["correct"] for b in ids) / 15) and s["id_n"] == 15
    assert s["prompt_version"] == 2
    assert s["forgetting"] == pytest.approx(s["ood_avg"] - s["base"]["ood_avg"])
    assert set(s["forgetting_per_benchmark"]) == {"csqa", "strategyqa", "gpqa"}
    assert (s["limit"], s["student"], s["checkpoint_step"]) == (5, "tiny", 2)
    assert s["max_new_tokens"] == {b: 8 for b in ALL_BENCHMARKS}
    assert s["generated"] == {"student": 30, "base": 30} and s["scored"] == {"student": 30, "base": 30}
    for name in ("predictions.jsonl", "base_predictions.jsonl"):
        rows = [json.loads(line) for line in (run_dir / "eval" / name).read_text().splitlines()]
        assert len(rows) == 30 and len({(r["benchmark"], r["id"]) for r in rows}) == 30
        assert {"benchmark", "id", "prediction", "extracted", "gold", "correct"} <= set(rows[0])
        assert all(1 <= r["n_tokens"] <= 8 for r in rows)
    for name in ("likelihoods.jsonl", "base_likelihoods.jsonl"):
        rows = [json.loads(line) for line in (run_dir / "eval" / name).read_text().splitlines()]
        assert len(rows) == 30 and all(r["answer_logp"] < 0 and r["answer_tokens"] >= 2 for r in rows)
        assert {len(r["plain_logp"]) for r in rows if r["benchmark"] in ("csqa", "gpqa")} == {4, 5}
        assert {len(r["letter_logp"]) for r in rows if r["benchmark"] == "strategyqa"} == {2}
    # intervals: Wilson around every accuracy, MOVER around the averages, bootstrap around log-likelihoods
    for b in s["benchmarks"].values():
        assert b["ci"][0] <= b["accuracy"] <= b["ci"][1] and b["ci"][1] > 0
        lp = b["answer_logp"]
        assert lp["ci"][0] <= lp["mean"] <= lp["ci"][1] < 0
    assert s["id_avg_ci"][0] <= s["id_avg"] <= s["id_avg_ci"][1] and s["ood_avg_ci"][1] > 0
    assert s["accuracy_ci"] == {b: v["ci"] for b, v in s["benchmarks"].items()}
    assert set(s["benchmarks"]["csqa"]["metrics"]["acc"]) == {"accuracy", "correct", "n", "ci"}
    lo, hi = s["forgetting_ci"]
    assert lo <= s["forgetting"] <= hi and s["forgetting_detail"]["answer_logp"]["n"] == 15
    items = [json.loads(line) for line in (run_dir / "eval" / "items.jsonl").read_text().splitlines()]
    assert len(items) == 30 and {"correct", "answer_logp", "base_correct", "base_answer_logp"} <= set(items[0])
    assert {"acc", "acc_norm", "letter_correct", "base_acc_norm"} <= set(next(i for i in items if i["benchmark"] == "csqa"))


def test_rerun_generates_nothing_and_student_mode(run_dir, evaluated, shared_data, tmp_path):
    again = evaluate(run_dir=run_dir, data=str(shared_data), **FAST)
    assert again["generated"] == {"student": 0, "base": 0} and again["benchmarks"] == evaluated["benchmarks"]
    assert count_lines(run_dir / "eval" / "predictions.jsonl") == 30
    # another max_new_tokens is another key: regenerated, not mixed with the cached lines
    s = evaluate(run_dir=run_dir, data=str(shared_data), benchmarks="gsm8k", limit=2, max_new_tokens=3,
                 batch_size=2, base=False, progress=False)
    assert s["generated"] == {"student": 2, "base": 0} and s["base_accuracy"] is None and s["forgetting"] is None
    # the base's cached likelihoods (they do not depend on max_new_tokens) are still reported, without accuracy
    assert "accuracy" not in s["base"]["benchmarks"]["gsm8k"] and s["base"]["benchmarks"]["gsm8k"]["answer_logp"]
    assert s["scored"] == {"student": 0, "base": 0}
    bare = evaluate(student="tiny", out_dir=tmp_path / "bare", data=str(shared_data), benchmarks="svamp,csqa",
                    limit=2, max_new_tokens=4, batch_size=3, progress=False)
    assert bare["base"] is None and bare["forgetting"] is None and count_lines(tmp_path / "bare" / "predictions.jsonl") == 4
    assert bare["id_avg"] == bare["benchmarks"]["svamp"]["accuracy"] and bare["ood_avg"] == bare["benchmarks"]["csqa"]["accuracy"]
    assert bare["benchmarks"]["csqa"]["primary"] == "acc_norm"


def test_resume_after_interruption_generates_only_missing(run_dir, evaluated, shared_data, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    pred = copy / "eval" / "predictions.jsonl"
    lines = pred.read_text().splitlines(keepends=True)
    k = 7
    pred.write_text("".join(lines[:k]) + lines[k][: len(lines[k]) // 2])  # 7 whole lines and a torn one
    (copy / "eval" / "summary.json").unlink()
    s = evaluate(run_dir=copy, data=str(shared_data), **FAST)
    assert s["generated"] == {"student": 30 - k, "base": 0}
    rows = [json.loads(line) for line in pred.read_text().splitlines()]
    assert len(rows) == 30 and len({(r["benchmark"], r["id"]) for r in rows}) == 30
    original = {(r["benchmark"], r["id"]): r["prediction"] for r in map(json.loads, lines)}
    assert {(r["benchmark"], r["id"]): r["prediction"] for r in rows} == original  # greedy decoding is deterministic
    assert s["benchmarks"] == evaluated["benchmarks"]


def test_batched_and_unbatched_greedy_give_the_same_text(shared_data):
    from mind.benchmarks import load_benchmark
    from mind.evaluation.decode import greedy
    from mind.data.prompting import prompt_ids
    from mind.model.student import load_causal_lm, load_tokenizer

    torch.set_num_threads(1)
    tok = load_tokenizer("tiny")
    model = load_causal_lm("tiny", tok, seed=3)
    with torch.no_grad():  # wider weights than the default init, so greedy text varies from prompt to prompt
        for p in model.parameters():
            if p.dim() > 1:
                p.normal_(0.0, 0.3, generator=torch.Generator().manual_seed(p.numel()))
    items = load_benchmark("gsm8k", path=shared_data, limit=3) + load_benchmark("csqa", path=shared_data, limit=3)
    prompts = [prompt_ids(tok, it.prompt_text()) for it in items]
    assert len({len(p) for p in prompts}) > 1  # the batch really needs padding
    one = greedy(model, tok, prompts, max_new_tokens=12, batch_size=1)
    many = greedy(model, tok, prompts, max_new_tokens=12, batch_size=4)
    assert [g.text for g in one] == [g.text for g in many]
    assert [g.n_tokens for g in one] == [g.n_tokens for g in many]
    assert len({g.text for g in one}) > 1 and all(g.text for g in one)
    stop1 = greedy(model, tok, prompts, max_new_tokens=12, batch_size=1, stop_at_answer=True)
    stop4 = greedy(model, tok, prompts, max_new_tokens=12, batch_size=4, stop_at_answer=True)
    assert [(g.text, g.n_tokens) for g in stop1] == [(g.text, g.n_tokens) for g in stop4]


def test_stop_at_answer_ends_a_generation_after_its_answer_line(shared_data):
    """A model made to repeat 'The answer is 7.' stops after the first complete line instead of at the budget."""
    from mind.evaluation.decode import answer_line_done, greedy
    from mind.data.prompting import prompt_ids
    from mind.model.student import load_causal_lm, load_tokenizer

    assert answer_line_done("so The answer is 3.5.\n") and answer_line_done("The answer is 7. Then")
    assert not answer_line_done("The answer is 3.") and not answer_line_done("The answer is 3.5")
    tok = load_tokenizer("tiny")
    model = load_causal_lm("tiny", tok, seed=0)
    line = tok("The answer is 7.\n", add_special_tokens=False)["input_ids"]
    with torch.no_grad():  # plant a cycle: each token of the line predicts the next one, the last the first
        emb = model.get_input_embeddings().weight
        for p in model.model.layers.parameters():
            p.zero_()
        model.model.norm.weight.fill_(1.0)
        emb.normal_(0, 1, generator=torch.Generator().manual_seed(0))
        out = torch.nn.Parameter(emb.detach().clone() * 0)
        for a, b in zip(line, line[1:] + line[:1]):
            out.data[b] += emb[a] * 5
        model.lm_head.weight = out
        model.config.tie_word_embeddings = False
    prompt = prompt_ids(tok, "What is 3 + 4?")
    prompt = prompt[:-1] + [line[-1]]  # end the prompt on the line's last token: the cycle starts with "The"
    full = greedy(model, tok, [prompt], max_new_tokens=40, batch_size=1)[0]
    cut = greedy(model, tok, [prompt], max_new_tokens=40, batch_size=1, stop_at_answer=True)[0]
    assert full.text.count("The answer is 7.") >= 3 and full.n_tokens == 40
    assert cut.text == "The answer is 7." and cut.n_tokens == len(line)


def test_prediction_store_cuts_torn_tail_and_filters_by_key(tmp_path):
    f = tmp_path / "p.jsonl"
    s = PredictionStore(f, "k1")
    s.add([{"benchmark": "gsm8k", "id": "a", "correct": True}, {"benchmark": "gsm8k", "id": "b", "correct": False}])
    with open(f, "a") as fh:
        fh.write('{"benchmark": "gsm8k", "id": "c", "cor')
    again = PredictionStore(f, "k1")
    assert f.read_text().endswith("\n") and count_lines(f) == 2
    assert again.has("gsm8k", "a") and again.has("gsm8k", "b") and not again.has("gsm8k", "c")
    assert not PredictionStore(f, "k2").has("gsm8k", "a")


def test_model_block_counts_and_intervals():
    import pandas as pd

    from mind.evaluation.compare import forgetting, model_block
    from mind.evaluation.stats import wilson

    df = pd.DataFrame({"benchmark": ["gsm8k"] * 4 + ["csqa"] * 2 + ["svamp"] * 2, "id": list("abcdefgh"),
                       "correct": [True, True, True, False, False, True, False, False],
                       "answer_logp": [-1.0, -2.0, -3.0, -4.0, -0.5, -0.7, -1.0, -1.0],
                       "base_correct": [True, False, False, False, True, True, False, False],
                       "base_answer_logp": [-2.0, -2.0, -3.0, -5.0, -0.6, -0.9, -1.0, -1.0]})
    out = model_block(df)
    g = out["benchmarks"]["gsm8k"]
    assert (g["accuracy"], g["n"], g["correct"], g["kind"]) == (0.75, 4, 3, "ID") and g["ci"] == list(wilson(3, 4))
    assert g["answer_logp"]["mean"] == -2.5 and out["ood_avg"] == 0.5
    # the ID average pools 6 items (3 right), where a mean of benchmarks would give (0.75 + 0) / 2
    assert out["id_avg"] == 0.5 and out["id_n"] == 6 and out["id_avg_ci"] == pytest.approx(list(wilson(3, 6)))
    assert out["id_answer_logp"]["mean"] == pytest.approx(-2.0)  # mean over the 6 items
    assert model_block(df, "base_")["benchmarks"]["gsm8k"]["accuracy"] == 0.25
    fg = forgetting(df)
    assert fg["accuracy"]["diff"] == pytest.approx(-0.5) and fg["answer_logp"]["diff"] == pytest.approx(0.15)
    assert set(fg["benchmarks"]) == {"csqa"} and fg["benchmarks"]["csqa"]["accuracy"]["p"] == 1.0
    assert model_block(df.drop(columns=["correct", "answer_logp"])) is None


def test_share_records_copies_only_missing_lines(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    PredictionStore(a, "k").add([{"benchmark": "gsm8k", "id": str(i), "correct": True} for i in range(3)])
    PredictionStore(b, "k").add([{"benchmark": "gsm8k", "id": "0", "correct": True}])
    assert share_records(a, b) == 2 and count_lines(b) == 3
    assert share_records(a, b) == 0 and PredictionStore(b, "k").has("gsm8k", "2")
    assert not PredictionStore(b, "other").has("gsm8k", "2")


def test_paper_table_layout():
    text = format_table({"my run": {"gsm8k": 10.0, "svamp": 20.0, "math500": 30.0, "csqa": 50.0}})
    lines = text.splitlines()
    head = lines[0].split()
    assert head[:12] == ["model", "|", "MATH500", "GSM8K", "SVAMP", "|", "CSQA", "StrategyQA", "GPQA-D", "|", "ID", "avg"]
    row = lines[2].split("|")
    assert row[0].strip() == "my run" and row[1].split() == ["30.00", "10.00", "20.00"]
    assert row[2].split() == ["50.00", "-", "-"] and row[3].split() == ["20.00", "50.00"]
    paper = next(line for line in lines if line.startswith("paper: MIND"))
    assert paper.split("|")[1].split() == ["82.63", "94.92", "94.31"] and paper.split("|")[3].split()[1] == "65.27"
    assert set(lines[3]) == {"-"}  # a rule above the paper's rows
    assert len({len(line) for line in lines}) == 1  # columns line up
    bare = format_table({"x": {}}, reference=False)
    assert "paper" not in bare and bare.splitlines()[2].split("|")[3].split() == ["-", "-"]
    assert set(PAPER_ROWS) and all(len(v) == 6 for v in PAPER_ROWS.values())
    rows = summary_rows({"student": "tiny", "benchmarks": {"gsm8k": {"accuracy": 0.25}},
                         "base": {"benchmarks": {"gsm8k": {"accuracy": 0.5}}}}, "run1")
    assert rows == {"run1": {"gsm8k": 25.0, "id_avg": None, "ood_avg": None},
                    "base tiny": {"gsm8k": 50.0, "id_avg": None, "ood_avg": None}}


def test_table_with_intervals_item_counts_and_heldout_column():
    text = format_table({"r": {"gsm8k": 12.5, "heldout": 50.0, "csqa": 25.0}}, reference=False,
                        intervals={"r": {"gsm8k": (2.2, 47.1), "heldout": (21.5, 78.5), "id_avg": (10.0, 52.0)}},
                        n={"gsm8k": 8, "heldout": 16, "csqa": 8})
    head, _, row = text.splitlines()
    assert "GSM8K n=8" in head and "Heldout n=16" in head and "CSQA n=8" in head
    cells = [c.strip() for c in row.split("|")]
    assert cells[1].split("  ")[1].strip() == "12.5 [2.2,47.1]" and "50.0 [21.5,78.5]" in cells[1]
    assert cells[2].split()[0] == "25.0" and cells[3].split("  ")[0].strip() == "31.2 [10.0,52.0]"  # ID avg incl. heldout


def test_resolve_benchmarks():
    assert resolve_benchmarks("GSM8K, gpqa-diamond,commonsenseqa,gsm8k") == ("gsm8k", "gpqa", "csqa")
    assert resolve_benchmarks("heldout,svamp") == ("heldout", "svamp")
    with pytest.raises(ConfigError, match="unknown"):
        resolve_benchmarks("gsm8k,mmlu")


def test_cli_table_hides_gpqa_text(run_dir, evaluated, shared_data, capsys):
    from mind.benchmarks import load_benchmark

    assert cli(["eval", "--run", str(run_dir), "--benchmarks", "gpqa,csqa", "--limit", "5", "--max-new-tokens", "8",
                "--data", str(shared_data), "--quiet"]) == 0
    out = capsys.readouterr()
    assert "GPQA-D" in out.out and "run " in out.out and "base tiny" in out.out and "summary written" in out.out
    for it in load_benchmark("gpqa", path=shared_data, limit=5):
        assert it.question[:40] not in out.out + out.err
        assert all(c[:30] not in out.out + out.err for c in it.choices if len(c) >= 12)


@pytest.mark.parametrize("argv,match", [
    (["--student", "tiny", "--out", "X", "--benchmarks", "gsm8k,mmlu"], "benchmark 'mmlu' is unknown"),
    ([], "--run RUN_DIR"),
    (["--student", "tiny"], "--out is required"),
    (["--student", "tiny", "--out", "X", "--limit", "0"], "limit must be"),
    (["--run", "/nonexistent/run"], "no such run directory"),
    ("NOCKPT", "no finished checkpoint"),
    (["--student", "tiny", "--out", "X", "--benchmarks", "heldout"], "needs --heldout-from RUN_DIR"),
    ("NOHELDOUT", "no held-out problems"),
])
def test_cli_errors_exit_2(argv, match, tmp_path, capsys):
    if argv == "NOCKPT":
        (tmp_path / "r").mkdir()
        (tmp_path / "r" / "config.json").write_text(json.dumps({"student": "tiny", "seed": 0}))
        argv = ["--run", str(tmp_path / "r"), "--limit", "1"]
    if argv == "NOHELDOUT":
        (tmp_path / "r").mkdir()
        (tmp_path / "r" / "config.json").write_text(json.dumps({"student": "tiny", "seed": 0}))
        argv = ["--run", str(tmp_path / "r"), "--benchmarks", "gsm8k,heldout"]
    assert cli(["eval", *argv, "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and match in err[-1]


# Last in the file: it adds bf16 lines to the shared run's predictions, which the tests above read.
def test_bf16_predictions_are_cached_apart_from_fp32_ones(run_dir, evaluated, shared_data):
    s = evaluate(run_dir=run_dir, data=str(shared_data), **{**FAST, "precision": "bf16"})
    assert s["generated"] == {"student": 30, "base": 30}  # not served from the fp32 predictions
    keys = [json.loads(line)["key"] for line in (run_dir / "eval" / "predictions.jsonl").read_text().splitlines()
            if line.strip()]
    assert len(keys) >= 60 and sum('"precision":"bf16"' in k for k in keys) == 30
    again = evaluate(run_dir=run_dir, data=str(shared_data), **{**FAST, "precision": "bf16"})
    assert again["generated"] == {"student": 0, "base": 0} and again["benchmarks"] == s["benchmarks"]
    fp32 = evaluate(run_dir=run_dir, data=str(shared_data), **FAST)  # the fp32 cache is intact
    assert fp32["generated"] == {"student": 0, "base": 0} and fp32["benchmarks"] == evaluated["benchmarks"]
    with pytest.raises(ConfigError, match="precision must be fp32 or bf16"):
        evaluate(run_dir=run_dir, data=str(shared_data), **{**FAST, "precision": "fp16"})


def test_a_run_without_a_prompt_version_is_evaluated_with_version_1(run_dir, evaluated, shared_data, tmp_path, capsys):
    """Runs made before prompt versions were trained with the '<answer>' instruction: they are asked that way."""
    old = tmp_path / "old"
    shutil.copytree(run_dir, old)
    shutil.rmtree(old / "eval")
    cfg = json.loads((old / "config.json").read_text())
    assert cfg.pop("prompt_version") == 2
    (old / "config.json").write_text(json.dumps(cfg))
    s = evaluate(run_dir=old, data=str(shared_data), benchmarks="gsm8k,csqa", limit=2, max_new_tokens=4, batch_size=4,
                 base=False)
    assert s["prompt_version"] == 1
    assert "was trained with prompt version 1" in capsys.readouterr().err
    lik = [json.loads(line) for line in (old / "eval" / "likelihoods.jsonl").read_text().splitlines()]
    assert all(len(r["letter_logp"]) == 5 for r in lik if r["benchmark"] == "csqa")
    # the same items under version 2 (the run's own evaluation) were asked differently
    new = {(r["benchmark"], r["id"]): r["answer_logp"] for r in map(json.loads, (run_dir / "eval" / "likelihoods.jsonl").read_text().splitlines())}
    assert any(abs(new[(r["benchmark"], r["id"])] - r["answer_logp"]) > 1e-3 for r in lik)


def test_saved_configs_read_as_the_run_was_trained():
    from mind.training.config import effective_values, saved_values

    old = {"method": "instant", "g": 0.9, "meta_lr": 5e-5, "lr": 2e-4, "meta_grad_accum": 4, "seed": 0}
    values = saved_values(old)
    assert values["prompt_version"] == 1 and values["method"] == "instant-fast"  # the old three-change instant
    eff = effective_values({**old, "n_problems": 32, "global_batch": 2})
    assert (eff["g"], eff["meta_lr"], eff["meta_update_every"]) == (0.0, 2e-4, 1)
    new = {**old, "prompt_version": 2, "effective": {"method": "instant", "g": 0.0, "meta_lr": 5e-5}}
    assert saved_values(new)["method"] == "instant" and effective_values(new)["meta_lr"] == 5e-5
