"""Evaluation: the paper-style ID / OOD table for chosen runs, forgetting, and the wrong answers per benchmark."""

import pandas as pd
import streamlit as st

from app import charts, evaluation, loading, ui

st.title("Evaluation")
st.caption("Accuracy (%) from `mind eval`, in-distribution (MATH500, GSM8K, SVAMP) and out-of-distribution "
           "(CommonsenseQA, StrategyQA, GPQA-Diamond), next to the MIND paper's numbers for a 7B student.")

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
            summaries[p.name] = (p, evaluation.parse_summary(obj))
for p in missing:
    st.info(f"{p.name}: no evaluation yet — run `mind eval --run {p}`.")

reference = st.checkbox("show the paper's reference rows", value=True, key="eval_ref")
with ui.guard("the evaluation table"):
    accs = {name: s["accuracy"] for name, (_, s) in summaries.items() if s["accuracy"]}
    if accs or reference:
        table = evaluation.table(accs, reference=reference)
        st.dataframe(table.style.format(precision=2, na_rep="–"), width="stretch")
        if accs:
            st.plotly_chart(charts.accuracy_bars(evaluation.table(accs, reference=False)), key="eval_bars")
    if not accs:
        st.stop()

    forgetting = {name: s["forgetting"] for name, (_, s) in summaries.items() if s["forgetting"]}
    st.subheader("Forgetting")
    if forgetting:
        st.caption("OOD accuracy after distillation minus the base student's (points); negative means forgetting.")
        st.dataframe(pd.DataFrame.from_dict(forgetting, orient="index").style.format(precision=2, na_rep="–"),
                     width="stretch")
    else:
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
