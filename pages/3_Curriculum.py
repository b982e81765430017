"""Curriculum: how MIND's supervision follows the student's capability. One step cursor drives the charts of the
chosen run; below, the whole run per step, smoothed or per epoch, with other runs overlaid on the same axes."""

import streamlit as st

from mind.data.perspectives import display_name
from app import charts, colors, glossary, loading, overlay, tracking_view, ui, views

st.title("Curriculum")
st.caption("Which perspectives MIND keeps (selection) and how much each one counts (α) as the student learns. "
           "Press play to animate, or drag the step slider: every chart of the first part follows the same step.")
with st.expander("What the symbols mean", icon=":material/help:"):
    st.markdown("\n".join(f"- {glossary.SYMBOLS[k].format(beta='', g='', tau='')}" for k in glossary.SYMBOLS))

ALPHA_OVER = {"this step": "step", "last 3 steps": 3, "last 5 steps": 5, "last 10 steps": 10,
              "this epoch so far": "epoch"}

path, run, live = ui.open_run_page("cur_live")
with ui.guard(path.name):
    cfg = run.config
    per_step = (loading.cfg_get(cfg, "batch_size") or 0) * (loading.cfg_get(cfg, "grad_accum") or 1) or None
    c1, c2 = st.columns([1, 3])
    playing = c1.toggle("▶ Play", key="cur_play", help="advance the step cursor automatically (pause to stop)")
    over = ALPHA_OVER[c2.radio("α bars average", list(ALPHA_OVER), horizontal=True, key="cur_alpha_over",
                               help="a step's α is the mean over that step's few problems, so it jumps from step "
                                    "to step; a window or the epoch shows the trend")]
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
            m[1].metric("perspectives selected (batch mean)", f"{row['n_selected']:.1f}" if row["n_selected"] == row["n_selected"] else "n/a",
                        help=glossary.SYMBOLS["β"].format(beta="", g="", tau=""))
            m[2].metric("student loss", f"{row['loss_total']:.3f}")
            m[3].metric("L_meta", f"{row['loss_meta']:.4f}" if row["loss_meta"] == row["loss_meta"] else "n/a",
                        help=glossary.SYMBOLS["L_meta"])

            c1, c2 = st.columns(2)
            c1.plotly_chart(charts.alpha_bars(df, ps, cursor, over, per_step), key="cur_alpha")
            c2.plotly_chart(charts.weights_area(df, ps, cursor), key="cur_area")
            st.caption(glossary.define(["α", "β"], r.config))
            c3, c4 = st.columns(2)
            c3.plotly_chart(charts.step_heatmap(df, ps, "selected", "Selection frequency (share of the batch)", cursor),
                            key="cur_heat")
            c4.plotly_chart(charts.score_lines(df, ps, cursor), key="cur_scores")
            st.caption(glossary.define(["selected", "s_k"], r.config))
            st.subheader("Is MetaNet following the student?")
            said = tracking_view.sentences(df, cursor, n_heldout=len(r.config.get("heldout_ids") or []) or None)
            rep = tracking_view.report(path) if said else None
            for line in said + tracking_view.report_sentences(rep):
                st.markdown(f"- {line}")
            if not said:
                st.caption("No tracking numbers in this run (methods without MetaNet, or a run older than them).")
            else:
                st.plotly_chart(tracking_view.tracking_chart(charts.bin_means(df), cursor, rep=rep), key="cur_tracking")
                st.caption(glossary.define(["ρ", "shift"], r.config) + "  \n:material/help: Lines: per-step batch "
                           "means (a few problems each). Squares: each whole epoch after the warm-up, with a 95% "
                           "bootstrap interval over problems. Star at step 0: the calibration pass, before step 1.")
            st.plotly_chart(tracking_view.inertia_chart(charts.bin_means(df), ps, charts.colors(ps),
                                                        {p: display_name(p) for p in ps}, cursor), key="cur_inertia")
            st.caption(glossary.define(["L_real", "L~"], r.config))
            if charts.display_note(len(df), "mean"):
                st.caption(f"Charts over the whole run show the {charts.display_note(len(df), 'mean')}; "
                           "the download below has every step.")

    body()

    st.header("The whole run, side by side with others")
    chosen = ui.choose_overlay(path, key="cur_overlay")
    v1, v2, v3 = st.columns([2, 2, 1])
    how = v1.segmented_control("View", list(views.VIEWS), default="per step", key="cur_view",
                               help="per step: every step's batch mean; smoothed: TensorBoard's moving average "
                                    "(the slider sets its weight); per epoch: the mean of each epoch's steps")
    weight = v2.slider("Smoothing", 0.0, 0.99, 0.6, 0.01, key="cur_smooth", disabled=how != "smoothed",
                       help="TensorBoard's smoothing: 0 = none, 0.99 = very smooth (a debiased moving average)")
    x_axis = v3.radio("x axis", views.X_AXES, key="cur_x", horizontal=True,
                      help="epoch: the passes over the training set, which lines up runs with different batch or "
                           "data sizes")

    @st.fragment(run_every=live)
    def side_by_side():
        with ui.guard(path.name):
            shown, pers, paths = {}, {}, {}
            for p in [path, *chosen]:
                r = loading.open_run(p)
                df = loading.steps(p)
                if not len(df):
                    st.info(f"{p.name}: no steps recorded yet.")
                    continue
                ui.gap_warning(r, df)
                shown[p.name] = views.view(df, how or "per step", weight, x_axis)
                paths[p.name] = p
                pers[p.name] = loading.perspectives(r, df)
            if not shown:
                return
            ps = overlay.union_perspectives(pers)
            col = colors.run_colours(shown)
            what = {"per step": "per step (each point: one step's batch mean)",
                    "smoothed": f"smoothed (TensorBoard weight {weight:.2f})",
                    "per epoch": "per epoch (each point: the mean of one epoch's steps)"}[how or "per step"]
            st.plotly_chart(overlay.weights(shown, ps, col, x_axis, what), key="cur_ov_weights")
            st.caption(glossary.define(["α"], cfg))
            if len(shown) > 1 and any("meta_spearman" in d and d["meta_spearman"].notna().any() for d in shown.values()):
                starts = {name: tracking_view.calibration_rho(tracking_view.report(paths[name])) for name in shown}
                st.plotly_chart(overlay.tracking(shown, col, x_axis, what, starts=starts), key="cur_ov_tracking")
                st.caption(glossary.define(["ρ", "shift"], cfg))
            st.plotly_chart(overlay.losses(shown, ps, col, x_axis, what), key="cur_losses")
            st.caption(glossary.define(["L_real", "L~"], cfg))
            st.plotly_chart(overlay.loss(shown, col, x_axis, what), key="cur_ov_loss")
            st.caption(glossary.define(["L_meta"], cfg))

    side_by_side()
    st.download_button("Download all steps (CSV)", data=lambda: loading.steps_csv(path), file_name=f"{path.name}-steps.csv",
                       mime="text/csv", on_click="ignore", key="cur_csv", icon=":material/download:",
                       help="every step and every column of steps.jsonl (the charts may show a downsampled view)")
