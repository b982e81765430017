"""Evaluation: the paper-style ID / OOD table with 95% intervals (and the constant answers a choice accuracy must beat:
the commonest gold answer, chance), an experiment's methods over their training seeds (mean, interval, one dot per
seed; differences with Holm-adjusted p), paired comparisons of runs item by item (Holm over the table),
teacher-forced metrics, forgetting, an Evaluate button that runs `mind eval`, and the wrong answers. Every run keeps
its colour from app/colors.py; empty cells are blank."""

import os

import pandas as pd
import streamlit as st

from mind.errors import MindError
from app import colors, eval_charts, evaluation, loading, logs, seed_results, settings, ui

st.title("Evaluation")
st.caption("Accuracy (%) from `mind eval`, in-distribution (MATH500, GSM8K, SVAMP, the run's held-out problems) and "
           "out-of-distribution (CommonsenseQA, StrategyQA, GPQA-Diamond), with 95% intervals, next to the MIND "
           "paper's numbers for a 7B student.")

chosen = ui.choose_runs("Runs to compare", key="eval_runs", default_n=4, prefer=evaluation.default_runs)
if not chosen:
    st.stop()

summaries, missing = {}, []
for p in chosen:
    with ui.guard(p.name):
        loading.open_run(p)  # a corrupt run directory is reported, not skipped
        obj = evaluation.read_summary(p)
        if obj is None:
            missing.append(p)
        else:
            summaries[p.name] = (p, obj, evaluation.parse_summary(obj))
for p in missing:
    st.info(f"{p.name}: no evaluation yet — run `mind eval --run {p}`"
            + ("." if settings.read_only() else ", or press Evaluate below."))

# ------------------------------------------------------------------------------------------ the Evaluate job
registry = ui.registry()
eval_jobs = [j for j in registry.jobs() if j.kind == "eval" and j.run_path in chosen]
if not settings.read_only():  # a read-only dashboard offers no Evaluate form (access.require_actions)
    with st.expander("Evaluate the chosen runs (`mind eval`)", expanded=bool(missing) or any(j.running for j in eval_jobs)):
        offer = ["gsm8k", "svamp", "math500", "csqa", "strategyqa", "gpqa"]
        default = ["gsm8k", "svamp", "csqa", "strategyqa"]
        if evaluation.heldout_runs(chosen):
            offer, default = offer + ["heldout"], default + ["heldout"]
        with st.form("eval_form"):
            c1, c2, c3 = st.columns([3, 1, 1])
            benches = c1.multiselect("Benchmarks", offer, default=default, help="heldout: the runs' held-out training problems")
            limit = c2.number_input("Items per benchmark", 1, 100_000, 20, 1, help="the first N items of each benchmark")
            precision = c3.selectbox("Precision", ["auto", "fp32", "bf16"],
                                     help="auto: bf16 where this machine computes bf16 fast (AMX CPUs, GPUs), else fp32")
            base = st.checkbox("Also the base student (forgetting)", value=True)
            st.caption("Each run is compared with the first one item by item. An interrupted evaluation resumes where it "
                       "stopped when you press Evaluate again with the same settings.")
            submitted = st.form_submit_button("Evaluate", type="primary")
        if submitted:
            try:
                job = registry.start_eval(chosen, benches, int(limit), precision, base)
                st.session_state["eval_follow"] = str(job.run_path)
                eval_jobs = [job] + [j for j in eval_jobs if j is not job]
            except MindError as exc:
                st.error(str(exc))


@st.fragment(run_every=1.0 if any(j.running for j in eval_jobs) else None)
def follow_eval(run_path: str):
    j = ui.registry().get("eval", run_path)
    if j is None:
        return
    frac, label = evaluation.eval_progress(logs.read_tail(j.log_path))
    if j.running:
        st.progress(frac, text=f"mind eval: {label}")
        if st.button("Stop the evaluation", key="eval_stop", icon=":material/stop:"):
            ui.registry().stop("eval", run_path)
            st.toast("Stopped; press Evaluate again to resume.")
        st.session_state["eval_running"] = run_path
    else:
        if j.returncode == 0:
            st.success("Evaluation finished; its results are below.")
        else:
            st.error(f"`mind eval` exited with code {j.returncode}.")
            st.code(logs.read_tail(j.log_path, 4000)[-3000:] or "(empty log)", language="text")
        if st.session_state.get("eval_running") == run_path:  # it has just ended: show its results
            st.session_state["eval_running"] = None
            st.rerun()


