"""MetaNet debugger: one problem at one step, everything MetaNet saw and decided, a what-if on beta / tau, and the
problem's history across every step it appeared in. Warm-up steps are shown as warm-up (every rationale trained at
equal weight), not as MetaNet selecting all of them."""

import numpy as np
import pandas as pd
import streamlit as st

from mind.data.perspectives import display_name
from mind.training.tracking import rank_agreement
from app import charts, debugger, glossary, loading, tracking_view, ui, whatif

st.title("MetaNet debugger")
st.caption("MetaNet (the teaching assistant) scores the K rationales of each problem; MIND keeps the perspectives "
           "whose score is at least β times the best one and weights them with α = softmax(s/τ_student).")

def _arr(rec, key, k):
    v = rec.get(key)
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return np.full(k, np.nan)
    return np.asarray(v, dtype=float)


def show(path, run, rec, phase):
    cfg = run.config
    ps = list(rec["perspectives"])
    k = len(ps)
    scores, alphas = _arr(rec, "scores", k), _arr(rec, "alphas", k)
    selected = np.asarray(rec.get("selected") or [False] * k, dtype=bool)
    raw, filt = _arr(rec, "loss_raw", k), _arr(rec, "loss_filtered", k)
    probs = loading.problems(path)
    prob = probs[probs["id"].astype(str) == str(rec["problem_id"])]
    rats = prob.iloc[0]["rationales"] if len(prob) else {}
    if len(prob):
        st.markdown(f"**Question** ({rec['problem_id']}): {prob.iloc[0]['question']}  \n**Gold answer:** {prob.iloc[0]['answer']}")
    rho = rank_agreement(scores, filt)
    if rho == rho:
        st.markdown(f"MetaNet ranks this problem's rationales the way the student's filtered losses do: "
                    f"**Spearman ρ = {rho:.2f}** (1 = the same order, 0 = unrelated, −1 = reversed).")
    lm = rec.get("loss_meta")
    st.metric("L_meta for this problem", f"{lm:.4f}" if isinstance(lm, (int, float)) and lm == lm else "n/a",
              help="KL(softmax(s/τ) ‖ softmax(−L̃/τ)): how far MetaNet's ranking is from the student's filtered losses")

    warm = phase == "warmup"
    if warm:
        st.info(f"Step {int(rec['step'])} is in MetaNet's **warm-up**: the student trains on every rationale at equal "
                f"weight (α = 1/{int(np.isfinite(scores).sum()) or k}) whatever the scores; MetaNet only learns to "
                "score here. The β·max(s) line shows where its selection would start.", icon=":material/hourglass_top:")
    elif phase == "off":
        st.info(f"This run's method ({loading.cfg_get(cfg, 'method', default='?')}) has no MetaNet selection: the "
                "student trains on the rationales as the method says. The what-if below applies MIND's rule to the "
                "recorded scores, where there are any.", icon=":material/block:")
    table = pd.DataFrame({"perspective": [display_name(p) for p in ps], "score s_k": scores, "α_k": alphas,
                          "trained (warm-up)" if warm else "selected": selected, "raw loss L_real": raw,
                          "filtered loss L̃": filt})
    st.dataframe(table.style.format(precision=3), hide_index=True, width="stretch")
    beta0 = float(loading.cfg_get(cfg, "beta", default=0.7))
    left, right = st.columns(2)
    finite = scores[np.isfinite(scores)]
    left.plotly_chart(charts.rationale_bars(ps, np.nan_to_num(scores), np.nan_to_num(alphas), selected,
                                            threshold=beta0 * finite.max() if finite.size else None,
                                            title="Recorded: scores (bars) and α (diamonds)"
                                                  + (" · warm-up: all trained at equal α" if warm else "")),
                    key="dbg_bars")
    att = rec.get("attention")
    if isinstance(att, list) and att and len(att) == k:
        right.plotly_chart(charts.attention_heatmap(att, ps), key="dbg_att")
    else:
        right.info("No attention matrix recorded for this step (the no-attention ablation has none).")

    st.subheader("What if?")
    if not finite.size:
        st.caption("No MetaNet scores were recorded at this step, so there is no selection to recompute.")
        return rationales(ps, scores, alphas, selected, rats)
    st.caption("Recompute the selection and α from the recorded scores with another β and τ_student.")
    w1, w2 = st.columns(2)
    beta = w1.slider("β", 0.01, 1.0, min(max(beta0, 0.01), 1.0), 0.01, key="wi_beta")
    tau_s = w2.slider("τ_student", 0.05, 5.0, float(loading.cfg_get(cfg, "tau_student", default=1.0)), 0.05, key="wi_tau")
    sel = whatif.select(scores, beta, tau_s, warm=warm)
    changed = int((sel.selected != selected).sum())
    st.write(f"Keeps **{int(sel.selected.sum())}** of {k} perspectives ({changed} changed vs recorded); "
             f"α entropy {whatif.entropy(sel.alphas):.3f} nats (recorded {whatif.entropy(np.nan_to_num(alphas)):.3f}).")
    if warm and np.isfinite(scores).any():
        after = whatif.select(scores, beta, tau_s)
        st.caption(f"During the warm-up every rationale is trained whatever β and τ_student are. Once it ends, "
                   f"these scores would keep **{int(after.selected.sum())}** of {k} at β = {beta:.2f}.")
    st.plotly_chart(charts.rationale_bars(ps, np.nan_to_num(scores), sel.alphas, sel.selected,
                                          threshold=beta * finite.max() if finite.size else None,
                                          title="What-if: selection and α" + (" (warm-up rule)" if warm else "")),
                    key="dbg_whatif")
    st.caption(glossary.define(["s_k", "β", "α"], cfg))

    rationales(ps, scores, alphas, selected, rats)


