"""Launch: a form for a small training run, started as `mind train` in a subprocess, then followed live.

Dataset files and model folders must lie in the runs folder or an ``--allow-dir`` folder (app/access.py); a
read-only dashboard does not register this page, and the page stops at once if it is reached anyway."""

from pathlib import Path
import time

import streamlit as st

from mind.errors import MindError
from app import access, charts, colors, jobs, loading, logs, phases, settings, ui

st.title("Launch a run")
if settings.read_only():
    st.info("This dashboard is read-only: launching and stopping runs is switched off.")
    st.stop()
roots = access.launch_roots()
st.caption(f"New runs are written to `{settings.runs_dir()}`. The run is a separate `mind train` process: "
           "closing this page does not stop it. Dataset files and model folders must lie in "
           + " or ".join(f"`{r}`" for r in roots) + " (`mind app --allow-dir FOLDER` adds a folder); "
           "relative paths start at the runs folder.")

if st.session_state.pop("launch_new_name", False) or "launch_name" not in st.session_state:
    st.session_state["launch_name"] = f"run-{time.strftime('%Y%m%d-%H%M%S')}"  # a fresh default name

PRESETS = {"demo": "demo: a tiny student learns 16 problems for 6 epochs (48 steps), after 50 MetaNet calibration "
                   "epochs; ",
           "": "none: the options below on top of mind train's defaults"}
measured = phases.last_preset_timing(settings.runs_dir(), "demo")
PRESETS["demo"] += (phases.describe_timing(measured) if measured else
                    "not yet timed on this machine (the label shows the last run's time once one finishes)")
preset = st.selectbox("Preset", list(PRESETS), format_func=PRESETS.get, key="launch_preset",
                      help="a bundled set of options (mind/training/presets/demo.yaml) applied first; the form's values "
                           "win. The time is measured from the last run of the preset in this runs folder.")
d = jobs.form_defaults(preset)  # the form's defaults

with st.form("launch"):
    c1, c2, c3 = st.columns(3)
    name = c1.text_input("Run name", key="launch_name", max_chars=128,
                         help="letters, digits, '.', '_' or '-'; the run folder inside your runs folder")
    data_kind = c2.radio("Dataset", ["demo", "file"], horizontal=True, help="the bundled demo set or a JSONL file")
    data_file = c2.text_input("Dataset file (.jsonl)", value="",
                              help="used when Dataset is 'file': a file in the runs folder or an --allow-dir folder")
    student_kind = c3.selectbox("Student", ["tiny", "smollm2-135m", "other (model id or folder)"])
    student_other = c3.text_input("Model id or folder", value="",
                                  help="used when Student is 'other': a Hugging Face id (org/name), or a model folder "
                                       "in the runs folder or an --allow-dir folder")
    c4, c5, c6 = st.columns(3)
    method = c4.selectbox("Method", jobs._methods())
    steps = c5.number_input("Steps", min_value=1, max_value=jobs.MAX_STEPS, value=int(d["steps"]), step=1,
                            key=f"launch_steps_{preset}")
    seed = c6.number_input("Seed", min_value=0, max_value=2**31 - 1, value=0, step=1)
    st.markdown("**MIND hyperparameters**")
    h = st.columns(7)
    beta = h[0].number_input("β (selection)", 0.01, 1.0, 0.7, 0.05, help="keep k if s_k ≥ β·max(s)")
    lam = h[1].number_input("λ (consistency)", 0.0, 10.0, 0.1, 0.05, help="weight of the JSD term")
    tau = h[2].number_input("τ (meta loss)", 0.01, 100.0, 1.0, 0.1)
    tau_student = h[3].number_input("τ_student", 0.01, 100.0, 1.0, 0.1, help="temperature of α")
    g = h[4].number_input("g (inertia)", 0.0, 0.99, 0.9, 0.05, help="EMA factor of the filtered loss")
    lr = h[5].number_input("student LR", 1e-7, 1.0, float(d["lr"]), format="%.1e", key=f"launch_lr_{preset}")
    meta_lr = h[6].number_input("MetaNet LR", 1e-7, 1.0, float(d["meta_lr"]), format="%.1e",
                                key=f"launch_meta_lr_{preset}")
    st.markdown("**Speed**")
    s1, s2, _ = st.columns(3)
    precision = s1.selectbox("Precision", ["auto", "fp32", "bf16"], index=["auto", "fp32", "bf16"].index(d["precision"]),
                             key=f"launch_precision_{preset}",
                             help="auto: bf16 mixed precision where this machine computes bf16 fast (measured once: AMX "
                                  "CPUs, recent GPUs), else fp32. bf16 on a CPU without bf16 units is many times slower")
    rescore_every = s2.number_input("Rescore interval N", 1, 1000, 1, 1,
                                    help="measure L_real of the rationales not trained on every Nth step only: "
                                         "1 = every step (the paper); larger N skips that no-grad pass in between")
    submitted = st.form_submit_button("Start training", type="primary")

