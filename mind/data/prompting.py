"""How a question is shown to the student, shared by training and evaluation so the two always agree."""

from __future__ import annotations

INSTRUCTION = 'Solve the problem step by step. End with the line "The answer is <answer>."'


def user_message(question: str) -> str:
    return f"{question.strip()}\n\n{INSTRUCTION}"


def prompt_ids(tokenizer, question: str, chat_template: bool = True) -> list[int]:
    """Token ids of the prompt up to where the student's rationale starts."""
    if chat_template and getattr(tokenizer, "chat_template", None):
        out = tokenizer.apply_chat_template(
            [{"role": "user", "content": user_message(question)}], add_generation_prompt=True, tokenize=True,
        )
        ids = out["input_ids"] if isinstance(out, dict) or hasattr(out, "keys") else out
        return list(ids)
    return tokenizer(f"Question: {user_message(question)}\nAnswer: ", add_special_tokens=True)["input_ids"]
