"""The seed-level tables of a cached experiment, from the runs on disk, as JSON and as the README's Markdown.

    .venv/bin/python tools/experiment_report.py cached_runs            # SmolLM2 on the demo set
    .venv/bin/python tools/experiment_report.py cached_runs --markdown out.md
    .venv/bin/python tools/experiment_report.py cached_runs --prefix svamp-mt-  # the multi-teacher SVAMP part

Reads every evaluated ``<prefix><method>-s<seed>`` run of the folder (the methods and seeds of the recipe that are
there; nothing is trained or evaluated), writes ``<prefix>compare.json`` beside them with
``mind.experiment.compare``'s layout (rows, ``seed_level``: per-method aggregates and every method against
``mind`` with Holm over the whole table, ``paired``: item-paired differences within each seed, Holm over their
own family), and prints the Markdown tables: one row per run, the per-method means over seeds, the differences
against ``mind``, the seed-to-seed yardstick, MetaNet's tracking, selection and inertia lag, the latent
clusters, and the option each choice benchmark's scoring picks most often. Every number in cached_runs/README.md's
tables is printed by this script.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

METANET_METHODS = ("mind", "instant", "instant-fast", "no-attention")  # TrainConfig.uses_metanet
ORDER = ("gsm8k", "svamp", "math500", "heldout", "csqa", "strategyqa", "gpqa", "ID pooled", "OOD pooled")


def runs_in(folder: Path, prefix: str, methods: tuple[str, ...]) -> dict[tuple[str, int], Path]:
    found = {}
    for d in sorted(folder.glob(f"{prefix}*-s*/")):
        m = re.fullmatch(re.escape(prefix) + r"(.+)-s(\d+)", d.name)
        if m and m.group(1) in methods and (d / "eval" / "items.jsonl").is_file():
            found[(m.group(1), int(m.group(2)))] = d
    return found


def fmt_p(test: dict) -> str:
    p = test.get("p_holm")
    if p is None:
        return ""
    return f"< {min(p, 1.0):.3f}" if test.get("p_holm_bound") else f"{min(p, 1.0):.2f}"


def fmt_diff(test: dict, digits: int) -> str:
    lo, hi = test["ci"]
    star = "*" if test.get("significant") else ""
    return f"{test['diff']:+.{digits}f} [{lo:+.{digits}f}, {hi:+.{digits}f}]{star}"


def markdown(table: dict, rows: dict[tuple[str, int], dict], methods: tuple[str, ...]) -> str:
    lines = []
    agg = table["aggregate"]
    targets = [t for t in ORDER if any(t in a["targets"] for a in agg.values())]
    pools = [g for g in ("ID pooled", "OOD pooled") if g in targets]  # the pooled answer log-likelihood columns
    heads = " | ".join(f"{g.split()[0]} log-lik" for g in pools)
    lines.append("Per run: the primary accuracy of each benchmark (generated for gsm8k/svamp/math500/heldout, "
                 "acc_norm over the options for csqa/strategyqa/gpqa), then the pooled answer log-likelihood.\n")
    lines.append("| run | " + " | ".join(targets) + f" | {heads} |")
    lines.append("|---|" + "---|" * (len(targets) + len(pools)))
    for (m, s), row in sorted(rows.items(), key=lambda kv: (methods.index(kv[0][0]), kv[0][1])):
        a = agg[m]
        i = a["seeds"].index(s)
        cells = [f"{a['targets'][t]['accuracy']['per_seed'][i]:.2f}" if t in a["targets"] and "accuracy" in a["targets"][t]
                 else "" for t in targets]
        ll = [f"{a['targets'][g]['answer_logp']['per_seed'][i]:.2f}" if g in a["targets"] else "" for g in pools]
        lines.append(f"| {row['run']} | " + " | ".join(cells) + " | " + " | ".join(ll) + " |")
    lines.append("")
    lines.append("Per method, mean over seeds [t-interval over the per-seed scores; a single seed has none]:\n")
    lines.append("| method | seeds | " + " | ".join(targets) + f" | {heads} |")
    lines.append("|---|---|" + "---|" * (len(targets) + len(pools)))

    def cell(e: dict, digits: int) -> str:
        lo, hi = e["t_ci"]
        band = "" if (lo is None or (isinstance(lo, float) and math.isnan(lo))) else f" [{lo:.{digits}f}, {hi:.{digits}f}]"
        return f"{e['mean']:.{digits}f}{band}"

    for m in methods:
        if m not in agg:
            continue
        a = agg[m]
        cells = [cell(a["targets"][t]["accuracy"], 2) if t in a["targets"] and "accuracy" in a["targets"][t] else ""
                 for t in targets]
        ll = [cell(a["targets"][g]["answer_logp"], 2) if g in a["targets"] else "" for g in pools]
        lines.append(f"| {m} | {len(a['seeds'])} | " + " | ".join(cells) + " | " + " | ".join(ll) + " |")
    lines.append("")
    ref = table["reference"]
    lines.append(f"Each method minus {ref}, items paired within a seed, on the seeds both have: mean difference "
                 f"[95% two-level bootstrap, seeds then items], Holm-adjusted p over the {table['family_size']} tests "
                 f"of this table (* : Holm p < 0.05; '< x': the raw p is at the bootstrap floor 1/(B+1), so the "
                 f"adjusted value is a bound). With two or three seeds the seed level of the bootstrap is coarse; "
                 f"the per-seed differences are listed so that their agreement can be read directly.\n")
    lines.append("| method | seeds | target | accuracy | Holm p | answer log-lik (nats) | Holm p | log-lik per seed |")
    lines.append("|---|---|---|---|---|---|---|---|")
    for m in methods:
        comp = table["comparisons"].get(m)
        if not comp:
            continue
        for t in ORDER:
            e = comp["targets"].get(t)
            if not e:
                continue
            acc, ll = e.get("accuracy"), e.get("answer_logp")
            lines.append(f"| {m} | {len(comp['seeds'])} | {t} | {fmt_diff(acc, 2) if acc else ''} | "
                         f"{fmt_p(acc) if acc else ''} | {fmt_diff(ll, 2) if ll else ''} | {fmt_p(ll) if ll else ''} | "
                         + (", ".join(f"{v:+.2f}" for v in ll["per_seed"]) if ll else "") + " |")
    return "\n".join(lines) + "\n"


def metanet_runs(runs: dict[tuple[str, int], Path]) -> list:
    """The runs (``mind.run.Run``) of the methods that train a MetaNet, seed by seed (the tracking and selection
    tables' rows)."""
    from mind import load_run

    loaded = (load_run(d) for _, d in sorted(runs.items(), key=lambda kv: (kv[0][1], kv[0][0])))
    return [run for run in loaded if run.config.get("method") in METANET_METHODS]


def tracking_markdown(runs: dict[tuple[str, int], Path]) -> str:
    """One row per MetaNet run: MetaNet's tracking (Spearman rho(s, -L~) per problem, mean over problems) against the
    perspective-mean baseline at the calibration pass (before step 1), in epoch 3, on the held-out problems at
    the last snapshot; the whole-epoch curriculum shift after warm-up; epoch 3's largest mean weights."""
    from mind.analysis.tracking import tracking_report

    def f(e) -> str:
        return f"{e['mean']:.3f}" if e and e.get("mean") is not None else "-"

    lines = ["| run | calibration rho (baseline) | epoch 3 rho (baseline) | held-out rho, last snapshot (baseline) | "
             "shift 1->2, 2->3 | epoch-3 weights |", "|---|---|---|---|---|---|"]
    for run in metanet_runs(runs):
        r = tracking_report(run)
        c, last = r.get("calibration") or {}, (r["epochs"] or [{}])[-1]
        held = r["heldout"][-1] if r["heldout"] else {}
        shifts = r.get("epoch_shift") or []
        top = sorted((shifts[-1]["weights"] if shifts else {}).items(), key=lambda kv: -kv[1])[:4]
        lines.append(f"| {run.name} | {f(c.get('meta'))} ({f(c.get('baseline'))}) | {f(last.get('meta'))} "
                     f"({f(last.get('baseline'))}) | {f(held.get('meta'))} ({f(held.get('baseline'))}) | "
                     + ", ".join(f"{x['shift']:.3f}" for x in shifts) + " | "
                     + ", ".join(f"{k} {v:.2f}" for k, v in top) + " |")
    return "\n".join(lines) + "\n"


def seed_noise_markdown(runs: dict[tuple[str, int], Path], methods: tuple[str, ...]) -> str:
    """For each method with several seeds: seed s minus seed 0 of the same method, items paired, pooled answer
    log-likelihood (unadjusted, a yardstick, not a test): how far two checkpoints of one method lie apart."""
    from mind.evaluation.items import read_items
    from mind.evaluation.seeds import difference

    lines = []
    for m in methods:
        seeds = sorted(s for mm, s in runs if mm == m)
        for s in seeds[1:]:
            d = difference({0: read_items(runs[(m, 0)] / "eval")}, {0: read_items(runs[(m, s)] / "eval")})["targets"]
            cells = [f"{g} {d[g]['answer_logp']['diff']:+.2f} [{d[g]['answer_logp']['ci'][0]:+.2f}, "
                     f"{d[g]['answer_logp']['ci'][1]:+.2f}]" for g in ("ID pooled", "OOD pooled") if g in d]
            lines.append(f"- {m}-s{s} minus {m}-s0, answer log-likelihood (nats): " + "; ".join(cells))
    return "\n".join(lines) + ("\n" if lines else "")


def latent_markdown(runs: dict[tuple[str, int], Path]) -> str:
    """One row per run: the DP mixture's ARI against the perspective labels on the probe rationales' problem-centred
    hidden states at each snapshot (``analysis/metrics.json``), and on the same texts' Sentence-BERT embeddings
    (``analysis/summary.json``'s text view, the style a text encoder sees without training)."""
    from mind.analysis import load_analysis

    analysed = {k: a[0].set_index("step")["ari"] for k, d in runs.items() if (a := load_analysis(d)) is not None}
    steps = sorted({int(s) for ari in analysed.values() for s in ari.index})
    lines = ["| run | " + " | ".join(f"step {s}" for s in steps) + " | text (Sentence-BERT) |",
             "|---|" + "---|" * (len(steps) + 1)]
    for k, ari in sorted(analysed.items(), key=lambda kv: (kv[0][0] != "mind", kv[0])):
        d = runs[k]
        summary = d / "analysis" / "summary.json"
        text = (json.loads(summary.read_text()).get("text") or {}) if summary.is_file() else {}
        text_cell = f"{text['ari']:.2f}" if "ari" in text else "-"
        lines.append(f"| {d.name} | " + " | ".join(f"{ari[s]:.2f}" if s in ari.index else "-" for s in steps)
                     + f" | {text_cell} |")
    return "\n".join(lines) + "\n"


def curriculum_markdown(runs: dict[tuple[str, int], Path]) -> str:
    """One row per MetaNet run: rationales kept per problem (``n_selected``, of 8) and the inertia lag, L~ minus
    L_real averaged over the perspectives (``loss_filtered/*`` minus ``loss_raw/*``), as means over each whole
    epoch after MetaNet's warm-up (:func:`mind.analysis.tracking.whole_epochs`, as the tracking table)."""
    from mind.analysis.tracking import whole_epochs

    lines = ["| run | kept / 8 per epoch | L~ - L_real (nats) per epoch |", "|---|---|---|"]
    for run in metanet_runs(runs):
        steps = run.steps
        lag = (steps[[f"loss_filtered/{p}" for p in run.perspectives]].to_numpy()
               - steps[[f"loss_raw/{p}" for p in run.perspectives]].to_numpy()).mean(axis=1)
        steps = steps.assign(lag=lag)
        warmup = int(run.config.get("meta_warmup_steps") or 0)
        epochs = [steps[(steps["step"] >= lo) & (steps["step"] <= hi)] for _, lo, hi in whole_epochs(steps, warmup)]
        lines.append(f"| {run.name} | " + ", ".join(f"{e['n_selected'].mean():.1f}" for e in epochs) + " | "
                     + ", ".join(f"{e['lag'].mean():+.2f}" for e in epochs) + " |")
    return "\n".join(lines) + "\n"


def picks_markdown(runs: dict[tuple[str, int], Path]) -> str:
    """One row per run (and the base student, from the first run's ``eval/base_likelihoods.jsonl``): for each
    likelihood-scored choice benchmark, the option ``acc`` (total log-likelihood) picks most often and on what share
    of the items, then the same for ``acc_norm`` (per character); the header gives the most common gold answer's
    share. A share near 1.00 is a constant answer, and an accuracy equal to the gold share is then no skill."""
    from collections import Counter

    from mind.evaluation.items import choice_records, constant_answers, option_label

    def cells(path: Path) -> dict[str, str]:
        out = {}
        for b, recs in choice_records(path).items():
            tops = [Counter(r[key] for r in recs).most_common(1)[0] for key in ("plain_pred", "plain_pred_norm")]
            out[b] = " / ".join(f"{option_label(recs[0], i)} {n / len(recs):.2f}" for i, n in tops)
        return out

    rows = {d.name: cells(d / "eval" / "likelihoods.jsonl") for _, d in sorted(runs.items(), key=lambda kv: (
        kv[0][0] != "mind", kv[0]))}
    first = runs[min(runs)] / "eval"
    gold = constant_answers(first / "likelihoods.jsonl")
    benches = [b for b in ORDER if b in gold]
    if not benches:
        return ""
    if (first / "base_likelihoods.jsonl").is_file():
        rows = {"base student": cells(first / "base_likelihoods.jsonl"), **rows}
    head = [f"{b} (gold: {gold[b]['answer']} {gold[b]['majority']:.2f})" for b in benches]
    lines = ["| run | " + " | ".join(head) + " |", "|---|" + "---|" * len(benches)]
    lines += [f"| {name} | " + " | ".join(c.get(b, "-") for b in benches) + " |" for name, c in rows.items()]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", type=Path, help="the experiment's folder (e.g. cached_runs)")
    ap.add_argument("--prefix", default="smollm2-", help="run-name prefix (smollm2-, svamp-mt-)")
    ap.add_argument("--markdown", type=Path, help="also write the tables to this file")
    ap.add_argument("--json", type=Path, help="write the JSON here instead of <folder>/<prefix>compare.json")
    args = ap.parse_args(argv)

    from mind.commands.experiment import CACHED_METHODS, CACHED_MT_METHODS
    from mind.experiment import paired_within_seeds, seed_table, summarize
    from mind.run.jsonl import write_json_atomic

    methods = CACHED_MT_METHODS if args.prefix == "svamp-mt-" else CACHED_METHODS
    runs = runs_in(args.folder, args.prefix, methods)
    if not runs:
        print(f"error: no evaluated {args.prefix}<method>-s<seed> run in {args.folder}; run `make cached-runs` "
              f"or pass the folder that holds them", file=sys.stderr)
        return 2
    present = tuple(m for m in methods if any(k[0] == m for k in runs))
    rows = {k: {**summarize(d), "seed": k[1]} for k, d in runs.items()}
    table = seed_table(runs, present)
    paired = paired_within_seeds(runs, present)
    write_json_atomic(args.json or args.folder / f"{args.prefix}compare.json", {
        "methods": list(present), "seeds": {m: sorted(s for mm, s in runs if mm == m) for m in present},
        "rows": [rows[k] for k in sorted(rows, key=lambda k: (k[1], present.index(k[0])))],
        "seed_level": table, "paired": paired})
    text = (markdown(table, rows, present) + "\nThe same method at another seed (a yardstick for the differences above, "
            "unadjusted):\n\n" + seed_noise_markdown(runs, present) + "\nMetaNet tracking per run:\n\n"
            + tracking_markdown(runs) + "\nSelection and inertia per MetaNet run (epoch means):\n\n"
            + curriculum_markdown(runs) + "\nLatent clusters per run (ARI against the perspective labels, 64 probe "
            "rationales, problem-centred):\n\n" + latent_markdown(runs))
    picks = picks_markdown(runs)
    if picks:
        text += ("\nThe option each choice benchmark's scoring picks most often, and on what share of the items "
                 "(acc / acc_norm):\n\n" + picks)
    print(text)
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
