"""One line per symbol the dashboard's charts use, so each chart can say what its axes mean beside it.

:func:`define` joins the lines of the symbols one chart uses (with this run's β, g and τ_student filled in when
the config has them), for an ``st.caption`` under the chart; :data:`SYMBOLS` is the whole list, for a help box.
"""

from __future__ import annotations

SYMBOLS = {
    "s_k": "**s_k**: MetaNet's score for perspective k's rationale of a problem (positive; higher = the teaching "
           "assistant thinks the student can use it now).",
    "β": "**β**{beta}: the selection threshold, a fraction of the best score: perspective k is selected when "
         "s_k ≥ β·max(s).",
    "α": "**α_k**: the weight of perspective k's rationale in the student's loss: a softmax of s_k/τ_student{tau} "
         "over the selected perspectives, 0 for the others; the α of one problem sum to 1.",
    "selected": "**selected**: the share of the step's problems whose selection kept perspective k (s_k ≥ β·max(s)).",
    "L_real": "**L_real**: the student's cross-entropy (nats per token) on perspective k's rationale at this step.",
    "L~": "**L̃**: the inertia-filtered loss, a moving average L̃ ← g·L̃ + (1−g)·L_real{g} per (problem, "
          "perspective); MetaNet learns to rank perspectives like −L̃.",
    "L_meta": "**L_meta**: MetaNet's ranking loss, KL(softmax(s/τ) ‖ softmax(−L̃/τ)); 0 = it ranks exactly like −L̃.",
    "ρ": "**ρ**: Spearman rank correlation between MetaNet's scores and −L̃ over a problem's rationales "
         "(1 = the same order, 0 = unrelated, −1 = reversed), averaged over the problems.",
    "shift": "**curriculum shift**: how much of the mean α moved between perspectives since the previous epoch "
             "(total-variation distance, 0 to 1).",
    "warm-up": "**warm-up**: MetaNet's first steps (`meta_warmup_steps`), where the student trains on every "
               "rationale at equal weight whatever the scores; MetaNet is not selecting yet.",
}


def define(symbols, config: dict | None = None) -> str:
    """The definitions of ``symbols`` (keys of :data:`SYMBOLS`) as one caption, with the run's values filled in."""
    from app.loading import cfg_get

    cfg = config or {}
    beta, g, tau = cfg_get(cfg, "beta"), cfg_get(cfg, "g", "gamma", "inertia"), cfg_get(cfg, "tau_student")
    fill = {"beta": f" (here {beta})" if beta is not None else "", "g": f", here g = {g}" if g is not None else "",
            "tau": f" (here {tau})" if tau is not None else ""}
    return "  \n".join(":material/help: " + SYMBOLS[s].format(**fill) for s in symbols)
