"""Answer formats per answer type (mind/data/prompting.py): no placeholder a student can copy, and every training
target's final line reads back as its gold answer through the evaluation's own extractor."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mind.benchmarks.answers import check_answer, extract_answer
from mind.data import Problem, Rationale
from mind.data.prompting import FORMATS, PROMPT_VERSION, answer_line, prompt_ids, run_prompt_version, user_message
from mind.errors import ConfigError
from mind.model.batching import encode_problem
from mind.model.student import load_tokenizer

PLACEHOLDER = re.compile(r"<[^>\s]*>|\bX\b|\bN\b|\.\.\.|\[[a-z ]+\]|\{[a-z_]*\}", re.I)


@pytest.fixture(scope="module")
def tok():
    return load_tokenizer("tiny")


@pytest.mark.parametrize("answer_type", list(FORMATS))
def test_no_instruction_holds_a_placeholder(answer_type):
    text = user_message("Q?", answer_type)
    assert not PLACEHOLDER.search(text), f"{answer_type}: {text!r}"
    assert "The answer is" in text  # the form of the final line is shown
    assert "<answer>" in user_message("Q?", answer_type, 1)  # version 1 kept what old runs were trained with


NUMBERS = st.one_of(st.integers(-10**6, 10**6).map(str),
                    st.decimals(-1000, 1000, places=2, allow_nan=False, allow_infinity=False).map(lambda d: format(d.normalize(), "f")))  # 250, not 2.5E+2
ANSWERS = {
    "number": NUMBERS,
    "choice": st.sampled_from("ABCDE"),
    "yesno": st.sampled_from(["yes", "no"]),
    "math": st.one_of(NUMBERS, st.sampled_from([r"\frac{3}{4}", r"2\sqrt{3}", r"\pi", "x^2+1", r"(1,2)"])),
}


@settings(max_examples=60, deadline=None)
@given(data=st.data(), answer_type=st.sampled_from(sorted(ANSWERS)))
def test_the_training_targets_final_line_parses_back_to_the_gold(tok, data, answer_type):
    gold = data.draw(ANSWERS[answer_type])
    choices = ["red", "green", "blue", "black", "white"] if answer_type == "choice" else None
    problem = Problem("p1", "Some question?", gold, (Rationale("formal", "Some reasoning.\nThe answer is 9."),),
                      answer_type=answer_type)
    ep = encode_problem(tok, problem, 0, ("formal",), 256, True, PROMPT_VERSION)
    text = tok.decode(ep.targets[0], skip_special_tokens=True)
    last = text.strip().splitlines()[-1]
    assert last == answer_line(gold, answer_type)
    assert check_answer(text, gold, answer_type, choices), (text, gold)
    if answer_type in ("choice", "yesno"):
        assert extract_answer(text, answer_type, choices) == gold
    prompt = tok.decode(ep.prompt)
    assert not PLACEHOLDER.search(user_message("Some question?", answer_type)) and "Some question?" in prompt


def test_choice_lines_carry_the_letter_in_parentheses_and_unknown_values_are_errors(tok):
    assert answer_line("B", "choice") == "The answer is (B)." and answer_line("B", "choice", 1) == "The answer is B."
    assert answer_line("yes", "yesno") == "The answer is yes." and answer_line(" 72 ", "number") == "The answer is 72."
    with pytest.raises(ConfigError, match="prompt_version=3"):
        prompt_ids(tok, "q", True, "number", 3)
    with pytest.raises(ConfigError, match="answer type 'essay'"):
        user_message("q", "essay")
    assert run_prompt_version({}) == 1 and run_prompt_version({"prompt_version": 2}) == 2
