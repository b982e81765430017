"""The paper's main table as plain text: ID benchmarks | OOD benchmarks | averages, one row per model.

Accuracies are shown in percent with two decimals; a benchmark that was not evaluated shows ``-``. The paper's rows
(Qwen2.5-7B-Instruct student; GUIDE.md section 1) come last, under a rule, as a reference.
"""

from __future__ import annotations

ID_BENCHMARKS = ("math500", "gsm8k", "svamp")
OOD_BENCHMARKS = ("csqa", "strategyqa", "gpqa")
TITLES = {"math500": "MATH500", "gsm8k": "GSM8K", "svamp": "SVAMP", "csqa": "CSQA", "strategyqa": "StrategyQA",
          "gpqa": "GPQA-D"}

# The paper's main table, accuracy in percent.
PAPER_ROWS: dict[str, dict[str, float]] = {
    "paper: MIND (Qwen2.5-7B-Instruct)": {"math500": 82.63, "gsm8k": 94.92, "svamp": 94.31,
                                          "csqa": 83.98, "strategyqa": 70.74, "gpqa": 41.10},
    "paper: base Qwen2.5-7B-Instruct": {"math500": 77.20, "gsm8k": 92.36, "svamp": 90.33,
                                        "csqa": 83.45, "strategyqa": 68.68, "gpqa": 30.30},
}


def averages(acc: dict[str, float]) -> tuple[float | None, float | None]:
    """(ID average, OOD average) over the benchmarks present in ``acc``; None where none is present."""
    ids = [acc[b] for b in ID_BENCHMARKS if acc.get(b) is not None]
    ood = [acc[b] for b in OOD_BENCHMARKS if acc.get(b) is not None]
    return (sum(ids) / len(ids) if ids else None, sum(ood) / len(ood) if ood else None)


def summary_rows(summary: dict, label: str) -> dict[str, dict[str, float]]:
    """Table rows (percent) from a ``summary.json`` dict: the model's row and, when present, its base student's."""
    def row(block: dict) -> dict[str, float]:
        return {b: 100.0 * v["accuracy"] for b, v in (block.get("benchmarks") or {}).items()
                if isinstance(v, dict) and v.get("accuracy") is not None}

    rows = {label: row(summary)}
    if isinstance(summary.get("base"), dict):
        rows[f"base {summary.get('student', 'student')}"] = row(summary["base"])
    return rows


def format_table(rows: dict[str, dict[str, float]], reference: bool = True) -> str:
    """Rows of {benchmark: accuracy %} as a fixed-width text table laid out like the paper's main table."""
    cols = [*ID_BENCHMARKS, *OOD_BENCHMARKS]
    heads = [TITLES[c] for c in cols] + ["ID avg", "OOD avg"]
    all_rows = list(rows.items()) + (list(PAPER_ROWS.items()) if reference else [])
    width = max([len("model")] + [len(n) for n, _ in all_rows])

    def cells(acc: dict[str, float]) -> list[str]:
        vals = [acc.get(c) for c in cols] + list(averages(acc))
        return [f"{v:.2f}" if v is not None else "-" for v in vals]

    def line(name: str, values: list[str]) -> str:
        w = [max(len(h), 6) for h in heads]
        idp = "  ".join(v.rjust(x) for v, x in zip(values[:3], w[:3]))
        oodp = "  ".join(v.rjust(x) for v, x in zip(values[3:6], w[3:6]))
        avg = "  ".join(v.rjust(x) for v, x in zip(values[6:], w[6:]))
        return f"{name.ljust(width)} | {idp} | {oodp} | {avg}"

    header = line("model", heads)
    rule = "-" * len(header)
    out = [header, rule] + [line(n, cells(a)) for n, a in rows.items()]
    if reference:
        out += [rule] + [line(n, cells(a)) for n, a in PAPER_ROWS.items()]
    return "\n".join(out)
