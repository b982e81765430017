"""Latent space: the student's hidden states per (problem, perspective), projected to 2-D and clustered, beside the
Sentence-BERT map of the same rationale texts (when `mind analyze --text` made one), with one linked selection."""

import json
import time

import streamlit as st

from mind.data.perspectives import display_name

from app import charts, latent, loading, logs, settings, ui

st.title("Latent space")
st.caption("Each point is the student's last-layer hidden state for one (problem, perspective) probe. A Dirichlet-"
           "process mixture clusters them; ARI/NMI say how well the clusters match the perspectives. Click or lasso "
           "points to read their rationales.")

path = ui.choose_run()
if path is None:
    st.stop()
SELECTED = f"lat_selected::{path}"  # the selected point ids, kept across redraws (per run)


def _keep(chart_key: str) -> None:
    """A selection event on either map: its points become the selection (an empty event from a redraw is ignored)."""
    st.session_state[SELECTED] = latent.keep_selection(st.session_state.get(SELECTED, []),
                                                      st.session_state.get(chart_key))


@st.fragment(run_every=1.0)
def analysis_progress(p):
    job = ui.registry().get("analyze", p)
    if job is None:
        return
    if job.running:
        line = logs.last_progress_line(_tail(job.log_path))
        st.status(f"Computing the latent map... {time.time() - job.started_at:.0f} s", state="running").write(
            line or "starting (the first UMAP fit compiles numba code; this can take a minute)")
    elif job.returncode == 0:
        st.rerun()
    else:
        st.error(f"`mind analyze` failed (exit code {job.returncode}).")
        st.code(_tail(job.log_path), language="text")


def _tail(f, n=20):
    try:
        return "\n".join(f.read_text(encoding="utf-8", errors="replace").splitlines()[-n:])
    except OSError:
        return ""


