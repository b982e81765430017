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
from mind.benchmarks.files import read_located_rows as _rows_from_file
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
    n_choices: int = 0  # options every item has (choice benchmarks); a row with another number is an error


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
        "tau/commonsense_qa", {"dev": ((None, "validation"),), "train": ((None, "train"),)}, "CommonsenseQA", 5,
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
        "GPQA-Diamond", 4,
    ),
}


# ----------------------------------------------------------------------------------------------- row parsers


def _number(value, where: str, key: str, fix: str = "write the gold answer as a number, e.g. 42 or 3.5") -> str:
    norm = normalize_number(str(value)) if not isinstance(value, bool) else None
    if norm is None or "/" in norm:
        raise DataError(f"{where}: field {key!r} is not a number ({str(value)[:20]!r}); {fix}")
    return norm


def _gsm8k(row, where, index, split):
    question = _field(row, "question", where)
    answer = _field(row, "answer", where, expected="a string: the worked solution ending in a '#### N' line")
    if "####" not in answer:
        raise DataError(f"{where}: field 'answer' has no final '#### N' line; GSM8K answers end with '#### <number>', "
                        "add that line to the row")
    gold = _number(answer.rsplit("####", 1)[1].strip(), where, "answer",
                   "the text after '####' must be the gold number, e.g. '#### 42'")
    return BenchmarkItem(f"gsm8k-{split}-{index}", question.strip(), gold, "number", (), "gsm8k")


def _svamp(row, where, index, split):
    body = _field(row, "Body", where).strip()
    question = _field(row, "Question", where).strip()
    gold = _number(_field(row, "Answer", where, (int, float, str), expected="a number"), where, "Answer")
    item_id = row.get("ID") or f"svamp-{index}"
    return BenchmarkItem(str(item_id), f"{body} {question}", gold, "number", (), "svamp")


def _math500(row, where, index, split):
    problem = _field(row, "problem", where)
    answer = _field(row, "answer", where, expected="a string: the final answer in LaTeX")
    item_id = row.get("unique_id") or f"math500-{index}"
    return BenchmarkItem(str(item_id), problem.strip(), answer.strip(), "math", (), "math500")


def _letters(n: int) -> str:
    return ", ".join(chr(65 + i) for i in range(n))


def _csqa_options(row, where) -> tuple[str, list[tuple[str, str]]]:
    """(stem, [(label, text)]) from either layout: the original release (question.{stem, choices: [{label,
    text}]}) or the hub's (question str, choices {label: [...], text: [...]})."""
    q = _field(row, "question", where, (dict, str), expected="an object {stem, choices} or a string")
    if isinstance(q, dict):
        stem = _field(q, "stem", where + " question")
        raw = _field(q, "choices", where + " question", list, expected="a list of {label, text} objects")
        return stem, [(_field(c, "label", f"{where} choice {j + 1}"), _field(c, "text", f"{where} choice {j + 1}"))
                      for j, c in enumerate(raw)]
    ch = _field(row, "choices", where, dict, expected="an object {label: [...], text: [...]}")
    labels = _field(ch, "label", where + " choices", list, expected="a list of option letters")
    texts = _field(ch, "text", where + " choices", list, expected="a list of option texts")
    if len(labels) != len(texts):
        raise DataError(f"{where}: field 'choices' has {len(labels)} labels but {len(texts)} texts; give each option "
                        "one label and one text")
    pairs = []
    for j, (label, text) in enumerate(zip(labels, texts)):
        if not isinstance(label, str) or not isinstance(text, str) or not label.strip() or not text.strip():
            raise DataError(f"{where}: option {j + 1} of field 'choices' is not a non-empty label and text; "
                            "fix the row")
        pairs.append((label, text))
    return q, pairs


def _csqa(row, where, index, split):
    stem, pairs = _csqa_options(row, where)
    labels = [p[0].strip().upper() for p in pairs]
    if labels != [chr(65 + i) for i in range(len(labels))] or not 2 <= len(labels) <= 10:
        raise DataError(f"{where}: field 'choices' labels are {labels}, expected A, B, C, ... in order; fix the row")
    key = _field(row, "answerKey", where, expected="the gold option's letter, e.g. \"B\"").strip().upper()
    if key not in labels:
        raise DataError(f"{where}: field 'answerKey' {key!r} is not one of the labels {labels}; set it to the letter "
                        "of the correct option")
    n = BENCHMARKS["csqa"].n_choices
    if len(labels) != n:
        raise DataError(f"{where}: field 'choices' has {len(labels)} options ({_letters(len(labels))}), CommonsenseQA "
                        f"items have {n} ({_letters(n)}); restore the missing options or remove the row")
    item_id = row.get("id") or f"csqa-{split}-{index}"
    return BenchmarkItem(str(item_id), stem.strip(), key, "choice", tuple(t.strip() for _, t in pairs), "csqa")


