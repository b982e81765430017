"""Launching ``mind train`` / ``mind analyze`` / ``mind export`` from the dashboard, and stopping what it launched.

A :class:`LaunchSpec` is the Launch page's form as validated values; :meth:`LaunchSpec.argv` turns it into an
argument list (never a shell string, no free-form arguments: every value is checked, and none can start with
``-``). :class:`JobRegistry` starts each job in its own session (``start_new_session=True``), with its output
in a log file inside the run directory, and can stop it: a training run gets a stop request in its folder first
(mind/run/stop.py), then every job gets SIGTERM to its process group (the trainer then marks the run ``stopped``,
``stopped_by: request``). The page keeps one registry per server with ``st.cache_resource``.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from mind.errors import ConfigError, RunDirError
from mind.run import safe_run_path
from mind.run.stop import request_stop

from app import access, settings

STUDENTS = ("tiny", "smollm2-135m")
_MODEL_ID_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*(/[A-Za-z0-9_.\-]+)?$")
MAX_STEPS = 100_000


def _methods() -> tuple[str, ...]:
    from mind.training.config import METHODS

    return METHODS


@dataclass(frozen=True)
class LaunchSpec:
    """A small training run as the Launch page describes it. Validation raises :class:`ConfigError`."""

    name: str
    data: str = "demo"  # "demo" or the path of a multi-perspective JSONL file
    student: str = "tiny"  # tiny, smollm2-135m, a HF model id or a local model folder
    method: str = "mind"
    steps: int = 20
    seed: int = 0
    beta: float = 0.7
    lam: float = 0.1
    tau: float = 1.0
    tau_student: float = 1.0
    g: float = 0.9
    lr: float = 2e-4
    meta_lr: float = 5e-5
    precision: str = "auto"  # bf16 where the device computes it fast, else fp32 (mind/model/precision.py); or fp32 / bf16
    rescore_every: int = 1  # measure unselected rationales' L_real every Nth step
    preset: str = ""  # a bundled preset (mind/training/presets/NAME.yaml) under the form's values, e.g. "demo"; "" = none

    def __post_init__(self):
        safe_name = re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}", self.name or "")
        if not safe_name or ".." in self.name:
            raise ConfigError(f"run name {self.name!r} is not allowed; use letters, digits, '.', '_' or '-' (no slashes)")
        if self.data != "demo":
            p = Path(self.data).expanduser()
            if self.data.startswith("-") or not p.is_file() or p.suffix != ".jsonl":
                raise ConfigError(f"dataset {self.data!r}: not an existing .jsonl file; choose the demo set or a file path")
        if self.student not in STUDENTS:
            folder = Path(self.student).expanduser()
            if self.student.startswith("-") or not (folder.is_dir() or _MODEL_ID_RE.fullmatch(self.student)):
                raise ConfigError(f"student {self.student!r}: not tiny, smollm2-135m, a model id (org/name) or an existing folder")
        if self.method not in _methods():
            raise ConfigError(f"method {self.method!r} is unknown; use one of {', '.join(_methods())}")
        if not (isinstance(self.steps, int) and 1 <= self.steps <= MAX_STEPS):
            raise ConfigError(f"steps={self.steps!r}: use an integer from 1 to {MAX_STEPS}")
        if not (isinstance(self.seed, int) and 0 <= self.seed < 2**31):
            raise ConfigError(f"seed={self.seed!r}: use an integer from 0 to 2^31-1")
        if not (0.0 < self.beta <= 1.0):
            raise ConfigError(f"beta={self.beta}: must be in (0, 1]")
        if not (isinstance(self.lam, (int, float)) and 0 <= self.lam < 1e6):
            raise ConfigError(f"lambda={self.lam}: must be a finite number >= 0")
        if not (0.0 <= self.g < 1.0):
            raise ConfigError(f"g={self.g}: the EMA factor must be in [0, 1)")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise ConfigError(f"precision={self.precision!r}: use auto, fp32 or bf16")
        from mind.training.config import presets

        if self.preset and self.preset not in presets():
            raise ConfigError(f"preset {self.preset!r} is unknown; use one of {', '.join(presets())} or none")
        if not (isinstance(self.rescore_every, int) and 1 <= self.rescore_every <= 1000):
            raise ConfigError(f"rescore_every={self.rescore_every!r}: use an integer from 1 to 1000")
        for n in ("tau", "tau_student", "lr", "meta_lr"):
            v = getattr(self, n)
            if not (isinstance(v, (int, float)) and 0 < v < 1e6):
                raise ConfigError(f"{n}={v}: must be > 0")

    def data_arg(self) -> str:
        return "demo" if self.data == "demo" else str(Path(self.data).expanduser().resolve())

    def student_arg(self) -> str:
        folder = Path(self.student).expanduser()
        return str(folder.resolve()) if self.student not in STUDENTS and folder.is_dir() else self.student

    def argv(self, out: Path) -> list[str]:
        """The exact command: ``python -m mind train`` with flags and ``key=value`` overrides."""
        overrides = {k: getattr(self, k) for k in ("seed", "beta", "lam", "tau", "tau_student", "g", "lr", "meta_lr",
                                                  "precision", "rescore_every")}
        return [
            sys.executable, "-m", "mind", "train",
            "--data", self.data_arg(), "--student", self.student_arg(), "--method", self.method,
            "--steps", str(self.steps), "--out", str(out), *(["--preset", self.preset] if self.preset else []),
            *(f"{k}={v}" if isinstance(v, str) else f"{k}={v!r}" for k, v in overrides.items()),
        ]


FORM_FROM_PRESET = ("steps", "lr", "meta_lr", "precision")  # the Launch form's fields a preset sets


def form_defaults(preset: str = "") -> dict:
    """The Launch form's starting values: LaunchSpec's defaults, then the preset's (mind/training/presets)."""
    from mind.training.config import preset_values

    return {**LaunchSpec(name="x").__dict__, **(preset_values(preset) if preset else {})}


