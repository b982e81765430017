"""Exact math of the MIND losses, selection and calibration."""

import math

import pytest
import torch

from mind.model import losses
from mind.training.calibration import InertiaCalibrator


def logp(*rows):
    return torch.log(torch.tensor(rows, dtype=torch.float64))


def test_jsd_zero_on_identical_and_symmetric():
    p, q = logp([0.7, 0.2, 0.1]), logp([0.1, 0.3, 0.6])
    assert losses.jsd(p, p).item() == pytest.approx(0.0, abs=1e-12)
    assert losses.jsd(p, q).item() == pytest.approx(losses.jsd(q, p).item(), rel=1e-12)


def test_jsd_hand_computed_value_and_bound():
    p, q = [0.5, 0.5, 0.0], [0.0, 0.5, 0.5]
    m = [(a + b) / 2 for a, b in zip(p, q)]
    kl = lambda x, y: sum(a * math.log(a / b) for a, b in zip(x, y) if a > 0)  # noqa: E731
    expected = 0.5 * kl(p, m) + 0.5 * kl(q, m)
    got = losses.jsd(torch.log(torch.tensor(p, dtype=torch.float64)), torch.log(torch.tensor(q, dtype=torch.float64)))
    assert got.item() == pytest.approx(expected, rel=1e-9)
    disjoint = losses.jsd(torch.log(torch.tensor([1.0, 0.0])), torch.log(torch.tensor([0.0, 1.0])))
    assert disjoint.item() == pytest.approx(math.log(2), rel=1e-6)
    rand = torch.log_softmax(torch.randn(200, 50) * 5, -1), torch.log_softmax(torch.randn(200, 50) * 5, -1)
    assert (losses.jsd(*rand) <= math.log(2) + 1e-6).all()


def test_pairwise_consistency_weights_pairs_and_skips_unselected():
    lp = torch.log_softmax(torch.randn(3, 2, 5, dtype=torch.float64), -1)
    alpha = torch.tensor([0.5, 0.5, 0.0], dtype=torch.float64)
    expected = 0.25 * losses.jsd(lp[0], lp[1]).mean()
    assert losses.pairwise_consistency(lp, alpha).item() == pytest.approx(expected.item(), rel=1e-12)
    assert losses.pairwise_consistency(lp, torch.tensor([1.0, 0, 0], dtype=torch.float64)).item() == 0.0
    full = torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64)
    want = sum(full[i] * full[j] * losses.jsd(lp[i], lp[j]).mean() for i, j in [(0, 1), (0, 2), (1, 2)])
    assert losses.pairwise_consistency(lp, full).item() == pytest.approx(want.item(), rel=1e-12)


def test_selection_keeps_argmax_respects_beta_and_mask():
    s = torch.tensor([[1.0, 0.8, 0.5, 2.0], [0.3, 0.2, 0.1, 0.05]])
    mask = torch.tensor([[True, True, True, False], [True, True, True, True]])
    sel = losses.select_perspectives(s, mask, beta=0.75)
    assert sel.tolist() == [[True, True, False, False], [True, False, False, False]]
    assert losses.select_perspectives(s, mask, beta=1.0).sum(-1).tolist() == [1, 1]
    assert losses.select_perspectives(s, mask, beta=1e-6).tolist() == mask.tolist()


def test_alphas_softmax_over_selected_sum_to_one_and_zero_elsewhere():
    s = torch.tensor([[1.0, 0.8, 0.5, 2.0]], requires_grad=True)
    sel = torch.tensor([[True, True, False, False]])
    a = losses.selection_weights(s, sel, tau_student=0.5)
    e = torch.exp(torch.tensor([2.0, 1.6]))
    assert a[0, :2].tolist() == pytest.approx((e / e.sum()).tolist())
    assert a[0, 2:].tolist() == [0.0, 0.0]
    assert a.sum().item() == pytest.approx(1.0)
    assert not a.requires_grad  # alpha is a constant for the student


