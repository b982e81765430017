"""The evaluation as plain-text tables: the paper's main table (ID benchmarks | OOD benchmarks | averages, one row per
model) with 95% intervals, the teacher-forced metrics, forgetting and paired comparisons between runs.

Accuracies are in percent, each benchmark's primary metric (mind.evaluation.compare: acc_norm, the harness's option
scoring, for CSQA / StrategyQA / GPQA; the generated answer for the others); a benchmark that was not evaluated shows
``-``. With intervals a cell reads ``12.5 [5.1,27.0]`` (Wilson, for a benchmark and for the pooled ID / OOD
averages, which weigh every item the same). The paper's rows (Qwen2.5-7B-Instruct student, generated accuracy;
GUIDE.md section 1) come last, under a rule, as a reference. In comparisons ``*`` marks a difference whose p-value is
below 0.05 (the adjusted p-value where a table says so).
"""

from __future__ import annotations

import math

ID_BENCHMARKS = ("math500", "gsm8k", "svamp", "heldout")
OOD_BENCHMARKS = ("csqa", "strategyqa", "gpqa")
TITLES = {"math500": "MATH500", "gsm8k": "GSM8K", "svamp": "SVAMP", "heldout": "Heldout", "csqa": "CSQA",
          "strategyqa": "StrategyQA", "gpqa": "GPQA-D"}
ALPHA = 0.05

# The paper's main table, accuracy in percent.
PAPER_ROWS: dict[str, dict[str, float]] = {
    "paper: MIND (Qwen2.5-7B-Instruct)": {"math500": 82.63, "gsm8k": 94.92, "svamp": 94.31,
                                          "csqa": 83.98, "strategyqa": 70.74, "gpqa": 41.10},
    "paper: base Qwen2.5-7B-Instruct": {"math500": 77.20, "gsm8k": 92.36, "svamp": 90.33,
                                        "csqa": 83.45, "strategyqa": 68.68, "gpqa": 30.30},
}


def averages(acc: dict[str, float]) -> tuple[float | None, float | None]:
    """(ID average, OOD average) over the benchmarks present in ``acc``, each benchmark alike (the paper's rows,
    which have no items to pool); None where none is present."""
    ids = [acc[b] for b in ID_BENCHMARKS if acc.get(b) is not None]
    ood = [acc[b] for b in OOD_BENCHMARKS if acc.get(b) is not None]
    return (sum(ids) / len(ids) if ids else None, sum(ood) / len(ood) if ood else None)


def _pct(v) -> float | None:
    return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else 100.0 * v


def summary_rows(summary: dict, label: str) -> dict[str, dict[str, float]]:
    """Table rows (percent) from a ``summary.json`` dict: the model's row and, when present, its base student's."""
    def row(block: dict) -> dict[str, float]:
        out = {b: 100.0 * v["accuracy"] for b, v in (block.get("benchmarks") or {}).items()
               if isinstance(v, dict) and v.get("accuracy") is not None}
        for k in ("id_avg", "ood_avg"):
            out[k] = None if block.get(k) is None else 100.0 * block[k]
        return out

    rows = {label: row(summary)}
    if isinstance(summary.get("base"), dict):
        rows[f"base {summary.get('student', 'student')}"] = row(summary["base"])
    return rows


def summary_intervals(summary: dict, label: str) -> dict[str, dict[str, tuple[float, float]]]:
    """95% intervals in percent, keyed like :func:`summary_rows` (benchmarks, and ``id_avg``/``ood_avg``)."""
    def ivals(block: dict) -> dict[str, tuple[float, float]]:
        out = {b: tuple(100.0 * x for x in v["ci"]) for b, v in (block.get("benchmarks") or {}).items()
               if isinstance(v, dict) and v.get("ci") and None not in v["ci"]}
        for k in ("id_avg", "ood_avg"):
            ci = block.get(f"{k}_ci")
            if ci and None not in ci:
                out[k] = (100.0 * ci[0], 100.0 * ci[1])
        return out

    rows = {label: ivals(summary)}
    if isinstance(summary.get("base"), dict):
        rows[f"base {summary.get('student', 'student')}"] = ivals(summary["base"])
    return rows


