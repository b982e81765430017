"""`mind export` on real runs: a tiny-student LoRA run (merged and adapter-only), a full fine-tuning run, the
embedded SmolLM2 run in cached_runs/, the model card, and one-line errors. Every test on a run is `slow` (the tiny
run's `mind train` alone takes ~1.5 min on 2 cores); the pure card and interval pieces at the end are not.

The exported folder must load with plain transformers and decode exactly what `mind eval` decodes for the run.
A 2-step tiny run's LoRA update is too small to move the random student's greedy text (it emits newlines), so the
text comparisons use a copy of the run whose adapter weights are redrawn large: a real adapter file, merged by the
real code, whose text differs from prompt to prompt and from the base student's.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import assert_run_finished
from mind.benchmarks.answers import extract_answer
from mind.cli import main as cli
from mind.model.checkpoint import apply_checkpoint
from mind.export.folder import MARKER, check_out_dir, export_run
from mind.export.card import command_line, data_counts, find_interval, render_card
from mind.data.prompting import PROMPT_VERSION, prompt_ids, run_prompt_version
from mind.run import load_run, read_jsonl
from mind.model.student import load_causal_lm, load_tokenizer

ROOT = Path(__file__).resolve().parents[1]
MINI = ROOT / "tests" / "data" / "mini.jsonl"
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}
MODEL_FILES = {"config.json", "model.safetensors", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
               "README.md", MARKER}


def train(out: Path, *args: str) -> Path:
    """`mind train` in a subprocess, so that config.json records a real `mind train` command line."""
    cmd = [sys.executable, "-m", "mind", "train", "--student", "tiny", "--out", str(out), "--quiet",
           "probe_problems=2", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=900)
    assert_run_finished(out, proc=proc)
    return out


def mind(*args) -> tuple[int, str, str]:
    """The `mind` CLI in-process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def grow_adapter(run: Path) -> Path:
    """Redraw the LoRA B matrices of every checkpoint of ``run`` as N(0, 1) (see the module docstring)."""
    from safetensors.torch import load_file, save_file

    gen = torch.Generator().manual_seed(0)
    for f in sorted(run.glob("checkpoints/step_*/adapter/adapter_model.safetensors")):
        sd = load_file(str(f))
        save_file({k: torch.randn(v.shape, generator=gen) if "lora_B" in k else v for k, v in sd.items()}, str(f))
    return run


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """A 2-step LoRA run on the demo set with checkpoints at steps 1 and 2."""
    return train(tmp_path_factory.mktemp("export") / "tiny", "--data", "demo", "--steps", "2", "checkpoint_every=1",
                 "snapshot_every=0")


@pytest.fixture(scope="module")
def grown_run(tiny_run, tmp_path_factory) -> Path:
    return grow_adapter(Path(shutil.copytree(tiny_run, tmp_path_factory.mktemp("grown") / "grown")))


