"""Runs: every run with its status, method, student, key hyperparameters, final losses and accuracies;
select rows to compare their curves and evaluation tables."""

from pathlib import Path

import streamlit as st

from app import charts, evaluation, loading, settings, ui

st.title("Runs")
st.caption(f"Your runs: `{settings.runs_dir()}` · bundled examples: `{settings.cached_runs_dir()}`")

paths = loading.discover()
if not paths:
    st.info(ui.NO_RUNS.format(roots=", ".join(f"`{r}`" for r in settings.roots())))
    if not settings.read_only():  # a read-only dashboard has no Launch page
        st.page_link(ui.page_path("2_Launch.py"), label="Launch a run", icon=":material/rocket_launch:")
    st.stop()

with ui.guard("the runs table"):
    table = loading.runs_table(paths)
    shown = table.drop(columns=["path", "error"])
    st.caption("Select rows to compare runs (click the left edge of a row; shift-click for several).")
    event = st.dataframe(shown, key="runs_table", on_select="rerun", selection_mode="multi-row",
                         hide_index=True, width="stretch")
    for _, bad in table[table["error"].astype(bool)].iterrows():
        st.error(f"{bad['run']}: {bad['error']}")

    rows = list(event.selection.rows) if event and event.selection else []
    chosen = [Path(table.iloc[i]["path"]) for i in rows if not table.iloc[i]["error"]]
    if not chosen:
        st.info("Select one or more runs above to compare their loss curves and evaluations.")
        st.stop()
    st.session_state[ui.RUN_KEY] = str(chosen[0])
    st.session_state["mind_compare"] = [str(p) for p in chosen]

    st.subheader("Loss curves")
    curves = {p.name: loading.steps(p) for p in chosen}
    st.plotly_chart(charts.loss_curves(curves), key="compare_losses", width="stretch")

    st.subheader("Evaluation")
    accs = {}
    for p in chosen:
        a = evaluation.accuracies(p)
        if a:
            accs[p.name] = a
    if accs:
        st.dataframe(evaluation.table(accs).round(2), width="stretch")
    else:
        st.info("No evaluation yet for the selected runs — run `mind eval --run RUN_DIR`.")

    st.subheader("Open the first selected run in")
    cols = st.columns(4)
    for col, (f, title, icon, _) in zip(cols, ui.PAGES[2:6]):
        col.page_link(ui.page_path(f), label=title, icon=icon)
