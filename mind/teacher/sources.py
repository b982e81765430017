"""Problems to send to the teacher: a named benchmark (through :mod:`mind.benchmarks`) or a JSONL file.

A JSONL file has one ``{"id", "question", "answer"}`` object per line, optionally with ``answer_type``
(``number`` by default, see :data:`mind.data.ANSWER_TYPES`) and ``choices`` (a list of option texts, of
``{label, text}`` objects, or a ``{label: text}`` object).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mind.data import ANSWER_TYPES
from mind.errors import ConfigError, DataError


@dataclass(frozen=True)
class SourceItem:
    id: str
    question: str
    answer: str
    answer_type: str = "number"
    choices: object = None


def _from_benchmark(item) -> SourceItem:
    return SourceItem(str(item.id), str(item.question), str(item.answer),
                      str(getattr(item, "answer_type", "number") or "number"), getattr(item, "choices", None) or None)


def read_jsonl(path: Path) -> list[SourceItem]:
    """Read ``{id, question, answer[, answer_type, choices]}`` rows; raise :class:`DataError` on the first bad one."""
    from mind.data import iter_json_lines

    items: list[SourceItem] = []
    seen: set[str] = set()
    for where, obj in iter_json_lines(path, "--dataset", "check the path"):
        if not isinstance(obj, dict):
            raise DataError(f"{where}: expected an object with id, question, answer")
        pid = obj.get("id")
        if isinstance(pid, int) and not isinstance(pid, bool):
            pid = str(pid)
        if not isinstance(pid, str) or not pid.strip():
            raise DataError(f"{where}: 'id' is missing or empty; give every problem a unique id")
        if pid in seen:
            raise DataError(f"{where}: duplicate id {pid!r}; problem ids must be unique")
        q = obj.get("question")
        if not isinstance(q, str) or not q.strip():
            raise DataError(f"{where} (id {pid}): 'question' is missing or empty; add the problem text")
        ans = obj.get("answer")
        if isinstance(ans, bool) or not isinstance(ans, (str, int, float)) or not str(ans).strip():
            raise DataError(f"{where} (id {pid}): 'answer' is missing or not a string/number; add the gold answer")
        atype = obj.get("answer_type", "number")
        if atype not in ANSWER_TYPES:
            raise DataError(f"{where} (id {pid}): 'answer_type' {atype!r} is unknown; use one of {', '.join(ANSWER_TYPES)}")
        seen.add(pid)
        items.append(SourceItem(pid.strip(), q.strip(), str(ans).strip(), atype, obj.get("choices") or None))
    if not items:
        raise DataError(f"--dataset {path}: no problems found; expected one {{id, question, answer}} object per line")
    return items


def load_items(dataset: str, split: str | None = None, limit: int | None = None,
               path: str | None = None) -> list[SourceItem]:
    """Problems from a JSONL file (when ``dataset`` is a file) or a benchmark name (gsm8k, svamp, ...)."""
    if limit is not None and limit < 1:
        raise ConfigError(f"--limit {limit}: must be >= 1")
    p = Path(dataset)
    if p.suffix in (".jsonl", ".json") or p.is_file():
        items = read_jsonl(p)
        return items[:limit] if limit else items
    try:
        from mind.benchmarks import load_benchmark
    except ImportError as exc:
        raise ConfigError(f"--dataset {dataset}: benchmark loaders are unavailable ({exc}); pass a JSONL file") from None
    return [_from_benchmark(it) for it in load_benchmark(dataset, split=split, path=path, limit=limit)]
