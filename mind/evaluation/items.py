"""The per-item table of one evaluation: every metric of every item for the model and its base, side by side.

``<eval>/items.jsonl`` is rewritten (atomically) at the end of each ``mind eval`` from the prediction and
likelihood files, for exactly the items and settings of that evaluation, so that summaries, paired comparisons
between runs and the dashboard all work from the same numbers. One line per benchmark item::

    benchmark, id,
    correct            generated answer right (bool; null when not generated)
    answer_logp        log p(" <gold value>." | trained prompt, "The answer is"), nats (see mind.evaluation.likelihood)
    acc, acc_norm      choice / yes-no items: lm-evaluation-harness's option scoring picks the gold option (sum of
                       log-probs; divided by the option's characters) (bools)
    letter_correct     choice / yes-no items: the highest "The answer is (X)." continuation is the gold one
    ce/<perspective>   rationale cross-entropy (heldout only)
    base_...           the same for the base student
Evaluations made before prompt versions have ``option_correct`` (per-token option-text ranking) instead of the
three choice columns.

From a likelihood file's choice records (:func:`choice_records`), :func:`constant_answers` gives what a choice
accuracy must beat on those items: always the commonest gold answer, and chance.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from mind.run.jsonl import _clean, read_jsonl

FILE = "items.jsonl"
MODELS = ("", "base_")  # column prefixes: the evaluated model, its base student


def item_row(benchmark: str, item_id: str, gen: dict | None, lik: dict | None, prefix: str = "") -> dict:
    """The metric columns of one item for one model, from its prediction and likelihood records."""
    row: dict = {}
    row[f"{prefix}correct"] = bool(gen["correct"]) if gen is not None else None
    if lik is not None:
        row[f"{prefix}answer_logp"] = lik.get("answer_logp")
        for col in ("acc", "acc_norm", "letter_correct", "option_correct"):
            if col in lik:
                row[f"{prefix}{col}"] = bool(lik[col])
        for p, v in (lik.get("rationale_ce") or {}).items():
            row[f"{prefix}ce/{p}"] = v
    return row


def write_items(path: str | Path, rows: list[dict]) -> None:
    """Replace ``path`` with ``rows`` (one JSON line each), atomically."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(_clean(r), ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_items(eval_dir: str | Path) -> pd.DataFrame:
    """The items table of an evaluation folder (empty DataFrame when it has none)."""
    rows = [r for r in read_jsonl(Path(eval_dir) / FILE) if isinstance(r, dict) and "benchmark" in r and "id" in r]
    if not rows:
        return pd.DataFrame(columns=["benchmark", "id"])
    df = pd.DataFrame.from_records(rows)
    df["benchmark"], df["id"] = df["benchmark"].astype(str), df["id"].astype(str)
    return df


def has_metric(df: pd.DataFrame, column: str) -> bool:
    """Whether ``column`` exists and is filled for every row (a complete measurement)."""
    return column in df.columns and len(df) > 0 and bool(df[column].notna().all())


def perspectives(df: pd.DataFrame, prefix: str = "") -> list[str]:
    """Perspective ids with a rationale-loss column for the model ``prefix``."""
    head = f"{prefix}ce/"
    return [c[len(head):] for c in df.columns if c.startswith(head)]


YESNO_OPTIONS = ("yes", "no")  # a yes/no item's options, in this order (mind.evaluation.likelihood)


def option_label(record: dict, i: int) -> str:
    """Option ``i`` of a likelihood record (``likelihoods.jsonl``) as its gold is written: "yes" / "no" for a yes/no
    item, else a letter (A, B, ...)."""
    return YESNO_OPTIONS[i] if str(record.get("gold")).strip().lower() in YESNO_OPTIONS else chr(65 + i)


def choice_records(path: str | Path) -> dict[str, list[dict]]:
    """The records of a likelihood file (``likelihoods.jsonl``, ``base_likelihoods.jsonl``) scored over their
    options (``plain_logp``), by benchmark; empty when the file is missing."""
    by: dict[str, list[dict]] = {}
    if Path(path).is_file():
        for r in read_jsonl(path):
            if r.get("gold") is not None and r.get("plain_logp"):
                by.setdefault(str(r["benchmark"]), []).append(r)
    return by


def constant_answers(path: str | Path) -> dict[str, dict]:
    """What a choice accuracy must beat on the items of a likelihood file: per benchmark scored over options, the
    commonest gold ``answer`` (ties: the first in sorted order), on ``count`` of the ``n`` items, its share
    ``majority`` (the accuracy of always giving it) and ``chance`` (the mean of 1 / options), both fractions."""
    out = {}
    for b, recs in choice_records(path).items():
        golds = [str(r["gold"]) for r in recs]
        answer = max(sorted(set(golds)), key=golds.count)
        count, n = golds.count(answer), len(golds)
        out[b] = {"answer": answer, "count": count, "n": n, "majority": count / n,
                  "chance": sum(1 / len(r["plain_logp"]) for r in recs) / n}
    return out
