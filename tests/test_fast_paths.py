"""The trainer's fast paths give the same numbers as the straightforward computation (tiny student, fp32).

* ``mind.model.forward.student_pass`` runs all rationales in one padded batch, projects to the vocabulary only at target
  positions (``StudentLM``) and takes log p(target) = logit - logsumexp. It must equal Hugging Face's own
  ``model(input_ids, labels=...)`` loss, one sequence at a time, and ``log_softmax`` over the full logits.
* Right-padding a sequence into a batch with longer ones must not change its cross-entropy.
* The shared-prompt layout (``collate(shared_prefix=True)``: each question's prompt runs once, its keys/values feed
  all K rationales) gives the plain layout's cross-entropies, answer distributions, gradients and snapshot states,
  with and without activation checkpointing, on a Llama and a Qwen2 student.
* ``mind.model.forward.rationale_losses`` (the trainer's student side: the selected rationales with gradients, then the
  others in a no-grad pass that reuses the first pass's prompt keys/values, the consistency term's gradient computed
  apart on few threads) gives the losses and gradients of the straightforward two-pass computation.

Tolerance: 1e-4 absolute on cross-entropies of about 10.8 nats and on log-probabilities (fp32; the two paths sum in
different orders, so bit equality is not expected), 1e-5 relative on gradients' norms.
"""

from __future__ import annotations

import pytest
import torch

from mind.model.batching import collate, encode_problem
from mind.data import load_problems, perspectives_in
from mind.model.student import StudentLM, add_lora, load_causal_lm, load_tokenizer
from mind.model.forward import student_pass

ATOL = 1e-4


@pytest.fixture(scope="module")
def setup():
    tok = load_tokenizer("tiny")
    problems = load_problems("demo")[:2]
    persp = tuple(perspectives_in(load_problems("demo")))
    encoded = [encode_problem(tok, p, i, persp, 256, True) for i, p in enumerate(problems)]
    hf = add_lora(load_causal_lm("tiny", tok, seed=0), 8, 16, 0.0, ("q_proj", "k_proj", "v_proj", "o_proj"), seed=0)
    with torch.no_grad():  # LoRA's B starts at zero; make the adapters matter so their gradients are compared too
        for n, p in hf.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.02)
    return tok, encoded, hf, StudentLM(hf).eval(), len(persp)


def _all_rows(encoded):
    return [ep.mask for ep in encoded]


def test_student_pass_ce_equals_hf_loss_one_sequence_at_a_time(setup):
    tok, encoded, hf, student, K = setup
    batch = collate(encoded, _all_rows(encoded), tok.pad_token_id)
    with torch.no_grad():
        ce, _ = student_pass(student, batch, len(encoded), K, False, "cpu")
    assert torch.isfinite(ce).all() and ce.shape == (2, K)
    n_checked = 0
    for b, ep in enumerate(encoded):
        for k, tgt in enumerate(ep.targets):
            ids = torch.tensor([ep.prompt + tgt])
            labels = torch.tensor([[-100] * len(ep.prompt) + tgt])
            with torch.no_grad():
                ref = hf(input_ids=ids, labels=labels).loss  # HF shifts the labels and means over the target tokens
            assert abs(float(ce[b, k]) - float(ref)) < ATOL, (b, k, float(ce[b, k]), float(ref))
            n_checked += 1
    assert n_checked == 2 * K


def test_student_pass_gradients_equal_hf_loss_gradients(setup):
    tok, encoded, hf, student, K = setup
    ep = encoded[0]
    params = [p for n, p in hf.named_parameters() if p.requires_grad]
    assert params, "LoRA adapters should be trainable"
    batch = collate([ep], [ep.mask], tok.pad_token_id)
    ce, _ = student_pass(student, batch, 1, K, False, "cpu")
    fast = torch.autograd.grad(ce.nansum(), params)
    ref_loss = sum(hf(input_ids=torch.tensor([ep.prompt + t]), labels=torch.tensor([[-100] * len(ep.prompt) + t])).loss
                   for t in ep.targets)
    ref = torch.autograd.grad(ref_loss, params)
    for g1, g2 in zip(fast, ref):
        assert torch.allclose(g1, g2, rtol=1e-4, atol=1e-6), float((g1 - g2).abs().max())
    assert sum(float(g.norm()) for g in fast) > 0


