"""Shared fixtures: offline hub, a repository-local model cache, seeds, one torch thread, the shared data; and two
helpers for a loaded machine: deadlines stretched for it (:func:`patient`) and the final-state check of a run trained
in a subprocess, which says why when the run did not finish (:func:`assert_run_finished`)."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MIND_CACHE_DIR", str(ROOT / ".cache" / "mind"))
os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".cache" / "numba"))
# precision=auto (the default) means bf16 on CPUs with fast bf16 and fp32 elsewhere; the suite pins it to fp32 so that
# its recorded trajectories and exact comparisons hold on every machine (tests/test_precision.py unsets it).
os.environ.setdefault("MIND_PRECISION_AUTO", "fp32")

SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _seed():
    random.seed(0)
    np.random.seed(0)
    try:
        import torch

        torch.manual_seed(0)
        torch.set_num_threads(1)
    except ImportError:
        pass
    yield


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The benchmark folder beside the checkout (../shared/data); tests that need it fail loudly without it."""
    assert SHARED_DATA.is_dir(), f"benchmark data not found at {SHARED_DATA}"
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _default_sigint():
    """Give every test Python's default Ctrl-C behaviour. A library used earlier in the session (seen with the
    full suite, not with single files) can leave SIGINT ignored, and child processes inherit an ignored SIGINT,
    which breaks the interrupt-and-resume tests."""
    import signal

    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # a blocked signal is inherited too
    yield


# ------------------------------------------------------------------------------------------- waits on a loaded machine
# How much longer than on a quiet machine a test waits for something that normally comes in seconds (a server
# answering, a page drawing, a script run ending, a subprocess reaching a step). The deadlines below are sized for a
# loaded 2-core machine twice as slow as the one CI used last (issue 24): a deadline costs nothing when the condition
# comes early, and one that is too short fails a correct test with a message about time, not about the bug.
# MIND_TEST_PATIENCE scales them further (e.g. 2 on a machine that is busier still).
PATIENCE = 2.0 * float(os.environ.get("MIND_TEST_PATIENCE", "1") or 1)


def patient(seconds: float) -> float:
    """A deadline of ``seconds`` (enough on a quiet machine) stretched for a loaded one; for waits on a condition
    only, never for a sleep."""
    return seconds * PATIENCE


# ------------------------------------------------------------------------------------------- runs trained in a subprocess
def _tail(text: str, n: int = 30) -> str:
    return "\n".join(text.splitlines()[-n:])


def _output_of(proc) -> str:
    """What a finished subprocess printed, when it was captured: stderr (where `mind train` says what went wrong),
    then stdout."""
    parts = []
    for name in ("stderr", "stdout"):
        value = getattr(proc, name, None)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, str) and value.strip():
            parts.append(f"--- last lines of its {name}:\n{_tail(value)}")
    return "\n".join(parts)


def run_report(run_dir, proc=None, log=None) -> str:
    """What a failed run assertion prints: the exit status, status.json, the steps recorded, and the last ~30 lines
    of what the run printed (the captured output of ``proc``, the ``log`` file, or the run's own log.txt)."""
    run_dir = Path(run_dir)
    lines = [f"run directory: {run_dir}"]
    if proc is not None:
        code = proc.poll() if hasattr(proc, "poll") else getattr(proc, "returncode", None)
        lines.append(f"exit status: {code}")
    status = run_dir / "status.json"
    lines.append(f"status.json: {status.read_text(encoding='utf-8') if status.is_file() else '(missing)'}")
    lines.append(f"steps recorded: {_recorded_steps(run_dir)}")
    if proc is not None and _output_of(proc):
        lines.append(_output_of(proc))
    for path in [Path(log)] if log else [run_dir / "log.txt"]:
        if path.is_file():
            lines.append(f"--- last lines of {path}:\n{_tail(path.read_text(encoding='utf-8', errors='replace'))}")
    request = run_dir / "stop_request.json"
    if request.is_file():
        lines.append(f"stop_request.json: {request.read_text(encoding='utf-8', errors='replace')}")
    return "\n".join(lines)


def _recorded_steps(run_dir: Path) -> str:
    """The step numbers in steps.jsonl, shortened ('1..8' when they are consecutive)."""
    from mind.run import read_jsonl

    path = run_dir / "steps.jsonl"
    if not path.is_file():
        return "(no steps.jsonl)"
    steps = [r.get("step") for r in read_jsonl(path)]
    if steps and steps == list(range(steps[0], steps[0] + len(steps))):
        return f"{steps[0]}..{steps[-1]}" if len(steps) > 1 else str(steps[0])
    return str(steps)


def assert_run_finished(run_dir, steps: int | None = None, proc=None, log=None) -> dict:
    """The run in ``run_dir`` finished all of its ``steps`` (default: config.json's) and, when ``proc`` (a
    CompletedProcess or Popen) is given, exited 0. On failure the message carries status.json and the last lines of
    the run's output, so that a run stopped or crashed under load says why (issue 24: one exited 0 at step 1 of 3).
    Returns status.json."""
    from mind.run import read_jsonl

    run_dir = Path(run_dir)
    problems = []
    if proc is not None:
        code = proc.poll() if hasattr(proc, "poll") else proc.returncode
        if code != 0:
            problems.append(f"exit status {code}, not 0")
    if steps is None and (run_dir / "config.json").is_file():
        steps = json.loads((run_dir / "config.json").read_text(encoding="utf-8")).get("steps")
    status = {}
    if (run_dir / "status.json").is_file():
        status = json.loads((run_dir / "status.json").read_text(encoding="utf-8"))
    if status.get("state") != "finished" or status.get("step") != steps:
        problems.append(f"state {status.get('state')!r} at step {status.get('step')}, not 'finished' at step {steps}")
    recorded = [r.get("step") for r in read_jsonl(run_dir / "steps.jsonl")] if (run_dir / "steps.jsonl").is_file() else []
    if steps is not None and recorded != list(range(1, steps + 1)):
        problems.append(f"steps.jsonl holds steps {_recorded_steps(run_dir)}, not 1..{steps}")
    assert not problems, "the run did not finish: " + "; ".join(problems) + "\n" + run_report(run_dir, proc, log)
    return status
