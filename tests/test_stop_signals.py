"""A stop someone asked for and a stop signal nobody asked for (issue 24).

The dashboard's Stop writes ``stop_request.json`` in the run directory, then SIGTERMs the run's process group; the
trainer reads the request on every step as well. A requested stop checkpoints, records ``stopped_by: request`` and
exits 0; a SIGTERM without a request checkpoints the same way but records ``stopped_by: signal 15``, says so in one
stderr line and exits 143, so that a run stopped by someone else never looks like a success with steps missing.
A resume removes the old request, or the resumed run would stop after one step.

The subprocess tests train the tiny student on tests/data/mini.jsonl with no calibration pass and no snapshots
(about 20 s of start-up under load); each sends its signal only to the ``mind train`` process it started.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import assert_run_finished, patient, run_report
from mind.commands.train import stop_exit_code, stop_message
from mind.run import read_jsonl
from mind.run.stop import STOP_REQUEST, clear_stop_request, read_stop_request, request_stop, stop_requested
from mind.training.loop import _agree_stop
from mind.training.runtime import StopFlag

HERE = Path(__file__).parent
DATA = HERE / "data" / "mini.jsonl"
STEPS = 30  # far more than a stop after step 1 leaves time for: the stop always comes before the end
ARGS = ["--data", str(DATA), "--student", "tiny", "--steps", str(STEPS), "snapshot_every=0", "checkpoint_every=0",
        "meta_calibrate_epochs=0", "--quiet"]
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


# ------------------------------------------------------------------------------------------- the request file
def test_a_request_is_written_read_and_cleared(tmp_path):
    assert not stop_requested(tmp_path) and read_stop_request(tmp_path) is None
    path = request_stop(tmp_path, by="dashboard")
    assert path == tmp_path / STOP_REQUEST and stop_requested(tmp_path)
    got = read_stop_request(tmp_path)
    assert got["by"] == "dashboard" and got["pid"] == os.getpid() and abs(got["at"] - time.time()) < 60
    assert clear_stop_request(tmp_path) is True and not path.exists()
    assert clear_stop_request(tmp_path) is False  # nothing left: no error


def test_a_request_file_that_does_not_parse_still_asks_for_a_stop(tmp_path):
    (tmp_path / STOP_REQUEST).write_text("stop please")
    assert stop_requested(tmp_path) and read_stop_request(tmp_path) == {"by": "unknown"}


# ------------------------------------------------------------------------------------------- the flag, in-process
@pytest.fixture
def armed(tmp_path):
    """A StopFlag watching ``tmp_path`` with its SIGTERM handler in place; the test process's own handler returns."""
    before = signal.getsignal(signal.SIGTERM)
    flag = StopFlag()
    flag.arm(tmp_path)
    assert signal.getsignal(signal.SIGTERM) == flag._handle  # else the SIGTERM below would end the test process
    yield flag
    flag.disarm()
    assert signal.getsignal(signal.SIGTERM) == before


def test_a_sigterm_without_a_request_is_a_signal_nobody_asked_for(armed):
    assert not armed.stop and not armed.poll()
    signal.raise_signal(signal.SIGTERM)
    assert armed.stop and armed.by == "signal 15" and armed.signum == 15 and not armed.requested
    assert stop_exit_code(armed) == 143


def test_a_sigterm_after_a_request_is_the_requested_stop(armed, tmp_path):
    request_stop(tmp_path)
    signal.raise_signal(signal.SIGTERM)
    assert armed.by == "request" and armed.signum is None and stop_exit_code(armed) == 0


def test_the_request_file_alone_stops_the_loop_and_upgrades_a_stray_signal(armed, tmp_path):
    armed.set_from("signal 15")  # a stray SIGTERM first ...
    request_stop(tmp_path)  # ... then someone presses Stop before the step ends
    assert armed.poll() and armed.by == "request"
    fresh = StopFlag(tmp_path)  # no signal at all: the file is enough
    assert fresh.poll() and fresh.requested