def test_logsumexp_logprobs_and_answer_distributions_equal_full_log_softmax(setup):
    tok, encoded, hf, student, K = setup
    one = encoded[:1]  # one problem (8 sequences) keeps the full (N, T, V) logits of the reference small
    batch = collate(one, _all_rows(one), tok.pad_token_id)
    with torch.no_grad():
        ce, answer_logp = student_pass(student, batch, 1, K, True, "cpu")
        full = torch.log_softmax(hf(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits.float(), -1)
    tok_logp = full[batch.rows, batch.cols].gather(1, batch.target_ids[:, None]).squeeze(1)  # (M,)
    for n in range(batch.input_ids.shape[0]):
        b, k = int(batch.seq_problem[n]), int(batch.seq_slot[n])
        ref_ce = -tok_logp[batch.rows == n].mean()
        assert abs(float(ce[b, k]) - float(ref_ce)) < ATOL
        ix = batch.answer_index[n]
        ref_ans = full[batch.rows[ix], batch.cols[ix]]  # (A, V) full log-distributions at the answer positions
        assert answer_logp[b].shape[1:] == ref_ans.shape
        assert torch.allclose(answer_logp[b][k], ref_ans, atol=ATOL, rtol=0)
        assert torch.allclose(answer_logp[b][k].exp().sum(-1), torch.ones(ref_ans.shape[0]), atol=1e-4)


def test_padding_does_not_change_a_sequences_ce(setup):
    tok, encoded, hf, student, K = setup
    ep = encoded[0]
    lengths = [len(t) for t in ep.targets]
    short = lengths.index(min(lengths))
    assert min(lengths) < max(lengths), "the demo problem should have rationales of different lengths"
    alone = collate([ep], [[k == short for k in range(K)]], tok.pad_token_id)
    padded = collate(encoded, _all_rows(encoded), tok.pad_token_id)
    assert alone.input_ids.shape[1] < padded.input_ids.shape[1]  # really padded in the batch
    with torch.no_grad():
        ce_alone, _ = student_pass(student, alone, 1, K, False, "cpu")
        ce_batch, _ = student_pass(student, padded, 2, K, False, "cpu")
    assert torch.isnan(ce_alone[0]).sum() == K - 1  # slots not run are NaN
    assert abs(float(ce_alone[0, short]) - float(ce_batch[0, short])) < ATOL


# ----------------------------------------------------------------------------------------- shared prompt prefix
# Rows chosen so that one problem runs no sequence at all in one batch and the two problems run different sets.
RUNS = {"mixed": [[True, False, True, True, False, True, True, True], [False, True, True, False, True, True, True, True]],
        "one problem idle": [[False] * 8, [True, True, False, False, True, False, False, True]]}


def _tiny_student(kind: str, tok, checkpointing: bool):
    from transformers import AutoModelForCausalLM, Qwen2Config

    if kind == "llama":
        hf = load_causal_lm("tiny", tok, seed=0)
    else:
        cfg = Qwen2Config(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                          num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048, tie_word_embeddings=True)
        torch.manual_seed(0)
        hf = AutoModelForCausalLM.from_config(cfg)
    if checkpointing:
        hf.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    hf = add_lora(hf, 8, 16, 0.0, ("q_proj", "k_proj", "v_proj", "o_proj"), seed=0)
    with torch.no_grad():
        for n, p in hf.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.02)
    return StudentLM(hf).train()


def _count_mlp_calls(student) -> list[int]:
    """A counter of the decoder layers' MLP calls. The layer checkpoints its forward, so its submodules run again
    (and count again) when backward recomputes it: that is how the tests see checkpointing actually happen. A
    pre-hook, because torch stops a recompute as soon as the last saved tensor is back (inside the MLP), before a
    forward hook would run."""
    from transformers.modeling_layers import GradientCheckpointingLayer

    calls = [0]
    layers = [m for m in student.modules() if isinstance(m, GradientCheckpointingLayer)]
    assert layers
    for layer in layers:
        layer.mlp.register_forward_pre_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
    return calls