def separation():
    """Results of `mind experiment separation` found in the runs folders (independent of the chosen run)."""
    seps = latent.find_separation(settings.roots())
    if seps:
        st.subheader("Separation experiment: one student per perspective")
        st.caption("`mind experiment separation` trains one single-perspective student per perspective from the same "
                   "initial weights, then clusters their hidden states. Scores near 1 mean the DP clusters recover which "
                   "student it was; compare with the controls before calling a mode internalised.")
        for f in seps:
            try:
                result = json.loads(f.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                st.warning(f"{f}: unreadable result file")
                continue
            centring = {"problem": ", states centred per problem", "none": ", raw (uncentred) states"}
            st.markdown(f"**{f.parent.name}**: {len(result.get('perspectives', []))} students, "
                        f"{result.get('n_points', '?')} points{centring.get(result.get('center'), '')}")
            st.dataframe(latent.separation_table(result), hide_index=True, width="stretch",
                         column_config={"what it shows": st.column_config.TextColumn(width="large")})
            pts = latent.separation_points(f)
            if pts is not None:
                st.plotly_chart(charts.separation_scatter(pts, list(result.get("perspectives", []))),
                                key=f"sep_{f.parent.name}")


with ui.guard(path.name):
    run = loading.open_run(path)
    ui.run_caption(run)
    if not run.snapshot_steps:
        st.info("This run has no hidden-state snapshots yet; they are written every `snapshot_every` steps and at the end.")
        separation()
        st.stop()
    res = latent.load(path)
    job = ui.registry().get("analyze", path)
    if res is None or (job is not None and job.running):
        st.info(f"No latent map for this run yet. It is computed by `mind analyze --run {path}` "
                f"({len(run.snapshot_steps)} snapshots) and saved in the run folder.")
        if job is None or not job.running:
            if st.button("Compute the latent map", type="primary", key="analyze_btn"):
                ui.registry().start_analyze(path)
                st.rerun()
        analysis_progress(path)
        separation()
        st.stop()

    metrics, points = res
    text = latent.text_view(path)  # read once per page run, not on every tick of the animated fragment
    text_pts = latent.text_points(path)
    steps = sorted(int(s) for s in points["step"].unique())
    c1, c2, c3 = st.columns([4, 1, 1])
    color_label = c1.radio("Colour by", list(latent.COLOR_CHOICES), horizontal=True, key="lat_color")
    playing = c3.toggle("▶ Play", key="lat_play", help="step through the checkpoints")
    if c2.button("Clear selection", key="lat_clear", icon=":material/deselect:"):
        st.session_state[SELECTED] = []

    @st.fragment(run_every=1.2 if playing else None)
    def view():
        with ui.guard(path.name):
            cur = st.session_state.get("lat_step", steps[-1])
            if playing:
                later = [s for s in steps if s > cur]
                cur = later[0] if later else steps[0]
            st.session_state["lat_step"] = cur if cur in steps else steps[-1]
            if len(steps) > 1:
                st.select_slider("Checkpoint step", options=steps, key="lat_step")
            step = int(st.session_state["lat_step"])
            pts = points[points["step"] == step].reset_index(drop=True)
            ids = latent.point_ids(pts)
            chosen = st.session_state.get(SELECTED, [])
            by = latent.COLOR_CHOICES[color_label]
            left, right = st.columns(2) if text_pts is not None else (st.container(), None)
            fig = charts.latent_scatter(pts, by, ids, loading.perspectives(run), selected=chosen)
            fig.update_layout(title=f"Step {step}: the student's hidden states, {len(pts)} points")
            left.plotly_chart(fig, key="lat_map", on_select=lambda: _keep("lat_map"),
                              selection_mode=("points", "box", "lasso"))
            if right is not None:
                tfig = charts.latent_scatter(text_pts, by if by in text_pts else "perspective",
                                             latent.point_ids(text_pts), loading.perspectives(run), selected=chosen)
                tfig.update_layout(title=f"The same rationales as Sentence-BERT text: {len(text_pts)} points")
                right.plotly_chart(tfig, key="lat_text_map", on_select=lambda: _keep("lat_text_map"),
                                   selection_mode=("points", "box", "lasso"))
                st.caption("Linked maps: a point selected on either map is highlighted on both (the same problem and "
                           "perspective); the selection stays when you change 'Colour by' or the step. On the text "
                           "map, 'DPMM cluster' is the text's own clustering.")
            score_cols, count_cols = latent.metric_columns(metrics)
            if len(metrics) and score_cols:
                m1, m2 = st.columns(2)
                m1.plotly_chart(charts.metric_lines(metrics, score_cols, step, "Agreement with perspectives"), key="lat_m")
                counts = latent.cluster_counts(metrics, points)
                n_cols = [c for c in counts.columns if c != "step"]
                m2.plotly_chart(charts.metric_lines(counts, n_cols, step, "Cluster count: two ways to count"),
                                key="lat_n")
                held = counts.loc[counts["step"] == step, latent.HOLDING]
                m2.caption(f"At step {step} the map shows **{int(held.iloc[0]) if len(held) else '?'} clusters** "
                           "(labels that hold points). The mixture can keep more components with ≥ 1% of the weight "
                           "that no point ends up in; that second count is a property of the fitted model, not of "
                           "the map.")
            if text is not None and "ari" in metrics:
                st.markdown(latent.text_sentence(text, metrics, step))
            elif len(metrics):
                st.caption(f"`mind analyze --run {path} --text` adds the same rationales clustered as Sentence-BERT "
                           "text, to tell modes the student learned from style the texts already had.")
            st.subheader(f"Selected points ({len(chosen)})")
            if not chosen:
                st.caption("Click a point, or pick box or lasso select in the chart toolbar and drag, to list rationales here.")
            else:
                table = latent.rationale_table(pts, chosen, loading.problems(path))
                if not len(table):
                    st.caption("The selected points are not in this step's map.")
                    return
                first = table.iloc[0]
                with st.container(border=True, key="lat_first"):
                    st.markdown(f"**{display_name(first['perspective'])}** rationale of problem `{first['problem_id']}` "
                                f"(cluster {first['cluster']}): {first['question']}")
                    st.text(first["rationale"])
                st.dataframe(table, hide_index=True, width="stretch", key="lat_table")
                st.download_button("Download selection as CSV", table.to_csv(index=False).encode("utf-8"),
                                   file_name=f"{path.name}_step{step}_selection.csv", mime="text/csv")

    view()

    separation()
