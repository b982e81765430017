"""Gradient isolation between the student and MetaNet, and that training moves every trainable parameter."""

from pathlib import Path

import torch

from mind.model import losses
from mind.model.batching import collate, encode_problem
from mind.data import load_problems, perspectives_in
from mind.model.metanet import MetaNet
from mind.model.student import StudentLM, add_lora, load_causal_lm, load_tokenizer
from mind.model.forward import student_pass

DATA = Path(__file__).parent / "data" / "mini.jsonl"


def _setup():
    problems = load_problems(DATA)
    persp = perspectives_in(problems)
    tok = load_tokenizer("tiny")
    enc = [encode_problem(tok, p, i, persp, 256) for i, p in enumerate(problems)]
    student = StudentLM(add_lora(load_causal_lm("tiny", tok, seed=0), 4, 8, 0.0, ("q_proj", "v_proj")))
    metanet = MetaNet(16, len(persp), hidden=32, heads=4)
    feats = torch.randn(len(problems), len(persp), 16)
    return tok, enc, student, metanet, feats


def _step(tok, enc, student, metanet, feats, idx, beta=0.5):
    mask = torch.tensor([enc[i].mask for i in idx])
    scores, _ = metanet(feats[idx], mask)
    alpha = losses.selection_weights(scores, losses.select_perspectives(scores.detach(), mask, beta), 1.0)
    batch = collate([enc[i] for i in idx], mask.tolist(), tok.pad_token_id)
    ce, ans = student_pass(student, batch, len(idx), mask.shape[1], True, "cpu")
    total, _, _ = losses.student_objective(ce, alpha, ans, lam=0.5)
    meta = losses.meta_loss(scores, ce.detach().nan_to_num(0.0), mask, 1.0).mean()
    return total, meta


def test_student_loss_sends_no_gradient_into_metanet_and_meta_loss_none_into_student():
    tok, enc, student, metanet, feats = _setup()
    total, meta = _step(tok, enc, student, metanet, feats, [0, 1])
    total.backward(retain_graph=True)
    assert all(p.grad is None for p in metanet.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in student.parameters() if p.requires_grad)
    student.zero_grad(set_to_none=True)
    meta.backward()
    assert all(p.grad is None for p in student.parameters())
    assert all(p.grad is not None for p in metanet.parameters())


def test_a_few_steps_change_every_trainable_parameter_of_both():
    tok, enc, student, metanet, feats = _setup()
    params = [p for p in student.parameters() if p.requires_grad] + list(metanet.parameters())
    before = [p.detach().clone() for p in params]
    opt = torch.optim.AdamW(params, lr=1e-2)
    for idx in ([0, 1], [2, 3], [0, 3]):
        total, meta = _step(tok, enc, student, metanet, feats, idx)
        (total + meta).backward()
        opt.step()
        opt.zero_grad()
    unchanged = [i for i, (a, p) in enumerate(zip(before, params)) if torch.equal(a, p.detach())]
    assert not unchanged, f"{len(unchanged)} parameter tensors never changed"


def test_metanet_learns_to_rank_low_loss_rationales_highest():
    """Trained on L_meta against fixed filtered losses, MetaNet's scores order the perspectives by -loss."""
    torch.manual_seed(0)
    B, K, F = 16, 5, 24
    feats = torch.randn(B, K, F)
    target = torch.tensor([2.0, 0.5, 1.5, 3.0, 1.0]).expand(B, K)  # perspective 1 is easiest for this student
    mask = torch.ones(B, K, dtype=torch.bool)
    net = MetaNet(F, K, hidden=32, heads=4)
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3)
    for _ in range(150):
        s, _ = net(feats, mask)
        loss = losses.meta_loss(s, target, mask, tau=0.5).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    s, _ = net(feats, mask)
    order = s.mean(0).argsort(descending=True).tolist()
    assert order == [1, 4, 2, 0, 3]
    assert loss.item() < 0.05
