"""Teacher-forced metrics (mind.evaluation.likelihood) against a direct computation: the full sequence
prompt + "The answer is" + " <gold>." through the plain Hugging Face model, log-softmax, summed over the scored
tokens. Both the shared-prompt path and the plain path of StudentLM must give the same numbers, in any batch size."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mind.evaluation.likelihood import LEAD, continuations, rationale_ce, score_items
from mind.data.prompting import prompt_ids
from mind.model.student import StudentLM, load_causal_lm, load_tokenizer


@pytest.fixture(scope="module")
def tiny():
    torch.set_num_threads(1)
    tok = load_tokenizer("tiny")
    model = load_causal_lm("tiny", tok, seed=1)
    with torch.no_grad():  # wider weights than the default init, so log-probs differ from token to token
        for p in model.parameters():
            if p.dim() > 1:
                p.normal_(0.0, 0.2, generator=torch.Generator().manual_seed(p.numel()))
    return tok, model.eval()


def _direct(model, tok, prompt, answer_text):
    """log p(answer_text tokens | prompt + LEAD), summed, by one plain forward pass of the whole sequence."""
    enc = lambda s: tok(s, add_special_tokens=False)["input_ids"]  # noqa: E731
    lead, cont = enc(LEAD), enc(answer_text) + enc(".")
    ids = torch.tensor([list(prompt) + lead + cont])
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=ids).logits[0].float(), -1)
    start = len(prompt) + len(lead)
    return sum(float(logp[start + j - 1, t]) for j, t in enumerate(cont)), len(cont)


class _PlainStudent(StudentLM):
    """A student whose decoder cannot share prompts (as for a model family outside SHARED_PREFIX_MODELS)."""

    @property
    def shares_prefix(self) -> bool:
        return False


QUESTIONS = [("What is 12 + 30?", "42", ()),
             ("Which one is a fruit?", "B", ("a chair", "an apple", "the moon")),
             ("Tom has 3 apples and buys 5 more. How many does he have now? Explain.", "8", ()),
             ("Is the sky green?", "no", ())]


@pytest.mark.parametrize("shared", [True, False])
def test_answer_logp_equals_a_direct_forward_pass(tiny, shared):
    tok, model = tiny
    student = StudentLM(model) if shared else _PlainStudent(model)
    assert student.shares_prefix == shared
    prompts = [prompt_ids(tok, q if not ch else q + "\n" + "\n".join(f"({chr(65 + i)}) {c}" for i, c in enumerate(ch)))
               for q, _, ch in QUESTIONS]
    recs = score_items(student, tok, prompts, [a for _, a, _ in QUESTIONS], [ch for _, _, ch in QUESTIONS], "cpu",
                       batch_size=3, shared=True)  # shared=True is ignored by a student that cannot share
    for rec, prompt, (_, gold, choices) in zip(recs, prompts, QUESTIONS):
        ref, n = _direct(model, tok, prompt, " " + gold)
        assert rec["answer_logp"] == pytest.approx(ref, abs=2e-4) and rec["answer_tokens"] == n
        if choices:
            norm = []
            for c in choices:
                s, k = _direct(model, tok, prompt, " " + c)
                norm.append(s / k)
            assert rec["option_logp"] == pytest.approx(norm, abs=2e-4)
            assert rec["option_pred"] == "ABC"[int(np.argmax(norm))]
            assert rec["option_correct"] == (rec["option_pred"] == gold)
        else:
            assert "option_logp" not in rec


def test_batch_size_does_not_change_the_scores(tiny):
    tok, model = tiny
    student = StudentLM(model)
    prompts = [prompt_ids(tok, q) for q, _, _ in QUESTIONS]
    args = (prompts, [a for _, a, _ in QUESTIONS], [ch for _, _, ch in QUESTIONS], "cpu")
    one = score_items(student, tok, *args, batch_size=1)
    four = score_items(student, tok, *args, batch_size=4)
    assert [r["answer_logp"] for r in one] == pytest.approx([r["answer_logp"] for r in four], abs=1e-5)
    auto = score_items(student, tok, prompts, ["A"] * 4, [("x", "y", "z")] * 4, "cpu")  # 4 per item: shared layout
    shared = score_items(student, tok, prompts, ["A"] * 4, [("x", "y", "z")] * 4, "cpu", shared=True)
    plain = score_items(student, tok, prompts, ["A"] * 4, [("x", "y", "z")] * 4, "cpu", shared=False)
    assert [r["option_logp"] for r in auto] == [r["option_logp"] for r in shared]
    flat = lambda recs: [v for r in recs for v in r["option_logp"]]  # noqa: E731
    assert flat(shared) == pytest.approx(flat(plain), abs=1e-5)


def test_continuations_are_the_canonical_answer_line(tiny):
    tok, _ = tiny
    lead, conts = continuations(tok, "72", ["red.", "blue"])
    assert tok.decode(lead + conts[0]) == "The answer is 72."
    assert tok.decode(conts[1]) == " red." and tok.decode(conts[2]) == " blue."


def test_rationale_ce_is_the_trainers_l_real(tiny):
    """The heldout rationale loss equals the per-rationale cross-entropy computed by hand on the plain model."""
    from mind.model.batching import encode_problem
    from mind.data import load_problems

    tok, model = tiny
    problems = load_problems("demo")[:3]
    persp = ("formal", "intuitive", "socratic")
    ce = rationale_ce(StudentLM(model), tok, problems, persp, 160, True, "cpu")
    assert ce.shape == (3, 3) and np.isfinite(ce).all()
    for i, p in enumerate(problems):
        ep = encode_problem(tok, p, i, persp, 160, True)
        for k, tgt in enumerate(ep.targets):
            ids = torch.tensor([ep.prompt + tgt])
            with torch.no_grad():
                logp = torch.log_softmax(model(input_ids=ids).logits[0].float(), -1)
            start = len(ep.prompt)
            ref = -np.mean([float(logp[start + j - 1, t]) for j, t in enumerate(tgt)])
            assert ce[i, k] == pytest.approx(ref, abs=2e-4)