def test_disarm_puts_back_the_handler_that_was_there(tmp_path):
    seen = []
    previous = signal.signal(signal.SIGTERM, lambda *a: seen.append(a[0]))
    try:
        flag = StopFlag()
        flag.arm(tmp_path)
        flag.disarm()
        signal.raise_signal(signal.SIGTERM)
        assert seen == [signal.SIGTERM] and not flag.stop
    finally:
        signal.signal(signal.SIGTERM, previous)


class _Processes:
    """Just enough of an Accelerator for :func:`_agree_stop`: ``gather`` returns every process's code."""

    def __init__(self, codes):
        self.num_processes, self.device, self._codes = len(codes), "cpu", codes

    def gather(self, _tensor):
        return torch.tensor(self._codes)


@pytest.mark.parametrize("codes, agreed", [
    ([0, 0], None),
    ([0, 115], "signal 15"),  # one process saw the signal: all stop, with its reason
    ([101, 115], "signal 15"),  # the highest signal number
    ([1, 115], "request"),  # a request seen anywhere makes the stop a requested one
])
def test_processes_agree_on_one_reason(codes, agreed):
    assert _agree_stop(_Processes(codes), None) == agreed


def test_the_stop_line_names_the_step_the_reason_and_the_resume_command(armed):
    armed.set_from("signal 15")
    armed.step = 3
    assert stop_message(armed, 30, Path("runs/x")) == ("mind train: stopped by signal 15 at step 3 of 30 (not a Stop "
                                                       "from the dashboard); resume with: mind train --resume runs/x")
    armed.set_from("request")
    assert stop_message(armed, 30, Path("runs/x")) == ("mind train: stopped at step 3 of 30 (Stop requested); "
                                                       "resume with: mind train --resume runs/x")


# ------------------------------------------------------------------------------------------- real runs
def _start(out: Path) -> tuple[subprocess.Popen, Path]:
    """``mind train`` into ``out``, its stderr and stdout in a file beside it."""
    log = out.parent / f"{out.name}.log"
    with open(log, "wb") as f:
        proc = subprocess.Popen([sys.executable, "-m", "mind", "train", *ARGS, "--out", str(out)], stdout=f,
                                stderr=subprocess.STDOUT, env=ENV)
    return proc, log


def _wait_for_first_step(proc: subprocess.Popen, out: Path, log: Path) -> None:
    """Until steps.jsonl holds step 1: the loop is running and its SIGTERM handler is in place."""
    deadline = time.monotonic() + patient(300)
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the run ended before its first step\n" + run_report(out, proc, log)
        if (out / "steps.jsonl").is_file() and read_jsonl(out / "steps.jsonl"):
            return
        time.sleep(0.1)
    proc.kill()
    proc.wait()
    raise AssertionError(f"no step recorded in {patient(300):.0f} s\n" + run_report(out, proc, log))


def _wait(proc: subprocess.Popen, out: Path, log: Path) -> int:
    try:
        return proc.wait(patient(180))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError(f"the run did not end within {patient(180):.0f} s of the stop\n" + run_report(out, proc, log))


def _assert_stopped_with_checkpoint(out: Path, proc, log: Path, stopped_by: str) -> int:
    """status.json says stopped (by ``stopped_by``) before the last step, steps 1..k are recorded, and the
    checkpoint of step k exists; returns k."""
    status = json.loads((out / "status.json").read_text())
    k = status.get("step")
    report = run_report(out, proc, log)
    assert status["state"] == "stopped" and status.get("stopped_by") == stopped_by, report
    assert isinstance(k, int) and 1 <= k < STEPS, report
    assert [r["step"] for r in read_jsonl(out / "steps.jsonl")] == list(range(1, k + 1)), report
    assert (out / "checkpoints" / f"step_{k:06d}").is_dir(), report
    return k


