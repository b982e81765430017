"""Paired comparison of runs on the same items, end to end on the tiny student, with planted differences; and the
held-out split (disjoint from training, stable across runs with the same holdout_seed, checked by `mind eval`).

Run ``b`` is run ``a`` with its checkpoint replaced by hand-made weights that answer every question with
"The answer is yes." (the embedding of each token of that line, and of the prompt's last token, is mapped by the
first MLP to the next one; all other weights are zero), and that continue the harness prompt's "Answer:" with
" yes". So on StrategyQA ``b`` is right exactly on the "yes" items, by generation and by the likelihood scoring of
the options alike, where ``a`` (a barely trained random model) is right on none by generation, and its answer and
rationale likelihoods of anything else are poor: every difference has a known sign.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from mind.cli import main as cli
from mind.data import load_problems, split_holdout

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ["--data", "demo", "--student", "tiny", "--method", "uniform", "--finetune", "full", "--quiet",
         "max_length=128"]
EVAL = ["--benchmarks", "strategyqa,heldout", "--limit", "16", "--max-new-tokens", "8", "--no-base", "--quiet"]


def _train(out: Path, *extra: str) -> Path:
    assert cli(["train", *TRAIN, "--out", str(out), *extra]) == 0
    return out


def yes_sayer_state(tok, seed: int = 0) -> dict:
    """Weights of the tiny student that greedily answer any chat prompt with 'The answer is yes.' and stop."""
    from mind.data.prompting import prompt_ids
    from mind.model.student import load_causal_lm

    model = load_causal_lm("tiny", tok, seed=seed)
    last = prompt_ids(tok, "?")[-1]  # the chat template's last prompt token (the newline after 'assistant')
    chain = [last, *tok("The answer is yes.", add_special_tokens=False)["input_ids"], tok.eos_token_id]
    assert len(set(chain)) == len(chain)
    colon = tok("Question: ?\nAnswer:")["input_ids"][-1]  # the harness prompt's last token ...
    yes = tok(" yes", add_special_tokens=False)["input_ids"][0]  # ... continues with " yes"
    assert colon not in chain and yes in chain
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        emb = model.get_input_embeddings().weight
        emb.normal_(0, 0.02, generator=g)
        for t in [*chain, colon]:
            emb[t] = torch.randn(emb.shape[1], generator=g)
        for layer in model.model.layers:
            for p in layer.parameters():
                p.zero_()
            layer.input_layernorm.weight.fill_(1.0)
            layer.post_attention_layernorm.weight.fill_(1.0)
        model.model.norm.weight.fill_(1.0)
        mlp, d = model.model.layers[0].mlp, emb.shape[1]
        for j, (a, b) in enumerate([*zip(chain, chain[1:]), (colon, yes)]):
            x = emb[a] * d**0.5 / emb[a].norm()  # what the MLP sees after RMSNorm
            mlp.gate_proj.weight[j] = x / 8
            mlp.up_proj.weight[j] = x / d
            mlp.down_proj.weight[:, j] = (10 * emb[b] - emb[a]) / torch.nn.functional.silu(x @ x / 8)
    return {k: v.contiguous() for k, v in model.state_dict().items()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory, shared_data):
    from safetensors.torch import load_file, save_file

    from mind.model.student import load_tokenizer

    torch.set_num_threads(1)
    base = tmp_path_factory.mktemp("compare")
    a = _train(base / "a", "--steps", "2")
    b = Path(shutil.copytree(a, base / "b"))
    (ckpt,) = sorted((b / "checkpoints").glob("step_*"))
    keys = set(load_file(str(ckpt / "student.safetensors")))
    state = yes_sayer_state(load_tokenizer("tiny"))
    save_file({k: v for k, v in state.items() if k in keys}, str(ckpt / "student.safetensors"))
    other_seed = _train(base / "seed1", "--steps", "1", "--seed", "1")
    other_split = _train(base / "split1", "--steps", "1", "holdout_seed=1")
    return {"a": a, "b": b, "seed1": other_seed, "split1": other_split, "data": shared_data}


@pytest.mark.slow  # the `runs` fixture trains tiny runs
def test_heldout_split_is_disjoint_from_training_and_stable(runs):
    demo = {p.id for p in load_problems("demo")}
    cfg = {k: json.loads((runs[k] / "config.json").read_text()) for k in ("a", "seed1", "split1")}
    for k, c in cfg.items():
        train_ids = {json.loads(line)["id"] for line in (runs[k] / "data.jsonl").read_text().splitlines()}
        held = [json.loads(line)["id"] for line in (runs[k] / "heldout.jsonl").read_text().splitlines()]
        assert c["holdout"] == 16 and held == c["heldout_ids"] and len(set(held)) == 16
        assert not train_ids & set(held) and train_ids | set(held) == demo
    assert cfg["a"]["heldout_ids"] == cfg["seed1"]["heldout_ids"]  # another training seed, the same split
    assert cfg["a"]["heldout_ids"] != cfg["split1"]["heldout_ids"]  # another holdout_seed, another split
    probs = load_problems("demo")
    assert [p.id for p in split_holdout(probs, 16, 0)[1]] == cfg["a"]["heldout_ids"]


@pytest.mark.slow  # the `runs` fixture trains tiny runs
def test_two_runs_with_a_planted_difference(runs, capsys):
    a, b = runs["a"], runs["b"]
    assert cli(["eval", "--run", str(a), "--run", str(b), *EVAL, "--data", str(runs["data"])]) == 0
    out = capsys.readouterr().out
    comp = json.loads((a / "eval" / "compare.json").read_text())
    assert comp["reference"] == "a" and set(comp["runs"]) == {"b"}
    c = comp["runs"]["b"]
    items = [json.loads(line) for line in (b / "eval" / "items.jsonl").read_text().splitlines()]
    sqa = [r for r in items if r["benchmark"] == "strategyqa"]
    preds = {r["id"]: r for r in map(json.loads, (b / "eval" / "predictions.jsonl").read_text().splitlines())
             if r["benchmark"] == "strategyqa"}
    gold_yes = [preds[r["id"]]["gold"] == "yes" for r in sqa]
    assert {p["prediction"] for p in preds.values()} == {"The answer is yes."}
    assert [r["correct"] for r in sqa] == gold_yes  # b says yes to everything
    gen = c["benchmarks"]["strategyqa"]["metrics"]["correct"]
    n_yes = sum(gold_yes)
    assert n_yes >= 6 and gen["diff"] == pytest.approx(n_yes / 16) and gen["diff"] > 0  # a generates none right
    assert gen["p"] == pytest.approx(2 * 0.5**n_yes) and gen["ci"][0] > 0
    # Holm over every test of the comparison: the adjusted p is at least the raw one and decides the star
    assert gen["p_holm"] >= gen["p"] and gen["significant"] == (gen["p_holm"] < 0.05) and comp["family_size"] > 5
    # the primary metric, the harness's option scoring: b picks " yes" on every item
    assert c["benchmarks"]["strategyqa"]["primary"] == "acc_norm"
    assert [r["acc_norm"] for r in sqa] == gold_yes and [r["acc"] for r in sqa] == gold_yes
    held = c["benchmarks"]["heldout"]
    assert held["answer_logp"]["diff"] < 0 and held["answer_logp"]["significant"]  # numbers are unlikely for b
    assert all(d["diff"] > 0 and d["significant"] for d in held["rationale_ce"].values())  # and so are rationales
    assert c["id"]["accuracy"]["diff"] == 0.0 and c["ood"]["accuracy"]["n"] == 16
    assert "Paired, each run minus a" in out and "StrategyQA  16" in out and "*" in out
    assert "Rationale loss on heldout, each run minus a" in out and "comparison written to" in out
    assert "Heldout n=16" in out and "StrategyQA n=16" in out


@pytest.mark.slow  # the `runs` fixture trains tiny runs
def test_runs_with_different_heldout_problems_are_refused(runs, capsys):
    argv = ["eval", "--run", str(runs["a"]), "--run", str(runs["split1"]), *EVAL, "--data", str(runs["data"])]
    assert cli(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "hold out different problems" in err[0] and "holdout_seed" in err[0]
    # without heldout the two can be compared
    assert cli([*argv[:5], "--benchmarks", "strategyqa", *argv[7:]]) == 0
    assert "Paired, each run minus a" in capsys.readouterr().out


@pytest.mark.slow  # the `runs` fixture trains tiny runs
def test_bare_student_takes_the_heldout_split_from_a_run(runs, tmp_path):
    from mind.evaluation.runner import evaluate

    s = evaluate(student="tiny", out_dir=tmp_path / "bare", benchmarks="heldout", heldout_from=runs["a"], limit=4,
                 max_new_tokens=4, progress=False)
    ids = json.loads((runs["a"] / "config.json").read_text())["heldout_ids"]
    assert s["items"]["heldout"] == ids[:4] and s["heldout"]["run"] == str(runs["a"])
    assert s["benchmarks"]["heldout"]["kind"] == "ID" and s["id_avg"] == s["benchmarks"]["heldout"]["accuracy"]
    assert set(s["benchmarks"]["heldout"]["rationale_ce"]) == set(s["heldout"]["perspectives"])


@pytest.mark.slow  # the `runs` fixture trains tiny runs
def test_experiment_compare_pairs_every_run_with_the_first(runs, capsys):
    from mind.commands.experiment import _print_paired
    from mind.experiment import paired_against_first, paired_within_seeds

    p = paired_against_first([runs["a"], runs["b"], runs["seed1"]])  # seed1 has no evaluation: left out
    assert p["reference"] == "a" and set(p["runs"]) == {"b"}
    sqa = p["runs"]["b"]["benchmarks"]["strategyqa"]["metrics"]["correct"]
    assert sqa["diff"] > 0 and sqa["significant"]
    assert paired_against_first([runs["seed1"], runs["a"]]) == {}
    within = paired_within_seeds({("m", 0): runs["a"], ("u", 0): runs["b"], ("m", 1): runs["seed1"]}, ("m", "u"))
    assert within["reference"] == "m" and set(within["seeds"]) == {"0"}  # seed 1 has no evaluated pair
    got = within["seeds"]["0"]["runs"]["b"]["benchmarks"]["strategyqa"]["metrics"]["correct"]
    assert within["seeds"]["0"]["reference"] == "a" and got["diff"] == sqa["diff"] and got["p_holm"] >= got["p"]
    assert within["family_size"] >= 4
    _print_paired(within)
    out = capsys.readouterr().out
    assert "Seed 0: paired, each run minus a" in out and "StrategyQA" in out and "*" in out
