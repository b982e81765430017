"""An experiment's seed-level results for the Evaluation page, read from its ``compare.json``.

``mind experiment compare --seeds 0,1,2`` (and the cached-runs recipe) trains runs named ``<prefix><method>-s<seed>``
and writes ``<prefix>compare.json`` beside them (mind/experiment.py): ``rows`` (one per run, with its ``method`` and
``seed``), ``seed_level`` (:func:`mind.evaluation.seeds.experiment_table`: per method the mean over seeds with a
two-level bootstrap interval and the per-seed scores; every method against the reference, items paired within a
seed, with Holm-adjusted p over the whole table) and ``paired`` (per seed, each run against the reference run of
that seed, item by item, Holm over every seed's tests). The run names are never parsed: the rows say which method
and seed each run is.

This module only reads and lays out: :func:`find` gives the experiments the chosen runs belong to,
:func:`aggregate_frame` / :func:`comparison_frame` the long tables the charts and tables draw, :func:`p_text` a
p-value as :func:`mind.evaluation.stats.format_p` prints it (``< 1/(B+1)`` at a bootstrap's floor).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from mind.evaluation.stats import format_p

METRICS = {"accuracy": ("accuracy", 100.0, "points"), "answer_logp": ("answer log-lik", 1.0, "nats")}
STAR = "★"


@dataclass
class Experiment:
    path: Path  # the compare.json
    reference: str  # the reference method
    methods: list[str]  # in the file's order
    runs: dict[str, tuple[str, int | None]] = field(default_factory=dict)  # run name -> (method, seed)
    seed_level: dict = field(default_factory=dict)
    paired: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.name.removesuffix(".json")

    def method_runs(self, method: str) -> list[str]:
        """The runs of ``method``, by seed."""
        return sorted((r for r, (m, _) in self.runs.items() if m == method),
                      key=lambda r: (self.runs[r][1] is None, self.runs[r][1] or 0, r))


def _read(path: Path) -> dict | None:
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


def load(path: str | Path) -> Experiment | None:
    """The experiment of one compare.json, or None when it has no seed-level results (an older comparison, or
    one not evaluated yet)."""
    path = Path(path)
    obj = _read(path)
    level = (obj or {}).get("seed_level") or {}
    if not isinstance(level, dict) or not level.get("aggregate"):
        return None
    runs = {}
    for r in obj.get("rows") or []:
        if isinstance(r, dict) and r.get("run"):
            seed = r.get("seed")
            runs[str(r["run"])] = (str(r.get("method")), int(seed) if isinstance(seed, (int, float)) else None)
    methods = [m for m in obj.get("methods") or [] if m in level["aggregate"]] or list(level["aggregate"])
    return Experiment(path, str(level.get("reference") or methods[0]), methods, runs, level,
                      obj.get("paired") if isinstance(obj.get("paired"), dict) else {})


def find(paths) -> list[Experiment]:
    """The seed-level experiments (``*compare.json`` beside a run) that name any of ``paths``, each once."""
    out: dict[Path, Experiment] = {}
    names_by_folder: dict[Path, set[str]] = {}
    for p in map(Path, paths):
        names_by_folder.setdefault(p.parent, set()).add(p.name)
    for folder, names in names_by_folder.items():
        for f in sorted(folder.glob("*compare.json")):
            exp = load(f)
            if exp is not None and names & set(exp.runs):
                out[f] = exp
    return list(out.values())


def _seeds_text(seeds) -> str:
    return ", ".join(str(s) for s in seeds) if seeds else "?"


def _num(v) -> float:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else math.nan


def aggregate_frame(exp: Experiment, metric: str = "accuracy") -> pd.DataFrame:
    """One row per (method, target) of ``metric``: mean over seeds, its two-level bootstrap interval (lo, hi), the
    t-interval over seeds (t_lo, t_hi), the per-seed values and seeds; accuracy in percent, log-likelihood in
    nats."""
    _, scale, _ = METRICS[metric]
    rows = []
    for method in exp.methods:
        agg = (exp.seed_level.get("aggregate") or {}).get(method) or {}
        seeds = list(agg.get("seeds") or [])
        for target, entry in (agg.get("targets") or {}).items():
            e = (entry or {}).get(metric)
            if not isinstance(e, dict):
                continue
            ci, tci = e.get("ci") or [None, None], e.get("t_ci") or [None, None]
            per_seed = [scale * _num(v) for v in e.get("per_seed") or []]
            rows.append({"method": method, "target": target, "mean": scale * _num(e.get("mean")),
                         "lo": scale * _num(ci[0]), "hi": scale * _num(ci[1]), "t_lo": scale * _num(tci[0]),
                         "t_hi": scale * _num(tci[1]), "per_seed": per_seed, "seeds": seeds[:len(per_seed)],
                         "seeds_text": _seeds_text(seeds), "n_items": e.get("n_items")})
    return pd.DataFrame(rows, columns=["method", "target", "mean", "lo", "hi", "t_lo", "t_hi", "per_seed", "seeds",
                                       "seeds_text", "n_items"])


def comparison_frame(exp: Experiment, metric: str = "accuracy") -> pd.DataFrame:
    """One row per (method, target) of ``metric``: the method minus the reference over the seeds both have (items
    paired within a seed), its interval, the raw and the Holm-adjusted p (over the whole table), whether the raw p
    sat at the bootstrap's floor, ``significant`` (Holm p < 0.05) and the per-seed differences."""
    _, scale, _ = METRICS[metric]
    rows = []
    for method, comp in (exp.seed_level.get("comparisons") or {}).items():
        seeds = list((comp or {}).get("seeds") or [])
        for target, entry in ((comp or {}).get("targets") or {}).items():
            d = (entry or {}).get(metric)
            if not isinstance(d, dict):
                continue
            ci = d.get("ci") or [None, None]
            per_seed = [scale * _num(v) for v in d.get("per_seed") or []]
            rows.append({"method": method, "reference": exp.reference, "target": target,
                         "diff": scale * _num(d.get("diff")), "lo": scale * _num(ci[0]), "hi": scale * _num(ci[1]),
                         "p": _num(d.get("p")), "p_floor": _num(d.get("p_floor")), "p_holm": _num(d.get("p_holm")),
                         "p_holm_bound": bool(d.get("p_holm_bound")), "significant": bool(d.get("significant")),
                         "per_seed": per_seed, "seeds": seeds[:len(per_seed)], "seeds_text": _seeds_text(seeds),
                         "n_items": d.get("n_items")})
    return pd.DataFrame(rows, columns=["method", "reference", "target", "diff", "lo", "hi", "p", "p_floor", "p_holm",
                                       "p_holm_bound", "significant", "per_seed", "seeds", "seeds_text", "n_items"])


