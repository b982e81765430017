"""Evaluation results for the dashboard: ``<run>/eval/summary.json`` written by ``mind eval``, read defensively.

Accepted shapes of the summary (accuracies as fractions 0-1 or percentages)::

    {"accuracy": {"gsm8k": 0.41, ...}, "base_accuracy": {...}, "forgetting": {...}}
    {"benchmarks": {"gsm8k": {"accuracy": 0.41, "n": 50}, ...}}
    {"gsm8k": {"accuracy": 0.41}, ...}   or   {"gsm8k": 0.41, ...}

Per-item predictions are ``<run>/eval/predictions.jsonl`` (one row per item with ``benchmark``, ``id``,
``correct`` and the ``key`` of the checkpoint/decoding settings that produced it), as written by ``mind eval``.

Uncertainty: :func:`intervals` reads the 95% intervals of a summary (Wilson intervals from the counts for summaries
written before ``mind eval`` recorded them); :func:`comparisons` pairs runs item by item from their
``eval/items.jsonl`` (each against the first chosen run) and :func:`difference_frame` lays the differences out for
tables and charts; :func:`eval_progress` reads a running evaluation's progress from its log.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from mind.errors import RunDirError
from mind.evaluation import items as eval_items
from mind.evaluation.table import ID_BENCHMARKS, OOD_BENCHMARKS  # heldout counts as ID
from mind.run import read_jsonl

from app import logs

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
    base_src = obj.get("base_accuracy") or obj.get("base") or {}
    if isinstance(base_src, dict) and isinstance(base_src.get("benchmarks"), dict):  # a summary block
        base_src = base_src["benchmarks"]
    base = _bench_map(base_src)
    forgetting = _bench_map(obj.get("forgetting") or {})
    acc, base = _to_percent(acc), _to_percent(base)
    base_block = obj.get("base") if isinstance(obj.get("base"), dict) else {}
    for target, block in ((acc, obj), (base, base_block)):  # pooled averages as mind eval wrote them
        for key, col in (("id_avg", "ID avg"), ("ood_avg", "OOD avg")):
            v = _number(block.get(key)) if block.get("averaging") else None
            if v is not None:
                target[col] = 100.0 * v
    if not forgetting and base:
        forgetting = {b: acc[b] - base[b] for b in base if b in acc and b not in ("ID avg", "OOD avg")}
    elif forgetting and all(abs(v) <= 1.0 for v in forgetting.values()):
        forgetting = {k: 100.0 * v for k, v in forgetting.items()}
    return {"accuracy": acc, "base": base, "forgetting": forgetting}


def accuracies(run_path: str | Path) -> dict[str, float] | None:
    """Accuracy per benchmark in percent, or None when there is no evaluation yet."""
    obj = read_summary(run_path)
    return None if obj is None else parse_summary(obj)["accuracy"]


def table(runs: dict[str, dict[str, float]], reference: bool = True) -> pd.DataFrame:
    """Paper-style table: one row per run (and the paper's rows), ID and OOD columns with their averages. A row's
    own ``ID avg`` / ``OOD avg`` (the pooled averages of ``mind eval``, every item weighing the same) are kept; rows
    without them (the paper's, older summaries) get the mean of their benchmarks."""
    rows = {k: dict(v) for k, v in runs.items()}
    if reference:
        rows.update(PAPER_REFERENCE)
    given = {k: {c: v[c] for c in ("ID avg", "OOD avg") if c in v} for k, v in rows.items()}
    rows = {k: {c: x for c, x in v.items() if c not in ("ID avg", "OOD avg")} for k, v in rows.items()}
    df = pd.DataFrame.from_dict(rows, orient="index")
    ordered = [b for b in ID_BENCHMARKS if b in df.columns]
    ood = [b for b in OOD_BENCHMARKS if b in df.columns]
    others = [c for c in df.columns if c not in ordered + ood]
    df = df[ordered + others + ood] if len(df.columns) else df
    if ordered:
        df["ID avg"] = df[ordered].mean(axis=1, skipna=True)
    if ood:
        df["OOD avg"] = df[ood].mean(axis=1, skipna=True)
    for k, cols in given.items():
        for c, v in cols.items():
            df.loc[k, c] = v
    df.index.name = "run"
    return df


MAJORITY_ROW, CHANCE_ROW = "always the commonest answer", "chance (1 / options)"


def constant_answers(run_path: str | Path) -> tuple[dict[str, dict[str, float]], dict[str, str]]:
    """What a choice accuracy must beat on a run's evaluated items (:func:`mind.evaluation.items.constant_answers`
    of ``<run>/eval/likelihoods.jsonl``) as table rows in percent, ``{MAJORITY_ROW: {bench: %}, CHANCE_ROW: {bench:
    %}}``, and each benchmark's commonest answer. Empty when the run has no likelihood records (an older evaluation,
    or no choice benchmark). A StrategyQA split with 57% "no" is 57% for a student that only ever says "no"."""
    const = eval_items.constant_answers(Path(run_path) / "eval" / "likelihoods.jsonl")
    rows = {MAJORITY_ROW: {b: 100.0 * c["count"] / c["n"] for b, c in const.items()},
            CHANCE_ROW: {b: 100.0 * c["chance"] for b, c in const.items()}}
    return ({k: v for k, v in rows.items() if v}, {b: c["answer"] for b, c in const.items()})


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


# ------------------------------------------------------------------------------------------------ uncertainty


def intervals(obj: dict, block: str | None = None) -> dict[str, tuple[float, float]]:
    """95% intervals in percent per benchmark (and ``ID avg``/``OOD avg``) of a summary (``block="base"``: of its
    base student). Summaries written before intervals existed get Wilson intervals from their counts."""
    from mind.evaluation.stats import wilson

    src = obj.get(block) if block else obj
    out: dict[str, tuple[float, float]] = {}
    if not isinstance(src, dict):
        return out
    for b, v in (src.get("benchmarks") or {}).items():
        if not isinstance(v, dict):
            continue
        ci = v.get("ci")
        if isinstance(ci, list) and len(ci) == 2 and None not in ci:
            out[ALIASES.get(b, b)] = (100.0 * ci[0], 100.0 * ci[1])
        elif isinstance(v.get("n"), int) and v["n"] > 0 and v.get("accuracy") is not None:
            k = v.get("correct", round(v["accuracy"] * v["n"]))
            lo, hi = wilson(int(k), v["n"])
            out[ALIASES.get(b, b)] = (100.0 * lo, 100.0 * hi)
    for key, col, names in (("id_avg_ci", "ID avg", ID_BENCHMARKS), ("ood_avg_ci", "OOD avg", OOD_BENCHMARKS)):
        ci = src.get(key)
        if isinstance(ci, list) and len(ci) == 2 and None not in ci:
            out[col] = (100.0 * ci[0], 100.0 * ci[1])
        else:  # an older summary: MOVER over the benchmarks' Wilson intervals, as mind eval computes it now
            from mind.evaluation.stats import mover_mean

            parts = [(100.0 * (src["benchmarks"][b]["accuracy"]), *out[b]) for b in names
                     if b in out and isinstance((src.get("benchmarks") or {}).get(b), dict)
                     and src["benchmarks"][b].get("accuracy") is not None]
            if parts:
                _, lo, hi = mover_mean(parts)
                out[col] = (lo, hi)
    return out


def interval_table(accs: dict[str, dict[str, float]], ivals: dict[str, dict[str, tuple[float, float]]]) -> pd.DataFrame:
    """The accuracy table as text cells ``12.5 [5.1, 27.0]`` (percent, 95% interval); a benchmark a run was not
    evaluated on is a blank cell."""
    t = table(accs, reference=False)
    out = pd.DataFrame(index=t.index, columns=t.columns, dtype=object)
    for run in t.index:
        for col in t.columns:
            v = t.loc[run, col]
            ci = ivals.get(run, {}).get(col)
            out.loc[run, col] = "" if pd.isna(v) else (f"{v:.1f} [{ci[0]:.1f}, {ci[1]:.1f}]" if ci else f"{v:.1f}")
    return out


def text_cells(frame: pd.DataFrame, fmt: str | dict[str, str] = "{:.2f}") -> pd.DataFrame:
    """``frame`` for display: numbers as text (``fmt``: one format for every number, or {column: format}), other
    values as they are, and a missing value as a blank cell. Why text: Streamlit's table prints "None" for a
    missing number, and a Styler's ``na_rep`` does not reach those cells."""
    def cell(v, f):
        if v is None or (isinstance(v, float) and v != v):
            return ""
        return f.format(v) if f and isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)

    out = frame.copy().astype(object)
    for c in frame.columns:
        f = fmt.get(c) if isinstance(fmt, dict) else fmt
        out[c] = [cell(v, f) for v in frame[c]]
    return out


def bounds(acc_table: pd.DataFrame, ivals: dict[str, dict[str, tuple[float, float]]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(lower, upper) frames aligned with ``acc_table`` (NaN where no interval is known)."""
    lo = pd.DataFrame(index=acc_table.index, columns=acc_table.columns, dtype=float)
    hi = lo.copy()
    for run in acc_table.index:
        for col in acc_table.columns:
            ci = ivals.get(run, {}).get(col)
            if ci:
                lo.loc[run, col], hi.loc[run, col] = ci
    return lo, hi


def items(run_path: str | Path) -> pd.DataFrame:
    """The per-item table ``<run>/eval/items.jsonl`` (empty for evaluations made before it existed)."""
    from mind.evaluation.items import read_items

    return read_items(Path(run_path) / "eval")


def comparisons(ref: pd.DataFrame, others: dict[str, pd.DataFrame]) -> dict[str, dict]:
    """Each run's items against the reference's, item by item (:func:`mind.evaluation.compare.paired`), with
    Holm's adjustment over every test of the table (:func:`adjust_family`)."""
    from mind.evaluation.compare import paired

    out = {name: paired(ref, df) for name, df in others.items() if len(df) and len(ref)}
    adjust_family(out)
    return out


def adjust_family(comps) -> int:
    """Holm over every distinct test inside ``comps`` (one family: the page's paired table), in place
    (:func:`mind.evaluation.seeds.adjust_all`: ``p_holm``, ``significant`` = p_holm < 0.05). A benchmark's primary
    accuracy is the same test object under ``accuracy`` and under ``metrics``; it is counted once, not twice.
    Returns the family size."""
    from mind.evaluation.seeds import adjust_all, tests_in

    unique = list({id(d): d for d in tests_in(comps) if d.get("p") is not None}.values())
    return adjust_all(unique)


def difference_frame(comps: dict[str, dict]) -> pd.DataFrame:
    """Long table of paired differences: run, benchmark (or ID/OOD avg), metric, diff, lo, hi, p, n, significant.
    Accuracy metrics in points, log-likelihoods in nats."""
    rows = []

    def add(run, bench, metric, d, scale):
        if d and d.get("diff") is not None:
            lo, hi = d["ci"]
            rows.append({"run": run, "benchmark": bench, "metric": metric, "diff": scale * d["diff"],
                         "lo": None if lo is None else scale * lo, "hi": None if hi is None else scale * hi,
                         "p": d.get("p"), "p_floor": d.get("p_floor"), "p_holm": d.get("p_holm"),
                         "p_holm_bound": bool(d.get("p_holm_bound")), "n": d.get("n"),
                         "significant": bool(d.get("significant"))})

    for run, comp in comps.items():
        for b, e in comp.get("benchmarks", {}).items():
            add(run, b, "accuracy", e.get("accuracy"), 100.0)
            for m, d in (e.get("metrics") or {}).items():
                if m != e.get("primary"):
                    add(run, b, f"{METRIC_LABELS.get(m, m)} accuracy", d, 100.0)
            add(run, b, "option accuracy", e.get("option_accuracy"), 100.0)  # evaluations before prompt versions
            add(run, b, "answer log-lik", e.get("answer_logp"), 1.0)
            for p, d in (e.get("rationale_ce") or {}).items():
                add(run, b, f"rationale loss/{p}", d, 1.0)
        for g in ("id", "ood"):
            e = comp.get(g) or {}
            add(run, f"{g.upper()} avg", "accuracy", e.get("accuracy"), 100.0)
            add(run, f"{g.upper()} avg", "answer log-lik", e.get("answer_logp"), 1.0)
    return pd.DataFrame(rows, columns=["run", "benchmark", "metric", "diff", "lo", "hi", "p", "p_floor", "p_holm",
                                       "p_holm_bound", "n", "significant"])


def with_holm(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (rows with a ``p``) with ``p_holm``, Holm's adjustment over its rows (the table is the family),
    and ``significant`` redefined as p_holm < 0.05, so a table's marks mean the same as the paired table's."""
    from mind.evaluation.stats import LEVEL, holm

    p = pd.to_numeric(frame["p"], errors="coerce").to_numpy(dtype=float)
    adjusted = holm(p) if len(frame) else []
    return frame.assign(p_holm=adjusted, significant=[bool(a == a and a < 1 - LEVEL) for a in adjusted])


def default_runs(paths: list[Path], n: int = 4, per_experiment: int = 8) -> list[Path]:
    """The runs the Evaluation page opens on: evaluated ones (a run without ``eval/summary.json`` has nothing to
    show), not merely the newest. When the newest evaluated run belongs to an experiment (``*compare.json`` beside
    it), that experiment's evaluated runs in its own order (its reference first, the one every paired difference is
    taken against), one run per method (its first seed) for a seed experiment, at most ``per_experiment``; else
    the ``n`` newest evaluated runs. With none evaluated: the ``n`` newest, so the Evaluate form has runs."""
    evaluated = [Path(p) for p in paths if summary_path(p).is_file()]
    if not evaluated:
        return [Path(p) for p in paths[:n]]
    order = _experiment_order(evaluated[0])
    if order:
        by_name = {p.name: p for p in evaluated}
        picked = [by_name[r] for r in order if r in by_name]
        if picked:
            return picked[:per_experiment]
    return evaluated[:n]


def _experiment_order(run_path: Path) -> list[str]:
    """The run names of the first ``*compare.json`` beside ``run_path`` that names it, in the file's row order,
    keeping each method's first seed only; [] when there is none."""
    for f in sorted(run_path.parent.glob("*compare.json")):
        try:
            rows = json.loads(f.read_text(encoding="utf-8")).get("rows") or []
        except (OSError, ValueError, AttributeError):
            continue
        names = [r.get("run") for r in rows if isinstance(r, dict)]
        if run_path.name not in names:
            continue
        seen, out = set(), []
        for r in sorted((r for r in rows if isinstance(r, dict)), key=lambda r: (r.get("seed") or 0)):
            if r.get("method") not in seen:
                seen.add(r.get("method"))
                out.append(r.get("run"))
        return [n for n in names if n in out]
    return []


def _paired_block(obj: dict, run_name: str) -> tuple[dict, str | None]:
    """({run: comparison}, reference run) of a compare.json for ``run_name``: the file's one table (older
    comparisons), or the table of the run's own seed (``mind experiment compare --seeds``: items paired within a
    seed, Holm over every seed's tests)."""
    paired = obj.get("paired") or {}
    if isinstance(paired.get("seeds"), dict):
        seed = next((r.get("seed") for r in obj.get("rows") or [] if r.get("run") == run_name), None)
        block = paired["seeds"].get(str(seed)) or next(iter(paired["seeds"].values()), {})
        return block.get("runs") or {}, block.get("reference")
    return paired.get("runs") or {}, paired.get("reference")


def comparison_for(run_path: str | Path) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The ``mind experiment compare`` table that ``run_path`` belongs to (a ``*compare.json`` beside it naming it):
    (one row per method: steps, final SFT loss, latent ARI, ID/OOD average accuracy in points with 95% intervals,
    forgetting; the paired ID/OOD differences of every run against the experiment's first run, as
    :func:`difference_frame`). None when the run is not part of an experiment."""
    run_path = Path(run_path)
    for path in sorted(run_path.parent.glob("*compare.json")):
        try:
            obj = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        rows = obj.get("rows") or []
        if not any(r.get("run") == run_path.name for r in rows):
            continue
        cols = {"run": "run", "method": "method", "seed": "seed", "steps": "steps", "final_loss_sft": "final SFT loss",
                "latent_ari": "latent ARI", "id_avg": "ID avg", "id_avg_lo": "ID lo", "id_avg_hi": "ID hi",
                "ood_avg": "OOD avg", "ood_avg_lo": "OOD lo", "ood_avg_hi": "OOD hi", "forgetting": "forgetting"}
        table = pd.DataFrame(rows).reindex(columns=list(cols)).rename(columns=cols)
        if table["seed"].isna().all():  # a comparison from before seeds
            table = table.drop(columns=["seed"])
        for c in ("ID avg", "ID lo", "ID hi", "OOD avg", "OOD lo", "OOD hi", "forgetting"):
            table[c] = pd.to_numeric(table[c], errors="coerce") * 100.0
        paired, reference = _paired_block(obj, run_path.name)
        diffs = difference_frame(paired)
        diffs = diffs[diffs["benchmark"].isin(["ID avg", "OOD avg"])].reset_index(drop=True)
        diffs.attrs["reference"] = reference
        return table, diffs
    return None


def likelihood_frame(blocks: dict[str, dict]) -> pd.DataFrame:
    """model, benchmark, mean, lo, hi of the answer log-likelihood (nats) from summary blocks."""
    rows = []
    for model, blk in blocks.items():
        for b, e in ((blk or {}).get("benchmarks") or {}).items():
            lp = e.get("answer_logp") if isinstance(e, dict) else None
            if isinstance(lp, dict) and lp.get("mean") is not None:
                rows.append({"model": model, "benchmark": b, "mean": lp["mean"], "lo": lp["ci"][0], "hi": lp["ci"][1]})
    return pd.DataFrame(rows, columns=["model", "benchmark", "mean", "lo", "hi"])


METRIC_LABELS = {"acc_norm": "acc_norm", "acc": "acc", "letter_correct": "letter", "correct": "generated",
                 "option_correct": "option (old)"}


def primary_labels(summaries: dict[str, dict]) -> dict[str, str]:
    """{benchmark: label of its primary metric} over the summaries (what each accuracy column measures)."""
    out: dict[str, str] = {}
    for obj in summaries.values():
        for b, e in ((obj or {}).get("benchmarks") or {}).items():
            if isinstance(e, dict) and e.get("primary"):
                out.setdefault(b, METRIC_LABELS.get(e["primary"], e["primary"]))
    return out


def metric_frame(blocks: dict[str, dict]) -> pd.DataFrame:
    """model, benchmark, metric, accuracy, lo, hi (percent), n, primary: every accuracy metric of the benchmarks
    that have several (the choice benchmarks: acc_norm, acc, letter, generated); older evaluations' option ranking
    appears as 'option (old)'."""
    rows = []
    for model, blk in blocks.items():
        for b, e in ((blk or {}).get("benchmarks") or {}).items():
            if not isinstance(e, dict):
                continue
            ms = dict(e.get("metrics") or {})
            if isinstance(e.get("option_accuracy"), dict):
                ms.setdefault("option_correct", e["option_accuracy"])
            if len(ms) < 2 and "option_correct" not in ms:
                continue
            for m, o in ms.items():
                rows.append({"model": model, "benchmark": b, "metric": METRIC_LABELS.get(m, m),
                             "accuracy": 100 * o["accuracy"], "lo": 100 * o["ci"][0], "hi": 100 * o["ci"][1],
                             "n": o.get("n"), "primary": m == e.get("primary")})
    return pd.DataFrame(rows, columns=["model", "benchmark", "metric", "accuracy", "lo", "hi", "n", "primary"])


def rationale_frame(blocks: dict[str, dict]) -> pd.DataFrame:
    """model, perspective, mean, lo, hi of the heldout rationale loss (nats/token)."""
    rows = []
    for model, blk in blocks.items():
        ce = (((blk or {}).get("benchmarks") or {}).get("heldout") or {}).get("rationale_ce") or {}
        for p, v in ce.items():
            rows.append({"model": model, "perspective": p, "mean": v["mean"], "lo": v["ci"][0], "hi": v["ci"][1]})
    return pd.DataFrame(rows, columns=["model", "perspective", "mean", "lo", "hi"])


def model_blocks(summaries: dict[str, dict]) -> dict[str, dict]:
    """{label: summary block} for every run and its base student (one base per student)."""
    out: dict[str, dict] = {}
    for name, obj in summaries.items():
        out[name] = obj
        if isinstance(obj.get("base"), dict):
            out.setdefault(f"base {obj.get('student', 'student')}", obj["base"])
    return out


def forgetting_frame(summaries: dict[str, dict]) -> pd.DataFrame:
    """run, benchmark ("OOD avg" or an OOD benchmark), metric, diff, lo, hi, p, significant: after minus before
    (accuracy in points, answer log-likelihood in nats); from summaries written by ``mind eval`` with intervals."""
    rows = []
    metrics = (("accuracy", 100.0, "accuracy (points)"), ("answer_logp", 1.0, "answer log-lik (nats)"))
    for name, obj in summaries.items():
        fg = obj.get("forgetting_detail") or {}
        parts = [("OOD avg", fg)] + list((fg.get("benchmarks") or {}).items())
        for bench, block in parts:
            for metric, scale, label in metrics:
                d = (block or {}).get(metric)
                if d and d.get("diff") is not None:
                    lo, hi = d["ci"]
                    rows.append({"run": name, "benchmark": bench, "metric": label, "diff": scale * d["diff"],
                                 "lo": None if lo is None else scale * lo, "hi": None if hi is None else scale * hi,
                                 "p": d.get("p"), "significant": bool(d.get("significant"))})
    return pd.DataFrame(rows, columns=["run", "benchmark", "metric", "diff", "lo", "hi", "p", "significant"])


# ------------------------------------------------------------------------------------------------ the Evaluate job

def eval_progress(log_text: str) -> tuple[float, str]:
    """(fraction 0-1, label) of a running ``mind eval`` from its log: the newest tqdm line, e.g.
    ``[2/4] generate base tiny:  40%|...| 4/10 [...]`` gives (0.4, "[2/4] generate base tiny: 4/10 items")."""
    import re

    line = logs.last_progress_line(log_text)
    m = re.search(r"^(.*?):\s*\d+%\|.*?\|\s*(\d+)/(\d+)", line)
    if not m:
        return 0.0, line[:120] or "starting: loading the student..."
    done, total = int(m.group(2)), int(m.group(3))
    return (done / total if total else 0.0), f"{m.group(1).strip()}: {done}/{total} items"


def heldout_runs(paths) -> bool:
    """Whether every run in ``paths`` holds out training problems (so ``heldout`` can be evaluated)."""
    from mind.run import load_run

    try:
        return all(load_run(p).config.get("heldout_ids") for p in paths)
    except Exception:  # noqa: BLE001 - a corrupt run simply does not offer heldout
        return False
