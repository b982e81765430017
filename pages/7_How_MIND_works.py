"""How MIND works: a short explanation for teaching demos, filled in with the live quantities of a chosen run: its
scores and selection, losses, MetaNet's tracking and the inertia, and the comparison it belongs to (cached_runs/).
The explanation itself needs no run: without one (an empty runs folder) the page still teaches the method."""

import numpy as np
import streamlit as st

from mind.data.perspectives import display_name
from app import charts, colors, evaluation, loading, seed_results, tracking_view, ui, whatif

st.title("How MIND works")
st.markdown(
    "MIND distils a large teacher's reasoning into a small student. The teacher solves every training problem "
    "**K times, once per reasoning perspective** (formal, intuitive, decomposition, planning, analogy, socratic, "
    "contrastive, counterfactual). Training on all K rationales equally wastes the student's capacity on styles it "
    "cannot use yet; MIND lets a small network, **MetaNet**, choose which perspectives to teach *now*.")

path = ui.choose_run("Run that illustrates the steps")  # None: the method below, without a run's numbers
ILLUSTRATED = "With a run chosen above, each step below shows that run's own numbers."


def _differing(rows, unit: str, digits: int) -> str:
    """'run benchmark +d unit [lo, hi]; ...' for the rows whose interval excludes zero."""
    return "; ".join(f"{r.run} {r.benchmark} {r.diff:+.{digits}f} {unit} [{r.lo:+.{digits}f}, {r.hi:+.{digits}f}]"
                     for r in rows[rows["significant"]].itertuples())


def open_illustration(p):
    """(run, steps, perspectives) of the chosen run, or None (no run, or one without steps: said once, as a note)."""
    if p is None:
        st.caption(ILLUSTRATED)
        return None
    with ui.guard(p.name):
        r = loading.open_run(p)
        ui.run_caption(r)
        d = loading.steps(p)
        loading.require_steps(r, d)
        return r, d, loading.perspectives(r, d)
    return None


shown = open_illustration(path)
run, df, ps = shown if shown else (None, None, [])
cfg = run.config if run else {}
beta = float(loading.cfg_get(cfg, "beta", default=0.7))
tau_s = float(loading.cfg_get(cfg, "tau_student", default=1.0))
g = float(loading.cfg_get(cfg, "g", default=0.9))
last, scores = (df.iloc[-1] if run is not None else None), np.array([])

st.header("1. MetaNet scores each perspective")
st.markdown("For a question x and its K rationales, MetaNet embeds each (x, r_k) with a frozen Sentence-BERT "
            "encoder, lets the K vectors attend to each other (the *synergy* layer) and gives each a positive "
            "score s_k.")
with ui.guard(path.name if path else "the run"):
    if run is not None:
        scores = np.array([last.get(f"score/{p}", np.nan) for p in ps], dtype=float)
        st.write(f"In **{run.name}** at step {int(last['step'])}, the mean scores were: " +
                 ", ".join(f"{display_name(p)} {s:.2f}" for p, s in zip(ps, scores) if s == s) + ".")

st.header("2. Select the perspectives close to the best one")
st.latex(r"I_{dyn} = \{k : s_k \ge \beta \cdot \max_j s_j\},\qquad \alpha_k = "
         r"\frac{e^{s_k/\tau_s}}{\sum_{j\in I_{dyn}} e^{s_j/\tau_s}}")
st.markdown("β (between 0 and 1) sets how close to the best score a perspective must be to be kept; α, the weight of "
            "each kept rationale in the student's loss, is a softmax of the scores at temperature τ_student.")
with ui.guard(path.name if path else "the run"):
    if run is not None and np.isfinite(scores).any():
        sel = whatif.select(scores, beta, tau_s)
        st.write(f"With β = {beta} and τ_student = {tau_s}, those mean scores keep "
                 f"**{int(sel.selected.sum())} of {len(ps)}** perspectives.")
        st.plotly_chart(charts.rationale_bars(ps, np.nan_to_num(scores), sel.alphas, sel.selected,
                                              threshold=beta * np.nanmax(scores), title="Selection from the mean scores"),
                        key="how_sel")

st.header("3. Train the student on the selected rationales")
st.latex(r"L = \sum_{k\in I_{dyn}} \alpha_k\, CE(r_k\mid x) + \lambda \sum_{i<j} \alpha_i\alpha_j\, "
         r"JSD(P_i \,\|\, P_j)")
