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

# (file in pages/, title, icon, url path). app/main.py registers them with st.navigation in this order. The first
# is the default page, which Streamlit serves at "/"; app/main.py registers it a second time, hidden, under its own
# url path, so that "/runs" opens it too (ALIAS_URL is the first page's declared path, which "/" stands for).
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
ROOT_URL = "home"  # the declared url path of the default page (served at "/"; the hidden alias takes PAGES[0]'s)
RUN_KEY = "mind_run"  # session-state key of the run chosen on any page (shared by all pages)
NO_RUNS = ("No runs found in {roots}. Launch one on the **Launch** page, or train from a terminal: "
           "`mind train --preset demo --out {example}`.")


def no_runs_message() -> str:
    """'No runs found in ...', with a `mind train` line that writes into the dashboard's own runs folder."""
    return NO_RUNS.format(roots=", ".join(f"`{r}`" for r in settings.roots()), example=settings.runs_dir() / "demo")


def missing_run_message(name: str) -> str:
    return (f"No run named `{name}` exists in {', '.join(f'`{r}`' for r in settings.roots())}. The address asked "
            "for it (an old link, or a run that was renamed or deleted); choose a run below.")


def page_path(filename: str) -> str:
    """Absolute path of a page file (what st.Page and st.switch_page accept)."""
    return str(settings.PAGES_DIR / filename)


def badge(state: str, status: dict | None = None) -> str:
    """The state's badge; a stopped run says why (status.json's ``stopped_by``): a Stop someone asked for, or a
    signal nobody asked for (``mind train`` exited 128+N then)."""
    text = STATE_BADGE.get(state, state)
    by = (status or {}).get("stopped_by") if state == "stopped" else None
    if by == "request":
        return text.replace("stopped]", "stopped (Stop requested)]")
    if by:
        return text.replace("stopped]", f"stopped by {by}, not requested]")
    return text


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


def _run_label(o: str) -> str:
    return f"{Path(o).name}  ·  {settings.root_label(Path(o))}"


def choose_run(label: str = "Run", key: str = "run_select", only: list[Path] | None = None) -> Path | None:
    """Select one run (shared across pages via session state and the ``?run=`` query parameter).

    An address that names a run (a shared link, "Open in Curriculum") wins over the session's last choice; the
    chosen run is written back to the address. An address naming a run that does not exist gets an error saying
    so, an empty picker and None (the page stops): no other run is opened in its place, and the address keeps the
    name until the user picks a run."""
    paths = only if only is not None else loading.discover()
    if not paths:
        st.info(no_runs_message())
        return None
    options = [str(p) for p in paths]
    qp = st.query_params.get("run")
    wanted = next((o for o in options if Path(o).name == qp), None) if qp else None

    def _picked() -> None:  # a choice in the picker: it becomes the address and the session's run
        chosen = st.session_state.get(key)
        if chosen:
            st.query_params["run"] = Path(chosen).name
            st.session_state[RUN_KEY] = chosen

    if qp and wanted is None:
        st.error(missing_run_message(qp), icon=":material/search_off:")
        choice = st.selectbox(label, options, index=None, format_func=_run_label, key=key, on_change=_picked,
                              placeholder="choose a run")
        if choice is None:
            return None
    else:
        wanted = wanted or st.session_state.get(RUN_KEY)
        index = options.index(wanted) if wanted in options else 0
        choice = st.selectbox(label, options, index=index, format_func=_run_label, key=key, on_change=_picked)
    st.session_state[RUN_KEY] = choice
    st.query_params["run"] = Path(choice).name
    return Path(choice)


def choose_runs(label: str = "Runs", key: str = "runs_multi", default_n: int = 2, prefer=None) -> list[Path]:
    """Select several runs (for comparisons). The first default is the rows picked on the Runs page, else
    ``prefer(paths)`` (a page's own choice, e.g. the Evaluation page's evaluated runs), else the ``default_n``
    newest."""
    paths = loading.discover()
    if not paths:
        st.info(no_runs_message())
        return []
    options = [str(p) for p in paths]
    default = (st.session_state.get("mind_compare") or (prefer and [str(p) for p in prefer(paths)])
               or options[:default_n])
    default = [d for d in default if d in options]
    chosen = st.multiselect(label, options, default=default, key=key,
                            format_func=lambda o: f"{Path(o).name} · {settings.root_label(Path(o))}")
    return [Path(c) for c in chosen]


