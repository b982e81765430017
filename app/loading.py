"""Reading run directories for the dashboard: discovery, cached frames, one-line summaries, progress.

Everything goes through :func:`mind.load_run`, whose readers keep a per-process cache of every run folder: a
call parses only what the trainer appended since the previous one (steps.jsonl and the samples tail), so a live
refresh costs what changed, not the run's length, and a finished run is parsed once per server process. Pages that
need one step's per-problem records ask for that step (:func:`samples_between`, :func:`sample_steps`) and read
one Parquet chunk, never the whole history. The problems table is cached with ``st.cache_data`` keyed by
data.jsonl's size and mtime. Errors in a run directory surface as :class:`mind.errors.RunDirError` (a
:class:`MindError`) for the page to show; nothing here calls ``st.error``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from mind.errors import MindError, RunDirError
from mind.run import Run, list_runs, load_run

from app import evaluation, settings

# Hyperparameters shown in the runs table: (column, candidate config keys, nested or flat).
KEY_PARAMS: dict[str, tuple[str, ...]] = {
    "beta": ("beta",),
    "lambda": ("lambda_cons", "lambda", "lam", "consistency_weight"),
    "tau": ("tau", "tau_meta"),
    "tau_student": ("tau_student",),
    "g": ("g", "gamma", "inertia"),
    "lr": ("lr", "learning_rate", "student_lr"),
    "meta_lr": ("meta_lr", "metanet_lr"),
    "seed": ("seed",),
}
FINAL_LOSSES = ("loss_total", "loss_sft", "loss_cons", "loss_meta")


def cfg_get(config: dict, *names: str, default: Any = None) -> Any:
    """First of ``names`` found in ``config`` or in one of its nested sections (``{"metanet": {"lr": ...}}``).

    The ``effective`` block (what the method really used: ``instant`` has g = 0 whatever the saved flag says, and
    ``uniform`` has no g at all) wins over the raw flags; a value it holds as None is shown as missing."""
    effective = config.get("effective")
    if isinstance(effective, dict):
        for n in names:
            if n in effective:
                return default if effective[n] is None else effective[n]
    for n in names:
        if n in config and not isinstance(config[n], dict):
            return config[n]
    for value in config.values():
        if isinstance(value, dict):
            for n in names:
                if n in value and not isinstance(value[n], dict):
                    return value[n]
    return default


def discover(roots: list[Path] | None = None) -> list[Path]:
    """Run directories under the dashboard's roots: the user's runs newest first, then the bundled ones in the
    order ``cached_runs/START_HERE.md`` first names them (a fresh clone gives every bundled run the same
    checkout time, so "newest" would pick one by accident), the rest newest first. The first is a page's default."""
    cached = settings.cached_runs_dir().resolve()
    is_cached = {Path(r): Path(r).resolve() == cached for r in (roots if roots is not None else settings.roots())}
    mine = list_runs(*(r for r, c in is_cached.items() if not c))
    bundled = list_runs(*(r for r, c in is_cached.items() if c))
    order = showcase_order(cached / "START_HERE.md")
    rank = {name: i for i, name in enumerate(order)}
    return mine + sorted(bundled, key=lambda d: rank.get(d.name, len(rank)))  # stable: newest first among the rest


def showcase_order(start_here: Path) -> list[str]:
    """Run names in the order a START_HERE.md first mentions them in backticks (``smollm2-mind-s0``; a list
    written ``smollm2-mind-s0/s1/s2`` names its first). Empty when the file is missing or unreadable."""
    import re

    try:
        text = start_here.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    return list(dict.fromkeys(m.split("/")[0] for m in re.findall(r"`([A-Za-z0-9][\w.-]*(?:/[\w.-]+)*)`", text)))


def signature(path: str | Path) -> tuple:
    """Cheap fingerprint of a run's mutable files: changes whenever the trainer writes something (for caches
    of things derived from a whole run; step and sample reads need none, they are incremental)."""
    p = Path(path)
    sig = []
    for name in ("config.json", "status.json", "steps.jsonl", "samples.jsonl", "data.jsonl", "probes.jsonl"):
        try:
            s = os.stat(p / name)
            sig.append((name, s.st_size, s.st_mtime_ns))
        except OSError:
            sig.append((name, None, None))
    try:
        sig.append(("snapshots", tuple(sorted(os.listdir(p / "snapshots")))))
    except OSError:
        sig.append(("snapshots", ()))
    return tuple(sig)


def open_run(path: str | Path) -> Run:
    """A fresh :class:`Run` (reads config.json only; properties read lazily)."""
    return load_run(path)


