"""The reasoning perspectives a teacher is asked to take.

The default set is the MIND paper's eight. Ids are short lower-case strings; they are the keys of the
dataset schema and of the telemetry columns (``weight/<id>``, ``score/<id>``, ...). A user can supply a
perspective set of their own (any K >= 2) from a JSON or YAML file with :func:`load_perspectives`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from mind.errors import ConfigError
from mind.fileio import read_yaml_or_json

ANSWER_LINE = "The answer is {answer}."
"""Canonical final line of every rationale: the answer span is the same tokens for every perspective."""


@dataclass(frozen=True)
class Perspective:
    id: str  # key used in data files and telemetry columns
    name: str  # human-readable name
    style: str  # one-line description of the reasoning style
    prompt: str = ""  # teacher instruction for this perspective (see mind.teacher.prompts)


DEFAULT_PERSPECTIVES: tuple[Perspective, ...] = (
    Perspective("formal", "Formal-Symbolic", "strict symbolic derivation with variables and equations, no intuitive leaps"),
    Perspective("intuitive", "Intuitive", "everyday heuristics and experience, few formulas"),
    Perspective("decomposition", "Decomposition", "split the problem into sub-problems solved in numbered steps"),
    Perspective("planning", "Planning", "state a top-level plan first, then execute it step by step"),
    Perspective("analogy", "Analogy", "map the problem onto a simpler similar case, solve that, map back"),
    Perspective("socratic", "Socratic", "ask itself sub-questions and answer them in turn"),
    Perspective("contrastive", "Contrastive", "compare candidate approaches, eliminate the weaker, keep the best"),
    Perspective("counterfactual", "Counterfactual", "change a condition, reason about the effect, locate the key constraint"),
)

DEFAULT_IDS: tuple[str, ...] = tuple(p.id for p in DEFAULT_PERSPECTIVES)

_ID_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


def validate_ids(ids: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Check a perspective id list: at least two, unique, short lower-case names."""
    ids = tuple(ids)
    if len(ids) < 2:
        raise ConfigError(f"perspectives: need at least 2 perspectives, got {len(ids)}; list K >= 2 perspective ids")
    if len(set(ids)) != len(ids):
        raise ConfigError(f"perspectives: duplicate ids in {list(ids)}; give each perspective a unique id")
    for pid in ids:
        if not isinstance(pid, str) or not _ID_RE.match(pid):
            raise ConfigError(
                f"perspectives: invalid id {pid!r}; use 1-32 lower-case letters, digits, '-' or '_' starting with a letter"
            )
    return ids


def load_perspectives(path: str | Path) -> tuple[Perspective, ...]:
    """Read a perspective set from JSON or YAML: a list of ``{id, name, style, prompt}`` mappings."""
    raw = read_yaml_or_json(Path(path), "perspectives file", "check the path")
    if isinstance(raw, dict) and "perspectives" in raw:
        raw = raw["perspectives"]
    if not isinstance(raw, list):
        raise ConfigError(f"perspectives file {path}: expected a list of {{id, name, style, prompt}} entries")
    out = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or "id" not in item:
            raise ConfigError(f"perspectives file {path}: entry {i} has no 'id'; every entry needs id, name, style, prompt")
        out.append(
            Perspective(
                id=str(item["id"]),
                name=str(item.get("name", item["id"])),
                style=str(item.get("style", "")),
                prompt=str(item.get("prompt", "")),
            )
        )
    validate_ids([p.id for p in out])
    return tuple(out)


def display_name(pid: str) -> str:
    """Readable name of a perspective id (the default set's name, else the id title-cased)."""
    for p in DEFAULT_PERSPECTIVES:
        if p.id == pid:
            return p.name
    return pid.replace("_", " ").replace("-", " ").title()
