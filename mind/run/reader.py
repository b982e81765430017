"""Reading a run directory: :func:`load_run` gives a :class:`Run` (config, status, steps, samples, snapshots).
The layout is described in :mod:`mind.run`."""

from __future__ import annotations

import json
import os
import re
import time
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from mind.errors import RunDirError
from mind.run.jsonl import read_jsonl
from mind.run.cache import readers as _readers
from mind.run.samples import read_samples_full, samples_frame
from mind.run.steps import read_steps_full

STALE_AFTER_S = 90.0  # a "running" run whose heartbeat is older than this is reported as "stale"
_SNAP_RE = re.compile(r"^step_(\d{6,})\.safetensors$")
STEP_COLUMNS = ("step", "epoch", "lr", "loss_total", "loss_sft", "loss_cons", "loss_meta", "n_selected",
                "meta_spearman", "meta_top1", "baseline_spearman", "baseline_top1", "curriculum_shift",
                "heldout_meta_spearman", "heldout_meta_top1", "heldout_baseline_spearman", "heldout_baseline_top1",
                "heldout_loss")
PER_PERSPECTIVE = ("weight", "score", "selected", "loss_raw", "loss_filtered")





def _read_json(path: Path, required: bool = True) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if required:
            raise RunDirError(f"{path.parent}: {path.name} is missing; this is not a complete mind run directory") from None
        return {}
    except UnicodeDecodeError:
        raise RunDirError(f"{path}: not UTF-8 text (corrupt run file); re-run the training to recreate it") from None
    except OSError as exc:  # a folder in its place, no permission
        raise RunDirError(f"{path}: cannot read it ({exc.strerror}); fix its permissions or re-run the training") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RunDirError(f"{path}: truncated or invalid JSON ({exc.msg}); re-run the training to recreate it") from None
    except (ValueError, RecursionError):  # an integer too long to convert, nesting too deep
        raise RunDirError(f"{path}: invalid JSON (a value out of range); re-run the training to recreate it") from None
    if not isinstance(obj, dict):
        raise RunDirError(f"{path}: expected a JSON object; re-run the training to recreate it")
    return obj


def _problem_frame(path: Path) -> pd.DataFrame:
    """data.jsonl / heldout.jsonl as a DataFrame (id, question, answer, rationales as {perspective: text})."""
    rows = read_jsonl(path)
    for i, r in enumerate(rows):
        rats = r.get("rationales", [])
        if not isinstance(rats, list) or not all(isinstance(x, dict) and "perspective" in x and "text" in x for x in rats):
            raise RunDirError(f"{path}: record {i + 1} has malformed 'rationales' (corrupt run file); "
                              "re-run the training to recreate it")
        r["rationales"] = {x["perspective"]: x["text"] for x in rats}
    return pd.DataFrame.from_records(rows) if rows else pd.DataFrame(columns=["id", "question", "answer", "rationales"])


