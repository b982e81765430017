"""The teacher's prompts: one system prompt for the teacher role and one instruction per reasoning perspective.

A teacher request is two chat messages: :data:`TEACHER_SYSTEM` and a user message built by
:func:`build_messages` from the perspective's instruction, the problem (with its answer options, if any) and a
reminder of the canonical final line ``The answer is <answer>.`` (:data:`mind.data.perspectives.ANSWER_LINE`).

The eight instructions are the project's own. Each one names the style, says what a good rationale in that
style does step by step, and forbids the habits of the other styles that it is most easily confused with, so
that the eight rationales of one problem are genuinely different routes to the same answer.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

from mind.errors import ConfigError
from mind.data.perspectives import ANSWER_LINE, DEFAULT_PERSPECTIVES, Perspective

TEACHER_SYSTEM = (
    "You are an expert teacher writing worked solutions for students who learn by imitation. "
    "Solve the problem correctly and show every reasoning step in plain prose and simple notation, "
    "in exactly the reasoning style you are asked for. Be concise: no preamble, no restating the problem "
    "at length, no alternative final answers. Check your result before you state it. "
    "End with exactly one final line of the form: " + ANSWER_LINE.format(answer="<answer>") + " "
    "Put only the final answer there (a number, an option letter, yes/no, or a short expression), "
    "with no units and no other text on that line."
)

PERSPECTIVE_PROMPTS: dict[str, str] = {
    "formal": (
        "Reasoning style: Formal-Symbolic. Solve the problem as a strict derivation. First name every quantity "
        "with a variable and state what it stands for. Then write the relations given in the problem as "
        "equations, and derive the unknown by manipulating those equations one justified step at a time "
        "(substitution, simplification, solving). Do not rely on intuition, estimates or stories; every step "
        "must follow from the previous ones by a rule of algebra or arithmetic. Finish by substituting numbers "
        "into the derived expression."
    ),
    "intuitive": (
        "Reasoning style: Intuitive. Solve the problem the way an experienced person would think about it in "
        "everyday terms: picture the situation, use common-sense reasoning, round-number sense and familiar "
        "rules of thumb, and explain why each step makes sense in real life. Use as few formulas and "
        "variables as possible; do the arithmetic in words or short calculations. Keep it natural and brief, "
        "and sanity-check that the result is plausible for the situation."
    ),
    "decomposition": (
        "Reasoning style: Decomposition. Break the problem into the smallest independent sub-problems it "
        "contains. Solve them one at a time as a numbered list (1., 2., 3., ...), where each item states which "
        "sub-result it computes, computes it, and gives its value. Later items may only use the problem's "
        "data and the results of earlier items. After the list, combine the sub-results into the final answer "
        "in one sentence."
    ),
    "planning": (
        "Reasoning style: Planning. Begin with a short section headed 'Plan:' that lists, in order, the steps "
        "you will take to reach the answer, without doing any calculation yet. Then write a section headed "
        "'Execution:' that carries out the plan step by step, naming the plan step you are on each time. If "
        "a step turns out different from the plan, say so and adjust. End by confirming that the plan's goal "
        "has been reached."
    ),
    "analogy": (
        "Reasoning style: Analogy. First describe a simpler, familiar problem with the same structure (for "
        "example the same relation with small, easy numbers, or an everyday situation that works the same "
        "way) and solve it briefly. State explicitly which parts of the simple case correspond to which parts "
        "of the real problem. Then transfer the method back and apply it to the real numbers, step by step."
    ),
    "socratic": (
        "Reasoning style: Socratic. Guide yourself to the answer by asking a sequence of focused "
        "sub-questions. Write each one as a line starting with 'Q:' followed by its answer on a line starting "
        "with 'A:'. Each question should be the natural next thing to ask given the previous answers, and "
        "each answer should be short and computed exactly. The last question asks for what the problem wants."
    ),
    "contrastive": (
        "Reasoning style: Contrastive. Name two or three different ways one could approach the problem (or "
        "the tempting wrong reading next to the right one). Compare them briefly: say what each would do, "
        "which pitfalls or extra work it involves, and why the weaker ones fail or are worse. Keep the best "
        "approach and carry it out fully, step by step. If two approaches are both sound, you may use the "
        "second one to confirm the result."
    ),
    "counterfactual": (
        "Reasoning style: Counterfactual. Identify the condition in the problem that matters most for the "
        "answer. Ask what would happen if that condition were different (for example, if a quantity were "
        "zero, doubled, or removed) and reason briefly about the effect; use this to locate the key constraint "
        "that determines the answer. Then solve the actual problem step by step under the real conditions, "
        "making clear how the key constraint is used."
    ),
}

_ANSWER_HINTS = {
    "number": "The final answer is a single number.",
    "math": "The final answer is a mathematical expression in simplest form (LaTeX allowed).",
    "choice": "The final answer is the letter of the correct option.",
    "yesno": "The final answer is yes or no.",
    "text": "The final answer is a short phrase.",
}


def default_perspectives() -> tuple[Perspective, ...]:
    """The eight default perspectives with their teacher instructions filled in."""
    return tuple(replace(p, prompt=PERSPECTIVE_PROMPTS[p.id]) for p in DEFAULT_PERSPECTIVES)


def with_prompts(perspectives) -> tuple[Perspective, ...]:
    """Fill in missing prompts from the defaults; a perspective with neither is an error."""
    out = []
    for p in perspectives:
        if p.prompt.strip():
            out.append(p)
        elif p.id in PERSPECTIVE_PROMPTS:
            out.append(replace(p, prompt=PERSPECTIVE_PROMPTS[p.id]))
        else:
            raise ConfigError(
                f"perspective {p.id!r} has no 'prompt'; add a teacher instruction for it to the perspectives file"
            )
    return tuple(out)


def format_choices(choices) -> str:
    """Render answer options as ``(A) text`` lines. Accepts a list of strings, of ``{label, text}``
    mappings or of ``(label, text)`` pairs, or a ``{label: text}`` mapping; empty gives ``""``."""
    if not choices:
        return ""
    if isinstance(choices, dict):
        pairs = [(str(k), str(v)) for k, v in choices.items()]
    else:
        pairs = []
        for i, c in enumerate(choices):
            if isinstance(c, dict):
                pairs.append((str(c.get("label", chr(65 + i))), str(c.get("text", ""))))
            elif isinstance(c, (list, tuple)) and len(c) == 2:
                pairs.append((str(c[0]), str(c[1])))
            else:
                pairs.append((chr(65 + i), str(c)))
    return "\n".join(f"({label}) {text}" for label, text in pairs)


def question_with_choices(question: str, choices) -> str:
    """The question text as the student sees it: the question, then its options (if any)."""
    block = format_choices(choices)
    return f"{question.strip()}\nAnswer choices:\n{block}" if block else question.strip()


def build_messages(perspective: Perspective, question: str, answer_type: str = "number", choices=None,
                   system: str = TEACHER_SYSTEM) -> list[dict]:
    """The chat messages asking the teacher to solve ``question`` in ``perspective``'s style."""
    hint = _ANSWER_HINTS.get(answer_type, _ANSWER_HINTS["text"])
    user = (
        f"{perspective.prompt.strip()}\n\n"
        f"Problem:\n{question_with_choices(question, choices)}\n\n"
        f"{hint} End with one final line exactly of the form: {ANSWER_LINE.format(answer='<answer>')}"
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


def request_hash(messages: list[dict], params: dict) -> str:
    """Hash of one request's messages and sampling parameters: the cache's "prompt hash" (16 hex chars)."""
    return _digest({"messages": messages, "params": params})[:16]


def prompts_hash(perspectives, system: str = TEACHER_SYSTEM) -> str:
    """Hash of the system prompt and every perspective's id and instruction (for the data card)."""
    return _digest({"system": system, "perspectives": [[p.id, p.prompt] for p in perspectives]})[:16]
