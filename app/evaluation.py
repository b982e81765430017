"""Evaluation results for the dashboard: ``<run>/eval/summary.json`` written by ``mind eval``, read defensively.

Accepted shapes of the summary (accuracies as fractions 0-1 or percentages)::

    {"accuracy": {"gsm8k": 0.41, ...}, "base_accuracy": {...}, "forgetting": {...}}
    {"benchmarks": {"gsm8k": {"accuracy": 0.41, "n": 50}, ...}}
    {"gsm8k": {"accuracy": 0.41}, ...}   or   {"gsm8k": 0.41, ...}

Per-item predictions, when present, are ``<run>/eval/<benchmark>*.jsonl`` rows with a ``correct`` flag.
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
# The paper's main table (Qwen2.5-7B-Instruct student), percent.
PAPER_REFERENCE = {
    "paper: MIND (Qwen2.5-7B)": {"math500": 82.63, "gsm8k": 94.92, "svamp": 94.31, "csqa": 83.98, "strategyqa": 70.74, "gpqa": 41.10},
    "paper: base (Qwen2.5-7B)": {"math500": 77.20, "gsm8k": 92.36, "svamp": 90.33, "csqa": 83.45, "strategyqa": 68.68, "gpqa": 30.30},
}


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


def prediction_files(run_path: str | Path) -> dict[str, Path]:
    """{benchmark: per-item predictions file} found in ``<run>/eval/``."""
    d = Path(run_path) / "eval"
    if not d.is_dir():
        return {}
    out = {}
    for f in sorted(d.glob("*.jsonl")):
        name = f.stem.split(".")[0].split("_predictions")[0].split("-predictions")[0].lower()
        out[ALIASES.get(name, name)] = f
    return out


def wrong_answers(path: Path, limit: int = 200) -> pd.DataFrame:
    """Rows of a predictions file whose ``correct`` flag is false (columns as written by ``mind eval``)."""
    rows = read_jsonl(path)
    wrong = [r for r in rows if isinstance(r, dict) and not r.get("correct", False)]
    return pd.DataFrame.from_records(wrong[:limit])
