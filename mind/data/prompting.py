"""How a question is shown to the student and how its answer line reads, per answer type: one place, used by
training (the target's final line) and evaluation (the prompt, the extractor's expected form, the likelihood
continuations), so the two always agree.

Prompt versions (a run records the one it was trained with as ``prompt_version`` in config.json; a run without
it was trained with version 1, and ``mind eval`` asks it the questions that way):

* **1** (runs before December 2026): one instruction for every answer type, ``Solve the problem step by step. End
  with the line "The answer is <answer>."``, and the answer line ``The answer is <gold>.`` whatever the type.
  Small students fine-tuned on it copy the literal ``<answer>`` placeholder, most on choice questions.
* **2** (the default): one instruction per answer type that shows the form of the final line with an example and
  no placeholder a student can copy, and a final line per type: a number or expression ``The answer is 72.``,
  an option letter ``The answer is (B).``, yes/no ``The answer is yes.``.

The example values are chosen so that a student that copies an example gains nothing from it: 317 is the gold answer
of no item of the demo set, GSM8K test, SVAMP (whose questions the multi-teacher set shares) or MATH500; the choice
example names two letters, so a copied letter is no more often right than a guess between two options.
"""

from __future__ import annotations

from dataclasses import dataclass

from mind.errors import ConfigError

PROMPT_VERSION = 2  # what new runs are trained with
PROMPT_VERSIONS = (1, 2)
LEAD = "The answer is"  # every answer line starts so; the value follows after a space, then "."

_V1_INSTRUCTION = 'Solve the problem step by step. End with the line "The answer is <answer>."'


@dataclass(frozen=True)
class AnswerFormat:
    """The instruction a question of one answer type is asked with, and how its final line writes the value."""

    instruction: str
    value: str = "{answer}"  # the answer's form on the final line, e.g. "({answer})" for an option letter

    def line(self, answer: str) -> str:
        return f"{LEAD} {self.value.format(answer=answer)}."


FORMATS: dict[str, AnswerFormat] = {
    "number": AnswerFormat('Solve the problem step by step. Then give the final number on a last line of the form '
                           '"The answer is 317." (with your number in place of 317).'),
    "math": AnswerFormat('Solve the problem step by step. Then give the final answer on a last line of the form '
                         '"The answer is 317." (with your answer, a number or an expression, in place of 317).'),
    "choice": AnswerFormat('Think step by step about which option is correct. Then give the letter of the correct '
                           'option on a last line of the form "The answer is (A)." or "The answer is (C)." (with '
                           'the letter you choose).', value="({answer})"),
    "yesno": AnswerFormat('Think step by step. Then answer on a last line that reads either "The answer is yes." or '
                          '"The answer is no."'),
    "text": AnswerFormat('Solve the problem step by step. Then give the final answer on a last line that starts '
                         'with "The answer is" and ends with a period.'),
}


def answer_format(answer_type: str = "number", version: int = PROMPT_VERSION) -> AnswerFormat:
    """The format of ``answer_type`` under prompt ``version`` (an unknown type or version is a ConfigError)."""
    check_version(version)
    if answer_type not in FORMATS:
        raise ConfigError(f"answer type {answer_type!r} has no prompt; use one of {', '.join(FORMATS)}")
    if version == 1:
        return AnswerFormat(_V1_INSTRUCTION)
    return FORMATS[answer_type]


def check_version(version) -> int:
    if version not in PROMPT_VERSIONS:
        raise ConfigError(f"prompt_version={version!r} is unknown; use one of {', '.join(map(str, PROMPT_VERSIONS))}")
    return int(version)


def answer_value(answer: str, answer_type: str = "number", version: int = PROMPT_VERSION) -> str:
    """The answer as its final line writes it: ``(B)`` for an option letter under version 2, else the answer."""
    return answer_format(answer_type, version).value.format(answer=str(answer).strip())


def answer_line(answer: str, answer_type: str = "number", version: int = PROMPT_VERSION) -> str:
    """The canonical final line, e.g. ``The answer is 72.`` / ``The answer is (B).`` / ``The answer is yes.``"""
    return answer_format(answer_type, version).line(str(answer).strip())


def user_message(question: str, answer_type: str = "number", version: int = PROMPT_VERSION) -> str:
    return f"{question.strip()}\n\n{answer_format(answer_type, version).instruction}"


def prompt_ids(tokenizer, question: str, chat_template: bool = True, answer_type: str = "number",
               version: int = PROMPT_VERSION) -> list[int]:
    """Token ids of the prompt up to where the student's rationale starts."""
    message = user_message(question, answer_type, version)
    if chat_template and getattr(tokenizer, "chat_template", None):
        out = tokenizer.apply_chat_template([{"role": "user", "content": message}], add_generation_prompt=True,
                                            tokenize=True)
        ids = out["input_ids"] if isinstance(out, dict) or hasattr(out, "keys") else out
        return list(ids)
    return tokenizer(f"Question: {message}\nAnswer: ", add_special_tokens=True)["input_ids"]


def run_prompt_version(config: dict) -> int:
    """The prompt version a run was trained with (``prompt_version`` in its config.json; 1 when absent)."""
    return check_version(config.get("prompt_version", 1))
