"""Judges that decide which teacher rationales to keep.

* ``answer`` (default): :func:`mind.benchmarks.answers.extract_answer` finds the rationale's final answer and
  :func:`mind.benchmarks.answers.check_answer` compares it with the gold answer (numbers, LaTeX via math-verify, option
  letters, yes/no).
* ``llm:BACKEND_SPEC`` (e.g. ``llm:openai:gpt-4o-mini``): an LLM reads the problem, the reference answer and the
  rationale and answers ``yes`` or ``no``. The answer must still be extractable (a rationale without a final
  answer line is dropped as ``no_answer`` before the LLM is asked); an unclear verdict drops it as ``judge_unclear``.

Drop reasons, used by the data card: ``no_answer``, ``wrong_answer``, ``backend_failure`` (the teacher request
failed after its retries), ``judge_failure`` (the judge request failed) and ``judge_unclear``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mind.errors import ConfigError
from mind.teacher.backends import TeacherSpec, parse_teacher
from mind.teacher.prompts import question_with_choices

DROP_REASONS = ("wrong_answer", "no_answer", "backend_failure", "judge_failure", "judge_unclear")

JUDGE_SYSTEM = (
    "You are a strict grader. You compare the final answer of a worked solution with a reference answer. "
    "Equivalent forms count as the same answer (for example 0.5 and 1/2, or an option letter and its text). "
    "The reasoning itself does not matter, only whether the solution's final answer equals the reference."
)


@dataclass(frozen=True)
class JudgeSpec:
    kind: str  # "answer" or "llm"
    backend: TeacherSpec | None = None

    @property
    def name(self) -> str:
        return "answer" if self.kind == "answer" else f"llm:{self.backend.name}"


def parse_judge(spec: str | None) -> JudgeSpec:
    """Parse ``--judge``: ``answer`` (default) or ``llm:openai:MODEL`` / ``llm:hf:FOLDER``."""
    if not spec or spec == "answer":
        return JudgeSpec("answer")
    head, sep, rest = spec.partition(":")
    if head != "llm" or not sep:
        raise ConfigError(f"--judge {spec!r}: expected 'answer' or llm:openai:MODEL (an LLM judge)")
    return JudgeSpec("llm", parse_teacher(rest, flag="--judge"))


@dataclass(frozen=True)
class Verdict:
    keep: bool
    reason: str  # "" when kept, else one of DROP_REASONS
    answer: str  # the extracted final answer ("" when none)


def extract(text: str, answer_type: str, choices) -> str | None:
    from mind.benchmarks.answers import extract_answer

    return extract_answer(text, answer_type=answer_type, choices=choices)


def answer_verdict(text: str, gold: str, answer_type: str = "number", choices=None) -> Verdict:
    """The default judge: extract the final answer and check it against the gold answer."""
    from mind.benchmarks.answers import check_answer

    found = extract(text, answer_type, choices)
    if found is None:
        return Verdict(False, "no_answer", "")
    if check_answer(text, gold, answer_type=answer_type, choices=choices):
        return Verdict(True, "", str(found))
    return Verdict(False, "wrong_answer", str(found))


def judge_messages(question: str, gold: str, rationale: str, choices=None) -> list[dict]:
    """The LLM judge's request: problem, reference answer, solution; asks for one word, yes or no."""
    user = (
        f"Problem:\n{question_with_choices(question, choices)}\n\n"
        f"Reference answer: {gold}\n\n"
        f"Solution to grade:\n{rationale.strip()}\n\n"
        "Is the solution's final answer the same as the reference answer? Reply with one word: yes or no."
    )
    return [{"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": user}]


_VERDICT_RE = re.compile(r"\b(yes|no)\b", re.I)


def parse_verdict(text: str) -> bool | None:
    """``True`` for yes, ``False`` for no, ``None`` when the reply has neither (or both, first word aside)."""
    stripped = text.strip().strip("*_`\"' ").lower()
    first = re.split(r"[\s.,:;!]+", stripped, maxsplit=1)[0] if stripped else ""
    if first in ("yes", "no"):
        return first == "yes"
    found = {m.lower() for m in _VERDICT_RE.findall(text)}
    if len(found) == 1:
        return found.pop() == "yes"
    return None