@pytest.fixture(scope="module")
def merged(grown_run, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("merged") / "model"
    code, stdout, err = mind("export", "--run", grown_run, "--out", out)
    assert code == 0, err
    assert f"wrote {out}: grown step 2, LoRA merged into the base weights" in stdout
    return out


def run_student(run: Path, step: int | None = None):
    """The run's student exactly as `mind eval` rebuilds it (tokenizer, base, checkpoint applied)."""
    r = load_run(run)
    cfg = r.config
    tok = load_tokenizer(cfg["student"])
    base = load_causal_lm(cfg["student"], tok, seed=int(cfg["seed"]))
    step = step or r.checkpoints[-1]
    return tok, apply_checkpoint(base, run / "checkpoints" / f"step_{step:06d}", cfg["finetune"])


def prompts(tok, shared_data, n: int = 3, version: int = PROMPT_VERSION) -> list[list[int]]:
    """`mind eval`'s prompts (chat template, each item's answer format) in the prompt version a run was trained with."""
    from mind.benchmarks import load_benchmark

    items = load_benchmark("gsm8k", path=shared_data, limit=n) + load_benchmark("csqa", path=shared_data, limit=2)
    return [prompt_ids(tok, it.prompt_text(), True, it.answer_type, version) for it in items]


def logits(model, ids: list[int]) -> torch.Tensor:
    with torch.no_grad():
        return model(torch.tensor([ids])).logits


@pytest.mark.slow
def test_a_run_pruned_for_shipping_keeps_its_student_within_half_precision(grown_run, shared_data, tmp_path):
    """cached_runs/ ships the final LoRA adapter in float16 (mind.experiment.prune_for_shipping): the student
    `mind eval` rebuilds from it gives the fp32 adapter's logits to within float16 rounding, and the same greedy
    answers."""
    from safetensors.torch import load_file

    from mind.evaluation.decode import greedy
    from mind.experiment import prune_for_shipping

    shipped = Path(shutil.copytree(grown_run, tmp_path / "shipped"))
    prune_for_shipping(shipped)
    adapter = load_file(str(shipped / "checkpoints" / "step_000002" / "adapter" / "adapter_model.safetensors"))
    assert {t.dtype for t in adapter.values()} == {torch.float16}
    assert not (shipped / "checkpoints" / "step_000001").exists()
    tok, ref = run_student(grown_run)
    _, got = run_student(shipped)
    ps = prompts(tok, shared_data)
    for ids in ps:
        a, b = logits(ref, ids), logits(got, ids)
        assert b.dtype == torch.float32 and not torch.equal(a, b)  # really the rounded adapter
        assert (a - b).abs().max() < 3e-2 * a.abs().max()  # B ~ N(0, 1) here; a trained adapter moves far less
    assert [g.text for g in greedy(got, tok, ps, max_new_tokens=16)] == [g.text for g in greedy(ref, tok, ps, max_new_tokens=16)]


# ------------------------------------------------------------------------------------------------ merged export


@pytest.mark.slow
def test_merged_export_is_a_plain_hf_folder_that_decodes_like_mind_eval(grown_run, merged, shared_data):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from mind.evaluation.decode import greedy, stop_ids

    assert MODEL_FILES <= {p.name for p in merged.iterdir()}
    assert not (merged / "adapter_config.json").exists()
    assert not [p for p in merged.parent.iterdir() if p.name.startswith(".")]  # no temporary folder left behind
    cfg = json.loads((merged / "config.json").read_text())
    assert "quantization_config" not in cfg and cfg["model_type"] == "llama" and cfg["dtype"] == "float32"

    tok = AutoTokenizer.from_pretrained(merged)
    model = AutoModelForCausalLM.from_pretrained(merged)
    ref_tok, ref = run_student(grown_run)
    assert tok.chat_template and tok.chat_template == ref_tok.chat_template
    assert tok.pad_token_id == ref_tok.pad_token_id
    ps = prompts(tok, shared_data)
    assert ps == prompts(ref_tok, shared_data)  # same chat-templated prompts as training and `mind eval`

    got = greedy(model, tok, ps, max_new_tokens=16, batch_size=4)
    want = greedy(ref, ref_tok, ps, max_new_tokens=16, batch_size=4)
    assert [g.text for g in got] == [g.text for g in want]
    assert [g.n_tokens for g in got] == [g.n_tokens for g in want]
    assert len({g.text for g in got}) == len(ps) and all(g.text for g in got)  # real, prompt-dependent text
    base = load_causal_lm("tiny", ref_tok, seed=0)
    assert [g.text for g in greedy(base, ref_tok, ps, max_new_tokens=16)] != [g.text for g in got]
    assert torch.equal(logits(model, ps[0]), logits(ref, ps[0]))  # bit-identical weights after the round trip
    assert not torch.allclose(logits(model, ps[0]), logits(base, ps[0]))  # the adapter is really merged in

    gc = json.loads((merged / "generation_config.json").read_text())
    stops = stop_ids(ref_tok, ref)
    assert gc["do_sample"] is False and gc["max_new_tokens"] == 256 and gc["pad_token_id"] == ref_tok.pad_token_id
    assert (gc["eos_token_id"] if isinstance(gc["eos_token_id"], list) else [gc["eos_token_id"]]) == stops


@pytest.mark.slow
def test_mind_eval_accepts_the_exported_folder(grown_run, merged, shared_data, tmp_path):
    from mind.evaluation.runner import evaluate

    code, stdout, err = mind("eval", "--student", merged, "--benchmarks", "gsm8k", "--limit", 2, "--max-new-tokens", 12,
                             "--data", shared_data, "--out", tmp_path / "ev", "--quiet")
    assert code == 0, err
    assert "summary written to" in stdout
    exported = {r["id"]: r["prediction"] for r in read_jsonl(tmp_path / "ev" / "predictions.jsonl")}
    run = Path(shutil.copytree(grown_run, tmp_path / "run"))
    evaluate(run_dir=run, benchmarks="gsm8k", limit=2, max_new_tokens=12, batch_size=16, data=str(shared_data),
             base=False, progress=False)
    from_run = {r["id"]: r["prediction"] for r in read_jsonl(run / "eval" / "predictions.jsonl")}
    assert len(exported) == 2 and exported == from_run and all(exported.values())


@pytest.mark.slow
def test_the_cards_usage_code_runs_and_prints_the_greedy_answer(merged):
    """The Python block of the model card, run as written (DIR = the folder): greedy from generation_config.json."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from mind.evaluation.decode import greedy

    card = (merged / "README.md").read_text()
    code = card.split("```python\n", 1)[1].split("```", 1)[0].replace('"DIR"', repr(str(merged)))
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(code, "README.md", "exec"), {})
    tok = AutoTokenizer.from_pretrained(merged)
    model = AutoModelForCausalLM.from_pretrained(merged)
    q = "A hen lays 5 eggs each week. How many eggs does she lay in 9 weeks?"
    want = greedy(model, tok, [prompt_ids(tok, q)], max_new_tokens=256)[0].text
    assert want and buf.getvalue().strip() == want


@pytest.mark.slow
def test_model_card_of_a_demo_run(tiny_run, tmp_path):
    out = tmp_path / "step1"
    code, stdout, err = mind("export", "--run", tiny_run, "--step", 1, "--out", out)
    assert code == 0, err
    rec = json.loads((out / MARKER).read_text())
    assert (rec["step"], rec["kind"], rec["student"]) == (1, "merged", "tiny")
    card = (out / "README.md").read_text()
    cfg = json.loads((tiny_run / "config.json").read_text())
    assert card.startswith("---\nlibrary_name: transformers\n") and "base_model:" not in card.split("\n---\n")[0]
    assert "at step 1 of 2" in card and "mind's `tiny` student" in card
    assert "| `lora_r` | 8 |" in card and "| `beta` | 0.7 |" in card and "Method: `mind`: MIND" in card
    rows = read_jsonl(tiny_run / "data.jsonl")
    n_rat = sum(len(r["rationales"]) for r in rows)
    assert f"The run trained on {len(rows)} problems with {n_rat} rationales" in card
    for p in cfg["perspectives"]:
        assert f"| {p} | {sum(1 for r in rows for x in r['rationales'] if x['perspective'] == p)} |" in card
    assert "The bundled demo set" in card and "96 problems, 768 rationales, 14 topics" in card
    assert "Not evaluated yet" in card
    assert command_line(cfg["command"]).startswith("mind train ") and command_line(cfg["command"]) in card
    assert f"mind export --run {tiny_run} --step 1 --out {out}" in card
    # step 1 and step 2 are different weights
    from safetensors.torch import load_file

    w1 = load_file(str(out / "model.safetensors"))
    code, _, err = mind("export", "--run", tiny_run, "--out", tmp_path / "step2")
    assert code == 0, err
    w2 = load_file(str(tmp_path / "step2" / "model.safetensors"))
    assert any(not torch.equal(w1[k], w2[k]) for k in w1 if "q_proj" in k)


@pytest.mark.slow
def test_card_shows_the_evaluation_with_intervals(tiny_run, tmp_path):
    run = Path(shutil.copytree(tiny_run, tmp_path / "evaluated"))
    (run / "eval").mkdir()
    summary = {"checkpoint_step": 2, "limit": 8, "max_new_tokens": {"gsm8k": 256, "csqa": 128}, "id_avg": 0.125,
               "ood_avg": 0.5,
               "benchmarks": {"gsm8k": {"accuracy": 0.125, "n": 8, "correct": 1, "kind": "ID", "ci": [0.0224, 0.4709]},
                              "csqa": {"accuracy": 0.5, "n": 8, "correct": 4, "kind": "OOD",
                                       "ci_low": 0.2152, "ci_high": 0.7848},
                              "heldout": {"n": 16, "kind": "ID", "answer_logp": {"mean": -3.2}}},
               "id_avg_ci": [0.0224, 0.4709], "intervals": "95%: Wilson for accuracies",
               "base": {"benchmarks": {"gsm8k": {"accuracy": 0.0}, "csqa": {"accuracy": 0.25}}, "id_avg": 0.0,
                        "ood_avg": 0.25},
               "forgetting": 0.25, "forgetting_ci": [-0.125, 0.5]}
    (run / "eval" / "summary.json").write_text(json.dumps(summary))
    res = export_run(run, tmp_path / "out")
    card = (res.out / "README.md").read_text()
    assert "| benchmark | kind | items | accuracy | 95% interval | base |" in card
    assert "| gsm8k | ID | 8 | 12.5 | [2.2, 47.1] | 0.0 |" in card
    assert "| csqa | OOD | 8 | 50.0 | [21.5, 78.5] | 25.0 |" in card
    assert "| **ID average** |  |  | 12.5 | [2.2, 47.1] | 0.0 |" in card
    assert "| **OOD average** |  |  | 50.0 | – | 25.0 |" in card
    assert "| heldout | ID | 16 | – | – | – |" in card  # likelihood-only entries read as missing accuracies
    assert "Forgetting (OOD average after training minus before): +25.0 points, 95% interval [-12.5, 50.0]." in card
    assert "first 8 items per benchmark, greedy, at most gsm8k 256, csqa 128 new tokens" in card
    assert "Intervals: 95%: Wilson for accuracies." in card and "Note: the evaluation is of step" not in card


# ------------------------------------------------------------------------------------------------ adapter, full


@pytest.mark.slow
def test_adapter_only_export_loads_with_peft_and_equals_the_merged_one(grown_run, merged, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path / "adapter"
    code, stdout, err = mind("export", "--run", grown_run, "--out", out, "--adapter-only")
    assert code == 0, err
    assert stdout.startswith(f"wrote {out}: grown step 2, LoRA adapter only\n"), stdout
    names = {p.name for p in out.iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "README.md", MARKER} <= names
    assert "model.safetensors" not in names and "config.json" not in names
    acfg = json.loads((out / "adapter_config.json").read_text())
    assert acfg["base_model_name_or_path"] is None and acfg["peft_type"] == "LORA" and acfg["r"] == 8
    card = (out / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: peft\n") and 'load_causal_lm("tiny", tok, seed=0)' in card
    tok = AutoTokenizer.from_pretrained(out)
    model = PeftModel.from_pretrained(load_causal_lm("tiny", tok, seed=0), str(out)).merge_and_unload()
    full = AutoModelForCausalLM.from_pretrained(merged)
    ids = prompt_ids(tok, "What is 2 + 3?")
    assert torch.allclose(logits(model, ids), logits(full, ids), atol=1e-5)


@pytest.mark.slow
def test_full_finetune_export_and_adapter_only_refusal(tmp_path):
    run = train(tmp_path / "full", "--data", str(MINI), "--finetune", "full", "--method", "uniform", "--steps", "1",
                "snapshot_every=0")
    res = export_run(run, tmp_path / "out")
    assert res.kind == "full" and res.step == 1 and MODEL_FILES <= set(res.files)
    from transformers import AutoModelForCausalLM

    tok, ref = run_student(run)
    model = AutoModelForCausalLM.from_pretrained(res.out)
    ids = prompt_ids(tok, "What is 2 + 3?")
    assert torch.equal(logits(model, ids), logits(ref, ids))
    assert not torch.allclose(logits(model, ids), logits(load_causal_lm("tiny", tok, seed=0), ids))
    card = (res.out / "README.md").read_text()
    assert "fully fine-tuned student" in card and f"Training data: `{MINI}`." in card
    assert "uniform" in card and "The bundled demo set" not in card
    code, _, err = mind("export", "--run", run, "--out", tmp_path / "a", "--adapter-only")
    assert code == 2 and err.count("\n") == 1 and "finetune=full: it has no adapter" in err
    assert not (tmp_path / "a").exists()


# ------------------------------------------------------------------------------------------------ errors


def _one_line_error(args, needle: str) -> str:
    code, stdout, err = mind(*args)
    assert code == 2 and stdout == ""
    assert err.startswith("error: ") and err.count("\n") == 1 and needle in err, err
    return err


@pytest.mark.slow
def test_errors_are_one_line_and_write_nothing(tiny_run, tmp_path):
    out = tmp_path / "out"
    _one_line_error(["export", "--run", tiny_run, "--step", 7, "--out", out],
                    "has no checkpoint at that step; available: 1, 2")
    _one_line_error(["export", "--run", tmp_path / "nope", "--out", out], "no such run directory")
    _one_line_error(["export", "--run", tiny_run, "--out", tiny_run], "holds the run itself")

    bare = Path(shutil.copytree(tiny_run, tmp_path / "bare"))
    shutil.rmtree(bare / "checkpoints")
    _one_line_error(["export", "--run", bare, "--out", out], "no finished checkpoint to export")

    corrupt = Path(shutil.copytree(tiny_run, tmp_path / "corrupt"))
    f = corrupt / "checkpoints" / "step_000002" / "adapter" / "adapter_model.safetensors"
    f.write_bytes(f.read_bytes()[:1000])  # truncated
    _one_line_error(["export", "--run", corrupt, "--out", out], "cannot load the LoRA adapter (SafetensorError)")
    _one_line_error(["export", "--run", corrupt, "--out", out, "--adapter-only"], "cannot load the LoRA adapter")
    (f.parent / "adapter_config.json").unlink()
    _one_line_error(["export", "--run", corrupt, "--out", out], "no adapter/adapter_config.json (corrupt checkpoint)")
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["bare", "corrupt"]


@pytest.mark.slow
def test_out_folder_must_be_new_empty_or_a_previous_export(tiny_run, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    _one_line_error(["export", "--run", tiny_run, "--out", mine], "exists and is not empty")
    _one_line_error(["export", "--run", tiny_run, "--out", mine, "--force"], "holds no previous `mind export`")
    assert (mine / "notes.txt").read_text() == "keep me"
    (tmp_path / "file").write_text("x")
    _one_line_error(["export", "--run", tiny_run, "--out", tmp_path / "file"], "a file with that name exists")

    empty = tmp_path / "empty"
    empty.mkdir()
    first = export_run(tiny_run, empty, step=1)
    assert not first.replaced and json.loads((empty / MARKER).read_text())["step"] == 1
    _one_line_error(["export", "--run", tiny_run, "--out", empty], "pass --force to replace a previous export")
    code, stdout, err = mind("export", "--run", tiny_run, "--out", empty, "--force")
    assert code == 0, err
    assert stdout.startswith(f"replaced {empty}: tiny step 2, LoRA merged into the base weights\n"), stdout
    assert json.loads((empty / MARKER).read_text())["step"] == 2
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # the old export was removed
    assert check_out_dir(empty, tiny_run, force=True) is True and check_out_dir(tmp_path / "new", tiny_run, False) is False


# ------------------------------------------------------------------------------------------------ pure pieces


def test_find_interval_reads_the_spellings_a_summary_may_use():
    assert find_interval({"ci_low": 0.1, "ci_high": 0.3}) == (0.1, 0.3)
    assert find_interval({"interval": [0.2, 0.4]}) == (0.2, 0.4)
    assert find_interval({"ci95": {"low": 0.0, "high": 0.5}}) == (0.0, 0.5)
    assert find_interval({"ci": {"lo": 1, "hi": 2}}) == (1.0, 2.0)
    assert find_interval({"accuracy": 0.5}) is None
    assert find_interval({"ci_low": 0.4, "ci_high": 0.1}) is None  # inverted
    assert find_interval({"interval": ["a", 0.1]}) is None and find_interval({"interval": [0.1]}) is None
    assert find_interval({"ci_low": float("nan"), "ci_high": 0.2}) is None
    s = {"id_avg_ci": [0.1, 0.2], "intervals": {"ood_avg": [0.3, 0.6]}, "forgetting_ci_low": -0.2,
         "forgetting_ci_high": 0.1}
    assert find_interval(s, "id_avg") == (0.1, 0.2) and find_interval(s, "ood_avg") == (0.3, 0.6)
    assert find_interval(s, "forgetting") == (-0.2, 0.1) and find_interval(s, "heldout") is None
    assert find_interval(None) is None and find_interval([0.1, 0.2]) is None


def test_card_without_intervals_has_no_interval_column_and_notes_a_step_mismatch():
    summary = {"checkpoint_step": 4, "benchmarks": {"svamp": {"accuracy": 0.25, "n": 4, "kind": "ID"}}}
    card = render_card({"student": "smollm2-135m", "method": "single", "command": "mind train --x"}, run_name="r",
                       step=8, kind="merged", summary=summary)
    assert "| benchmark | kind | items | accuracy |\n|---|---|---|---|\n| svamp | ID | 4 | 25.0 |" in card
    assert "Note: the evaluation is of step 4, this export of step 8." in card
    assert "base_model: HuggingFaceTB/SmolLM2-135M-Instruct" in card and "de-quantised" in card
    assert "mind train --x" in card and "single golden rationale" in card
    with pytest.raises(ValueError):
        render_card({}, run_name="r", step=1, kind="lora")


def test_command_line_and_data_counts():
    assert command_line(["/x/mind/__main__.py", "train", "--out", "runs/a b"]) == "mind train --out 'runs/a b'"
    assert command_line([".venv/bin/mind", "train"]) == "mind train"
    assert command_line("mind train --data demo") == "mind train --data demo"
    assert command_line(None) is None and command_line([1, 2]) is None
    rows = [{"rationales": [{"perspective": "b"}, {"perspective": "a"}]}, {"rationales": [{"perspective": "a"}]}]
    assert data_counts(rows, ["a", "b", "c"]) == {"problems": 2, "rationales": 3,
                                                  "per_perspective": {"a": 2, "b": 1, "c": 0}}


# ------------------------------------------------------------------------------------------------ SmolLM2


@pytest.mark.slow
def test_smollm2_run_exports_and_decodes_like_mind_eval(tmp_path, shared_data):
    """The committed SmolLM2 LoRA run (cached_runs/smollm2-mind-s0): merged and adapter-only exports."""
    from peft import AutoPeftModelForCausalLM
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from mind.evaluation.decode import greedy

    run = Path(shutil.copytree(ROOT / "cached_runs" / "smollm2-mind-s0", tmp_path / "smollm2-mind-s0"))
    res = export_run(run, tmp_path / "smol")
    assert res.kind == "merged" and res.step == max(load_run(run).checkpoints)
    cfg = json.loads((res.out / "config.json").read_text())
    assert "quantization_config" not in cfg and cfg["num_hidden_layers"] == 30
    card = (res.out / "README.md").read_text()
    assert "base_model: HuggingFaceTB/SmolLM2-135M-Instruct" in card
    gsm = json.loads((run / "eval" / "summary.json").read_text())["benchmarks"]["gsm8k"]
    assert f"| gsm8k | ID | {gsm['n']} | {100 * gsm['accuracy']:.1f} |" in card  # the run's own `mind eval` summary

    tok = AutoTokenizer.from_pretrained(res.out)
    model = AutoModelForCausalLM.from_pretrained(res.out)
    ref_tok, ref = run_student(run)
    ps = prompts(tok, shared_data, n=2, version=run_prompt_version(load_run(run).config))[:2]  # as `mind eval` asks it
    got = greedy(model, tok, ps, max_new_tokens=24)
    assert [g.text for g in got] == [g.text for g in greedy(ref, ref_tok, ps, max_new_tokens=24)]
    # SmolLM2 writes its answer line (prompt version 2 trains "The answer is 42."; this student often says only that)
    assert all(extract_answer(g.text, "number") is not None for g in got), [g.text for g in got]
    assert torch.equal(logits(model, ps[0]), logits(ref, ps[0]))

    ad = export_run(run, tmp_path / "smol-adapter", adapter_only=True)
    peft_model = AutoPeftModelForCausalLM.from_pretrained(str(ad.out)).merge_and_unload()
    assert torch.allclose(logits(peft_model, ps[0]), logits(ref, ps[0]), atol=1e-4)