@pytest.mark.parametrize("kind", ["llama", "qwen2"])
@pytest.mark.parametrize("checkpointing", [False, True])
@pytest.mark.parametrize("run", list(RUNS))
def test_shared_prefix_equals_full_sequences(setup, kind, checkpointing, run):
    tok, encoded, _, _, K = setup
    student = _tiny_student(kind, tok, checkpointing)
    assert student.shares_prefix
    params = [p for p in student.parameters() if p.requires_grad]
    calls = _count_mlp_calls(student)
    out = {}
    for shared in (False, True):
        calls[0] = 0
        batch = collate(encoded, RUNS[run], tok.pad_token_id, shared_prefix=shared)
        ce, ans = student_pass(student, batch, len(encoded), K, True, "cpu")
        forward_calls = calls[0]
        loss = ce.nansum() + 1e-2 * sum(a.sum() for a in ans if a is not None)
        out[shared] = (ce.detach(), [None if a is None else a.detach() for a in ans], torch.autograd.grad(loss, params), batch)
        # checkpointing on: backward recomputed every layer call of the forward; off: nothing ran again
        assert forward_calls > 0 and calls[0] - forward_calls == (forward_calls if checkpointing else 0), (shared, calls)
    (ce0, ans0, g0, b0), (ce1, ans1, g1, b1) = out[False], out[True]
    assert torch.equal(ce0.isnan(), ce1.isnan()) and int((~ce0.isnan()).sum()) == sum(map(sum, RUNS[run]))
    assert torch.allclose(ce0.nan_to_num(), ce1.nan_to_num(), atol=ATOL, rtol=0)
    for a, b in zip(ans0, ans1):
        assert (a is None) == (b is None)
        if a is not None:
            assert torch.allclose(a, b, atol=ATOL, rtol=0)
    for x, y in zip(g0, g1):
        assert torch.allclose(x, y, rtol=1e-4, atol=1e-5), float((x - y).abs().max())
    assert sum(float(g.norm()) for g in g1) > 0
    # the same tokens are trained on, but the prompt runs once per question instead of once per rationale
    assert b1.n_tokens == b0.n_tokens and torch.equal(b1.target_ids, b0.target_ids)
    assert b1.n_computed < b0.n_computed
    groups = b1.prefix.groups  # the rationale rows are run in length groups, each padded to its own longest
    lens = b1.attention_mask.sum(1).tolist()
    assert sorted(i for g in groups for i in g) == list(range(b1.input_ids.shape[0]))
    assert b1.n_computed == b1.prefix.input_ids.numel() + sum(len(g) * max(lens[i] for i in g) for g in groups)
    ungrouped = collate(encoded, RUNS[run], tok.pad_token_id, shared_prefix=True, group_lengths=False)
    assert len(ungrouped.prefix.groups) == 1 and ungrouped.n_computed >= b1.n_computed
    with torch.no_grad():
        ce2, _ = student_pass(student, ungrouped, len(encoded), K, False, "cpu")
    assert torch.allclose(ce2.nan_to_num(), ce1.nan_to_num(), atol=ATOL, rtol=0)
    assert b1.prefix.input_ids.shape[0] == sum(any(r) for r in RUNS[run])


def test_snapshot_states_equal_with_shared_prefix(setup):
    import numpy as np

    from mind.model.forward import probe_states

    tok, encoded, _, _, K = setup
    student = _tiny_student("llama", tok, False)
    probes = [(i, k) for i in range(len(encoded)) for k in range(K)]
    (h0, c0), (h1, c1) = (probe_states(student, encoded, probes, shared, chunk=5) for shared in (False, True))
    assert h0.shape == (len(probes), student.lm.config.hidden_size)
    assert np.allclose(h0, h1, rtol=1e-3, atol=1e-3), float(np.abs(h0 - h1).max())
    assert np.array_equal(c0, c1)
    assert student.training  # probing restores training mode


