"""What a teacher backend returns for one prompt.

Shared by every backend (:mod:`mind.teacher.backends`, :mod:`mind.teacher.hf_backend`); it sits below them so
that no backend module imports another for this type.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Completion:
    text: str  # the generated reply
    prompt_tokens: int = 0  # tokens in the prompt (0 when the backend does not report them)
    completion_tokens: int = 0  # tokens generated
    finish_reason: str = ""  # "stop", "length", ... as the backend reports it ("" when unknown)
