"""Curriculum: how MIND's supervision follows the student's capability. One step cursor drives every chart."""

import streamlit as st

from mind.data.perspectives import display_name
from app import charts, loading, tracking_view, ui

st.title("Curriculum")
st.caption("Which perspectives MIND keeps (selection) and how much each one counts (α) as the student learns. "
           "Press play to animate, or drag the step slider: every chart follows the same step.")

path, run, live = ui.open_run_page("cur_live")
with ui.guard(path.name):
    playing = st.toggle("▶ Play", key="cur_play", help="advance the step cursor automatically (pause to stop)")
    speed = 0.6 if playing else None
    interval = min(x for x in (speed, live) if x) if (speed or live) else None

    @st.fragment(run_every=interval)
    def body():
        with ui.guard(path.name):
            r = loading.open_run(path)
            df = loading.steps(path)
            loading.require_steps(r, df)
            ps = loading.perspectives(r, df)
            steps = df["step"].tolist()
            lo, hi = steps[0], steps[-1]
            cur = st.session_state.get("cur_step")
            if playing:
                nxt = [s for s in steps if cur is not None and s > cur]
                cur = nxt[0] if nxt else lo
            elif live and st.session_state.get("cur_follow", True):
                cur = hi
            cur = min(max(cur if cur is not None else hi, lo), hi)
            st.session_state["cur_step"] = cur
            if lo < hi:
                st.slider("Step", lo, hi, key="cur_step")
            else:
                st.caption(f"One step so far (step {lo}).")
            cursor = int(st.session_state["cur_step"])
            if live:
                st.checkbox("stick to the latest step", value=True, key="cur_follow")

            row = df.loc[df["step"] <= cursor].iloc[-1]
            m = st.columns(4)
            m[0].metric("step", int(row["step"]))
            m[1].metric("perspectives selected (batch mean)", f"{row['n_selected']:.1f}" if row["n_selected"] == row["n_selected"] else "n/a")
            m[2].metric("student loss", f"{row['loss_total']:.3f}")
            m[3].metric("L_meta", f"{row['loss_meta']:.4f}" if row["loss_meta"] == row["loss_meta"] else "n/a")

            c1, c2 = st.columns(2)
            c1.plotly_chart(charts.alpha_bars(df, ps, cursor), key="cur_alpha")
            c2.plotly_chart(charts.weights_area(df, ps, cursor), key="cur_area")
            c3, c4 = st.columns(2)
            c3.plotly_chart(charts.step_heatmap(df, ps, "selected", "Selection frequency (share of the batch)", cursor),
                            key="cur_heat")
            c4.plotly_chart(charts.score_lines(df, ps, cursor), key="cur_scores")
            st.subheader("Is MetaNet following the student?")
            said = tracking_view.sentences(df, cursor, n_heldout=len(r.config.get("heldout_ids") or []) or None)
            for line in said:
                st.markdown(f"- {line}")
            if not said:
                st.caption("No tracking numbers in this run (methods without MetaNet, or a run older than them).")
            else:
                st.plotly_chart(tracking_view.tracking_chart(charts.bin_means(df), cursor), key="cur_tracking")
            st.plotly_chart(tracking_view.inertia_chart(charts.bin_means(df), ps, charts.colors(ps),
                                                        {p: display_name(p) for p in ps}, cursor), key="cur_inertia")
            if charts.display_note(len(df), "mean"):
                st.caption(f"Charts over the whole run show the {charts.display_note(len(df), 'mean')}; "
                           "the download below has every step.")
            st.plotly_chart(charts.raw_vs_filtered(df, ps, cursor), key="cur_losses")
            st.caption("Raw loss L_real is the student's cross-entropy on that perspective's rationale at this step; "
                       "the filtered loss L̃ is its exponential moving average (inertia g). MetaNet is trained to rank "
                       "perspectives like −L̃, so it reacts to lasting changes in what the student finds easy, not noise.")

    body()
    st.download_button("Download all steps (CSV)", data=lambda: loading.steps_csv(path), file_name=f"{path.name}-steps.csv",
                       mime="text/csv", on_click="ignore", key="cur_csv", icon=":material/download:",
                       help="every step and every column of steps.jsonl (the charts may show a downsampled view)")
