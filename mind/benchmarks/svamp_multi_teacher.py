"""The multi-teacher SVAMP rationale set (``shared/data/svamp_multi_teacher``) as a multi-perspective training
set: eight files (GPT-4o in three formats and two granularities, Gemini, Llama, human) joined on the normalised
question text into problems with one view per file. Its questions are excluded from SVAMP evaluation."""

from __future__ import annotations

import logging
from pathlib import Path

from mind.benchmarks.files import data_dir, normalize_question, read_rows, row_field
from mind.errors import DataError

log = logging.getLogger(__name__)

MULTI_TEACHER_DIR = "svamp_multi_teacher"
MULTI_TEACHER_FILES: dict[str, str] = {  # perspective id -> file; style per the source paper (see data README)
    "symbolic": "0_SVAMP_chatgpt_level3SYM.json",  # GPT-4o, formal-symbolic
    "socratic": "0_SVAMP_chatgpt_level3BSM.json",  # GPT-4o, sub-question decomposition
    "rephrase": "0_SVAMP_chatgpt_level3RaR.json",  # GPT-4o, rephrase-and-respond
    "level1": "SVAMP_ChatGPT_level1_ranked.json",  # GPT-4o, shortest granularity
    "level6": "SVAMP_ChatGPT_level6_ranked.json",  # GPT-4o, finest granularity
    "gemini": "SVAMP_gemini_level3_ranked.json",  # Gemini-1.5-Flash, medium granularity
    "llama": "SVAMP_llama_level3_ranked.json",  # Llama-3-70B, medium granularity
    "human": "svamp_human_annotation.json",  # human equation-style rationale
}


def _multi_teacher_folder(path: str | Path | None) -> Path:
    folder = Path(path).expanduser() if path is not None else data_dir() / MULTI_TEACHER_DIR
    if not folder.is_dir():
        raise DataError(f"SVAMP multi-teacher folder {folder} not found; pass its path or set MIND_DATA_DIR")
    return folder


def _multi_teacher_rows(folder: Path, pid: str) -> list[tuple[str, str, str]]:
    """(where, question, output) rows of one view's file."""
    file = folder / MULTI_TEACHER_FILES[pid]
    if not file.is_file():
        raise DataError(f"SVAMP multi-teacher file {file} is missing; restore it or pass the folder that has all 8")
    out = []
    for where, row in read_rows(file, "svamp_multi_teacher", ""):
        out.append((where, row_field(row, "instruction", where).strip(), row_field(row, "output", where).strip()))
    return out


def svamp_multi_teacher_questions(path: str | Path | None = None) -> set[str]:
    """Normalised questions of the SVAMP multi-teacher corpus (empty, with a warning, when it is not present)."""
    try:
        folder = _multi_teacher_folder(path)
    except DataError as exc:
        log.warning("%s; SVAMP evaluation excludes no training questions", exc)
        return set()
    return {normalize_question(q) for pid in MULTI_TEACHER_FILES for _, q, _ in _multi_teacher_rows(folder, pid)}


def load_svamp_multi_teacher(path: str | Path | None = None, drop_wrong: bool = False) -> list:
    """The SVAMP multi-teacher corpus as multi-perspective :class:`mind.data.Problem` records.

    The 8 files are joined on normalised question text; each view becomes a rationale whose perspective id is a key
    of :data:`MULTI_TEACHER_FILES` and whose ``answer`` is the number its text ends with ("The answer is N", else
    its last number). The gold answer is the human annotation's (derived from SVAMP's gold equation), else the
    most common view answer. ``drop_wrong`` drops views whose answer differs from the gold, as the MIND judge does.
    """
    from collections import Counter

    from mind.benchmarks.answers import answers_equal, extract_answer
    from mind.data import parse_problem

    folder = _multi_teacher_folder(path)
    views: dict[str, dict[str, tuple[str, str]]] = {}  # question key -> pid -> (text, answer)
    questions: dict[str, str] = {}
    for pid in MULTI_TEACHER_FILES:
        for where, question, output in _multi_teacher_rows(folder, pid):
            key = normalize_question(question)
            questions.setdefault(key, question)
            if pid in views.setdefault(key, {}):
                raise DataError(f"{where}: question repeats an earlier row of the same file; drop the duplicate")
            views[key][pid] = (output, extract_answer(output, "number") or "")
    problems = []
    for n, (key, by_pid) in enumerate(views.items()):
        answers = [a for _, a in by_pid.values() if a]
        gold = (by_pid.get("human") or ("", ""))[1] or (Counter(answers).most_common(1)[0][0] if answers else "")
        rats = [
            {"perspective": pid, "text": text, "answer": ans}
            for pid, (text, ans) in by_pid.items()
            if not drop_wrong or answers_equal(ans or None, gold)
        ]
        if gold and rats:
            obj = {"id": f"svamp-mt-{n:03d}", "question": questions[key], "answer": gold, "rationales": rats}
            problems.append(parse_problem(obj, f"{folder.name} question {n + 1}", tuple(MULTI_TEACHER_FILES)))
    return problems