class Run:
    """Read-only view of a run directory. Each property reads its files once; call :func:`load_run` again
    for fresh data from a run that is still being written (cheap: only what was appended is parsed)."""

    def __init__(self, path: Path, config: dict):
        self.path = path
        self.config = config

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, state={self.state!r}, steps={len(self.steps)})"

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def perspectives(self) -> list[str]:
        ps = self.config.get("perspectives") or []
        if not isinstance(ps, list) or not all(isinstance(p, str) for p in ps):
            raise RunDirError(f"{self.path / 'config.json'}: 'perspectives' is not a list of ids (corrupt run file); re-run the training")
        return list(ps)

    @cached_property
    def status(self) -> dict:
        st = _read_json(self.path / "status.json", required=False) or {"state": "unknown"}
        beat = st.get("heartbeat")
        if not isinstance(st.get("state", "unknown"), str) or not (beat is None or isinstance(beat, (int, float))):
            raise RunDirError(f"{self.path / 'status.json'}: 'state' or 'heartbeat' has the wrong type (corrupt run file); "
                              "delete status.json or re-run the training")
        return st

    @property
    def state(self) -> str:
        """running | finished | crashed | stopped | stale (running but no heartbeat for a while) | unknown."""
        st = self.status.get("state", "unknown")
        if st == "running":
            beat = self.status.get("heartbeat") or 0
            if time.time() - float(beat) > STALE_AFTER_S:
                return "stale"
        return st

    def step_columns(self) -> list[str]:
        """Columns ``steps`` always has: STEP_COLUMNS and the per-perspective ones (others flow through)."""
        return list(STEP_COLUMNS) + [f"{k}/{p}" for k in PER_PERSPECTIVE for p in self.perspectives]

    @cached_property
    def steps(self) -> pd.DataFrame:
        """One row per optimiser step, read incrementally (the same frame as a full read of steps.jsonl)."""
        cols = self.step_columns()
        r = _readers(self.path)
        with r.lock:
            return r.steps.read(cols)

    @cached_property
    def samples(self) -> pd.DataFrame:
        """Every per-problem record (all chunks and the tail); pages that need one step use :meth:`samples_between`."""
        return self.samples_between()

    def samples_between(self, lo: int | None = None, hi: int | None = None) -> pd.DataFrame:
        """Per-problem records with ``lo <= step <= hi`` (None: unbounded), reading only the chunks that hold them.
        The rows are those of :attr:`samples` in that range; column dtypes are inferred from these rows alone."""
        r = _readers(self.path)
        with r.lock:
            return samples_frame(r.samples.between(lo, hi))

    @cached_property
    def sample_steps(self) -> list[int]:
        """The steps that have per-problem records, ascending (chunk step columns are cached per process)."""
        r = _readers(self.path)
        with r.lock:
            return r.samples.steps()

    @cached_property
    def problems(self) -> pd.DataFrame:
        """The training problems (id, question, answer, rationales as {perspective: text})."""
        return _problem_frame(self.path / "data.jsonl")

    @cached_property
    def heldout(self) -> pd.DataFrame:
        """The held-out problems (``holdout`` option), same columns as :attr:`problems`; empty when none."""
        return _problem_frame(self.path / "heldout.jsonl")

    @cached_property
    def probes(self) -> pd.DataFrame:
        rows = read_jsonl(self.path / "probes.jsonl")
        return pd.DataFrame.from_records(rows) if rows else pd.DataFrame(columns=["problem_id", "perspective"])

    @cached_property
    def snapshot_steps(self) -> list[int]:
        d = self.path / "snapshots"
        if not d.is_dir():
            return []
        return sorted(int(m.group(1)) for f in os.listdir(d) if (m := _SNAP_RE.match(f)))

    def hidden_states(self, step: int | None = None) -> tuple[np.ndarray, pd.DataFrame]:
        """Hidden states of the probe set at ``step`` (default: the latest snapshot)."""
        steps = self.snapshot_steps
        if not steps:
            raise RunDirError(f"{self.path}: no hidden-state snapshots yet; wait for the first snapshot step")
        if step is None:
            step = steps[-1]
        if step not in steps:
            raise RunDirError(f"{self.path}: no snapshot at step {step}; available steps: {steps}")
        f = self.path / "snapshots" / f"step_{step:06d}.safetensors"
        try:
            from safetensors.numpy import load_file

            tensors = load_file(str(f))
            hidden, correct = tensors["hidden"], tensors["correct"]
            if hidden.ndim != 2 or correct.shape != (hidden.shape[0],):
                raise ValueError("wrong shapes")
        except Exception as exc:  # noqa: BLE001 - safetensors raises several types on garbage
            raise RunDirError(f"{f}: unreadable snapshot ({type(exc).__name__}); delete it or re-run the training") from None
        meta = self.probes.copy()
        if len(meta) != hidden.shape[0]:
            raise RunDirError(
                f"{f}: {hidden.shape[0]} rows but probes.jsonl lists {len(meta)}; the run directory is inconsistent"
            )
        meta["correct"] = correct.astype(bool)
        return hidden.astype(np.float32), meta[[c for c in ("problem_id", "perspective", "correct") if c in meta]]

    @property
    def checkpoints(self) -> list[int]:
        d = self.path / "checkpoints"
        if not d.is_dir():
            return []
        out = []
        for c in d.iterdir():
            m = re.match(r"^step_(\d+)$", c.name)
            if m and (c / "trainer_state.json").exists():
                out.append(int(m.group(1)))
        return sorted(out)


def read_full(path: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(steps, samples) of a run read from scratch with no cache: the reference the incremental readers must match
    (tests) and the baseline they are measured against (bench/bench_runs.py)."""
    run = load_run(path)
    steps = read_steps_full(run.path / "steps.jsonl", run.step_columns())
    return steps, samples_frame(read_samples_full(run.path))


def load_run(path: str | Path) -> Run:
    """Open a run directory written by ``mind train``. Raises :class:`RunDirError` when it is not one."""
    p = Path(path)
    if not p.is_dir():
        raise RunDirError(f"{p}: no such run directory; pass the --out folder of a `mind train` run")
    config = _read_json(p / "config.json")
    return Run(p, config)


def safe_run_path(root: str | Path, name: str) -> Path:
    """Resolve a run name inside ``root``; refuse names that escape it (``..``, absolute paths, symlinks)."""
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}", name) or ".." in name:
        raise RunDirError(
            f"run name {name!r} is not allowed; use letters, digits, '.', '_' or '-' (no slashes, no '..')"
        )
    root = Path(root).resolve()
    target = (root / name).resolve()
    if target.parent != root:
        raise RunDirError(f"run name {name!r} resolves outside {root} (a symlink?); choose another name")
    return target


def list_runs(*roots: str | Path) -> list[Path]:
    """Run directories (folders with a config.json) directly under each root, newest first."""
    found = []
    for root in roots:
        r = Path(root)
        if r.is_dir():
            found += [d for d in r.iterdir() if d.is_dir() and (d / "config.json").exists()]
    return sorted(found, key=lambda d: (d / "config.json").stat().st_mtime, reverse=True)