def preset_spec(name: str, preset: str) -> LaunchSpec:
    """The run the Launch page starts when its form is left at a preset's values (what the bench times)."""
    d = form_defaults(preset)
    return LaunchSpec(name=name, preset=preset, steps=int(d["steps"]), lr=float(d["lr"]), meta_lr=float(d["meta_lr"]),
                      precision=str(d["precision"]))


@dataclass
class Job:
    kind: str  # "train", "analyze" or "export"
    run_path: Path
    proc: subprocess.Popen
    log_path: Path
    argv: list[str]
    started_at: float = field(default_factory=time.time)

    @property
    def returncode(self) -> int | None:
        return self.proc.poll()

    @property
    def running(self) -> bool:
        return self.proc.poll() is None


READ_ONLY_ALLOWED = ("analyze",)  # the only job a read-only dashboard still starts (it writes analysis/ only)
# Jobs run a little below the dashboard's priority: on a 2-core machine a training run otherwise competes with the
# server as an equal and a freshly opened page waits for the trainer (a Curriculum tab took ~30 s to draw). The job
# loses only the CPU time the dashboard actually uses.
JOB_NICE = 5


def _spawn(argv: list[str], log_path: Path) -> subprocess.Popen:
    """Start ``argv`` in its own session, output to ``log_path``. Refused on a read-only dashboard (except
    ``mind analyze``); the access token is not passed on to the child."""
    sub = argv[3] if len(argv) > 3 else "?"  # [python, -m, mind, <sub-command>, ...]
    if sub not in READ_ONLY_ALLOWED:
        access.require_actions(f"mind {sub}")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop(settings.ENV_TOKEN, None)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=str(settings.ROOT), env=env, start_new_session=True)
    try:  # after the start (preexec_fn is unsafe in the threaded server); what the job starts later inherits it
        os.setpriority(os.PRIO_PROCESS, proc.pid, min(19, os.getpriority(os.PRIO_PROCESS, 0) + JOB_NICE))
    except (OSError, AttributeError):
        pass
    return proc