def _strategyqa(row, where, index, split):
    question = _field(row, "question", where)
    answer = _field(row, "answer", where, bool,
                    expected="true or false (a StrategyQA answer is yes or no, as a JSON boolean)")
    item_id = row.get("qid") or f"strategyqa-{split}-{index}"
    return BenchmarkItem(str(item_id), question.strip(), "yes" if answer else "no", "yesno", (), "strategyqa")


GPQA_OPTIONS = ("Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3")


def _gpqa(row, where, index, split):
    """Four options shuffled deterministically per item (seeded by its Record ID) into A-D. Messages name fields,
    never their text (GPQA's authors ask that items are not shown)."""
    question = _field(row, "Question", where)
    missing = [k for k in GPQA_OPTIONS if not isinstance(row, dict) or not str(row.get(k) or "").strip()]
    if missing:
        raise DataError(f"{where}: field {missing[0]!r} is missing or empty; a GPQA row needs all "
                        f"{len(GPQA_OPTIONS)} options ({', '.join(GPQA_OPTIONS)}): restore the row from dataset.zip")
    correct, *wrong = (_field(row, k, where).strip() for k in GPQA_OPTIONS)
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


def _spec_split(name: str, split: str | None) -> tuple[BenchmarkSpec, str]:
    """The spec of benchmark ``name`` (aliases such as ``commonsense-qa`` accepted) and the split to read; a
    ConfigError naming the choices for an unknown benchmark or split."""
    key = str(name).strip().lower().replace("-", "").replace("_", "")
    key = {"commonsenseqa": "csqa", "gpqadiamond": "gpqa", "math": "math500"}.get(key, key)
    if key not in BENCHMARKS:
        raise ConfigError(f"benchmark {name!r} is unknown; use one of {', '.join(BENCHMARKS)}")
    spec = BENCHMARKS[key]
    split = split or spec.default_split
    if split not in spec.files:
        raise ConfigError(f"benchmark {key}: split {split!r} is unknown; use one of {', '.join(spec.files)}")
    return spec, split


def local_benchmark_file(name: str, split: str | None = None, path: str | Path | None = None) -> Path:
    """The local file :func:`load_benchmark` reads for ``name`` / ``split`` given ``path`` (None: the data folder),
    so that another reader (the lm-eval task configs) scores the very same file; a DataError when there is none
    (load_benchmark would fall back to the hub, whose copies have other field names)."""
    spec, split = _spec_split(name, split)
    looked: list[str] = []
    file = _local_file(spec, split, path, looked)
    if file is None:
        raise DataError(f"benchmark {spec.name} ({split}): no local file (looked in {', '.join(looked)}); pass the "
                        f"data folder holding {spec.files[split]}, or set MIND_DATA_DIR")
    return file


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
    spec, split = _spec_split(name, split)
    key = spec.name
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise ConfigError(f"limit must be a positive integer, got {limit!r}")
    looked: list[str] = []
    file = _local_file(spec, split, path, looked)
    if file is not None:
        rows = _rows_from_file(file, key, split)
    else:
        rows = [(where, row, None) for where, row in _hub_rows(spec, split, looked)]
    items = _parse_rows(key, rows, split)
    if not items:
        raise DataError(f"benchmark {key} ({split}): no items found in {file or spec.hub_id}; check the file")
    if key == "svamp" and exclude_train_overlap:
        seen = svamp_multi_teacher_questions()
        kept = [it for it in items if normalize_question(it.question) not in seen]
        log.info("svamp: excluded %d of %d questions that are in the multi-teacher training corpus", len(items) - len(kept), len(items))
        items = kept
    return items[:limit] if limit else items


def _parse_rows(key: str, rows, split: str) -> list[BenchmarkItem]:
    """Every row through the benchmark's parser, and ids checked to be unique. A row's error is raised as it is (one
    line naming the file, the row and the fix), with the line the row starts on appended where ``row N`` is not
    already the line (JSON lists and GPQA's CSV), so a pretty-printed file of thousands of lines can be fixed without
    counting items."""
    parse, items = _PARSERS[key], []
    for i, (where, row, line) in enumerate(rows):
        try:
            items.append(parse(row, where, i, split))
        except DataError as exc:
            if line is None:
                raise
            raise DataError(f"{exc} (row {i + 1} starts at line {line})") from None
    first: dict[str, str] = {}
    for (where, _, line), it in zip(rows, items):
        if it.id in first:
            at = f" (line {line})" if line is not None else ""
            raise DataError(f"{where}{at}: item id {it.id[:40]!r} repeats the id of {first[it.id]}; ids must be "
                            "unique: fix or drop one of the two rows")
        first[it.id] = "row " + where.rpartition(" row ")[2]
    return items


# ----------------------------------------------------------------------------------------------- SVAMP multi-teacher