def p_text(p: float, floor: float | None = None) -> str:
    """A raw p as :func:`mind.evaluation.stats.format_p` prints it ('< 0.0002' at the bootstrap's floor), '' when
    there is none (a blank cell, not 'None')."""
    if p is None or not math.isfinite(p):
        return ""
    return format_p(p, floor if floor is not None and math.isfinite(floor) else None)


def holm_text(p_holm: float, bound: bool) -> str:
    """A Holm-adjusted p; '< x' when the raw p was at its floor (then the adjusted value is only an upper bound)."""
    if p_holm is None or not math.isfinite(p_holm):
        return ""
    return f"< {p_holm:.3g}" if bound and p_holm < 1 else f"{p_holm:.3g}"


def comparison_table(frame: pd.DataFrame, metric: str = "accuracy") -> pd.DataFrame:
    """The comparisons of ``metric`` as the page's table: text cells, blank where a value is missing, the metric
    and its unit in their own column (so tables of several metrics stack), a star on the adjusted significance."""
    label, _, unit = METRICS[metric]

    def per_seed(r):
        return ", ".join(f"s{s}: {v:+.3g}" for s, v in zip(r["seeds"], r["per_seed"]))

    return pd.DataFrame({
        "method": frame["method"], "minus": frame["reference"], "target": frame["target"],
        "metric": f"{label} ({unit})",
        "difference": [f"{v:+.3g}" if math.isfinite(v) else "" for v in frame["diff"]],
        "95% interval": [f"[{a:+.3g}, {b:+.3g}]" if math.isfinite(a) and math.isfinite(b) else ""
                         for a, b in zip(frame["lo"], frame["hi"])],
        "per seed": [per_seed(r) for _, r in frame.iterrows()],
        "p": [p_text(p, f) for p, f in zip(frame["p"], frame["p_floor"])],
        "Holm p": [holm_text(p, b) for p, b in zip(frame["p_holm"], frame["p_holm_bound"])],
        STAR: [STAR if s else "" for s in frame["significant"]],
    })


def method_colours(exp: Experiment, run_colours: dict[str, str]) -> dict[str, str]:
    """{method: colour}: the colour of the method's first-seed run (the run palette, so ``mind`` here is the colour
    ``mind-s0`` has on every other page); a method whose runs are all unknown keeps the hash colour of its name."""
    from app.colors import run_colour

    out = {}
    for m in exp.methods:
        runs = exp.method_runs(m)
        out[m] = run_colours.get(runs[0]) if runs and runs[0] in run_colours else run_colour(runs[0] if runs else m)
    return out


def seed_paired(exp: Experiment) -> dict[str, dict]:
    """{seed: {"reference": run, "runs": {run: comparison}}} of the per-seed item-level comparisons (Holm over
    every seed's tests already applied by ``mind experiment compare``)."""
    seeds = (exp.paired or {}).get("seeds")
    return seeds if isinstance(seeds, dict) else {}


def pooled_sentence(exp: Experiment, metric: str = "accuracy") -> str:
    """One sentence on the pooled ID / OOD ``metric`` (accuracy in points, or the answer log-likelihood in nats) of
    every method against the reference over seeds, saying how many seeds and items each rests on and which survive
    Holm's correction (for How MIND works)."""
    label, _, unit = METRICS[metric]
    frame = comparison_frame(exp, metric)
    pooled = frame[frame["target"].str.endswith("pooled")]
    if not len(pooled):
        return ""
    family = exp.seed_level.get("family_size")
    digits = 1 if metric == "accuracy" else 2
    parts = []
    for r in pooled.itertuples():
        mark = f" {STAR}" if r.significant else ""
        parts.append(f"{r.method} {r.target}: {r.diff:+.{digits}f} {unit} [{r.lo:+.{digits}f}, {r.hi:+.{digits}f}] over "
                     f"{len(r.seeds)} seeds ({r.seeds_text}) x {r.n_items} items, Holm p {holm_text(r.p_holm, r.p_holm_bound)}{mark}")
    kept = int(pooled["significant"].sum())
    verdict = (f"{kept} of {len(pooled)} survive the correction ({STAR})" if kept else
               f"none of the {len(pooled)} survives the correction")
    what = "" if metric == "accuracy" else f" ({label}, higher is better)"
    return (f"Over training seeds, each method minus **{exp.reference}**{what} (items paired within a seed, Holm over the "
            f"{family} tests of the table): " + "; ".join(parts) + f". {verdict[0].upper()}{verdict[1:]}.")
