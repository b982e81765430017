"""Evaluation benchmarks as uniform :class:`BenchmarkItem` records.

In-distribution: GSM8K, SVAMP, MATH500. Out-of-distribution: CommonsenseQA, StrategyQA, GPQA-Diamond.
:func:`load_benchmark` looks for each benchmark in this order:

1. ``path`` given by the user: the benchmark's file itself, or a folder holding it (in the layout of
   ``shared/data``, e.g. ``<folder>/gsm8k/test.jsonl``, or just the file name, ``<folder>/test.jsonl``);
2. the data folder: ``$MIND_DATA_DIR`` when set, else ``shared/data`` beside the checkout;
3. the Hugging Face hub via ``datasets.load_dataset`` (needs a connection; GPQA is gated and needs a login).

SVAMP evaluation drops the questions of the SVAMP multi-teacher training corpus by default
(``exclude_train_overlap=True``, see :func:`svamp_multi_teacher_questions`); :func:`load_svamp_multi_teacher`
turns that corpus into multi-perspective training problems. GPQA items are decrypted in memory and never
printed: their ``repr`` hides the text.
"""

from __future__ import annotations

import hashlib
import logging
import random
from dataclasses import dataclass
from pathlib import Path

from mind.benchmarks.answers import normalize_number
from mind.benchmarks.files import GPQA_PASSWORD, data_dir, normalize_question  # noqa: F401 - GPQA_PASSWORD: re-exported
from mind.benchmarks.files import read_rows as _rows_from_file
from mind.benchmarks.files import row_field as _field
from mind.errors import ConfigError, DataError
from mind.benchmarks.svamp_multi_teacher import svamp_multi_teacher_questions

log = logging.getLogger(__name__)

ANSWER_TYPES = ("number", "math", "choice", "yesno")


@dataclass(frozen=True, repr=False)
class BenchmarkItem:
    id: str  # unique within the benchmark
    question: str  # the problem text, without the options
    answer: str  # gold answer: number string, LaTeX string, letter A-E, or "yes"/"no"
    answer_type: str  # "number" | "math" | "choice" | "yesno"
    choices: tuple[str, ...] = ()  # option texts in letter order (A, B, ...) for choice questions
    benchmark: str = ""

    def prompt_text(self) -> str:
        """The question followed by its lettered options, one per line (as given to a model)."""
        opts = "\n".join(f"({chr(65 + i)}) {c}" for i, c in enumerate(self.choices))
        return f"{self.question}\n{opts}" if opts else self.question

    def __repr__(self) -> str:
        hidden = self.benchmark == "gpqa"  # GPQA's authors ask that items never appear in plain text
        q = "<hidden>" if hidden else repr(self.question[:60] + ("..." if len(self.question) > 60 else ""))
        return (
            f"BenchmarkItem(id={self.id!r}, benchmark={self.benchmark!r}, answer_type={self.answer_type!r}, "
            f"answer={self.answer!r}, question={q}, n_choices={len(self.choices)})"
        )


@dataclass(frozen=True)
class BenchmarkSpec:
    name: str
    kind: str  # "ID" (in-distribution) or "OOD"
    answer_type: str
    default_split: str
    files: dict  # split -> path relative to the data folder
    hub_id: str  # Hugging Face hub dataset id
    hub_parts: dict  # split -> ((config or None, hub split), ...); several parts are concatenated
    title: str = ""


