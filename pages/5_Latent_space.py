"""Latent space: the student's hidden states per (problem, perspective), projected to 2-D and clustered."""

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
    steps = sorted(int(s) for s in points["step"].unique())
    c1, c3 = st.columns([4, 1])
    color_label = c1.radio("Colour by", list(latent.COLOR_CHOICES), horizontal=True, key="lat_color")
    playing = c3.toggle("▶ Play", key="lat_play", help="step through the checkpoints")

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
            fig = charts.latent_scatter(pts, latent.COLOR_CHOICES[color_label], ids, loading.perspectives(run))
            fig.update_layout(title=f"Step {step}: {len(pts)} points")
            event = st.plotly_chart(fig, key="lat_map", on_select="rerun", selection_mode=("points", "box", "lasso"))
            chosen = latent.selected_ids(event)
            score_cols, count_cols = latent.metric_columns(metrics)
            if len(metrics) and score_cols:
                m1, m2 = st.columns(2)
                m1.plotly_chart(charts.metric_lines(metrics, score_cols, step, "Agreement with perspectives"), key="lat_m")
                if count_cols:
                    m2.plotly_chart(charts.metric_lines(metrics, count_cols, step, "Active clusters"), key="lat_n")
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
