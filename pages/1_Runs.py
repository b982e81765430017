"""Runs: every run with its status, method, student, key hyperparameters, final losses and accuracies;
select rows to compare their curves and evaluation tables, and export the first selected run (`mind export`)."""

from pathlib import Path

import streamlit as st

from mind.errors import MindError
from app import charts, colors, evaluation, exporting, loading, settings, ui

st.title("Runs")
st.caption(f"Your runs: `{settings.runs_dir()}` · bundled examples: `{settings.cached_runs_dir()}`")

paths = loading.discover()
if not paths:
    st.info(ui.no_runs_message())
    if not settings.read_only():  # a read-only dashboard has no Launch page
        st.page_link(ui.page_path("2_Launch.py"), label="Launch a run", icon=":material/rocket_launch:")
    st.stop()

start_here = settings.cached_runs_dir() / "START_HERE.md"
if start_here.is_file():
    with st.expander("Start here: which bundled run answers which question", expanded=True):
        st.markdown(start_here.read_text(encoding="utf-8"))

with ui.guard("the runs table"):
    table = loading.runs_table(paths)
    shown = table.drop(columns=["path", "error", "warning"], errors="ignore")
    st.caption("Select rows to compare runs (click the left edge of a row; shift-click for several).")
    event = st.dataframe(shown, key="runs_table", on_select="rerun", selection_mode="multi-row",
                         hide_index=True, width="stretch")
    for _, bad in table[table["error"].astype(bool)].iterrows():
        st.error(f"{bad['run']}: {bad['error']}")
    for warning in table.get("warning", []):
        if isinstance(warning, str) and warning:
            st.warning(warning, icon=":material/warning:")

    rows = list(event.selection.rows) if event and event.selection else []
    chosen = [Path(table.iloc[i]["path"]) for i in rows if not table.iloc[i]["error"]]
    if not chosen:
        st.info("Select one or more runs above to compare their loss curves and evaluations.")
        st.stop()
    st.session_state[ui.RUN_KEY] = str(chosen[0])
    st.session_state["mind_compare"] = [str(p) for p in chosen]

    st.subheader("Loss curves")
    curves = {p.name: loading.steps(p) for p in chosen}
    st.plotly_chart(charts.loss_curves(curves, colours=colors.run_colours(curves)), key="compare_losses",
                    width="stretch")

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

    st.subheader("Export the first selected run")
    export_run, export_out = chosen[0], exporting.default_out(chosen[0])
    st.caption(f"`mind export` writes **{export_run.name}**'s student (its LoRA adapter merged into the base, or its "
               f"full weights) as a Hugging Face model folder with tokenizer, generation config and model card to "
               f"`{export_out}`.")
    export_job = ui.registry().get("export", export_run)
    if not exporting.has_weights(export_run):
        st.caption(f"**{export_run.name}** has no checkpoint to export: the shipped runs beyond seed 0 keep their "
                   f"evaluation and tracking, not their weights (`mind experiment cached-runs` remakes them).")
    elif settings.read_only():
        st.caption(f"Read-only dashboard: export from a terminal, `mind export --run {export_run} --out DIR`.")
    elif st.button("Export again" if exporting.exported(export_out) else "Export", key="export_run",
                   icon=":material/ios_share:", disabled=bool(export_job and export_job.running)):
        try:
            export_job = ui.registry().start_export(export_run, export_out)
            st.session_state["export_running"] = str(export_run)
            st.toast(f"Exporting {export_run.name}...")
        except MindError as exc:
            st.error(str(exc))

    @st.fragment(run_every=1.0 if export_job and export_job.running else None)
    def export_status(run_path: Path, out: Path):
        job = ui.registry().get("export", run_path)
        if job and job.running:
            st.info("Exporting: rebuilding the student, applying the checkpoint, writing safetensors...")
            st.code(exporting.log_text(run_path, 5) or "(starting)", language="text")
            return
        if job and st.session_state.get("export_running") == str(run_path):
            st.session_state["export_running"] = None
            st.rerun()  # once, so the page stops refreshing and the button comes back
        if job and job.returncode != 0:
            st.error(f"`mind export` failed: {exporting.last_error(exporting.log_text(run_path, 200))}")
            return
        rec = exporting.exported(out)
        if rec:
            st.success(f"Exported step {rec.get('step')} ({rec.get('kind')}) to `{out}`.")
            with st.expander("Model card (README.md)", expanded=job is not None):
                st.markdown(exporting.card_markdown(out) or "(no README.md)")

    export_status(export_run, export_out)