if submitted:
    try:
        data = "demo" if data_kind == "demo" else access.launch_dataset(data_file, roots)
        student = student_kind if student_kind in jobs.STUDENTS else access.launch_student(
            student_other, roots, embedded=jobs.STUDENTS, search=(Path.cwd(), settings.ROOT))
        spec = jobs.LaunchSpec(
            name=name.strip(), data=data, student=student,
            method=method, steps=int(steps), seed=int(seed), beta=float(beta), lam=float(lam), tau=float(tau),
            tau_student=float(tau_student), g=float(g), lr=float(lr), meta_lr=float(meta_lr),
            precision=precision, rescore_every=int(rescore_every), preset=preset)
        job = ui.registry().start_train(spec, settings.runs_dir())
        st.session_state["launched"] = str(job.run_path)
        st.session_state[ui.RUN_KEY] = str(job.run_path)
        st.session_state["launch_new_name"] = True
        st.toast(f"Started {spec.name}")
    except MindError as exc:
        st.error(str(exc))

registry = ui.registry()
runs_root = settings.runs_dir().resolve()
launched = [j for j in registry.jobs()  # this server's runs in this runs folder (one process can serve several)
            if j.kind == "train" and Path(j.run_path).resolve().parent == runs_root]
if not launched:
    st.info("Fill in the form and press **Start training**; the run's progress appears here.")
    st.stop()

names = [str(j.run_path) for j in reversed(launched)]
current = st.session_state.get("launched")
# keyed by the run this session launched last: a new launch makes a fresh picker that follows the new run (a browser
# sends the old picker's value back with the form, which would keep following the previous run)
follow_path = Path(st.selectbox("Follow", names, index=names.index(current) if current in names else 0,
                                format_func=lambda s: Path(s).name, key=f"follow_select_{current}"))
job = registry.get("train", follow_path)


@st.fragment(run_every=1.0 if job and job.running else None)
def follow(path: Path):
    j = ui.registry().get("train", path)
    with ui.guard("the launched run"):
        rc = j.returncode if j else None
        spec_method = j.argv[j.argv.index("--method") + 1] if j and "--method" in j.argv else "mind"
        spec_steps = int(j.argv[j.argv.index("--steps") + 1]) if j and "--steps" in j.argv else None
        ph = phases.launch_phases(path, spec_method, spec_steps, time.time() - j.started_at if j else None)
        if not (path / "config.json").exists():
            if rc is None:
                now = phases.current(ph)
                st.progress(0.0, text=f"starting: {now.label.lower() if now else 'loading'}...")
                show_phases(ph)
            else:
                st.error(f"`mind train` exited with code {rc} before writing the run.")
                st.code(logs.log_tail(path) or "(empty log)", language="text")
            return _maybe_rerun(j)
        run = loading.open_run(path)
        df = loading.steps(path)
        prog = loading.progress(run.status, df, total=loading.cfg_get(run.config, "steps"))
        state = run.state if not (rc not in (None, 0) and run.state == "running") else "crashed"
        text = f"{ui.badge(state)} · step {prog['done']}/{prog['total'] or '?'}"
        if state == "running":
            text += f" · ETA {loading.format_eta(prog['eta_s'])}"
        st.progress(prog["fraction"], text=text)
        if state == "running" and not len(df):
            show_phases(ph)
        elif state == "running":
            with st.expander("Start-up phases", icon=":material/timer:"):
                show_phases(ph)
        ui.gap_warning(run, df)
        if j and j.running and st.button("Stop", key="stop_run", type="secondary", icon=":material/stop:"):
            ui.registry().stop("train", path)
            st.toast("Sent SIGTERM; the trainer saves and marks the run stopped.")
        if state in ("crashed",) or (rc not in (None, 0) and state != "stopped"):
            st.error(f"The run failed (exit code {rc}). " + (run.status.get("error") or ""))
            st.code(logs.log_tail(path), language="text")
        elif state == "finished":
            st.success("Finished. Explore it on the Curriculum and MetaNet pages.")
            st.session_state[ui.RUN_KEY] = str(path)
            st.page_link(ui.page_path("3_Curriculum.py"), label="Open in Curriculum", icon=":material/school:",
                         query_params={"run": path.name})
        if len(df):
            ps = loading.perspectives(run, df)
            c1, c2 = st.columns(2)
            c1.plotly_chart(charts.loss_curves({path.name: df}, columns=("loss_total", "loss_meta"),
                                               colours=colors.run_colours([path.name])), key="live_loss")
            c2.plotly_chart(charts.weights_area(df, ps), key="live_weights")
        with st.expander("Log"):
            st.code(logs.log_tail(path, 30) or "(empty)", language="text")
    _maybe_rerun(j)


ICONS = {"done": ":material/check_circle:", "running": ":material/progress_activity:",
         "pending": ":material/radio_button_unchecked:", "skipped": ":material/block:"}


def show_phases(ph):
    """One line per phase of the launched run (start-up, features, calibration, steps), each with its own bar."""
    with st.container(border=True, key="launch_phases"):
        for p in ph:
            line = f"{ICONS[p.state]} **{p.label}** · {p.state}" + (f" · {p.detail}" if p.detail else "")
            if p.state == "running" and p.fraction is not None:
                st.progress(min(1.0, max(0.0, p.fraction)), text=line)
            else:
                st.markdown(line)


def _maybe_rerun(j):
    """When the followed process has just ended, rerun the page once so the fragment stops auto-refreshing."""
    if j is not None and not j.running and st.session_state.get("follow_running") == str(j.run_path):
        st.session_state["follow_running"] = None
        st.rerun()
    if j is not None and j.running:
        st.session_state["follow_running"] = str(j.run_path)


follow(follow_path)
