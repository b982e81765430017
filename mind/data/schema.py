"""The multi-perspective dataset schema (JSONL, one problem per line) and its loader.

One line::

    {"id": "demo-001", "question": "...", "answer": "72", "answer_type": "number",
     "rationales": [{"perspective": "formal", "text": "Let x be ... The answer is 72.", "answer": "72"}, ...]}

* ``id``: unique string; ``question``: the problem text; ``answer``: the gold answer as a string (numbers
  are accepted and converted); ``answer_type``: ``number`` (default), ``math``, ``choice``, ``yesno``, ``text``.
* ``rationales``: one per perspective id, each with its text and the answer the teacher's text ends with.
  A problem may lack some perspectives (a judge dropped them); the trainer masks the missing ones. A
  perspective that is not in the run's perspective set, or appears twice, is an error.

Every training target ends in the canonical answer line ``The answer is <gold>.`` (see
:data:`mind.data.perspectives.ANSWER_LINE`): :func:`split_answer_line` removes whatever final answer line the
teacher wrote so the trainer can append the canonical one.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mind.errors import DataError
from mind.data.perspectives import ANSWER_LINE, DEFAULT_IDS

ANSWER_TYPES = ("number", "math", "choice", "yesno", "text")
MAX_RATIONALE_CHARS = 20_000
MAX_QUESTION_CHARS = 20_000
DEMO_PATH = Path(__file__).parent / "demo.jsonl"


@dataclass(frozen=True)
class Rationale:
    perspective: str
    text: str
    answer: str = ""


@dataclass(frozen=True)
class Problem:
    id: str
    question: str
    answer: str
    rationales: tuple[Rationale, ...] = field(default_factory=tuple)
    answer_type: str = "number"

    def rationale(self, perspective: str) -> Rationale | None:
        for r in self.rationales:
            if r.perspective == perspective:
                return r
        return None

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "question": self.question,
            "answer": self.answer,
            "answer_type": self.answer_type,
            "rationales": [{"perspective": r.perspective, "text": r.text, "answer": r.answer} for r in self.rationales],
        }


_NUMBER_RE = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$|^[-+]?\d+/\d+$")
_ANSWER_LINE_RE = re.compile(r"(?:\n|^)[^\S\n]*(?:\*\*)?(?:so,?\s+)?(?:the\s+)?(?:final\s+)?answer\s+is\b[^\n]*\s*$", re.I)


def split_answer_line(text: str) -> str:
    """Return ``text`` without a trailing "The answer is ..." line (and trailing whitespace)."""
    body = _ANSWER_LINE_RE.sub("", text.rstrip())
    return body.rstrip()


def canonical_answer_line(answer: str) -> str:
    return ANSWER_LINE.format(answer=answer)


def _gold_to_str(value, where: str) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise DataError(f"{where}: 'answer' is {value}; give a finite gold answer")
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise DataError(f"{where}: 'answer' must be a non-empty string or number, got {type(value).__name__}; add the gold answer")


def _label(value: str) -> str:
    """``value`` as it may appear in a one-line message: escaped if it holds newlines or other control characters."""
    shown = value if value.isprintable() else repr(value)
    return shown if len(shown) <= 80 else shown[:77] + "..."


def parse_problem(obj, where: str, allowed: tuple[str, ...] | None = None) -> Problem:
    """Validate one decoded JSON row. ``where`` names it in errors ("data.jsonl line 3")."""
    if not isinstance(obj, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(obj).__name__}; write one problem object per line")
    pid = obj.get("id")
    if isinstance(pid, int) and not isinstance(pid, bool):
        pid = str(pid)
    if not isinstance(pid, str) or not pid.strip():
        raise DataError(f"{where}: 'id' is missing or not a non-empty string; give every problem a unique id")
    where_id = f"{where} (id {_label(pid)})"
    q = obj.get("question")
    if not isinstance(q, str) or not q.strip():
        raise DataError(f"{where_id}: 'question' is missing or empty; add the problem text")
    if len(q) > MAX_QUESTION_CHARS:
        raise DataError(f"{where_id}: 'question' has {len(q)} characters (max {MAX_QUESTION_CHARS}); shorten it")
    if "answer" not in obj:
        raise DataError(f"{where_id}: 'answer' is missing; add the gold answer")
    gold = _gold_to_str(obj["answer"], f"{where_id}")
    atype = obj.get("answer_type", "number")
    if atype not in ANSWER_TYPES:
        raise DataError(f"{where_id}: 'answer_type' {atype!r} is unknown; use one of {', '.join(ANSWER_TYPES)}")
    if atype == "number" and not _NUMBER_RE.match(gold.replace(",", "")):
        raise DataError(
            f"{where_id}: gold answer {gold!r} is not a number; fix it or set \"answer_type\" to text/math"
        )
    rats = obj.get("rationales")
    if not isinstance(rats, list) or not rats:
        raise DataError(f"{where_id}: 'rationales' must be a non-empty list of {{perspective, text, answer}}; add the teacher's rationales")
    seen: set[str] = set()
    out = []
    for j, r in enumerate(rats):
        rw = f"{where_id} rationale {j}"
        if not isinstance(r, dict):
            raise DataError(f"{rw}: expected an object with perspective, text, answer; fix or drop that rationale")
        p = r.get("perspective")
        if not isinstance(p, str) or not p:
            raise DataError(f"{rw}: 'perspective' is missing; tag it with a perspective id")
        if allowed is not None and p not in allowed:
            raise DataError(f"{rw}: perspective {p!r} is not in this run's set {list(allowed)}; fix the tag or pass --perspectives")
        if p in seen:
            raise DataError(f"{rw}: perspective {p!r} appears twice; keep one rationale per perspective")
        seen.add(p)
        text = r.get("text")
        if not isinstance(text, str) or not text.strip():
            raise DataError(f"{rw} ({_label(p)}): 'text' is missing or empty; drop the rationale or fill it in")
        if len(text) > MAX_RATIONALE_CHARS:
            raise DataError(f"{rw} ({_label(p)}): 'text' has {len(text)} characters (max {MAX_RATIONALE_CHARS}); shorten it")
        ans = r.get("answer", "")
        if not isinstance(ans, (str, int, float)) or isinstance(ans, bool):
            raise DataError(f"{rw} ({_label(p)}): 'answer' must be a string or number; fix or drop it")
        out.append(Rationale(p, text, str(ans)))
    return Problem(pid.strip(), q.strip(), gold, tuple(out), atype)


def iter_json_lines(path: Path, what: str, fix: str):
    """Yield ``(where, obj)`` for every non-blank line of a JSONL file, where ``where`` is "name line N".

    Unreadable files, invalid UTF-8 and invalid JSON raise :class:`DataError` naming the file and line; ``what``
    and ``fix`` word the message for an unreadable file ("dataset", "check the --data path").
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{what} {path}: cannot read it ({exc.strerror}); {fix}") from None
    for lineno, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():
            continue
        where = f"{path.name} line {lineno}"
        try:
            text = line.decode("utf-8-sig" if lineno == 1 else "utf-8")  # tolerate a byte-order mark
        except UnicodeDecodeError as exc:
            raise DataError(f"{where}: invalid UTF-8 at byte {exc.start}; re-save the file as UTF-8") from None
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno}); fix or remove the line") from None
        except (ValueError, RecursionError):  # an integer literal too long to convert, nesting too deep
            raise DataError(f"{where}: JSON value out of range (a number too long or nesting too deep); fix or remove the line") from None
        yield where, obj


