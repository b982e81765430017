"""Evaluation results for the dashboard: ``<run>/eval/summary.json`` written by ``mind eval``, read defensively.

Accepted shapes of the summary (accuracies as fractions 0-1 or percentages)::

    {"accuracy": {"gsm8k": 0.41, ...}, "base_accuracy": {...}, "forgetting": {...}}
    {"benchmarks": {"gsm8k": {"accuracy": 0.41, "n": 50}, ...}}
    {"gsm8k": {"accuracy": 0.41}, ...}   or   {"gsm8k": 0.41, ...}

Per-item predictions are ``<run>/eval/predictions.jsonl`` (one row per item with ``benchmark``, ``id``,
``correct`` and the ``key`` of the checkpoint/decoding settings that produced it), as written by ``mind eval``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from mind.errors import RunDirError
from mind.run import read_jsonl

ID_BENCHMARKS = ("math500", "gsm8k", "svamp")
OOD_BENCHMARKS = ("csqa", "strategyqa", "gpqa")
ALIASES = {"commonsenseqa": "csqa", "gpqa-diamond": "gpqa", "gpqa_diamond": "gpqa", "math": "math500"}
# The paper's main table (Qwen2.5-7B-Instruct student), percent: one source of truth, shared with `mind eval`.
from mind.evaluation.table import PAPER_ROWS as PAPER_REFERENCE  # noqa: E402


def summary_path(run_path: str | Path) -> Path:
    return Path(run_path) / "eval" / "summary.json"


def read_summary(run_path: str | Path) -> dict | None:
    """The raw summary dict, or None when the run has not been evaluated. Corrupt JSON raises RunDirError."""
    f = summary_path(run_path)
    if not f.is_file():
        return None
    try:
        obj = json.loads(f.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise RunDirError(f"{f}: not valid JSON; re-run `mind eval --run {Path(run_path).name}`") from None
    if not isinstance(obj, dict):
        raise RunDirError(f"{f}: expected a JSON object; re-run `mind eval --run {Path(run_path).name}`")
    return obj


def _number(v) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        return None
    return float(v)


def _bench_map(obj) -> dict[str, float]:
    """{benchmark: accuracy} from a mapping whose values are numbers or {"accuracy": x} dicts."""
    out: dict[str, float] = {}
    if not isinstance(obj, dict):
        return out
    for k, v in obj.items():
        val = _number(v.get("accuracy", v.get("acc"))) if isinstance(v, dict) else _number(v)
        if val is not None:
            out[ALIASES.get(str(k).lower(), str(k).lower())] = val
    return out


def _to_percent(acc: dict[str, float]) -> dict[str, float]:
    if acc and all(v <= 1.0 for v in acc.values()):
        return {k: 100.0 * v for k, v in acc.items()}
    return acc


def parse_summary(obj: dict) -> dict[str, dict[str, float]]:
    """Normalise a summary to ``{"accuracy": {...}, "base": {...}, "forgetting": {...}}`` in percent."""
    if "accuracy" in obj and isinstance(obj["accuracy"], dict):
        acc = _bench_map(obj["accuracy"])
    elif "benchmarks" in obj:
        acc = _bench_map(obj["benchmarks"])
    else:
        acc = _bench_map({k: v for k, v in obj.items() if k not in ("base", "base_accuracy", "forgetting")})
    base = _bench_map(obj.get("base_accuracy") or obj.get("base") or {})
    forgetting = _bench_map(obj.get("forgetting") or {})
    acc, base = _to_percent(acc), _to_percent(base)
    if not forgetting and base:
        forgetting = {b: acc[b] - base[b] for b in base if b in acc}
    elif forgetting and all(abs(v) <= 1.0 for v in forgetting.values()):
        forgetting = {k: 100.0 * v for k, v in forgetting.items()}
    return {"accuracy": acc, "base": base, "forgetting": forgetting}


def accuracies(run_path: str | Path) -> dict[str, float] | None:
    """Accuracy per benchmark in percent, or None when there is no evaluation yet."""
    obj = read_summary(run_path)
    return None if obj is None else parse_summary(obj)["accuracy"]


def table(runs: dict[str, dict[str, float]], reference: bool = True) -> pd.DataFrame:
    """Paper-style table: one row per run (and the paper's rows), ID and OOD columns with their averages."""
    rows = dict(runs)
    if reference:
        rows.update(PAPER_REFERENCE)
    df = pd.DataFrame.from_dict(rows, orient="index")
    ordered = [b for b in ID_BENCHMARKS if b in df.columns]
    ood = [b for b in OOD_BENCHMARKS if b in df.columns]
    others = [c for c in df.columns if c not in ordered + ood]
    df = df[ordered + others + ood] if len(df.columns) else df
    if ordered:
        df["ID avg"] = df[ordered].mean(axis=1, skipna=True)
    if ood:
        df["OOD avg"] = df[ood].mean(axis=1, skipna=True)
    df.index.name = "run"
    return df


def predictions(run_path: str | Path) -> dict[str, pd.DataFrame]:
    """{benchmark: its current per-item predictions} from ``<run>/eval/predictions.jsonl``.

    An item re-evaluated after a newer checkpoint has several rows; only the latest one counts, and rows
    whose ``key`` differs from the benchmark's latest key (an older checkpoint or decoding setting) are dropped.
    """
    rows = [r for r in read_jsonl(Path(run_path) / "eval" / "predictions.jsonl") if isinstance(r, dict)]
    if not rows:
        return {}
    df = pd.DataFrame.from_records(rows)
    if "benchmark" not in df.columns:
        return {}
    out = {}
    for bench, part in df.groupby("benchmark", sort=True):
        if "key" in part.columns:
            part = part[part["key"] == part["key"].iloc[-1]]
        if "id" in part.columns:
            part = part.drop_duplicates("id", keep="last")
        out[ALIASES.get(str(bench).lower(), str(bench).lower())] = part.reset_index(drop=True)
    return out


def wrong_answers(preds: pd.DataFrame, limit: int = 200) -> pd.DataFrame:
    """Rows whose ``correct`` flag is false, without the bookkeeping key."""
    wrong = preds[~preds.get("correct", pd.Series(False, index=preds.index)).fillna(False).astype(bool)]
    return wrong.drop(columns=[c for c in ("key",) if c in wrong.columns]).head(limit).reset_index(drop=True)