def test_meta_loss_matches_hand_computation_both_directions():
    s = torch.tensor([[1.0, 2.0, 0.5]], dtype=torch.float64)
    L = torch.tensor([[2.0, 1.0, 3.0]], dtype=torch.float64)
    mask = torch.ones(1, 3, dtype=torch.bool)
    tau = 0.5
    p = torch.softmax(s / tau, -1)[0]
    q = torch.softmax(-L / tau, -1)[0]
    kl_pq = float((p * (p / q).log()).sum())
    kl_qp = float((q * (q / p).log()).sum())
    assert losses.meta_loss(s, L, mask, tau, "scores||losses").item() == pytest.approx(kl_pq, rel=1e-9)
    assert losses.meta_loss(s, L, mask, tau, "losses||scores").item() == pytest.approx(kl_qp, rel=1e-9)
    assert kl_pq != pytest.approx(kl_qp)


def test_meta_loss_ignores_masked_perspectives_with_finite_gradients():
    s = torch.tensor([[1.0, 2.0, 0.7]], requires_grad=True)
    L = torch.tensor([[2.0, 1.0, 99.0]])
    mask = torch.tensor([[True, True, False]])
    full = losses.meta_loss(s, L, mask, 1.0)
    two = losses.meta_loss(s[:, :2].detach(), L[:, :2], mask[:, :2], 1.0)
    assert full.item() == pytest.approx(two.item(), rel=1e-6)
    full.sum().backward()
    assert torch.isfinite(s.grad).all() and s.grad[0, 2] == 0


def test_student_objective_combines_sft_and_consistency():
    ce = torch.tensor([[1.0, 2.0, float("nan")]])
    alpha = torch.tensor([[0.25, 0.75, 0.0]])
    lp = [torch.log_softmax(torch.randn(3, 2, 4), -1)]
    total, sft, cons = losses.student_objective(ce, alpha, lp, lam=0.3)
    assert sft.item() == pytest.approx(1.75)
    assert cons.item() == pytest.approx(losses.pairwise_consistency(lp[0], alpha[0]).item())
    assert total.item() == pytest.approx(1.75 + 0.3 * cons.item())


def test_per_sequence_ce_is_mean_token_nll():
    tok = torch.log(torch.tensor([0.5, 0.25, 0.125]))
    ce = losses.per_sequence_ce(tok, torch.tensor([0, 0, 1]), 2)
    assert ce.tolist() == pytest.approx([(math.log(2) + math.log(4)) / 2, math.log(8)])


def test_inertia_calibrator_ema_is_exact_and_g0_is_instantaneous():
    cal = InertiaCalibrator(3, 2, g=0.9)
    idx, mask = torch.tensor([1]), torch.ones(1, 2, dtype=torch.bool)
    assert cal.update(idx, torch.tensor([[2.0, 4.0]]), mask).tolist() == [[2.0, 4.0]]  # first observation
    out = cal.update(idx, torch.tensor([[1.0, 0.0]]), mask)
    assert out[0].tolist() == pytest.approx([0.9 * 2 + 0.1 * 1, 0.9 * 4 + 0.1 * 0])
    masked = cal.update(idx, torch.tensor([[5.0, float("nan")]]), torch.tensor([[False, True]]))
    assert masked[0].tolist() == pytest.approx(out[0].tolist())  # masked / NaN entries keep their old value
    inst = InertiaCalibrator(2, 2, g=0.0)
    inst.update(torch.tensor([0]), torch.tensor([[3.0, 1.0]]), mask)
    assert inst.update(torch.tensor([0]), torch.tensor([[0.5, 7.0]]), mask).tolist() == [[0.5, 7.0]]
    cal2 = InertiaCalibrator(3, 2, g=0.9)
    cal2.load_state_dict(cal.state_dict())
    assert torch.equal(cal2.filtered, cal.filtered) and torch.equal(cal2.seen, cal.seen)
