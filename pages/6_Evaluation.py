"""Evaluation: the paper-style ID / OOD table with 95% intervals, paired comparisons of runs item by item,
teacher-forced metrics, forgetting, an Evaluate button that runs `mind eval`, and the wrong answers."""

import os

import pandas as pd
import streamlit as st

from mind.errors import MindError
from app import eval_charts, evaluation, loading, logs, settings, ui

st.title("Evaluation")
st.caption("Accuracy (%) from `mind eval`, in-distribution (MATH500, GSM8K, SVAMP, the run's held-out problems) and "
           "out-of-distribution (CommonsenseQA, StrategyQA, GPQA-Diamond), with 95% intervals, next to the MIND "
           "paper's numbers for a 7B student.")

chosen = ui.choose_runs("Runs to compare", key="eval_runs", default_n=4)
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


# ------------------------------------------------------------------------------------------ results
c1, c2 = st.columns(2)
reference = c1.checkbox("show the paper's reference rows", value=True, key="eval_ref")
show_base = c2.checkbox("show the base students", value=True, key="eval_base",
                        help="the student before training, evaluated on the same items")
with ui.guard("the evaluation table"):
    accs = {name: s["accuracy"] for name, (_, _, s) in summaries.items() if s["accuracy"]}
    ivals = {name: evaluation.intervals(obj) for name, (_, obj, _) in summaries.items()}
    if show_base:
        for name, (_, obj, s) in summaries.items():
            label = f"base {obj.get('student', 'student')}"
            if s["base"] and label not in accs:
                accs[label], ivals[label] = s["base"], evaluation.intervals(obj, "base")
    if accs or reference:
        table = evaluation.table(accs, reference=reference)
        st.dataframe(table.style.format(precision=2, na_rep="–"), width="stretch")
    if not accs:
        st.stop()
    own = evaluation.table(accs, reference=False)
    prim = evaluation.primary_labels({name: obj for name, (_, obj, _) in summaries.items()})
    st.caption("Each column is its benchmark's primary metric: "
               + ", ".join(f"{b} **{m}**" for b, m in prim.items())
               + " (acc_norm: lm-evaluation-harness's option scoring, the log-likelihood of each option's text after "
                 "'Question: … Answer:' per character; generated: the greedy answer with the trained prompt). "
                 "ID/OOD avg pool the items, every item weighing the same (the paper's rows: mean of benchmarks). "
                 "95% Wilson intervals.")
    st.dataframe(evaluation.interval_table(accs, ivals), width="stretch")
    lo, hi = evaluation.bounds(own, ivals)
    st.plotly_chart(eval_charts.accuracy_bars(own, lo, hi), key="eval_bars")

    evaluated = [str(p) for name, (p, _, _) in summaries.items()]
    if len(evaluated) >= 2:
        st.subheader(f"Paired: each run minus {os.path.basename(evaluated[0])}")
        comps = _comparisons(tuple(evaluated), tuple(_stamp(p) for p in evaluated))
        diffs = evaluation.difference_frame(comps)
        if diffs.empty:
            st.info("These evaluations have no per-item table (`eval/items.jsonl`); re-run `mind eval` to compare "
                    "them item by item.")
        else:
            st.caption("On the items both runs evaluated. Accuracy: Newcombe interval, McNemar's exact test; "
                       "log-likelihoods: paired bootstrap. Filled markers / ✓: distinguishable from zero (p < 0.05).")
            c1, c2 = st.columns(2)
            c1.plotly_chart(eval_charts.difference_chart(diffs[diffs["metric"] == "accuracy"],
                                                         "Accuracy difference", "points"), key="eval_diff_acc")
            lp = diffs[diffs["metric"] == "answer log-lik"]
            if len(lp):
                c2.plotly_chart(eval_charts.difference_chart(lp, "Answer log-likelihood difference", "nats"),
                                key="eval_diff_lp")
            shown = diffs.assign(**{"95% interval": [f"[{a:+.3g}, {b:+.3g}]" for a, b in zip(diffs["lo"], diffs["hi"])],
                                    "distinguishable": diffs["significant"].map({True: "✓", False: ""})})
            st.dataframe(shown[["run", "benchmark", "metric", "n", "diff", "95% interval", "p", "distinguishable"]]
                         .style.format({"diff": "{:+.3g}", "p": "{:.3g}"}), hide_index=True, width="stretch")

    blocks = evaluation.model_blocks({name: obj for name, (_, obj, _) in summaries.items()})
    lik = evaluation.likelihood_frame(blocks)
    if len(lik):
        st.subheader("Teacher-forced metrics (no generation)")
        st.caption("Mean log-likelihood (nats) of the gold answer line ' <gold value>.' after the trained prompt and "
                   "'The answer is', 95% bootstrap intervals; higher is better. Moves before accuracy does.")
        st.plotly_chart(eval_charts.interval_bars(lik, "benchmark", "mean", "Answer log-likelihood", "nats"),
                        key="eval_lik")
        opt = evaluation.metric_frame(blocks)
        rat = evaluation.rationale_frame(blocks)
        c1, c2 = st.columns(2)
        if len(opt):
            c1.plotly_chart(eval_charts.interval_bars(opt.assign(benchmark=opt["benchmark"] + " " + opt["metric"]),
                                                      "benchmark", "accuracy",
                                                      "Every accuracy metric of the choice benchmarks", "accuracy (%)"),
                            key="eval_opt")
        if len(rat):
            c2.plotly_chart(eval_charts.interval_bars(rat, "perspective", "mean",
                                                      "Rationale loss on heldout per perspective", "nats/token"),
                            key="eval_rat")

    forgetting = {name: s["forgetting"] for name, (_, _, s) in summaries.items() if s["forgetting"]}
    st.subheader("Forgetting")
    fg = evaluation.forgetting_frame({name: obj for name, (_, obj, _) in summaries.items()})
    if len(fg):
        st.caption("OOD accuracy and answer log-likelihood after distillation minus the base student's, on the same "
                   "items, with 95% intervals (accuracy: Newcombe per benchmark, McNemar's exact test, MOVER for the "
                   "average; log-likelihood: paired bootstrap); negative means forgetting.")
        st.dataframe(fg.assign(distinguishable=fg["significant"].map({True: "✓", False: ""}))
                     .drop(columns=["significant"]).style.format({"diff": "{:+.3g}", "lo": "{:+.3g}", "hi": "{:+.3g}",
                                                                  "p": "{:.3g}"}), hide_index=True, width="stretch")
    elif forgetting:  # a summary from before intervals: differences only
        st.caption("Per benchmark: accuracy after minus before (points); re-run `mind eval` for intervals.")
        st.dataframe(pd.DataFrame.from_dict(forgetting, orient="index").style.format(precision=2, na_rep="–"),
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
