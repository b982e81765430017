"""Streamlit pieces shared by the pages: the page list, the run picker, error guards and status badges.

Pages stay declarative: they call these helpers and the builders in :mod:`app.charts`; everything that can
fail on a user's run directory is wrapped in :func:`guard`, which shows a one-line ``st.error`` (or
``st.info`` for a run that is still starting) instead of a traceback.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import streamlit as st

from mind.errors import MindError

from app import loading, settings

# (file in pages/, title, icon, url path). app/main.py registers them with st.navigation in this order.
PAGES = (
    ("1_Runs.py", "Runs", ":material/list:", "runs"),
    ("2_Launch.py", "Launch", ":material/rocket_launch:", "launch"),
    ("3_Curriculum.py", "Curriculum", ":material/school:", "curriculum"),
    ("4_MetaNet_debugger.py", "MetaNet debugger", ":material/bug_report:", "metanet"),
    ("5_Latent_space.py", "Latent space", ":material/scatter_plot:", "latent"),
    ("6_Evaluation.py", "Evaluation", ":material/fact_check:", "evaluation"),
    ("7_How_MIND_works.py", "How MIND works", ":material/menu_book:", "how-mind-works"),
)
STATE_BADGE = {"running": ":green[:material/play_circle: running]", "finished": ":blue[:material/check_circle: finished]",
               "crashed": ":red[:material/error: crashed]", "stopped": ":gray[:material/stop_circle: stopped]",
               "stale": ":orange[:material/schedule: stale (no heartbeat)]", "unknown": ":gray[:material/help: unknown]",
               "corrupt": ":red[:material/warning: corrupt]"}
RUN_KEY = "mind_run"  # session-state key of the run chosen on any page (shared by all pages)
NO_RUNS = ("No runs found in {roots}. Launch one on the **Launch** page, or train from a terminal: "
           "`mind train --data demo --student tiny --steps 20 --out runs/demo`.")


def page_path(filename: str) -> str:
    """Absolute path of a page file (what st.Page and st.switch_page accept)."""
    return str(settings.PAGES_DIR / filename)


def badge(state: str) -> str:
    return STATE_BADGE.get(state, state)


@contextlib.contextmanager
def guard(what: str = "this run"):
    """Show errors from a run directory as one line. MindError -> st.error; anything else -> st.error + bug note."""
    try:
        yield
    except MindError as exc:
        msg = str(exc)
        if "no steps recorded yet" in msg or "no hidden-state snapshots yet" in msg:
            st.info(msg)
        else:
            st.error(msg)
    except Exception as exc:  # noqa: BLE001 - a page never shows a traceback; the message names the problem
        st.error(f"Could not show {what}: {type(exc).__name__}: {exc}. The run directory may be partial or corrupt.")


def choose_run(label: str = "Run", key: str = "run_select", only: list[Path] | None = None) -> Path | None:
    """Select one run (shared across pages via session state and the ``?run=`` query parameter)."""
    paths = only if only is not None else loading.discover()
    if not paths:
        st.info(NO_RUNS.format(roots=", ".join(f"`{r}`" for r in settings.roots())))
        return None
    options = [str(p) for p in paths]
    # an address that names a run (a shared link, "Open in Curriculum") wins over the session's last choice;
    # this function writes the chosen run back to the address, so the two only differ when the address is new
    qp = st.query_params.get("run")
    wanted = next((o for o in options if Path(o).name == qp), None) if qp else None
    if wanted is None:
        wanted = st.session_state.get(RUN_KEY)
    index = options.index(wanted) if wanted in options else 0

    def _label(o: str) -> str:
        return f"{Path(o).name}  ·  {settings.root_label(Path(o))}"

    choice = st.selectbox(label, options, index=index, format_func=_label, key=key)
    st.session_state[RUN_KEY] = choice
    st.query_params["run"] = Path(choice).name
    return Path(choice)


def choose_runs(label: str = "Runs", key: str = "runs_multi", default_n: int = 2) -> list[Path]:
    """Select several runs (for comparisons)."""
    paths = loading.discover()
    if not paths:
        st.info(NO_RUNS.format(roots=", ".join(f"`{r}`" for r in settings.roots())))
        return []
    options = [str(p) for p in paths]
    default = st.session_state.get("mind_compare") or options[:default_n]
    default = [d for d in default if d in options]
    chosen = st.multiselect(label, options, default=default, key=key,
                            format_func=lambda o: f"{Path(o).name} · {settings.root_label(Path(o))}")
    return [Path(c) for c in chosen]


def run_caption(run) -> None:
    """One line under the picker: state, method, student, step count."""
    cfg = run.config
    prog = loading.progress(run.status, None, total=loading.cfg_get(cfg, "steps"))
    st.caption(f"{badge(run.state)} · method **{loading.cfg_get(cfg, 'method', default='?')}** · "
               f"student **{loading.cfg_get(cfg, 'student', default='?')}** · step {prog['done']}/{prog['total'] or '?'}")
    if run.state == "crashed" and run.status.get("error"):
        st.error(f"The run crashed: {run.status['error']}")


def live_toggle(run, key: str = "live") -> float | None:
    """For a running run: a 'follow live' toggle and refresh interval; returns run_every seconds or None."""
    if run.state != "running":
        return None
    c1, c2 = st.columns([1, 2])
    on = c1.toggle("Follow live", value=True, key=key)
    every = c2.select_slider("refresh every (s)", options=[1, 2, 5, 10], value=1, key=f"{key}_every")
    return float(every) if on else None


def open_run_page(live_key: str):
    """The preamble of a one-run page: the run picker, the run opened (errors shown as one line), its caption and
    the follow-live toggle. Returns (path, run, live refresh seconds or None); stops the page when there is no run
    to show."""
    path = choose_run()
    if path is None:
        st.stop()
    with guard(path.name):
        run = loading.open_run(path)
        run_caption(run)
        return path, run, live_toggle(run, key=live_key)
    st.stop()  # guard showed why the run cannot be opened


@st.cache_resource
def registry():
    """The jobs (training, analysis) this server started: one registry per server process."""
    from app.jobs import JobRegistry

    return JobRegistry()
