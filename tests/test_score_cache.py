"""mind.model.score_cache: the untrained student's rationale losses, computed once per experiment.

A hit must return exactly what the computation gives (bit for bit, not within a tolerance): two LoRA students that
differ only in ``lora_A`` (another seed) with ``lora_B`` still zero compute the same losses and share one entry;
anything that changes the losses (a non-zero ``lora_B``, other token ids, another chunk or precision tag) is a miss.
A torn entry is recomputed and replaced; ``MIND_SCORE_CACHE=0`` writes nothing. The training loop uses it for the
calibration pass and the step-0 held-out scoring: a second run of a LoRA student with another seed reads both.
"""

from __future__ import annotations

import json

import pytest
import torch

from mind.data import load_problems, perspectives_in
from mind.model import score_cache
from mind.model.batching import encode_problem
from mind.model.forward import score_rationales
from mind.model.student import StudentLM, add_lora, load_causal_lm, load_tokenizer

TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj")


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MIND_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("MIND_SCORE_CACHE", raising=False)
    return tmp_path / "cache" / "initial_scores"


@pytest.fixture(scope="module")
def data():
    tok = load_tokenizer("tiny")
    problems = load_problems("demo")[:3]
    persp = tuple(perspectives_in(load_problems("demo")))
    return tok, [encode_problem(tok, p, i, persp, 256, True) for i, p in enumerate(problems)]


def student(lora_seed: int, base_seed: int = 0) -> StudentLM:
    tok = load_tokenizer("tiny")
    return StudentLM(add_lora(load_causal_lm("tiny", tok, seed=base_seed), 8, 16, 0.0, TARGETS, seed=lora_seed))


def scores(s, encoded, pad, **kw):
    return score_cache.initial_scores(s, encoded, pad, True, "cpu", **kw)


def test_a_hit_is_the_computation_bit_for_bit_and_another_lora_seed_shares_it(cache, data, monkeypatch):
    tok, encoded = data
    a, b = student(lora_seed=0), student(lora_seed=1)
    assert any(not torch.equal(pa, pb) for (n, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters())
               if "lora_A" in n)  # the seeds do draw different A
    fresh = score_rationales(a, encoded, tok.pad_token_id, True, "cpu")
    first = scores(a, encoded, tok.pad_token_id)
    assert torch.equal(first, fresh) and len(list(cache.glob("*.safetensors"))) == 1
    assert torch.equal(score_rationales(b, encoded, tok.pad_token_id, True, "cpu"), fresh)  # B = 0: A adds nothing

    def no_compute(*a, **k):
        raise AssertionError("a hit must not recompute")

    monkeypatch.setattr(score_cache, "score_rationales", no_compute)
    again = scores(b, encoded, tok.pad_token_id)
    assert torch.equal(again, fresh) and again.shape == (3, len(encoded[0].targets))
    assert torch.isnan(again).sum() == torch.isnan(fresh).sum()


def test_whatever_changes_the_losses_changes_the_key(data):
    tok, encoded = data
    a = student(lora_seed=0)
    key = score_cache.fingerprint(a, encoded, tok.pad_token_id, True, 8, "precision=no")
    assert score_cache.fingerprint(student(lora_seed=5), encoded, tok.pad_token_id, True, 8, "precision=no") == key
    assert score_cache.fingerprint(a, encoded, tok.pad_token_id, True, 4, "precision=no") != key
    assert score_cache.fingerprint(a, encoded, tok.pad_token_id, False, 8, "precision=no") != key
    assert score_cache.fingerprint(a, encoded, tok.pad_token_id, True, 8, "precision=bf16") != key
    assert score_cache.fingerprint(a, encoded[:2], tok.pad_token_id, True, 8, "precision=no") != key
    assert score_cache.fingerprint(student(lora_seed=0, base_seed=1), encoded, tok.pad_token_id, True, 8,
                                   "precision=no") != key  # other base weights
    other = [type(encoded[0])(**{**encoded[0].__dict__, "prompt": encoded[0].prompt[:-1] + [encoded[0].prompt[-1] + 1]}),
             *encoded[1:]]
    assert score_cache.fingerprint(a, other, tok.pad_token_id, True, 8, "precision=no") != key
    with torch.no_grad():
        next(p for n, p in a.named_parameters() if "lora_B" in n)[0, 0] = 1e-3
    assert not score_cache.lora_is_zero(a)
    assert score_cache.fingerprint(a, encoded, tok.pad_token_id, True, 8, "precision=no") != key


def test_a_torn_entry_is_recomputed_and_replaced_and_the_switch_turns_it_off(cache, data, monkeypatch):
    tok, encoded = data
    a = student(lora_seed=0)
    want = scores(a, encoded, tok.pad_token_id)
    entry = next(cache.glob("*.safetensors"))
    entry.write_bytes(b"not a safetensors file")
    assert torch.equal(scores(a, encoded, tok.pad_token_id), want)
    assert entry.stat().st_size > 100 and not list(cache.glob(".*.tmp"))  # replaced by a readable entry
    entry.unlink()
    monkeypatch.setenv("MIND_SCORE_CACHE", "0")
    assert torch.equal(scores(a, encoded, tok.pad_token_id), want)
    assert not list(cache.glob("*"))


def test_a_second_run_of_the_same_initial_student_reads_its_calibration_and_step_0_scores(cache, tmp_path,
                                                                                          monkeypatch):
    """Two tiny LoRA runs of `mind` from the same initial student (the tiny base is drawn from the seed, so the
    same seed; SmolLM2's base is the same for every seed, and lora_A's seed is covered above): the second computes
    neither pass: it reads both from the cache (marked in between, so the reading shows in its held-out loss;
    that a hit equals the computation is the first test's)"""
    from mind.training.config import TrainConfig
    from mind.training.loop import train

    common = dict(data="demo", student="tiny", method="mind", finetune="lora", steps=2, batch_size=2, max_problems=4,
                  holdout=4, snapshot_every=0, probe_problems=2, precision="fp32", meta_calibrate_epochs=1, seed=3)
    train(TrainConfig(**common), tmp_path / "a", progress=False)
    entries = sorted(cache.glob("*.safetensors"))
    assert len(entries) == 2  # the training set's and the held-out set's
    from safetensors.torch import load_file, save_file

    for entry in entries:  # mark the entries (+1 nat everywhere), to see that the second run reads them
        save_file({"losses": load_file(str(entry))["losses"] + 1.0}, str(entry))
    calls = []
    real = score_cache.score_rationales
    monkeypatch.setattr(score_cache, "score_rationales", lambda *a, **k: calls.append(len(a[1])) or real(*a, **k))
    train(TrainConfig(**common), tmp_path / "b", progress=False)
    assert calls == []
    first, second = (json.loads((tmp_path / s / "calibration.json").read_text()) for s in ("a", "b"))
    assert second["heldout"]["heldout_loss"] == pytest.approx(first["heldout"]["heldout_loss"] + 1.0, abs=1e-5)