BENCHMARKS: dict[str, BenchmarkSpec] = {
    "gsm8k": BenchmarkSpec(
        "gsm8k", "ID", "number", "test",
        {"test": "gsm8k/test.jsonl", "train": "gsm8k/train.jsonl", "test_socratic": "gsm8k/test_socratic.jsonl"},
        "openai/gsm8k",
        {"test": (("main", "test"),), "train": (("main", "train"),), "test_socratic": (("socratic", "test"),)},
        "GSM8K",
    ),
    "svamp": BenchmarkSpec(
        # SVAMP's 1,000 problems form one challenge set; the hub mirror splits it 700 train / 300 test
        "svamp", "ID", "number", "test", {"test": "svamp/SVAMP.json"},
        "ChilleD/SVAMP", {"test": ((None, "train"), (None, "test"))}, "SVAMP",
    ),
    "math500": BenchmarkSpec(
        "math500", "ID", "math", "test", {"test": "math500/test.jsonl"},
        "HuggingFaceH4/MATH-500", {"test": ((None, "test"),)}, "MATH500",
    ),
    "csqa": BenchmarkSpec(
        "csqa", "OOD", "choice", "dev", {"dev": "csqa/dev_rand_split.jsonl", "train": "csqa/train_rand_split.jsonl"},
        "tau/commonsense_qa", {"dev": ((None, "validation"),), "train": ((None, "train"),)}, "CommonsenseQA",
    ),
    "strategyqa": BenchmarkSpec(
        # the hub has no copy of the official 229-question dev split; ChilleD/StrategyQA's test split is the
        # usual stand-in (a different, larger sample of the same questions)
        "strategyqa", "OOD", "yesno", "dev", {"dev": "strategyqa/dev.json", "train": "strategyqa/train.json"},
        "ChilleD/StrategyQA", {"dev": ((None, "test"),), "train": ((None, "train"),)}, "StrategyQA",
    ),
    "gpqa": BenchmarkSpec(
        # gated on the hub: accept its terms and log in (huggingface-cli login) first
        "gpqa", "OOD", "choice", "diamond",
        {"diamond": "gpqa/dataset.zip", "main": "gpqa/dataset.zip", "extended": "gpqa/dataset.zip"},
        "Idavidrein/gpqa",
        {s: ((f"gpqa_{s}", "train"),) for s in ("diamond", "main", "extended")},
        "GPQA-Diamond",
    ),
}


# ----------------------------------------------------------------------------------------------- row parsers


def _number(value, where: str, key: str) -> str:
    norm = normalize_number(str(value)) if not isinstance(value, bool) else None
    if norm is None or "/" in norm:
        raise DataError(f"{where}: field {key!r} is not a number ({str(value)[:20]!r}); fix the gold answer")
    return norm


def _gsm8k(row, where, index, split):
    question = _field(row, "question", where)
    answer = _field(row, "answer", where)
    if "####" not in answer:
        raise DataError(f"{where}: field 'answer' has no final '#### N' line; fix the row")
    gold = _number(answer.rsplit("####", 1)[1].strip(), where, "answer")
    return BenchmarkItem(f"gsm8k-{split}-{index}", question.strip(), gold, "number", (), "gsm8k")


def _svamp(row, where, index, split):
    body = _field(row, "Body", where).strip()
    question = _field(row, "Question", where).strip()
    gold = _number(_field(row, "Answer", where, (int, float, str)), where, "Answer")
    item_id = row.get("ID") or f"svamp-{index}"
    return BenchmarkItem(str(item_id), f"{body} {question}", gold, "number", (), "svamp")


def _math500(row, where, index, split):
    problem = _field(row, "problem", where)
    answer = _field(row, "answer", where)
    item_id = row.get("unique_id") or f"math500-{index}"
    return BenchmarkItem(str(item_id), problem.strip(), answer.strip(), "math", (), "math500")


def _csqa(row, where, index, split):
    q = _field(row, "question", where, (dict, str))
    if isinstance(q, dict):  # original release: question.{stem, choices: [{label, text}]}
        stem = _field(q, "stem", where + " question")
        raw = _field(q, "choices", where + " question", list)
        pairs = [(_field(c, "label", f"{where} choice {j}"), _field(c, "text", f"{where} choice {j}")) for j, c in enumerate(raw)]
    else:  # hub: question str, choices {label: [...], text: [...]}
        stem, ch = q, _field(row, "choices", where, dict)
        pairs = list(zip(ch.get("label") or [], ch.get("text") or []))
    labels = [p[0].strip().upper() for p in pairs]
    if labels != [chr(65 + i) for i in range(len(labels))] or not 2 <= len(labels) <= 10:
        raise DataError(f"{where}: field 'choices' labels are {labels}, expected A, B, C, ...; fix the row")
    key = _field(row, "answerKey", where).strip().upper()
    if key not in labels:
        raise DataError(f"{where}: field 'answerKey' {key!r} is not one of the labels {labels}; fix the row")
    item_id = row.get("id") or f"csqa-{split}-{index}"
    return BenchmarkItem(str(item_id), stem.strip(), key, "choice", tuple(t.strip() for _, t in pairs), "csqa")


def _strategyqa(row, where, index, split):
    question = _field(row, "question", where)
    answer = _field(row, "answer", where, bool)
    item_id = row.get("qid") or f"strategyqa-{split}-{index}"
    return BenchmarkItem(str(item_id), question.strip(), "yes" if answer else "no", "yesno", (), "strategyqa")


