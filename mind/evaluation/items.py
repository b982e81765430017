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