def load_problems(path: str | Path, perspectives: tuple[str, ...] | None = None) -> list[Problem]:
    """Load and validate a multi-perspective JSONL file; ``"demo"`` is the bundled demo set (the trainer also
    knows ``"svamp-multi-teacher"``: see :func:`mind.training.sets.load_training_set`).

    Raises :class:`DataError` naming the file, line and field of the first problem found.
    """
    path = DEMO_PATH if str(path) == "demo" else Path(path)
    problems: list[Problem] = []
    ids: set[str] = set()
    for where, obj in iter_json_lines(path, "dataset", "check the --data path"):
        prob = parse_problem(obj, where, perspectives)
        if prob.id in ids:
            raise DataError(f"{where}: duplicate id {prob.id!r}; problem ids must be unique")
        ids.add(prob.id)
        problems.append(prob)
    if not problems:
        raise DataError(f"dataset {path}: no problems found; expected one JSON object per line")
    return problems


def perspectives_in(problems: list[Problem]) -> tuple[str, ...]:
    """Perspective ids present in ``problems``: the default order first, then others in order of appearance."""
    present: dict[str, None] = {}
    for p in problems:
        for r in p.rationales:
            present.setdefault(r.perspective, None)
    ordered = [pid for pid in DEFAULT_IDS if pid in present]
    ordered += [pid for pid in present if pid not in DEFAULT_IDS]
    return tuple(ordered)


def write_problems(path: str | Path, problems) -> None:
    """Write problems as JSONL (UTF-8), atomically."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for p in problems:
            f.write(json.dumps(p.to_json() if isinstance(p, Problem) else p, ensure_ascii=False) + "\n")
    tmp.replace(path)


DEMO_HOLDOUT = 16  # problems of the demo set kept out of training by default (`holdout=-1`)


def resolve_holdout(holdout: int, data: str) -> int:
    """``holdout=-1`` (auto) means :data:`DEMO_HOLDOUT` problems for the demo set and none for a user's file."""
    if holdout >= 0:
        return holdout
    return DEMO_HOLDOUT if str(data) == "demo" else 0


def split_holdout(problems: list[Problem], n: int, seed: int = 0) -> tuple[list[Problem], list[Problem]]:
    """(train, heldout): ``n`` problems drawn by a permutation seeded with ``seed`` alone, so the same data and
    seed give the same split whatever else the run changes; both parts keep the file order."""
    if n < 0 or n >= len(problems):
        raise DataError(f"holdout={n} leaves no training problems out of {len(problems)}; use 0 <= holdout < {len(problems)}")
    if n == 0:
        return list(problems), []
    chosen = set(np.random.default_rng([seed, 0x401D]).permutation(len(problems))[:n].tolist())
    train = [p for i, p in enumerate(problems) if i not in chosen]
    held = [p for i, p in enumerate(problems) if i in chosen]
    return train, held