@pytest.mark.slow
def test_an_unrequested_sigterm_checkpoints_says_so_and_exits_143(tmp_path):
    out = tmp_path / "signalled"
    proc, log = _start(out)
    try:
        _wait_for_first_step(proc, out, log)
        proc.send_signal(signal.SIGTERM)  # our own child, nothing else
        code = _wait(proc, out, log)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 128 + signal.SIGTERM, run_report(out, proc, log)
    k = _assert_stopped_with_checkpoint(out, proc, log, "signal 15")
    expected = (f"mind train: stopped by signal 15 at step {k} of {STEPS} (not a Stop from the dashboard); "
                f"resume with: mind train --resume {out}")
    assert expected in log.read_text().splitlines(), run_report(out, proc, log)
    assert "run written to" not in log.read_text()  # nothing that reads like success


@pytest.fixture(scope="module")
def requested(tmp_path_factory):
    """A run stopped by the request file alone (the library's writer, no signal): (run dir, log, exit code, k)."""
    out = tmp_path_factory.mktemp("requested") / "run"
    proc, log = _start(out)
    try:
        _wait_for_first_step(proc, out, log)
        request_stop(out, by="test")
        code = _wait(proc, out, log)
    finally:
        if proc.poll() is None:
            proc.kill()
    return out, log, code, proc


@pytest.mark.slow
def test_a_requested_stop_checkpoints_and_exits_0(requested):
    out, log, code, proc = requested
    assert code == 0, run_report(out, proc, log)
    k = _assert_stopped_with_checkpoint(out, proc, log, "request")
    assert json.loads((out / "status.json").read_text())["stop_request"]["by"] == "test"
    assert (f"mind train: stopped at step {k} of {STEPS} (Stop requested); resume with: mind train --resume {out}"
            in log.read_text().splitlines()), run_report(out, proc, log)


@pytest.mark.slow
def test_a_resume_after_a_requested_stop_removes_the_request_and_finishes(requested, tmp_path):
    src, _, code, _ = requested
    assert code == 0
    out = Path(shutil.copytree(src, tmp_path / "resumed"))
    k = json.loads((out / "status.json").read_text())["step"]
    assert (out / STOP_REQUEST).is_file()  # the old request is still there: the resume must not obey it
    target = k + 2  # two more steps: an obeyed request would stop after the first of them
    proc = subprocess.run([sys.executable, "-m", "mind", "train", "--resume", str(out), f"steps={target}", "--quiet"],
                          capture_output=True, text=True, env=ENV, timeout=patient(300))
    status = assert_run_finished(out, target, proc)
    assert "stopped_by" not in status and not (out / STOP_REQUEST).exists()


def test_help_documents_the_exit_statuses(capsys):
    from mind.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert exc.value.code == 0
    assert "stop_request.json" in text and "exits 143 (128 + the signal number" in text and "Ctrl-C exits 130" in text


def test_a_run_that_did_not_finish_fails_with_its_status_and_the_end_of_its_log(tmp_path):
    """The helper every subprocess-training test uses: issue 24's run (exit 0, stopped at step 1 of 3) must fail
    with status.json and the log's last lines in the message, not pass or fail on a bare count."""
    from types import SimpleNamespace

    (tmp_path / "config.json").write_text(json.dumps({"steps": 3}))
    (tmp_path / "status.json").write_text(json.dumps({"state": "stopped", "step": 1, "stopped_by": "signal 15"}))
    (tmp_path / "steps.jsonl").write_text(json.dumps({"step": 1}) + "\n")
    stderr = "\n".join(f"line {i}" for i in range(100)) + "\nmind train: stopped by signal 15 at step 1 of 3"
    with pytest.raises(AssertionError) as exc:
        assert_run_finished(tmp_path, proc=SimpleNamespace(returncode=0, stderr=stderr, stdout=""))
    msg = str(exc.value)
    assert "state 'stopped' at step 1, not 'finished' at step 3" in msg and '"stopped_by": "signal 15"' in msg
    assert "steps.jsonl holds steps 1, not 1..3" in msg and "stopped by signal 15 at step 1 of 3" in msg
    assert "line 99" in msg and "line 60" not in msg  # the end of the output, not all of it
    (tmp_path / "status.json").write_text(json.dumps({"state": "finished", "step": 3}))
    (tmp_path / "steps.jsonl").write_text("".join(json.dumps({"step": s}) + "\n" for s in (1, 2, 3)))
    assert assert_run_finished(tmp_path)["state"] == "finished"