@st.cache_data(max_entries=32, show_spinner=False)
def _problems(path: str, sig: tuple) -> pd.DataFrame:
    return load_run(path).problems


def steps(path: str | Path) -> pd.DataFrame:
    """The run's step records, read incrementally (only new lines are parsed)."""
    return load_run(path).steps


def samples(path: str | Path) -> pd.DataFrame:
    """Every per-problem record of the run (all of its history: prefer :func:`samples_between` on pages)."""
    return load_run(path).samples


def sample_steps(path: str | Path) -> list[int]:
    """The steps that have per-problem MetaNet records, ascending."""
    return load_run(path).sample_steps


def samples_between(path: str | Path, lo: int | None = None, hi: int | None = None) -> pd.DataFrame:
    """Per-problem records with ``lo <= step <= hi``: reads only the chunks (and tail lines) holding them."""
    return load_run(path).samples_between(lo, hi)


def steps_csv(path: str | Path) -> bytes:
    """All step records of the run, every column, as CSV (the data the downsampled charts are drawn from)."""
    return load_run(path).steps.to_csv(index=False).encode("utf-8")


def problems(path: str | Path) -> pd.DataFrame:
    f = Path(path) / "data.jsonl"
    try:
        st_ = os.stat(f)
        sig = (st_.st_ino, st_.st_size, st_.st_mtime_ns)
    except OSError:
        sig = None
    return _problems(str(path), sig)


def perspectives(run: Run, steps_df: pd.DataFrame | None = None) -> list[str]:
    """Perspective ids of a run: from its config, else from the ``weight/<P>`` columns of its steps."""
    ps = run.perspectives
    if ps:
        return ps
    if steps_df is not None:
        return [c.split("/", 1)[1] for c in steps_df.columns if c.startswith("weight/")]
    return []