def grid(header: list[str], rows: list[list[str]], groups: list[int] | None = None) -> str:
    """A fixed-width text table; the first column is left-aligned, the others right-aligned, and ``groups`` (sizes
    of the column groups after the first column) are separated by ``|``."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    groups = groups or [len(header) - 1]

    def line(cells: list[str]) -> str:
        out, i = [cells[0].ljust(widths[0])], 1
        for g in groups:
            out.append("  ".join(c.rjust(w) for c, w in zip(cells[i:i + g], widths[i:i + g])))
            i += g
        return " | ".join(out)

    head = line(header)
    return "\n".join([head, "-" * len(head), *(line(r) for r in rows)])


def _cell(v, ci=None, digits: int = 1) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    if ci is None or any(x is None or not math.isfinite(x) for x in ci):
        return f"{v:.{digits}f}"
    return f"{v:.{digits}f} [{ci[0]:.{digits}f},{ci[1]:.{digits}f}]"


def format_table(rows: dict[str, dict[str, float]], reference: bool = True,
                 intervals: dict[str, dict[str, tuple[float, float]]] | None = None,
                 n: dict[str, int] | None = None) -> str:
    """Rows of {benchmark: accuracy %} as a fixed-width text table laid out like the paper's main table.

    ``intervals`` ({row: {benchmark or id_avg/ood_avg: (lo, hi) %}}) adds 95% intervals to the cells; ``n``
    ({benchmark: items}) puts the number of items in the column headers. The Heldout column appears when a row has it.
    """
    ids = [b for b in ID_BENCHMARKS if b != "heldout" or any("heldout" in r for r in rows.values())]
    cols = [*ids, *OOD_BENCHMARKS]
    heads = [TITLES[c] + (f" n={n[c]}" if n and c in n else "") for c in cols] + ["ID avg", "OOD avg"]
    all_rows = list(rows.items()) + (list(PAPER_ROWS.items()) if reference else [])
    digits = 1 if intervals else 2

    def cells(name: str, acc: dict[str, float]) -> list[str]:
        iv = (intervals or {}).get(name, {})
        vals = [_cell(acc.get(c), iv.get(c), digits) for c in cols]
        id_avg, ood_avg = (acc["id_avg"], acc["ood_avg"]) if "id_avg" in acc else averages(acc)
        return [name, *vals, _cell(id_avg, iv.get("id_avg"), digits), _cell(ood_avg, iv.get("ood_avg"), digits)]

    body = [cells(name, acc) for name, acc in all_rows]
    text = grid(["model", *heads], body, [len(ids), len(OOD_BENCHMARKS), 2])
    if reference and rows:  # a rule above the paper's reference rows
        lines = text.split("\n")
        k = 2 + len(rows)
        text = "\n".join(lines[:k] + [lines[1]] + lines[k:])
    return text


# ------------------------------------------------------------------------------------------------ likelihoods


def format_likelihood(blocks: dict[str, dict]) -> str:
    """Mean answer log-likelihood (nats, 95% bootstrap interval) per benchmark and pooled, one row per model
    (``blocks``: {label: summary block})."""
    blocks = {k: v for k, v in blocks.items() if isinstance(v, dict)}
    benches = list(dict.fromkeys(b for blk in blocks.values() for b, e in blk.get("benchmarks", {}).items()
                                 if "answer_logp" in e))
    if not benches:
        return ""
    header = ["model", *(TITLES.get(b, b) for b in benches), "ID avg", "OOD avg"]
    rows = []
    for label, blk in blocks.items():
        e = blk.get("benchmarks", {})
        row = [label, *(_cell(e.get(b, {}).get("answer_logp", {}).get("mean"), e.get(b, {}).get("answer_logp", {}).get("ci"), 2)
                        for b in benches)]
        for g in ("id", "ood"):
            x = blk.get(f"{g}_answer_logp") or {}
            row.append(_cell(x.get("mean"), x.get("ci"), 2))
        rows.append(row)
    return grid(header, rows, [len(benches), 2])


METRIC_TITLES = {"acc_norm": "acc_norm", "acc": "acc", "letter_correct": "letter", "correct": "generated",
                 "option_correct": "option (old)"}


def format_metrics(blocks: dict[str, dict]) -> str:
    """Every accuracy metric (%, Wilson) of the benchmarks that have more than one, a row per (model, benchmark);
    the primary one is marked with ``>``."""
    rows, cols = [], [m for m in METRIC_TITLES]
    used: set[str] = set()
    for label, blk in blocks.items():
        if not isinstance(blk, dict):
            continue
        for b, e in blk.get("benchmarks", {}).items():
            ms = e.get("metrics") or {}
            if len(ms) < 2:
                continue
            used |= set(ms)
            rows.append((label, b, e.get("primary"), ms))
    if not rows:
        return ""
    cols = [m for m in cols if m in used]
    body = [[label, TITLES.get(b, b), *((">" if m == prim else "") + _cell(_pct(ms[m]["accuracy"]),
                                                                          [100 * c for c in ms[m]["ci"]])
                                        if m in ms else "-" for m in cols)] for label, b, prim, ms in rows]
    return grid(["model", "benchmark", *(METRIC_TITLES[m] for m in cols)], body, [1, len(cols)])


def format_rationale(blocks: dict[str, dict]) -> str:
    """Per-perspective rationale cross-entropy on the heldout problems (nats per token, 95% bootstrap interval)."""
    ce = {label: blk["benchmarks"]["heldout"]["rationale_ce"] for label, blk in blocks.items()
          if isinstance(blk, dict) and "rationale_ce" in blk.get("benchmarks", {}).get("heldout", {})}
    if not ce:
        return ""
    persp = list(dict.fromkeys(p for v in ce.values() for p in v))
    rows = [[label, *(_cell(v.get(p, {}).get("mean"), v.get(p, {}).get("ci"), 3) for p in persp)] for label, v in ce.items()]
    return grid(["model", *persp], rows)


# ------------------------------------------------------------------------------------------------ differences


def diff_cell(d: dict | None, scale: float = 1.0, digits: int = 1) -> str:
    """``+3.1 [-2.0,8.4] p=0.21*`` from a :meth:`mind.evaluation.stats.Difference.to_json` dict; with a Holm-adjusted
    p (``p_holm``) ``p=0.012 holm=0.11`` and ``*`` marks the adjusted one; a resampling p at its floor reads
    ``p<0.0002``."""
    from mind.evaluation.stats import format_p

    if not d or d.get("diff") is None:
        return "-"
    lo, hi = d["ci"]
    ci = "" if lo is None or hi is None else f" [{scale * lo:+.{digits}f},{scale * hi:+.{digits}f}]"
    p = d.get("p")
    if p is None:
        return f"{scale * d['diff']:+.{digits}f}{ci}"
    shown = format_p(p, d.get("p_floor")).replace("< ", "<")
    text = f"{scale * d['diff']:+.{digits}f}{ci} p{'' if shown.startswith('<') else '='}{shown}"
    decisive = p
    if d.get("p_holm") is not None:
        h = d["p_holm"]
        text += f" holm{'<=' if d.get('p_holm_bound') else '='}{h:.3g}"
        decisive = h
    return text + ("*" if decisive < ALPHA else "")


def format_forgetting(label: str, fg: dict | None) -> str:
    """One line: OOD average after minus before, on accuracy (points) and answer log-likelihood (nats)."""
    if not fg:
        return ""
    parts = []
    if fg.get("accuracy"):
        parts.append(f"accuracy (points) {diff_cell(fg['accuracy'], 100)}")
    if fg.get("answer_logp"):
        parts.append(f"answer log-lik (nats) {diff_cell(fg['answer_logp'], 1, 3)}")
    return f"{label}: forgetting (OOD avg, after - before): " + "; ".join(parts)


def format_paired(ref_label: str, comparisons: dict[str, dict]) -> str:
    """Each run minus the reference run, per benchmark and pooled over the ID/OOD items: the primary accuracy
    (points; Newcombe interval, McNemar exact p; its metric named), the generated accuracy where it is not the
    primary one, and the answer log-likelihood (nats; paired bootstrap)."""
    header = ["run - " + ref_label, "benchmark", "n", "metric", "accuracy (points)", "generated (points)",
              "answer log-lik (nats)"]
    rows = []
    for label, comp in comparisons.items():
        for b, e in comp.get("benchmarks", {}).items():
            gen = (e.get("metrics") or {}).get("correct") if e.get("primary") != "correct" else None
            rows.append([label, TITLES.get(b, b), str(e.get("n", "")), METRIC_TITLES.get(e.get("primary"), "-"),
                         diff_cell(e.get("accuracy"), 100), diff_cell(gen, 100), diff_cell(e.get("answer_logp"), 1, 3)])
        for g in ("id", "ood"):
            e = comp.get(g) or {}
            if e:
                rows.append([label, f"{g.upper()} pooled", str((e.get("accuracy") or {}).get("n", "")), "primary",
                             diff_cell(e.get("accuracy"), 100), "", diff_cell(e.get("answer_logp"), 1, 3)])
    return grid(header, rows, [len(header) - 1]) if rows else ""


def format_paired_rationale(ref_label: str, comparisons: dict[str, dict]) -> str:
    """Rationale loss on heldout, each run minus the reference, per perspective (nats; negative = lower loss)."""
    rows = []
    persp: list[str] = []
    for comp in comparisons.values():
        persp += [p for p in comp.get("benchmarks", {}).get("heldout", {}).get("rationale_ce", {}) if p not in persp]
    for label, comp in comparisons.items():
        ce = comp.get("benchmarks", {}).get("heldout", {}).get("rationale_ce", {})
        if ce:
            rows.append([label, *(diff_cell(ce.get(p), 1, 3) for p in persp)])
    return grid(["run - " + ref_label, *persp], rows) if rows else ""