def _gpqa(row, where, index, split):
    """Four options shuffled deterministically per item (seeded by its Record ID) into A-D."""
    question = _field(row, "Question", where)
    correct = _field(row, "Correct Answer", where).strip()
    wrong = [_field(row, f"Incorrect Answer {k}", where).strip() for k in (1, 2, 3)]
    item_id = str(row.get("Record ID") or f"gpqa-{split}-{index}")
    options = [correct, *wrong]
    seed = int.from_bytes(hashlib.sha256(item_id.encode()).digest()[:8], "big")
    random.Random(seed).shuffle(options)
    gold = chr(65 + options.index(correct))
    return BenchmarkItem(item_id, question.strip(), gold, "choice", tuple(options), "gpqa")


_PARSERS = {"gsm8k": _gsm8k, "svamp": _svamp, "math500": _math500, "csqa": _csqa, "strategyqa": _strategyqa, "gpqa": _gpqa}


# ----------------------------------------------------------------------------------------------- file readers


def _hub_rows(spec: BenchmarkSpec, split: str, looked: list[str]) -> list[tuple[str, dict]]:
    """Rows from ``datasets.load_dataset`` (needs a connection or the hub cache); DataError when unavailable."""
    try:
        from datasets import load_dataset

        rows = []
        for config, part in spec.hub_parts[split]:
            ds = load_dataset(spec.hub_id, config, split=part) if config else load_dataset(spec.hub_id, split=part)
            rows += [(f"{spec.hub_id}[{part}] row {i + 1}", dict(r)) for i, r in enumerate(ds)]
        return rows
    except Exception as exc:  # noqa: BLE001 - offline, gated, renamed: all mean "no copy here"
        reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise DataError(
            f"benchmark {spec.name} ({split}): no local copy (looked in {', '.join(looked)}) and the Hugging Face hub "
            f"copy {spec.hub_id} could not be loaded ({reason}); pass a path or set MIND_DATA_DIR"
        ) from None


def _local_file(spec: BenchmarkSpec, split: str, path: str | Path | None, looked: list[str]) -> Path | None:
    rel = Path(spec.files[split])
    if path is not None:
        p = Path(path).expanduser()
        if p.is_file():
            return p
        if not p.is_dir():
            raise DataError(f"benchmark {spec.name}: path {p} does not exist; pass the {rel.name} file or its folder")
        for cand in (p / rel, p / rel.name):
            if cand.is_file():
                return cand
        raise DataError(f"benchmark {spec.name}: neither {p / rel} nor {p / rel.name} exists; check the path")
    cand = data_dir() / rel
    looked.append(str(cand))
    return cand if cand.is_file() else None


def load_benchmark(
    name: str,
    split: str | None = None,
    path: str | Path | None = None,
    limit: int | None = None,
    exclude_train_overlap: bool = True,
) -> list[BenchmarkItem]:
    """Load a benchmark as a list of :class:`BenchmarkItem` (first ``limit`` items when given).

    ``exclude_train_overlap`` (SVAMP only) drops questions that appear in the SVAMP multi-teacher training
    corpus; the number dropped is logged at INFO level.
    """
    key = str(name).strip().lower().replace("-", "").replace("_", "")
    key = {"commonsenseqa": "csqa", "gpqadiamond": "gpqa", "math": "math500"}.get(key, key)
    if key not in BENCHMARKS:
        raise ConfigError(f"benchmark {name!r} is unknown; use one of {', '.join(BENCHMARKS)}")
    spec = BENCHMARKS[key]
    split = split or spec.default_split
    if split not in spec.files:
        raise ConfigError(f"benchmark {key}: split {split!r} is unknown; use one of {', '.join(spec.files)}")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise ConfigError(f"limit must be a positive integer, got {limit!r}")
    looked: list[str] = []
    file = _local_file(spec, split, path, looked)
    rows = _rows_from_file(file, key, split) if file is not None else _hub_rows(spec, split, looked)
    parse = _PARSERS[key]
    items = [parse(row, where, i, split) for i, (where, row) in enumerate(rows)]
    if not items:
        raise DataError(f"benchmark {key} ({split}): no items found in {file or spec.hub_id}; check the file")
    if key == "svamp" and exclude_train_overlap:
        seen = svamp_multi_teacher_questions()
        kept = [it for it in items if normalize_question(it.question) not in seen]
        log.info("svamp: excluded %d of %d questions that are in the multi-teacher training corpus", len(items) - len(kept), len(items))
        items = kept
    ids = [it.id for it in items]
    if len(set(ids)) != len(ids):
        raise DataError(f"benchmark {key} ({split}): duplicate item ids in {file or spec.hub_id}; ids must be unique")
    return items[:limit] if limit else items


# ----------------------------------------------------------------------------------------------- SVAMP multi-teacher

