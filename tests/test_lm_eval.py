"""Agreement with lm-evaluation-harness through the project's task YAMLs (mind/benchmarks/lm_eval_tasks).

* Choice tasks (CSQA, StrategyQA): lm-eval's ``hf`` model and ``mind eval`` on the same saved tiny student and
  the first 10 items pick the same option on every item, for acc and acc_norm, with per-option log-likelihoods
  within 1e-3 nats (the issue's bar; they agree to ~1e-6).
* GSM8K: the generate_until task runs through our YAML on the same student, and on the same generations its exact
  match agrees with mind's extractor wherever both extracted the same answer; on planted generations (a stand-in
  model that answers what it is told) the places where the two read a text differently are exactly the designed ones.
* The shipped YAMLs read the files load_benchmark reads; the requirements pin the installed lm-eval; the bench
  rejects bad arguments with one line.

lm-eval is a test / bench dependency (requirements.txt, the ``bench`` extra): without it these tests fail, saying
how to install it, rather than skip.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
from pathlib import Path

import pytest

from mind.benchmarks import BENCHMARKS, load_benchmark
from mind.benchmarks.lm_eval_tasks import SHIPPED_DATA, TASKS, TASKS_DIR, data_file, task_config, write_task_configs
from mind.benchmarks.lm_eval_tasks.agreement import (compare_choices, compare_generations, lm_choice_rows,
                                                    lm_generation_rows)
from mind.errors import ConfigError, DataError

ROOT = Path(__file__).resolve().parents[1]
N = 10  # items per task
TOL = 1e-3  # nats


def _lm_eval():
    """lm_eval, or a failure that says how to get it (never a silent skip)."""
    try:
        import lm_eval
        from lm_eval.tasks import TaskManager  # noqa: F401
    except ImportError as exc:
        pytest.fail(f"lm-eval is not installed ({exc}); install the test requirements: .venv/bin/pip install -r "
                    "requirements.txt (or pip install -e '.[bench]')")
    return lm_eval


def _pinned(text: str) -> str:
    m = re.search(r"^[^#\n]*lm-eval==([0-9.]+)", text, re.M)  # a requirement line, not a comment
    assert m, "lm-eval is not pinned"
    return m.group(1)


def test_requirements_pin_the_installed_lm_eval():
    from importlib.metadata import version

    _lm_eval()
    req = _pinned((ROOT / "requirements.txt").read_text())
    extra = _pinned((ROOT / "pyproject.toml").read_text().split("[project.optional-dependencies]")[1])
    assert req == extra == version("lm-eval")


def test_shipped_configs_read_the_files_load_benchmark_reads(shared_data):
    """From the checkout root, the shipped relative data path is the file load_benchmark reads by default."""
    for task, (benchmark, split) in TASKS.items():
        cfg = task_config(task)
        assert cfg["task"] == task and cfg["num_fewshot"] == 0
        (path,) = cfg["dataset_kwargs"]["data_files"].values()
        assert path == f"{SHIPPED_DATA}/{BENCHMARKS[benchmark].files[split]}"
        assert (ROOT / path).resolve() == data_file(task, shared_data)
        if cfg["output_type"] == "multiple_choice":  # the plain format of mind.evaluation.likelihood
            assert cfg["doc_to_text"].startswith("Question: ") and cfg["doc_to_text"].endswith("\nAnswer:")
            assert cfg["target_delimiter"] == " "


def test_write_task_configs_for_another_folder(tmp_path, shared_data):
    (tmp_path / "data" / "strategyqa").mkdir(parents=True)
    copy = tmp_path / "data" / "strategyqa" / "dev.json"
    copy.write_bytes((shared_data / "strategyqa" / "dev.json").read_bytes())
    (written,) = write_task_configs(tmp_path / "tasks", tmp_path / "data", "strategyqa")
    assert written.name == "mind_strategyqa.yaml"
    import yaml

    cfg = yaml.safe_load(written.read_text())
    assert cfg["dataset_kwargs"]["data_files"] == {"validation": str(copy.resolve())}
    assert {k: v for k, v in cfg.items() if k != "dataset_kwargs"} == \
        {k: v for k, v in task_config("mind_strategyqa").items() if k != "dataset_kwargs"}
    with pytest.raises(DataError, match=r"csqa/dev_rand_split\.jsonl"):  # the copy has no CSQA
        write_task_configs(tmp_path / "tasks", tmp_path / "data", "csqa")
    with pytest.raises(ConfigError, match="mind_csqa"):
        write_task_configs(tmp_path / "tasks", tmp_path / "data", "hellaswag")


# ------------------------------------------------------------------------------------------------ a real student


@pytest.fixture(scope="module")
def student_dir(tmp_path_factory):
    """The tiny random student with wider weights (so option log-likelihoods differ well beyond the tolerance),
    saved as an ordinary Hugging Face folder that both harnesses load."""
    import torch

    from mind.model.student import load_causal_lm, load_tokenizer

    tok = load_tokenizer("tiny")
    model = load_causal_lm("tiny", tok, seed=1)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                p.normal_(0.0, 0.2, generator=torch.Generator().manual_seed(p.numel()))
    folder = tmp_path_factory.mktemp("student")
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def harnesses(student_dir, tmp_path_factory, shared_data):
    """lm-eval's logged samples of the three tasks, and mind eval's likelihood records of the two choice tasks,
    on the same folder and the first N items."""
    from mind.evaluation.runner import evaluate
    from mind.run import read_jsonl

    lm_eval = _lm_eval()
    from lm_eval.tasks import TaskManager

    tasks = write_task_configs(tmp_path_factory.mktemp("tasks") / "t", shared_data)
    res = lm_eval.simple_evaluate(
        model="hf", model_args={"pretrained": str(student_dir), "dtype": "float32", "device": "cpu"},
        tasks=list(TASKS), limit=N, batch_size=8, log_samples=True, bootstrap_iters=0,
        task_manager=TaskManager(include_path=str(tasks[0].parent), include_defaults=False),
        gen_kwargs={"max_gen_toks": 24})
    out = tmp_path_factory.mktemp("mind_eval")
    # one batch holds both benchmarks' items, as mind eval's batches do where one benchmark ends and the next
    # begins: the prompt is then shared, and groups of one-token continuations (" yes", " no", " bank") occur
    evaluate(student=str(student_dir), out_dir=out, benchmarks="csqa,strategyqa", limit=N, generate=(),
             data=str(shared_data), progress=False, batch_size=2 * N)
    ours: dict[str, dict] = {"csqa": {}, "strategyqa": {}}
    for r in read_jsonl(out / "likelihoods.jsonl"):
        ours[r["benchmark"]][str(r["id"])] = r
    return res, ours


@pytest.mark.slow
@pytest.mark.parametrize("task", ["mind_csqa", "mind_strategyqa"])
def test_choice_tasks_agree_item_by_item(harnesses, task):
    res, ours = harnesses
    benchmark = TASKS[task][0]
    rows = lm_choice_rows(res["samples"][task])
    items = load_benchmark(benchmark, limit=N)
    assert [r["id"] for r in rows] == [it.id for it in items]  # the same items, in the same order
    for r, it in zip(rows, items):
        assert r["chars"] == [len(o) for o in (it.choices or ("yes", "no"))]
        assert max(r["logp"]) - min(r["logp"]) > 100 * TOL  # no near-ties: the picks below mean something
    cmp = compare_choices(rows, ours[benchmark])
    assert cmp["n"] == N and cmp["same_options"]
    assert cmp["same_pred"] == 1.0 and cmp["same_pred_norm"] == 1.0, cmp["differ"]
    assert cmp["max_abs_logp_diff"] < TOL
    assert cmp["lm_eval"] == cmp["mind"]
    lm_acc = res["results"][task]
    assert (lm_acc["acc,none"], lm_acc["acc_norm,none"]) == (cmp["mind"]["acc"], cmp["mind"]["acc_norm"])
    # lm-eval's own acc / acc_norm flags are the picks our rows reconstruct
    assert all(r["acc"] == (r["pred"] == r["gold"]) and r["acc_norm"] == (r["pred_norm"] == r["gold"]) for r in rows)


@pytest.mark.slow
def test_gsm8k_generates_through_our_yaml_and_agrees_with_the_extractor(harnesses):
    res, _ = harnesses
    samples = res["samples"]["mind_gsm8k"]
    rows = lm_generation_rows(samples)
    items = load_benchmark("gsm8k", limit=N)
    assert [r["gold"] for r in rows] == [it.answer for it in items]
    prompts = {int(s["doc_id"]): s["arguments"][0][0] for s in samples}
    assert [prompts[i] for i in range(N)] == [f"Question: {it.question}\nAnswer:" for it in items]
    assert all(isinstance(r["text"], str) and set(r["exact_match"]) == {"strict-match", "flexible-extract"}
               for r in rows)
    cmp = compare_generations(rows)
    assert cmp["n"] == N
    assert cmp["comparable"] == 0 or cmp["comparable_agree"] == 1.0
    assert [d["doc_id"] for d in cmp["differ"]] == \
        [r["doc_id"] for r in cmp["rows"] if r["exact_match"]["flexible-extract"] != r["mind_correct"]]


# ------------------------------------------------------------------------------------------------ planted answers


def _planted(gold: str) -> list[tuple[str, dict]]:
    """(generation, expected verdicts) for one gold number: where lm-eval and mind agree and where they read the
    text differently on purpose."""
    g = int(gold)

    def want(strict, flex, mind, cmp):
        return {"strict": strict, "flex": flex, "mind": mind, "cmp": cmp}

    return [
        (f"She sells 9 eggs at $2 each, so she makes ${g}.", want(False, True, True, True)),  # last number
        (f"Adding up.\n#### {g}", want(True, True, True, True)),  # GSM8K's own answer line
        (f"The answer is {g}. To check: {g} - 1 = {g - 1}", want(False, False, True, False)),  # mind: answer line
        (f"The answer is {g}.0", want(False, False, True, False)),  # mind compares numbers, lm-eval strings
        (f"I think it is {g + 1}.", want(False, False, False, True)),  # wrong for both
        ("I do not know.", want(False, False, False, False)),  # nothing to extract
    ]


def test_gsm8k_exact_match_against_the_extractor_on_planted_generations(tmp_path, shared_data):
    """A stand-in model returns chosen texts; lm-eval's filters and exact match (our YAML) and mind's extractor
    judge them. They must agree on every comparable text and differ exactly where the designs differ."""
    lm_eval = _lm_eval()
    from lm_eval.api.model import LM
    from lm_eval.tasks import TaskManager

    golds = [it.answer for it in load_benchmark("gsm8k", limit=6)]
    texts = [_planted(g)[i] for i, g in enumerate(golds)]  # document i gets case i

    class Planted(LM):
        def loglikelihood(self, requests, disable_tqdm=False):
            raise AssertionError("a generate_until task asks for no log-likelihoods")

        loglikelihood_rolling = loglikelihood

        def generate_until(self, requests, disable_tqdm=False):
            return [texts[r.doc_id][0] for r in requests]

    tasks = write_task_configs(tmp_path / "tasks", shared_data, "gsm8k")
    res = lm_eval.simple_evaluate(model=Planted(), tasks=["mind_gsm8k"], limit=6, log_samples=True, bootstrap_iters=0,
                                  task_manager=TaskManager(include_path=str(tasks[0].parent), include_defaults=False))
    cmp = compare_generations(lm_generation_rows(res["samples"]["mind_gsm8k"]))
    for r, (_, want) in zip(cmp["rows"], texts):
        got = {"strict": r["exact_match"]["strict-match"], "flex": r["exact_match"]["flexible-extract"],
               "mind": r["mind_correct"], "cmp": r["comparable"]}
        assert got == want, (r["doc_id"], r["text"])
    assert cmp["comparable"] == 3 and cmp["comparable_agree"] == 1.0
    assert [d["doc_id"] for d in cmp["differ"]] == [2, 3]
    assert res["results"]["mind_gsm8k"]["exact_match,flexible-extract"] == pytest.approx(2 / 6)


# ------------------------------------------------------------------------------------------------ the bench


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        yield importlib.import_module("bench_lm_eval")
    finally:
        sys.path.remove(str(ROOT / "bench"))


@pytest.mark.parametrize("argv, needle", [
    (["--student", "tiny", "--tasks", "csqa,hellaswag"], "lm-eval task 'hellaswag' is unknown"),
    (["--run", "no/such/run"], "not a run directory"),
    (["--student", "tiny", "--data", "/no/such/folder"], "does not exist"),
])
def test_bench_bad_arguments_are_one_line(bench, capsys, argv, needle):
    assert bench.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and needle in err[0]


def test_bench_bad_numbers_and_busy_out_folder(bench, capsys, tmp_path):
    with pytest.raises(SystemExit) as info:
        bench.main(["--limit", "0"])
    err = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 2 and len(err) == 1 and "--limit must be >= 1" in err[0]
    (tmp_path / "keep.txt").write_text("someone's file")
    assert bench.main(["--student", "tiny", "--out", str(tmp_path)]) == 2
    assert "is not empty" in capsys.readouterr().err and (tmp_path / "keep.txt").exists()


@pytest.mark.slow
def test_bench_end_to_end_on_the_tiny_student(bench, tmp_path, capsys):
    code = bench.main(["--student", "tiny", "--tasks", "csqa,strategyqa", "--limit", "4", "--batch-size", "8",
                       "--out", str(tmp_path / "work"), "--json", str(tmp_path / "report.json")])
    out = capsys.readouterr().out
    report = json.loads((tmp_path / "report.json").read_text())
    assert code == 0 and report["agree"] is True and "AGREE" in out
    for task in ("mind_csqa", "mind_strategyqa"):
        assert report["tasks"][task]["n"] == 4 and report["tasks"][task]["same_pred"] == 1.0
    assert (tmp_path / "work" / "tasks" / "mind_csqa.yaml").is_file()


def test_module_command_writes_configs_and_reports_bad_folders(tmp_path, shared_data, capsys):
    from mind.benchmarks.lm_eval_tasks.__main__ import main

    assert main(["--data", str(shared_data), "--out", str(tmp_path / "t"), "--tasks", "csqa,gsm8k"]) == 0
    out = capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "t").iterdir()) == ["mind_csqa.yaml", "mind_gsm8k.yaml"]
    assert "--include_path" in out and "--tasks mind_csqa,mind_gsm8k" in out
    assert main(["--data", str(tmp_path / "none"), "--out", str(tmp_path / "u")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "does not exist" in err[0]