class JobRegistry:
    """The jobs this dashboard server started, keyed by (kind, run path). Thread-safe."""

    def __init__(self):
        self._jobs: dict[tuple[str, str], Job] = {}
        self._lock = threading.Lock()

    def get(self, kind: str, run_path: str | Path) -> Job | None:
        with self._lock:
            return self._jobs.get((kind, str(Path(run_path))))

    def jobs(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    def start_train(self, spec: LaunchSpec, runs_root: str | Path) -> Job:
        """Create ``<runs_root>/<name>/`` and start training into it (log in ``log.txt``)."""
        access.require_actions("Launch")
        root = Path(runs_root)
        root.mkdir(parents=True, exist_ok=True)
        path = safe_run_path(root, spec.name)
        if path.exists() and any(path.iterdir()):
            raise RunDirError(f"run {spec.name!r} already exists in {root}; choose another run name")
        path.mkdir(exist_ok=True)
        argv = spec.argv(path)
        log = path / "log.txt"
        log.write_text("$ mind train " + " ".join(argv[4:]) + "\n", encoding="utf-8")
        if spec.data == "demo":  # the demo set's text features ship with the app: a cold cache skips encoding them
            from app import demo_features

            demo_features.seed()
        job = Job("train", path, _spawn(argv, log), log, argv)
        with self._lock:
            self._jobs[("train", str(path))] = job
        return job

    def start_analyze(self, run_path: str | Path) -> Job:
        """Run ``mind analyze --run <run>`` once per run (a second call returns the job in flight)."""
        path = Path(run_path)
        if not (path / "config.json").is_file():
            raise RunDirError(f"{path}: not a run directory; choose a run from the list")
        existing = self.get("analyze", path)
        if existing and existing.running:
            return existing
        log = path / "analyze.log.txt"
        argv = [sys.executable, "-m", "mind", "analyze", "--run", str(path)]
        log.write_text("$ mind analyze --run " + str(path) + "\n", encoding="utf-8")
        job = Job("analyze", path, _spawn(argv, log), log, argv)
        with self._lock:
            self._jobs[("analyze", str(path))] = job
        return job

    def start_export(self, run_path: str | Path, out_dir: str | Path | None = None) -> Job:
        """Run ``mind export --run <run> --out <out>`` once per run. The default ``out`` and the log are
        :func:`app.exporting.default_out` and :func:`app.exporting.log_path`: ``<run>/export/`` and
        ``<run>/export.log.txt``, or, for a bundled run, ``<runs>/exports/<run>/`` and the log beside it (nothing is
        written into the checkout). A previous export in ``out`` is replaced (``--force``; mind export refuses a
        folder that holds anything else). A second call while one runs returns the job in flight."""
        from app import exporting

        access.require_actions("Export")
        path = Path(run_path)
        if not (path / "config.json").is_file():
            raise RunDirError(f"{path}: not a run directory; choose a run from the list")
        existing = self.get("export", path)
        if existing and existing.running:
            return existing
        out = Path(out_dir) if out_dir is not None else exporting.default_out(path)
        argv = [sys.executable, "-m", "mind", "export", "--run", str(path), "--out", str(out), "--force"]
        log = exporting.log_path(path)
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("$ mind export " + " ".join(argv[4:]) + "\n", encoding="utf-8")
        job = Job("export", path, _spawn(argv, log), log, argv)
        with self._lock:
            self._jobs[("export", str(path))] = job
        return job

    def start_eval(self, run_paths, benchmarks, limit: int, precision: str = "auto", base: bool = True) -> Job:
        """Run ``mind eval --run A [--run B ...]`` on the given runs (each against the first, item by item), keyed
        by the first run; log in ``<first run>/eval.log.txt`` (tqdm lines, which the Evaluation page follows).
        Rerunning resumes: ``mind eval`` skips the items already in its prediction files. A second call while one
        runs returns the job in flight."""
        access.require_actions("Evaluate")
        from mind.evaluation.runner import resolve_benchmarks

        paths = [Path(p) for p in run_paths]
        if not paths:
            raise ConfigError("no run chosen; pick the runs to evaluate")
        for p in paths:
            if not (p / "config.json").is_file():
                raise RunDirError(f"{p}: not a run directory; choose a run from the list")
        names = resolve_benchmarks(list(benchmarks))
        if not (isinstance(limit, int) and not isinstance(limit, bool) and 1 <= limit <= 100_000):
            raise ConfigError(f"limit={limit!r}: use an integer from 1 to 100000 items per benchmark")
        if precision not in ("auto", "fp32", "bf16"):
            raise ConfigError(f"precision={precision!r}: use auto, fp32 or bf16")
        existing = self.get("eval", paths[0])
        if existing and existing.running:
            return existing
        argv = [sys.executable, "-m", "mind", "eval", *(a for p in paths for a in ("--run", str(p))),
                "--benchmarks", ",".join(names), "--limit", str(limit), "--precision", precision,
                *([] if base else ["--no-base"])]
        log = paths[0] / "eval.log.txt"
        log.write_text("$ mind eval " + " ".join(argv[4:]) + "\n", encoding="utf-8")
        job = Job("eval", paths[0], _spawn(argv, log), log, argv)
        with self._lock:
            self._jobs[("eval", str(paths[0]))] = job
        return job

    def forget(self, kind: str, run_path: str | Path) -> bool:
        """Drop a finished job from the registry (a running one stays: stop it first). True if one was dropped."""
        key = (kind, str(Path(run_path)))
        with self._lock:
            job = self._jobs.get(key)
            if job is None or job.running:
                return False
            del self._jobs[key]
            return True

    def stop(self, kind: str, run_path: str | Path, timeout: float = 0.0) -> bool:
        """SIGTERM the job's process group (only jobs this registry started). True if a signal was sent.

        A training job first gets a stop request in its run directory (mind/run/stop.py): the trainer then knows the
        signal is this Stop, exits 0 and records ``stopped_by: request``, where a SIGTERM from anyone else is a stop
        nobody asked for (exit 143). The trainer reads the request on every step too, so the run stops even if the
        signal is lost. Only for ``train``: an evaluation keyed by the same run must not leave a request that would
        stop a training run in that folder."""
        access.require_actions("Stop")
        job = self.get(kind, run_path)
        if job is None or not job.running:
            return False
        if kind == "train":
            try:
                request_stop(job.run_path, by="dashboard")
            except OSError:  # a folder that refuses the note still gets the signal: the run stops, as 'signal 15'
                pass
        try:
            os.killpg(job.proc.pid, signal.SIGTERM)  # start_new_session: the group id is the child's pid
        except ProcessLookupError:
            return False
        if timeout:
            try:
                job.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        return True