def choose_overlay(current: Path, key: str = "overlay", label: str = "Overlay other runs",
                   max_runs: int = 11) -> list[Path]:
    """Pick runs to draw beside the page's run ``current`` (each in its own colour, :mod:`app.colors`). The first
    default is the address's ``?overlay=a,b`` (a shareable link), else the other runs selected on the Runs page;
    the choice is written back to the address. Names in the address that match no run are said, not dropped
    silently. The options are every run (so changing the page's run keeps the widget valid); ``current`` is left
    out of the result."""
    others = [p for p in loading.discover() if p != current]
    if not others:
        st.caption("No other runs to overlay: launch or copy another run into the runs folder.")
        return []
    options = [str(p) for p in loading.discover()]
    by_name = {Path(o).name: o for o in options if o != str(current)}
    qp = st.query_params.get("overlay")
    if qp is not None:
        names = [n for n in qp.split(",") if n]
        unknown = [n for n in names if n not in by_name]
        if unknown:
            st.warning("No run named " + ", ".join(f"`{n}`" for n in unknown) + " to overlay (the address asked for "
                       "it).", icon=":material/search_off:")
        default = [by_name[n] for n in names if n in by_name]
    else:
        default = [o for o in st.session_state.get("mind_compare") or [] if o in by_name.values()]

    def _changed() -> None:
        picked = st.session_state.get(key) or []
        if picked:
            st.query_params["overlay"] = ",".join(Path(c).name for c in picked)
        elif "overlay" in st.query_params:
            del st.query_params["overlay"]

    chosen = st.multiselect(label, options, default=default[:max_runs], key=key, on_change=_changed,
                            max_selections=max_runs, format_func=_run_label, placeholder="add runs to compare",
                            help="each run keeps one colour on every page; up to 12 runs stay distinct")
    return [Path(c) for c in chosen if c != str(current)]


def gap_warning(run, steps_df) -> None:
    """The missing-steps warning of :func:`run_caption` alone (for runs shown beside the page's run)."""
    gaps = loading.step_gaps(run, steps_df, loading.cfg_get(run.config, "steps"))
    if gaps:
        st.warning(loading.gap_message(run.name, gaps), icon=":material/warning:")


def run_caption(run, steps_df=None) -> None:
    """One line under the picker: state, method, student, step count; and, when steps.jsonl lacks steps the run
    reports (a cut file), a warning saying how many and from where, so a badge never says 48/48 over 23 steps."""
    cfg = run.config
    df = steps_df
    if df is None:
        try:
            df = loading.steps(run.path)
        except MindError:  # a corrupt steps file: the page's own reading says why
            df = None
    prog = loading.progress(run.status, df, total=loading.cfg_get(cfg, "steps"))
    gaps = loading.step_gaps(run, df, prog["total"]) if df is not None else None
    steps = (f"step {prog['done']}/{prog['total'] or '?'}" if not gaps else
             f"**{gaps['recorded']} of {prog['total'] or gaps['expected']} steps recorded**")
    st.caption(f"{badge(run.state, run.status)} · method **{loading.cfg_get(cfg, 'method', default='?')}** · "
               f"student **{loading.cfg_get(cfg, 'student', default='?')}** · {steps}")
    if gaps:
        st.warning(loading.gap_message(run.name, gaps), icon=":material/warning:")
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
        slot = st.container()
        live = live_toggle(run, key=live_key)
        with slot:  # above the toggle, refreshed as often as the page's charts: it never lags their step
            live_caption(path, live)
        return path, run, live
    st.stop()  # guard showed why the run cannot be opened


def live_caption(path: Path, every: float | None) -> None:
    """:func:`run_caption` in a fragment that refreshes every ``every`` seconds (None: drawn once)."""
    @st.fragment(run_every=every)
    def caption():
        with guard(path.name):
            run_caption(loading.open_run(path))

    caption()


@st.cache_resource
def registry():
    """The jobs (training, analysis) this server started: one registry per server process."""
    from app.jobs import JobRegistry

    return JobRegistry()