def test_models_outside_the_list_run_full_sequences(setup):
    from transformers import AutoModelForCausalLM, GPT2Config

    tok = setup[0]
    gpt2 = AutoModelForCausalLM.from_config(GPT2Config(vocab_size=len(tok), n_embd=32, n_layer=1, n_head=2))
    assert not StudentLM(gpt2).shares_prefix
    llama = load_causal_lm("tiny", tok, seed=0)
    llama.config._attn_implementation = "flash_attention_2"  # no 4-D masks there: the shared path must not be taken
    assert not StudentLM(llama).shares_prefix


def _brute_force_groups(lengths, overhead, max_groups):
    import itertools

    srt = sorted(lengths)
    n, best = len(srt), float("inf")
    for g in range(1, min(max_groups, n) + 1):
        for cuts in itertools.combinations(range(1, n), g - 1):
            bounds = (0, *cuts, n)
            best = min(best, sum((b - a) * srt[b - 1] + overhead for a, b in zip(bounds, bounds[1:])))
    return best


@pytest.mark.parametrize("seed", range(6))
def test_length_groups_cover_every_sequence_once_at_minimal_padding(seed):
    import random

    from mind.model.batching import length_groups

    rng = random.Random(seed)
    lengths = [rng.randint(3, 200) for _ in range(rng.randint(1, 9))]
    groups = length_groups(lengths, overhead=32, max_groups=3)
    assert sorted(i for g in groups for i in g) == list(range(len(lengths)))
    cost = sum(len(g) * max(lengths[i] for i in g) + 32 for g in groups)
    assert cost == _brute_force_groups(lengths, 32, 3)
    assert len(groups) <= 3 and all(groups)
    assert length_groups([50] * 5) == [[0, 1, 2, 3, 4]]  # equal lengths: one call, no padding to remove


def test_shared_prefix_puts_rows_back_in_batch_order_with_a_single_length_group():
    """A regression: one length group holds the rows sorted by length, which is not the batch's order."""
    from pathlib import Path

    tok = load_tokenizer("tiny")
    problems = load_problems(str(Path(__file__).parent / "data" / "mini.jsonl"))
    persp = tuple(perspectives_in(problems))
    encoded = [encode_problem(tok, p, i, persp, 384, True) for i, p in enumerate(problems[:2])]
    run = [ep.mask for ep in encoded]
    student = _tiny_student("llama", tok, False)
    plain = collate(encoded, run, tok.pad_token_id)
    shared = collate(encoded, run, tok.pad_token_id, shared_prefix=True)
    order = [i for g in shared.prefix.groups for i in g]
    assert len(shared.prefix.groups) == 1 and order != sorted(order)  # the case this test is about
    with torch.no_grad():
        ce0, _ = student_pass(student, plain, 2, len(persp), False, "cpu")
        ce1, _ = student_pass(student, shared, 2, len(persp), False, "cpu")
    assert torch.allclose(ce0.nan_to_num(), ce1.nan_to_num(), atol=ATOL, rtol=0)


# ------------------------------------------------------------------ the no-grad pass reuses the prompt keys/values
# alpha > 0 marks the rationales trained on (with gradients); ``rest`` the ones only scored (no grad); lambda weighs
# the consistency term. In "one-sided" problem 0 trains on nothing and problem 1 scores nothing, so the two passes of
# the old path had different prompts. Tolerance: a few float32 ulps of a ~10.8-nat loss; gradients 1e-5 relative.
MIXED = [[0.5, 0, 0.3, 0, 0, 0.2, 0, 0], [0, 0.6, 0, 0, 0.4, 0, 0, 0]]
REUSE = {"mixed": (MIXED, None, 0.1), "no consistency": (MIXED, None, 0.0),
         "one-sided": ([[0] * 8, [0.25, 0.25, 0, 0, 0.25, 0, 0, 0.25]], [[True] * 8, [False] * 8], 0.1)}


def _reference_losses(student, encoded, alpha, rest, K, lam, pad_id):
    """The path before prompt reuse, from the primitives: two collates, the prompts computed in each pass, one
    backward through the whole objective (consistency term included)."""
    from mind.model import losses

    batch = collate(encoded, (alpha > 0).tolist(), pad_id, shared_prefix=True)
    ce, ans = student_pass(student, batch, len(encoded), K, lam > 0, "cpu")
    total, sft, cons = losses.student_objective(ce, alpha, ans, lam)
    total.backward()
    with torch.no_grad():
        rest_batch = collate(encoded, rest.tolist(), pad_id, shared_prefix=True)
        ce_rest, _ = student_pass(student, rest_batch, len(encoded), K, False, "cpu")
    return torch.where(rest, ce_rest, ce), total, sft, cons