def rationales(ps, scores, alphas, selected, rats):
    st.subheader("Rationales")
    for i, p in enumerate(ps):
        icon = ":material/check_circle:" if selected[i] else ":material/radio_button_unchecked:"
        with st.expander(f"{display_name(p)} · s={scores[i]:.3f} · α={alphas[i]:.3f}", icon=icon):
            st.text(rats.get(p, "(not in the run's data.jsonl)") if isinstance(rats, dict) else "")

    with st.expander("What do these numbers mean?"):
        st.markdown(
            "- **score s_k**: MetaNet's positive score for perspective k's rationale on this problem.\n"
            "- **selected**: s_k ≥ β·max(s): perspectives close to the best one are kept (I_dyn).\n"
            "- **α_k**: softmax of s/τ_student over the selected set; the weight of that rationale's loss. No gradient "
            "flows from the student into MetaNet through α.\n"
            "- **raw loss**: the student's cross-entropy on that rationale now; **filtered loss**: its EMA "
            "L̃ ← g·L̃ + (1−g)·L_real.\n"
            "- **L_meta**: the ListNet loss that teaches MetaNet to rank perspectives like the student's filtered losses.\n"
            "- **attention**: the synergy layer's self-attention between perspectives (row attends to column).")


def history(path, run, pid, step, steps_df):
    """The chosen problem at every step it was drawn in: scores, L̃ and α, the warm-up shaded."""
    st.subheader(f"Problem {pid} across the run")
    n = len(loading.sample_steps(path))
    on = st.toggle("Show its history", value=n <= 2000, key="dbg_history",
                   help="reads every per-problem record of the run (on by default up to 2,000 recorded steps)")
    if not on:
        st.caption(f"This run has per-problem records at {n:,} steps; turn this on to read them all.")
        return
    hist = debugger.problem_history(loading.samples(path), pid)
    if not len(hist):
        st.caption("No other records of this problem.")
        return
    ps = list(dict.fromkeys(hist["perspective"]))
    seen = sorted(hist["step"].unique())
    warm = debugger.warmup_steps(steps_df, run.config)
    st.plotly_chart(debugger.history_chart(hist, ps, warm, step,
                                           f"{pid}: drawn at {len(seen)} step{'s' if len(seen) != 1 else ''} "
                                           f"({', '.join(map(str, seen[:12]))}{', ...' if len(seen) > 12 else ''})"),
                    key="dbg_history_chart")
    st.caption(glossary.define(["s_k", "L~", "α", "warm-up"], run.config))


path, run, live = ui.open_run_page("dbg_live")
with ui.guard(path.name):
    if not loading.sample_steps(path):
        msg = "No per-problem MetaNet records yet" if run.state == "running" else "This run recorded no MetaNet details"
        st.info(f"{msg} (samples.jsonl is empty; methods without MetaNet, such as 'uniform', do not write them).")
        st.stop()

    @st.fragment(run_every=live)
    def body():
        with ui.guard(path.name):
            steps = loading.sample_steps(path)
            c1, c2, c3 = st.columns([1, 2, 3])
            follow = c1.toggle("follow latest", value=bool(live), key="dbg_follow")
            if follow:
                step = steps[-1]
                c2.metric("step", step)
            else:
                step = c2.select_slider("step", options=steps, value=steps[-1], key="dbg_step")
            for line in tracking_view.sentences(loading.steps(path), step):
                st.markdown(f"- {line}")
            at = loading.samples_between(path, step, step)  # reads only the chunk holding this step
            pids = [str(p) for p in at["problem_id"]]
            pid = c3.selectbox("problem", pids, key="dbg_problem")
            rec = at[at["problem_id"].astype(str) == pid].iloc[0]
            df = loading.steps(path)
            phase = debugger.phase_of(rec, df, run.config)
            c1.caption(f":material/{'hourglass_top' if phase == 'warmup' else 'tune'}: step {step}: "
                       f"{debugger.PHASE_LABEL[phase]}")
            show(path, run, rec, phase)
            history(path, run, pid, step, df)

    body()