st.markdown("The second term asks the student to reach the **same answer distribution** whichever selected "
            "perspective it follows (all rationales end with the same answer line).")
with ui.guard(path.name if path else "the run"):
    if run is not None:
        st.plotly_chart(charts.loss_curves({run.name: df}, columns=("loss_total", "loss_sft", "loss_cons"),
                                           colours=colors.run_colours([run.name])), key="how_loss")

st.header("4. Calibrate MetaNet with the student's feedback, slowly")
st.latex(r"\tilde L_k \leftarrow g\,\tilde L_k + (1-g)\,L^{real}_k,\qquad "
         r"L_{meta} = KL\big(\mathrm{softmax}(s/\tau)\,\|\,\mathrm{softmax}(-\tilde L/\tau)\big)")
st.markdown(f"L_real is the student's cross-entropy on each perspective's rationale now; L̃ is its moving average "
            f"(inertia g{f' = {g}' if run is not None else ''}), and MetaNet learns to rank perspectives the way the "
            "student currently finds them easy, with a smaller learning rate than the student. This lag (*inertia*) "
            "keeps the curriculum from chasing noise.")
if run is None:
    st.header("5. Compare it with the alternatives")
    st.markdown("`mind experiment compare` trains the same student with every method (all rationales at equal "
                "weight, one golden rationale, no inertia, no synergy layer) and evaluates them on the same items.")
    st.stop()

with ui.guard(path.name):
    st.plotly_chart(charts.weights_area(df, ps), key="how_area")
    said = tracking_view.sentences(df, int(last["step"]), n_heldout=len(cfg.get("heldout_ids") or []) or None)
    if said:
        st.markdown(f"**Does MetaNet follow the student in {run.name}?** (its last epoch)")
        for line in said:
            st.markdown(f"- {line}")
        st.plotly_chart(tracking_view.inertia_chart(charts.bin_means(df), ps, charts.colors(ps),
                                                    {p: display_name(p) for p in ps}), key="how_inertia")
        st.caption("Thin dotted lines: the raw loss L_real of each perspective; thick: the filtered L̃ that MetaNet "
                   "learns from. Where they part, the inertia is acting.")

    st.header("5. Does it beat the alternatives here?")
    comp = evaluation.comparison_for(path)
    if comp is None:
        st.caption(f"{run.name} is not part of a comparison. `mind experiment compare` trains the same student with "
                   "every method and evaluates them on the same items; the cached SmolLM2 runs are one.")
    else:
        table, diffs = comp
        st.markdown("The same student, data, seed and number of steps with each method (`mind experiment compare`). "
                    "Accuracies in points with 95% intervals; the runs are evaluated on the same items.")
        st.dataframe(table, hide_index=True, column_config={c: st.column_config.NumberColumn(format="%.1f")
                                                           for c in ("ID avg", "ID lo", "ID hi", "OOD avg", "OOD lo",
                                                                     "OOD hi", "forgetting")})
        acc = diffs[diffs["metric"] == "accuracy"]
        if len(acc):
            ref = diffs.attrs.get("reference") or "the first run"
            st.markdown(f"Item by item against **{ref}** (McNemar, Newcombe 95% intervals): " + (
                _differing(acc, "points", 1) + " differ from it." if acc["significant"].any() else
                f"none of the {len(acc)} ID/OOD accuracy differences is distinguishable from zero at this size "
                "(every interval includes 0)."))
            lik = diffs[diffs["metric"] == "answer log-lik"]
            if len(lik):
                st.markdown("Teacher-forced answer log-likelihood, same items (paired bootstrap): " + (
                    _differing(lik, "nats", 3) + f" differ from {ref}." if lik["significant"].any() else
                    f"none of the {len(lik)} ID/OOD differences is distinguishable from zero."))
        else:
            st.caption("No evaluation in this comparison yet: `mind experiment compare --stages eval` adds one.")
        for exp in seed_results.find([path]):
            for metric in ("accuracy", "answer_logp"):
                said = seed_results.pooled_sentence(exp, metric)
                if said:
                    st.markdown(said)
    st.page_link(ui.page_path("3_Curriculum.py"), label="Explore the curriculum step by step", icon=":material/school:")
    st.page_link(ui.page_path("6_Evaluation.py"), label="Compare the runs on the Evaluation page",
                 icon=":material/fact_check:")
    st.page_link(ui.page_path("4_MetaNet_debugger.py"), label="Inspect one problem in the MetaNet debugger",
                 icon=":material/bug_report:")