@pytest.mark.parametrize("kind", ["llama", "qwen2"])
@pytest.mark.parametrize("checkpointing", [False, True])
@pytest.mark.parametrize("case", list(REUSE))
def test_no_grad_pass_reusing_the_prompt_gives_the_same_losses_and_gradients(setup, kind, checkpointing, case):
    from mind.model.forward import rationale_losses

    tok, encoded, _, _, K = setup
    student = _tiny_student(kind, tok, checkpointing)
    params = [p for p in student.parameters() if p.requires_grad]
    rows, rest_rows, lam = REUSE[case]
    alpha = torch.tensor(rows)
    mask = torch.tensor([ep.mask for ep in encoded])
    rest = mask & ~(alpha > 0) if rest_rows is None else torch.tensor(rest_rows)
    decoder_calls = [0]
    student.lm.get_decoder().register_forward_pre_hook(lambda *_: decoder_calls.__setitem__(0, decoder_calls[0] + 1))
    out = {}
    for way in ("reference", "reused", "not reused"):
        for p in params:
            p.grad = None
        decoder_calls[0] = 0
        if way == "reference":
            ce, total, sft, cons = _reference_losses(student, encoded, alpha, rest, K, lam, tok.pad_token_id)
        else:
            ce, total, sft, cons, _ = rationale_losses(student, encoded, alpha, rest, K, lam, tok.pad_token_id, True, "cpu",
                                                       lambda t: t.backward(), reuse_prompt=way == "reused")
        out[way] = (ce.detach(), torch.stack([total, sft, cons]).detach(), [p.grad.clone() for p in params], decoder_calls[0])
    ce0, l0, g0, calls0 = out["reference"]
    assert int((~ce0.isnan()).sum()) == int(((alpha > 0) | rest).sum())  # every trained and every scored rationale
    assert (float(l0[2]) > 0) == (lam > 0)  # the consistency term is really in the loss when lambda > 0
    for way in ("reused", "not reused"):
        ce1, l1, g1, calls1 = out[way]
        assert torch.equal(ce0.isnan(), ce1.isnan())
        assert torch.allclose(ce0.nan_to_num(), ce1.nan_to_num(), atol=5e-6, rtol=0), float((ce0 - ce1).nan_to_num().abs().max())
        assert torch.allclose(l0, l1, atol=5e-6, rtol=0), (l0, l1)
        for x, y in zip(g0, g1):
            assert torch.allclose(x, y, atol=1e-7, rtol=1e-5), float((x - y).abs().max())
        # the prompt pass is one decoder call; reused, the no-grad pass makes no call of its own for the prompts
        assert calls1 == calls0 - (way == "reused"), (way, calls0, calls1)
    assert sum(float(g.norm()) for g in g0) > 0


def test_a_prompt_cache_refuses_other_prompts(setup):
    from mind.model.student import PromptCache
    from mind.model.forward import student_pass as run

    tok, encoded, _, _, K = setup
    student = _tiny_student("llama", tok, False)
    cache = PromptCache()
    first = collate(encoded, [[True] + [False] * 7, [False] * 8], tok.pad_token_id, shared_prefix=True)
    with torch.no_grad():
        run(student, first, 2, K, False, "cpu", prompt=cache)
        assert cache.filled and len(cache.kv) == student.lm.config.num_hidden_layers
        other = collate(encoded, [[False] * 8, [True] + [False] * 7], tok.pad_token_id, shared_prefix=True)
        with pytest.raises(ValueError, match="other prompts"):
            run(student, other, 2, K, False, "cpu", prompt=cache.detached())
    with pytest.raises(ValueError, match="every problem that runs"):
        collate(encoded, [[True] * 8, [True] * 8], tok.pad_token_id, shared_prefix=True, prompts=[True, False])
