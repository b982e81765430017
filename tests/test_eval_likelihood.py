"""Teacher-forced metrics (mind.evaluation.likelihood) against a direct computation: the full sequence (prompt +
"The answer is" + " <value>." for the trained format; "Question: ...\nAnswer:" + " <option>" for the harness
format) through the plain Hugging Face model, log-softmax, summed over the scored tokens. Both the shared-prompt
path and the plain path of StudentLM must give the same numbers, in any batch size."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from mind.benchmarks import BenchmarkItem
from mind.evaluation.likelihood import LEAD, plain_pair, rationale_ce, score_items, scoring_for, trained_continuations
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


def _plain_direct(model, tok, context, option):
    """lm-evaluation-harness's log-likelihood of " option" after ``context``, computed directly: encode context and
    context + " option" whole, score the tail tokens with one plain forward pass."""
    whole = tok(context + " " + option)["input_ids"]
    ctx = tok(context)["input_ids"]
    ids = torch.tensor([whole])
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=ids).logits[0].float(), -1)
    return sum(float(logp[j - 1, whole[j]]) for j in range(len(ctx), len(whole)))


ITEMS = [BenchmarkItem("q1", "What is 12 + 30?", "42", "number", (), "gsm8k"),
         BenchmarkItem("q2", "Which one is a fruit?", "B", "choice", ("a chair", "an apple", "the moon"), "csqa"),
         BenchmarkItem("q3", "Tom has 3 apples and buys 5 more. How many does he have now? Explain.", "8", "number", (), "svamp"),
         BenchmarkItem("q4", "Is the sky green?", "no", "yesno", (), "strategyqa")]


def _scorings(tok, version=2):
    return [scoring_for(it, prompt_ids(tok, it.prompt_text(), True, it.answer_type, version), version) for it in ITEMS]


@pytest.mark.parametrize("shared", [True, False])
def test_every_likelihood_metric_equals_a_direct_computation(tiny, shared):
    """answer_logp and the letters (trained prompt), and the harness's acc / acc_norm, each against plain
    transformers forward calls on the whole sequence."""
    tok, model = tiny
    student = StudentLM(model) if shared else _PlainStudent(model)
    assert student.shares_prefix == shared
    scorings = _scorings(tok)
    recs = score_items(student, tok, scorings, "cpu", batch_size=3, shared=True)  # ignored by a student that cannot share
    for rec, s, it in zip(recs, scorings, ITEMS):
        ref, n = _direct(model, tok, s.prompt, " " + s.value)
        assert rec["answer_logp"] == pytest.approx(ref, abs=2e-4) and rec["answer_tokens"] == n
        if it.answer_type == "number":
            assert "letter_logp" not in rec and "acc" not in rec
            continue
        letters = [_direct(model, tok, s.prompt, " " + v)[0] for v in s.option_values]
        assert rec["letter_logp"] == pytest.approx(letters, abs=2e-4)
        assert rec["letter_correct"] == (int(np.argmax(letters)) == s.gold_index)
        opts = list(it.choices) if it.answer_type == "choice" else ["yes", "no"]
        sums = [_plain_direct(model, tok, f"Question: {it.question}\nAnswer:", o) for o in opts]
        assert rec["plain_logp"] == pytest.approx(sums, abs=2e-4) and rec["plain_chars"] == [len(o) for o in opts]
        gold = s.gold_index
        assert rec["acc"] == (int(np.argmax(sums)) == gold)
        assert rec["acc_norm"] == (int(np.argmax([x / len(o) for x, o in zip(sums, opts)])) == gold)
    assert scorings[1].option_values == ("(A)", "(B)", "(C)") and scorings[1].gold_index == 1
    assert scorings[3].option_values == ("yes", "no") and scorings[3].gold_index == 1


def test_a_planted_model_that_prefers_an_option_gets_it_chosen(tiny):
    """A model whose output layer favours the tokens of one option text picks that option by acc and acc_norm,
    and loses accuracy exactly when that option is not the gold one."""
    tok, model = tiny
    planted = copy.deepcopy(model)
    target = tok(" the moon")["input_ids"]
    with torch.no_grad():
        planted.get_output_embeddings().weight[target] *= 0.0
        bias = torch.zeros(planted.config.vocab_size)
        bias[target] = 30.0
        head = planted.get_output_embeddings()
        head.bias = torch.nn.Parameter(bias)
    item = ITEMS[1]
    for gold, want in (("C", True), ("B", False)):
        it = BenchmarkItem("q", item.question, gold, "choice", item.choices, "csqa")
        s = scoring_for(it, prompt_ids(tok, it.prompt_text(), True, "choice", 2), 2)
        rec = score_items(StudentLM(planted), tok, [s], "cpu")[0]
        assert rec["plain_pred"] == 2 and rec["plain_pred_norm"] == 2
        assert rec["acc"] is want and rec["acc_norm"] is want


def test_batch_size_and_layout_do_not_change_the_scores(tiny):
    tok, model = tiny
    scorings = _scorings(tok)
    one = score_items(StudentLM(model), tok, scorings, "cpu", batch_size=1)
    four = score_items(StudentLM(model), tok, scorings, "cpu", batch_size=4)
    plain = score_items(StudentLM(model), tok, scorings, "cpu", batch_size=4, shared=False)
    for key in ("answer_logp", "letter_logp", "plain_logp"):
        for a, b, c in zip(one, four, plain):
            if key in a:
                assert np.allclose(a[key], b[key], atol=1e-5) and np.allclose(a[key], c[key], atol=1e-5), key


def test_a_shared_batch_of_only_yes_no_items_scores_one_token_continuations(tiny):
    """A shared-prompt batch whose plain continuations are all one token (" yes" / " no" after "Answer:") makes a
    length group with no rationale tokens at all; it crashed the shared decoder (a 0-element reshape) before."""
    tok, model = tiny
    items = [BenchmarkItem(f"s{i}", q, a, "yesno", (), "strategyqa")
             for i, (q, a) in enumerate([("Is ice cold?", "yes"), ("Is fire cold?", "no"), ("Can fish swim?", "yes")])]
    scorings = [scoring_for(it, prompt_ids(tok, it.prompt_text(), True, "yesno", 2), 2) for it in items]
    assert all(len(plain_pair(tok, s.plain_context, " " + o)[1]) == 1 for s in scorings for o in s.plain_options)
    shared = score_items(StudentLM(model), tok, scorings, "cpu", batch_size=3, shared=True)
    plain = score_items(StudentLM(model), tok, scorings, "cpu", batch_size=3, shared=False)
    for a, b, it in zip(shared, plain, items):
        want = [_plain_direct(model, tok, f"Question: {it.question}\nAnswer:", o) for o in ("yes", "no")]
        assert a["plain_logp"] == pytest.approx(want, abs=2e-4) and np.allclose(a["plain_logp"], b["plain_logp"], atol=1e-5)


def test_continuations_are_the_canonical_answer_line(tiny):
    tok, _ = tiny
    lead, conts = trained_continuations(tok, "72", ["(A)", "(B)"])
    assert tok.decode(lead + conts[0]) == "The answer is 72."
    assert tok.decode(conts[1]) == " (A)." and tok.decode(conts[2]) == " (B)."
    ctx, cont = plain_pair(tok, "Question: x\nAnswer: ", "yes")  # trailing space moves to the continuation
    assert tok.decode(ctx) == "Question: x\nAnswer:" and tok.decode(cont) == " yes"


def test_prompt_version_1_scores_bare_letters(tiny):
    tok, _ = tiny
    s = _scorings(tok, version=1)
    assert s[1].value == "B" and s[1].option_values == ("A", "B", "C")
    assert "<answer>" in tok.decode(s[1].prompt)  # the old instruction, as old runs were trained


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
