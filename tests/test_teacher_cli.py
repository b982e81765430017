"""`mind generate` end to end in a subprocess against the loopback server: output files, a planted API key
that must never be written anywhere, and kill -9 mid-run followed by a resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mind.data import load_problems
from mind.data.perspectives import DEFAULT_IDS
from mind.teacher.cache import ResponseCache
from openai_server import FakeTeacherServer, make_problems

ROOT = Path(__file__).resolve().parents[1]
PLANTED = "sk-planted-3f9c2e7a1b5d4c6e8f0a"


def _env() -> dict:
    env = dict(os.environ, MIND_PLANTED_KEY=PLANTED, PYTHONPATH=str(ROOT))
    env.pop("OPENAI_API_KEY", None)
    return env


def _cmd(src: Path, out: Path, url: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "mind", "generate", "--dataset", str(src), "--out", str(out),
            "--teacher", "openai:teacher-model", "--base-url", url, "--api-key-env", "MIND_PLANTED_KEY",
            "--timeout", "2", "--retry-base-delay", "0.01", "--easy-keep", "1.0", *extra]


def _write(tmp_path: Path, problems) -> Path:
    f = tmp_path / "in.jsonl"
    f.write_text("".join(json.dumps(p) + "\n" for p in problems))
    return f


@pytest.mark.slow
def test_generate_cli_end_to_end_and_api_key_never_written(tmp_path):
    probs = make_problems(4)
    src, out = _write(tmp_path, probs), tmp_path / "run" / "data.jsonl"
    wrong = {(probs[0]["id"], "contrastive")}
    with FakeTeacherServer(probs, wrong=wrong, script={(probs[1]["id"], "formal"): ["500", "drop"]}) as srv:
        proc = subprocess.run(_cmd(src, out, srv.url, "--judge", "llm:openai:judge-model"), env=_env(),
                              capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert srv.auth == {f"Bearer {PLANTED}"}  # the key was really used for teacher and judge
        assert srv.judge_requests == 32
        # a server that rejects the key: the one-line error names the variable, never the key
        srv.script[(probs[2]["id"], "formal")] = ["401"]
        (out.parent / "data.cache.jsonl").unlink()
        bad = subprocess.run(_cmd(src, out, srv.url, "--concurrency", "1", "--no-progress"), env=_env(),
                             capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert bad.returncode == 2 and "$MIND_PLANTED_KEY (HTTP 401)" in bad.stderr
    assert "31 rationales" in proc.stdout and "wrong_answer 1" in proc.stdout
    data = load_problems(out, DEFAULT_IDS)
    assert len(data) == 4 and sum(len(p.rationales) for p in data) == 31
    card = json.loads((out.parent / "data.card.json").read_text())
    assert card["api_key_env"] == "MIND_PLANTED_KEY" and card["teacher"] == "openai:teacher-model"
    assert card["command"].startswith("mind generate --dataset") and "--api-key-env MIND_PLANTED_KEY" in card["command"]
    assert card["requests"]["retries"] == {"http_500": 1, "connection": 1}
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"data.jsonl", "data.card.json", "data.card.md", "data.cache.jsonl"}
    for p in files:
        assert PLANTED.encode() not in p.read_bytes(), p
    for stream in (proc.stdout, proc.stderr, bad.stdout, bad.stderr):
        assert PLANTED not in stream


@pytest.mark.slow
def test_kill_9_mid_run_then_rerun_repeats_no_completed_request(tmp_path):
    probs = make_problems(12)
    src, out = _write(tmp_path, probs), tmp_path / "data.jsonl"
    cache = tmp_path / "data.cache.jsonl"
    with FakeTeacherServer(probs, delay_s=0.04) as srv:
        proc = subprocess.Popen(_cmd(src, out, srv.url, "--concurrency", "2", "--no-progress"), env=_env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
        deadline = time.time() + 90
        while time.time() < deadline and (not cache.exists() or len(cache.read_bytes().splitlines()) < 20):
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        with ResponseCache(cache) as c:
            done = {(r["problem"], r["perspective"]) for r in c.records("teacher")}
        before = {k: srv.requests[k] for k in done}
        assert 20 <= len(done) < 96 and not out.exists()
        rerun = subprocess.run(_cmd(src, out, srv.url, "--no-progress"), env=_env(), capture_output=True,
                               text=True, timeout=120, cwd=tmp_path)
        assert rerun.returncode == 0, rerun.stderr
    assert all(srv.requests[k] == before[k] == 1 for k in done)  # nothing completed was asked again
    card = json.loads((tmp_path / "data.card.json").read_text())
    assert card["requests"]["cached"] == len(done) and card["requests"]["sent"] == 96 - len(done)
    data = load_problems(out, DEFAULT_IDS)
    assert sum(len(p.rationales) for p in data) == 96
    lines = cache.read_text().splitlines()
    keys = [(json.loads(x)["problem"], json.loads(x)["perspective"]) for x in lines if x.strip().endswith("}")]
    assert len(keys) == len(set(keys)) == 96  # one cached line per item: none lost, none duplicated


@pytest.mark.slow
def test_sigint_keeps_every_answer_the_server_sent(tmp_path):
    probs = make_problems(10)
    src, out = _write(tmp_path, probs), tmp_path / "data.jsonl"
    cache = tmp_path / "data.cache.jsonl"
    with FakeTeacherServer(probs, delay_s=0.3) as srv:
        proc = subprocess.Popen(_cmd(src, out, srv.url, "--concurrency", "4", "--no-progress"), env=_env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
        deadline = time.time() + 90
        while time.time() < deadline and (not cache.exists() or len(cache.read_bytes().splitlines()) < 10):
            time.sleep(0.01)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        served = set(srv.served)
    assert proc.returncode == 130 and f"finished responses are kept in {cache}" in err
    with ResponseCache(cache) as c:
        cached = {(r["problem"], r["perspective"]) for r in c.records("teacher")}
    assert 10 <= len(cached) < 80 and cached == served  # in-flight answers were waited for and kept
