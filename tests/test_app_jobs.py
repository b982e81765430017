"""The Launch page's job runner on a real `mind train` process: it starts in its own session with its output
in <run>/log.txt, and Stop (a stop request in the run folder, then SIGTERM to the process group) ends it cleanly with
the run marked "stopped" by request and exit status 0."""

from __future__ import annotations

import json
import time

import pytest

from conftest import run_report
from mind.run.stop import read_stop_request
from test_app_runs import real_runs

from app import jobs, loading, logs


@pytest.mark.slow
def test_start_then_stop_a_real_training_run(tmp_path):
    data = real_runs().parent / "tiny.jsonl"
    reg = jobs.JobRegistry()
    spec = jobs.LaunchSpec(name="to-stop", data=str(data), steps=500)
    job = reg.start_train(spec, tmp_path)
    try:
        assert job.run_path == tmp_path / "to-stop" and job.running
        deadline = time.time() + 300
        while time.time() < deadline:  # wait for the first recorded step
            steps = tmp_path / "to-stop" / "steps.jsonl"
            if steps.exists() and steps.read_text(encoding="utf-8").count("\n") >= 1:
                break
            assert job.running, logs.log_tail(job.run_path)
            time.sleep(0.5)
        assert loading.open_run(job.run_path).state == "running"
        assert reg.stop("train", job.run_path, timeout=120)
        assert job.proc.wait(120) == 0 and not job.running
    finally:
        if job.running:
            job.proc.kill()
    run = loading.open_run(job.run_path)
    assert run.state == "stopped" and run.status["stopped_by"] == "request", run_report(job.run_path, job.proc)
    assert read_stop_request(job.run_path)["by"] == "dashboard"  # the note the Stop left before its SIGTERM
    done = len(loading.steps(job.run_path))
    assert 1 <= done < 500
    log = (job.run_path / "log.txt").read_text(encoding="utf-8")
    assert log.startswith("$ mind train --data ") and "--steps 500" in log
    assert json.loads((job.run_path / "config.json").read_text())["steps"] == 500
    assert reg.stop("train", job.run_path) is False  # nothing left to stop