if eval_jobs:
    follow_eval(str(eval_jobs[0].run_path))


@st.cache_data(max_entries=16, show_spinner="Pairing items...")
def _comparisons(paths: tuple[str, ...], stamps: tuple) -> dict:
    frames = {os.path.basename(p): evaluation.items(p) for p in paths}
    names = list(frames)
    return evaluation.comparisons(frames[names[0]], {n: frames[n] for n in names[1:]})


def _stamp(path) -> float:
    try:
        return os.stat(os.path.join(path, "eval", "items.jsonl")).st_mtime_ns
    except OSError:
        return 0.0


def paired_table(diffs: pd.DataFrame) -> pd.DataFrame:
    """The paired differences as text cells: blank where a value is missing (an exact test has no resampling
    floor, a pooled average no single n), p as format_p prints it, the Holm p and a star on adjusted significance."""
    def num(v, fmt):
        return "" if v is None or v != v else format(v, fmt)

    return pd.DataFrame({
        "run": diffs["run"], "benchmark": diffs["benchmark"], "metric": diffs["metric"],
        "n": [num(v, ".0f") for v in diffs["n"]], "diff": [num(v, "+.3g") for v in diffs["diff"]],
        "95% interval": ["" if a is None or b is None or a != a or b != b else f"[{a:+.3g}, {b:+.3g}]"
                         for a, b in zip(diffs["lo"], diffs["hi"])],
        "p": [seed_results.p_text(p, f) if p is not None else "" for p, f in zip(diffs["p"], diffs["p_floor"])],
        "Holm p": [seed_results.holm_text(p, bool(b)) if p is not None else ""
                   for p, b in zip(diffs["p_holm"], diffs["p_holm_bound"])],
        seed_results.STAR: [seed_results.STAR if s else "" for s in diffs["significant"]],
    })


def seed_section(exp):
    """An experiment's methods over their training seeds: each method's mean with its interval and one dot per
    seed, the differences against the reference with Holm-adjusted p (star = adjusted significance)."""
    mcol = seed_results.method_colours(exp, colors.run_colours(list(exp.runs)))
    st.subheader(f"Over training seeds: {exp.name}")
    level = exp.seed_level
    st.caption(f"From `{exp.path.name}` (`mind experiment compare --seeds`): each method is the mean over its seeds "
               "(diamond) with a 95% two-level bootstrap interval (seeds, then items), and one dot per seed beside "
               f"it. {level.get('intervals', '')}. A method's colour is its first seed's run colour.")
    agg = seed_results.aggregate_frame(exp, "accuracy")
    if len(agg):
        st.plotly_chart(eval_charts.seed_chart(agg, "mean", "Accuracy over seeds", "accuracy (%)", mcol),
                        key=f"eval_seed_acc::{exp.name}")
        st.dataframe(pd.DataFrame({
            "method": agg["method"], "target": agg["target"], "seeds": agg["seeds_text"],
            "mean (%)": [f"{v:.1f}" for v in agg["mean"]],
            "95% interval (two-level)": [f"[{a:.1f}, {b:.1f}]" for a, b in zip(agg["lo"], agg["hi"])],
            "t-interval over seeds": ["" if a != a else f"[{a:.1f}, {b:.1f}]" for a, b in zip(agg["t_lo"], agg["t_hi"])],
            "per seed": [", ".join(f"s{s}: {v:.1f}" for s, v in zip(r["seeds"], r["per_seed"])) for _, r in agg.iterrows()],
        }), hide_index=True, width="stretch", key=f"eval_seed_agg::{exp.name}")
    frames = {m: seed_results.comparison_frame(exp, m) for m in seed_results.METRICS}
    acc = frames["accuracy"]
    if not any(len(f) for f in frames.values()):
        st.caption("No method comparison in this experiment yet (one method, or its seeds are not evaluated).")
        return
    rule = "Holm p < 0.05"
    if len(acc):
        st.plotly_chart(eval_charts.seed_chart(acc, "diff", f"Accuracy minus {exp.reference}, over seeds", "points",
                                               mcol, significance=rule, zero_line=True),
                        key=f"eval_seed_diff::{exp.name}")
    table = pd.concat([seed_results.comparison_table(f, m) for m, f in frames.items() if len(f)], ignore_index=True)
    st.dataframe(table, hide_index=True, width="stretch", key=f"eval_seed_cmp::{exp.name}")
    st.caption(f"{seed_results.STAR}: distinguishable from zero after Holm's correction ({level.get('multiplicity', '')}). "
               "Items are paired within a seed; a p at the bootstrap's floor reads '< 1/(B+1)', and its Holm value "
               "is then an upper bound ('<').")
    per_seed = seed_results.seed_paired(exp)
    if per_seed:
        with st.expander("Per seed, item by item (Holm over every seed's tests)"):
            for seed, block in per_seed.items():
                d = evaluation.difference_frame(block.get("runs") or {})
                d = d[d["benchmark"].isin(["ID avg", "OOD avg"])]
                if len(d):
                    st.markdown(f"Seed {seed}: each run minus **{block.get('reference')}**")
                    st.dataframe(paired_table(d), hide_index=True, width="stretch",
                                 key=f"eval_seed_pairs::{exp.name}::{seed}")


