"""Multi-perspective training data: the dataset schema and its loader (``schema``), the reasoning perspectives
(``perspectives``), the prompt a student is trained and evaluated with (``prompting``), and the bundled demo set
(``demo.jsonl`` with its data card).

``from mind.data import load_problems, Problem``; perspectives and prompts from their modules.
"""

from __future__ import annotations

from mind.data.schema import (ANSWER_TYPES, DEMO_HOLDOUT, DEMO_PATH, MAX_QUESTION_CHARS, MAX_RATIONALE_CHARS, Problem,
                              Rationale, canonical_answer_line, iter_json_lines, load_problems, parse_problem,
                              perspectives_in, resolve_holdout, split_answer_line, split_holdout, write_problems)

__all__ = ["ANSWER_TYPES", "DEMO_HOLDOUT", "DEMO_PATH", "MAX_QUESTION_CHARS", "MAX_RATIONALE_CHARS", "Problem",
           "Rationale", "canonical_answer_line", "iter_json_lines", "load_problems", "parse_problem", "perspectives_in",
           "resolve_holdout", "split_answer_line", "split_holdout", "write_problems"]