def progress(status: dict, steps_df: pd.DataFrame | None = None, total: int | None = None, now: float | None = None) -> dict:
    """Progress of a run: ``done``, ``total``, ``fraction`` (0-1), ``rate`` (steps/s) and ``eta_s`` (None if unknown).

    The step count comes from the newest of status.json and steps.jsonl; the rate from the steps' ``wall``
    clock when two are recorded, else from the first step's own duration (``time_s``: a first ETA must not count
    the start-up, features and calibration, which once made it read 50 min for a 13-min run), else, with no step
    records at all, from the status's ``started_at`` and its heartbeat (or ``now`` while running).
    """
    done = int(status.get("step") or 0)
    if steps_df is not None and len(steps_df):
        done = max(done, int(steps_df["step"].max()))
    total = int(status.get("total_steps") or total or 0) or None
    started = status.get("started_at")
    end = status.get("heartbeat") if status.get("state") != "running" else (now or time.time())
    rate = eta = None
    if steps_df is not None and "wall" in steps_df and steps_df["wall"].notna().sum() >= 2:
        w = steps_df.dropna(subset=["wall"])  # per-step wall clock: excludes the start-up (model loading)
        span = float(w["wall"].iloc[-1]) - float(w["wall"].iloc[0])
        if span > 0:
            rate = (int(w["step"].iloc[-1]) - int(w["step"].iloc[0])) / span
    if rate is None and steps_df is not None and "time_s" in steps_df:
        t = pd.to_numeric(steps_df["time_s"], errors="coerce").dropna()
        if len(t) and float(t.mean()) > 0:  # one step so far: its own duration, not the start-up before it
            rate = 1.0 / float(t.mean())
    if rate is None and not (steps_df is not None and len(steps_df)) and started and end and done > 0 \
            and float(end) > float(started):
        rate = done / (float(end) - float(started))  # no step records to time: status.json's clock
    if rate and total:
        eta = max(0.0, (total - done) / rate)
    frac = min(1.0, done / total) if total else 0.0
    if status.get("state") == "finished":
        frac, eta = 1.0, 0.0
    return {"done": done, "total": total, "fraction": frac, "rate": rate, "eta_s": eta}


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "estimating..."
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {(seconds % 3600) // 60:02d} min"


def _cut_last_line(path: Path) -> bool:
    """True when the file's last line has no newline: a record cut mid-line (or, while running, the one in flight)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            if fh.tell() == 0:
                return False
            fh.seek(-1, 2)
            return fh.read(1) != b"\n"
    except OSError:
        return False


def _ranges(steps: list[int]) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for s in steps:
        if out and s == out[-1][1] + 1:
            out[-1][1] = s
        else:
            out.append([s, s])
    return [(a, b) for a, b in out]


def step_gaps(run: Run, steps_df: pd.DataFrame, total: int | None = None) -> dict | None:
    """Steps the run says it made but steps.jsonl does not hold, or None when every one is there.

    The trainer writes one record per optimiser step, 1 to ``status.step`` (``total_steps`` once finished). A record
    can be missing when the file was cut (a full disk, a copy interrupted mid-file: the last line then has no
    newline) or lines were deleted. Returns ``missing`` (how many), ``ranges`` ([(first, last), ...]), ``expected``
    (the last step the run reports), ``recorded`` (how many records there are), ``last_recorded`` and ``cut`` (the
    file ends in a partial line while the run is not writing)."""
    status = run.status
    state = status.get("state")
    expected = int(status.get("step") or 0)
    if state == "finished":
        expected = max(expected, int(status.get("total_steps") or total or 0))
    have = set(int(s) for s in steps_df["step"]) if len(steps_df) else set()
    missing = [s for s in range(1, expected + 1) if s not in have]
    cut = state != "running" and _cut_last_line(run.path / "steps.jsonl")
    if not missing and not cut:
        return None
    return {"missing": len(missing), "ranges": _ranges(missing), "expected": expected, "recorded": len(have),
            "last_recorded": max(have) if have else None, "cut": cut}


def gap_message(name: str, gaps: dict) -> str:
    """One sentence for a page: how many steps are missing, from where, and why the charts end early."""
    spans = ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in gaps["ranges"][:4])
    if len(gaps["ranges"]) > 4:
        spans += ", ..."
    out = f"{name}: steps.jsonl is missing {gaps['missing']} of the {gaps['expected']} steps the run reports"
    out += f" (step {spans})" if gaps["missing"] else ""
    if gaps["cut"]:
        out += "; its last line is cut mid-record (the file was truncated)"
    last = gaps["last_recorded"]
    out += f". The charts show the {gaps['recorded']} recorded steps" + (f", up to step {last}." if last else ".")
    return out


def summarize(path: str | Path) -> dict:
    """One row of the runs table. A corrupt or partial run gives a row with its ``error`` instead of raising."""
    p = Path(path)
    row: dict[str, Any] = {"run": p.name, "where": settings.root_label(p), "path": str(p)}
    try:
        run = open_run(p)
        cfg = run.config
        row["state"] = run.state
        row["method"] = cfg_get(cfg, "method", default="?")
        row["student"] = cfg_get(cfg, "student", "student_name", "model", default="?")
        df = steps(p)
        prog = progress(run.status, df, total=cfg_get(cfg, "steps", "max_steps", "total_steps"))
        row["steps"] = f"{prog['done']}/{prog['total'] or '?'}"
        gaps = step_gaps(run, df, prog["total"])
        if gaps:
            row["steps"] = f"{gaps['recorded']}/{prog['total'] or '?'} recorded ({gaps['missing']} missing)"
            row["warning"] = gap_message(p.name, gaps)
        for col, keys in KEY_PARAMS.items():
            row[col] = cfg_get(cfg, *keys)
        last = df.iloc[-1] if len(df) else None
        for c in FINAL_LOSSES:
            row[c] = float(last[c]) if last is not None and pd.notna(last.get(c)) else None
        try:
            acc = evaluation.accuracies(p)
        except MindError:
            acc = {}
        for bench, value in (acc or {}).items():
            row[f"acc/{bench}"] = value
        row["error"] = ""
        row.setdefault("warning", "")
    except MindError as exc:
        row.update(state="corrupt", error=str(exc), warning="")
    return row


def runs_table(paths: list[Path]) -> pd.DataFrame:
    """Summaries of ``paths`` as a DataFrame (one row per run, columns in a stable order)."""
    rows = [summarize(p) for p in paths]
    df = pd.DataFrame(rows)
    front = ["run", "state", "method", "student", "steps", *KEY_PARAMS, *FINAL_LOSSES]
    cols = [c for c in front if c in df.columns] + [c for c in df.columns if c not in front]
    return df[cols] if len(df) else pd.DataFrame(columns=front + ["where", "path", "error", "warning"])


def require_steps(run: Run, df: pd.DataFrame) -> None:
    """Raise a friendly :class:`RunDirError` when a run has no step records yet."""
    if not len(df):
        state = run.state
        if state in ("running", "unknown"):
            raise RunDirError(f"{run.name}: no steps recorded yet; the run is starting, this page refreshes when they land")
        raise RunDirError(f"{run.name}: has no step records (state {state}); it may have failed before its first step")