# ------------------------------------------------------------------------------------------ results
c1, c2, c3 = st.columns(3)
reference = c1.checkbox("show the paper's reference rows", value=True, key="eval_ref")
show_base = c2.checkbox("show the base students", value=True, key="eval_base",
                        help="the student before training, evaluated on the same items")
show_constant = c3.checkbox("show constant answers", value=True, key="eval_constant",
                            help="on the first run's choice items: the accuracy of always giving the commonest gold "
                                 "answer, and of a uniform guess")
with ui.guard("the evaluation table"):
    accs = {name: s["accuracy"] for name, (_, _, s) in summaries.items() if s["accuracy"]}
    ivals = {name: evaluation.intervals(obj) for name, (_, obj, _) in summaries.items()}
    if show_base:
        for name, (_, obj, s) in summaries.items():
            label = f"base {obj.get('student', 'student')}"
            if s["base"] and label not in accs:
                accs[label], ivals[label] = s["base"], evaluation.intervals(obj, "base")
    constant, commonest = evaluation.constant_answers(next(iter(summaries.values()))[0]) if show_constant and summaries \
        else ({}, {})
    if accs or reference:
        table = evaluation.table(accs, reference=reference)
        for label, row in constant.items():  # no ID / OOD average: a constant answer per benchmark pools nothing
            table.loc[label] = pd.Series(row, dtype=float)
        st.dataframe(evaluation.text_cells(table), width="stretch", height=36 * (len(table) + 1) + 3)  # every row
        if constant:
            st.caption(f"{evaluation.MAJORITY_ROW}: " + ", ".join(f"{b} '{a}'" for b, a in commonest.items())
                       + f" on every item of {next(iter(summaries))}'s evaluation; a choice accuracy at or below "
                         "it (or chance) shows no skill on these items.")
    if not accs:
        st.stop()
    own = evaluation.table(accs, reference=False)
    colours = colors.run_colours(list(summaries))  # base students are grey (eval_charts.colour_of)
    prim = evaluation.primary_labels({name: obj for name, (_, obj, _) in summaries.items()})
    st.caption("Each column is its benchmark's primary metric: "
               + ", ".join(f"{b} **{m}**" for b, m in prim.items())
               + " (acc_norm: lm-evaluation-harness's option scoring, the log-likelihood of each option's text after "
                 "'Question: … Answer:' per character; generated: the greedy answer with the trained prompt). "
                 "ID/OOD avg pool the items, every item weighing the same (the paper's rows: mean of benchmarks). "
                 "95% Wilson intervals.")
    st.dataframe(evaluation.interval_table(accs, ivals), width="stretch")
    lo, hi = evaluation.bounds(own, ivals)
    st.plotly_chart(eval_charts.accuracy_bars(own, lo, hi, colours, constant), key="eval_bars")

    for exp in seed_results.find(chosen):
        seed_section(exp)

    evaluated = [str(p) for name, (p, _, _) in summaries.items()]
    if len(evaluated) >= 2:
        st.subheader(f"Paired: each run minus {os.path.basename(evaluated[0])}")
        comps = _comparisons(tuple(evaluated), tuple(_stamp(p) for p in evaluated))
        diffs = evaluation.difference_frame(comps)
        family = "Holm p < 0.05"  # over the table's tests: the caption says how many
        if diffs.empty:
            st.info("These evaluations have no per-item table (`eval/items.jsonl`); re-run `mind eval` to compare "
                    "them item by item.")
        else:
            st.caption("On the items both runs evaluated. Accuracy: Newcombe interval, McNemar's exact test; "
                       f"log-likelihoods: paired bootstrap. Filled markers / {seed_results.STAR}: distinguishable "
                       f"from zero after Holm's correction over the {len(diffs)} tests of this table (Holm p < 0.05).")
            # one above the other, each the page's width: nine benchmarks times several runs need it
            st.plotly_chart(eval_charts.difference_chart(diffs[diffs["metric"] == "accuracy"], "Accuracy difference",
                                                         "points", colours, family), key="eval_diff_acc")
            lp = diffs[diffs["metric"] == "answer log-lik"]
            if len(lp):
                st.plotly_chart(eval_charts.difference_chart(lp, "Answer log-likelihood difference", "nats", colours,
                                                             family), key="eval_diff_lp")
            st.dataframe(paired_table(diffs), hide_index=True, width="stretch")

    blocks = evaluation.model_blocks({name: obj for name, (_, obj, _) in summaries.items()})
    lik = evaluation.likelihood_frame(blocks)
    if len(lik):
        st.subheader("Teacher-forced metrics (no generation)")
        st.caption("Mean log-likelihood (nats) of the gold answer line ' <gold value>.' after the trained prompt and "
                   "'The answer is', 95% bootstrap intervals; higher is better. Moves before accuracy does.")
        st.plotly_chart(eval_charts.interval_bars(lik, "benchmark", "mean", "Answer log-likelihood", "nats",
                                                  colours), key="eval_lik")
        opt = evaluation.metric_frame(blocks)
        rat = evaluation.rationale_frame(blocks)
        c1, c2 = st.columns(2)
        if len(opt):
            c1.plotly_chart(eval_charts.interval_bars(opt.assign(benchmark=opt["benchmark"] + " " + opt["metric"]),
                                                      "benchmark", "accuracy",
                                                      "Every accuracy metric of the choice benchmarks", "accuracy (%)",
                                                      colours),
                            key="eval_opt")
        if len(rat):
            c2.plotly_chart(eval_charts.interval_bars(rat, "perspective", "mean",
                                                      "Rationale loss on heldout per perspective", "nats/token",
                                                      colours),
                            key="eval_rat")

    forgetting = {name: s["forgetting"] for name, (_, _, s) in summaries.items() if s["forgetting"]}
    st.subheader("Forgetting")
    fg = evaluation.forgetting_frame({name: obj for name, (_, obj, _) in summaries.items()})
    if len(fg):
        fg = evaluation.with_holm(fg)
        st.caption("OOD accuracy and answer log-likelihood after distillation minus the base student's, on the same "
                   "items, with 95% intervals (accuracy: Newcombe per benchmark, McNemar's exact test, MOVER for the "
                   f"average; log-likelihood: paired bootstrap); negative means forgetting. {seed_results.STAR}: "
                   f"distinguishable from zero after Holm's correction over the {len(fg)} tests of this table.")
        shown = fg.assign(**{seed_results.STAR: fg["significant"].map({True: seed_results.STAR, False: ""})})
        st.dataframe(evaluation.text_cells(shown.drop(columns=["significant"]),
                                           {"diff": "{:+.3g}", "lo": "{:+.3g}", "hi": "{:+.3g}", "p": "{:.3g}",
                                            "p_holm": "{:.3g}"}), hide_index=True, width="stretch")
    elif forgetting:  # a summary from before intervals: differences only
        st.caption("Per benchmark: accuracy after minus before (points); re-run `mind eval` for intervals.")
        st.dataframe(evaluation.text_cells(pd.DataFrame.from_dict(forgetting, orient="index")),
                     width="stretch")
    if not forgetting and not len(fg):
        st.info("No base-model scores in these summaries; `mind eval` records them when it scores the base student.")

    st.subheader("Wrong answers")
    names = list(summaries)
    run_name = st.selectbox("run", names, key="eval_drill_run")
    files = evaluation.predictions(summaries[run_name][0])
    if not files:
        st.info("This evaluation has no per-item prediction files.")
    else:
        bench = st.selectbox("benchmark", list(files), key="eval_drill_bench")
        wrong = evaluation.wrong_answers(files[bench])
        st.caption(f"{len(wrong)} wrong answers (first 200)")
        st.dataframe(wrong, hide_index=True, width="stretch")
