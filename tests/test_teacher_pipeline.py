"""The teacher pipeline in-process against the loopback server: retries, judge, cache/resume, card, errors."""

from __future__ import annotations

import _thread
import json
import socket
import threading
import time
from pathlib import Path

import pytest

from mind.cli import main
from mind.data import load_problems
from mind.errors import BackendError
from mind.data.perspectives import DEFAULT_IDS
from mind.teacher.cache import ResponseCache
from mind.teacher.downsample import DownsampleConfig
from mind.teacher.pipeline import GenerateConfig, generate
from mind.teacher.retry import RetryPolicy
from openai_server import FakeTeacherServer, make_problems


def _write(tmp_path: Path, problems) -> Path:
    f = tmp_path / "in.jsonl"
    f.write_text("".join(json.dumps(p) + "\n" for p in problems))
    return f


def _cfg(tmp_path, src, url, **kw) -> GenerateConfig:
    base = dict(dataset=str(src), out=tmp_path / "out.jsonl", teacher="openai:test-model", base_url=url,
                timeout=1.0, concurrency=4, retry=RetryPolicy(6, 0.001, 0.01),
                downsample=DownsampleConfig(easy_keep=1.0), progress=False)
    base.update(kw)
    return GenerateConfig(**base)


def _cache_keys(path: Path) -> set[tuple[str, str]]:
    with ResponseCache(path) as c:
        return {(r["problem"], r["perspective"]) for r in c.records("teacher")}


def test_retries_every_fault_and_finishes(tmp_path):
    probs = make_problems(6)
    script = {(probs[0]["id"], "formal"): ["429", "500", "malformed"], (probs[1]["id"], "analogy"): ["drop", "empty"],
              (probs[2]["id"], "socratic"): ["slow", "503"]}
    with FakeTeacherServer(probs, script=script, fault_rate=0.1, fault_kinds=("429", "500", "drop", "malformed"),
                           slow_s=1.3) as srv:
        card = generate(_cfg(tmp_path, _write(tmp_path, probs), srv.url))
    assert card["rationales_generated"] == 48 and card["requests"]["failed"] == 0
    assert card["problems_kept"] == 6 and card["rationales_in_output"] == 48
    assert sum(card["requests"]["retries"].values()) == sum(srv.faults.values()) >= 7  # one retry per fault
    assert card["requests"]["sent"] == sum(srv.requests.values())
    assert card["requests"]["retries"]["timeout"] == 1 and card["requests"]["retries"]["connection"] >= 1
    assert all(srv.served[(p["id"], pid)] == 1 for p in probs for pid in DEFAULT_IDS)
    data = load_problems(tmp_path / "out.jsonl", DEFAULT_IDS)
    assert [p.id for p in data] == [p["id"] for p in probs]
    assert all(r.answer == p.answer for p in data for r in p.rationales)


def test_judge_drops_exactly_the_wrong_rationales_and_card_counts_them(tmp_path):
    probs = make_problems(5)
    wrong = {(probs[0]["id"], "formal"), (probs[0]["id"], "intuitive"), (probs[3]["id"], "counterfactual")}
    no_answer = {(probs[2]["id"], "socratic")}
    with FakeTeacherServer(probs, wrong=wrong, no_answer=no_answer) as srv:
        card = generate(_cfg(tmp_path, _write(tmp_path, probs), srv.url))
    data = load_problems(tmp_path / "out.jsonl", DEFAULT_IDS)
    kept = {(p.id, r.perspective) for p in data for r in p.rationales}
    every = {(p["id"], pid) for p in probs for pid in DEFAULT_IDS}
    assert kept == every - wrong - no_answer
    assert card["dropped_by_reason"]["wrong_answer"] == 3 and card["dropped_by_reason"]["no_answer"] == 1
    assert card["per_perspective"]["formal"] == {"generated": 5, "kept": 4, "dropped": {"wrong_answer": 1}}
    assert card["per_perspective"]["socratic"]["dropped"] == {"no_answer": 1}
    texts = [r.text for p in data for r in p.rationales]
    assert all(t.endswith(f"The answer is {p.answer}.") for p in data for t in [r.text for r in p.rationales])
    assert len(texts) == 36
    # tokens are the server's usage fields, summed over every generated rationale
    with ResponseCache(tmp_path / "out.cache.jsonl") as c:
        recs = c.records("teacher")
    assert card["tokens"]["teacher"]["completion"] == sum(len(r["text"].split()) for r in recs) > 0
    md = (tmp_path / "out.card.md").read_text()
    assert "| formal | 5 | 4 | 1 | 0 | 0 | 0 | 0 |" in md and "Problems in: 5" in md


def test_ctrl_c_mid_run_then_rerun_sends_no_repeated_request(tmp_path):
    probs = make_problems(8)
    src = _write(tmp_path, probs)
    with FakeTeacherServer(probs, delay_s=0.3) as srv:
        def interrupt_when_busy():
            while sum(srv.served.values()) < 12:
                time.sleep(0.005)
            _thread.interrupt_main()

        threading.Thread(target=interrupt_when_busy, daemon=True).start()
        with pytest.raises(KeyboardInterrupt):
            generate(_cfg(tmp_path, src, srv.url))
        cached = _cache_keys(tmp_path / "out.cache.jsonl")
        before = dict(srv.requests)
        assert 12 <= len(cached) < 64 and not (tmp_path / "out.jsonl").exists()
        assert set(srv.served) == cached  # every answer the server sent, including in-flight ones, was kept
        card = generate(_cfg(tmp_path, src, srv.url))
    assert all(srv.requests[k] == before[k] == 1 for k in cached)  # zero repeats for completed items
    assert all(v == 1 for v in srv.served.values()) and len(srv.served) == 64
    assert card["requests"]["cached"] == len(cached) and card["requests"]["sent"] == 64 - len(cached)
    assert card["rationales_in_output"] == 64


def test_changed_prompt_resends_only_that_perspective(tmp_path):
    probs = make_problems(3)
    src = _write(tmp_path, probs)
    pfile = tmp_path / "p.json"
    pfile.write_text(json.dumps([{"id": i} for i in DEFAULT_IDS]))
    with FakeTeacherServer(probs) as srv:
        generate(_cfg(tmp_path, src, srv.url, perspectives_file=str(pfile)))
        rows = [{"id": i} for i in DEFAULT_IDS]
        rows[1]["prompt"] = "Reasoning style: Intuitive. Think like a shopkeeper counting change."
        pfile.write_text(json.dumps(rows))
        srv.perspectives[1] = ("intuitive", rows[1]["prompt"])
        card = generate(_cfg(tmp_path, src, srv.url, perspectives_file=str(pfile)))
    assert card["requests"]["sent"] == 3 and card["requests"]["cached"] == 21
    assert all(srv.requests[(p["id"], "intuitive")] == 2 for p in probs)


def test_llm_judge_through_the_same_server_and_cache(tmp_path):
    probs = make_problems(4)
    wrong = {(probs[1]["id"], "planning"), (probs[2]["id"], "analogy")}
    src = _write(tmp_path, probs)
    with FakeTeacherServer(probs, wrong=wrong) as srv:
        card = generate(_cfg(tmp_path, src, srv.url, judge="llm:openai:judge-model"))
        assert srv.judge_requests == 32
        again = generate(_cfg(tmp_path, src, srv.url, judge="llm:openai:judge-model"))
        assert srv.judge_requests == 32 and again["requests"]["sent"] == 0
    assert card["judge"] == "llm:openai:judge-model" and card["dropped_by_reason"]["wrong_answer"] == 2
    assert card["tokens"]["judge"]["completion"] == 32  # one word per verdict
    kept = {(p.id, r.perspective) for p in load_problems(tmp_path / "out.jsonl") for r in p.rationales}
    assert kept == {(p["id"], i) for p in probs for i in DEFAULT_IDS} - wrong


def _dead_url() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/v1"


def test_unreachable_server_is_one_clear_error(tmp_path, capsys):
    src = _write(tmp_path, make_problems(2))
    url = _dead_url()
    with pytest.raises(BackendError, match=f"teacher {url} failed 16 requests in a row after 2 retries each"):
        generate(_cfg(tmp_path, src, url, retry=RetryPolicy(2, 0.001, 0.01)))
    code = main(["generate", "--dataset", str(src), "--teacher", "openai:m", "--base-url", url, "--out",
                 str(tmp_path / "o.jsonl"), "--max-retries", "1", "--retry-base-delay", "0", "--no-progress",
                 "--max-consecutive-failures", "5"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith(f"error: teacher {url} failed 5 requests in a row") and "connection" in err


def test_server_failing_everything_stops_after_consecutive_failures(tmp_path):
    probs = make_problems(10)
    with FakeTeacherServer(probs, fault_rate=1.0, fault_kinds=("500",)) as srv:
        with pytest.raises(BackendError, match="failed 6 requests in a row .*last error: http_500"):
            generate(_cfg(tmp_path, _write(tmp_path, probs), srv.url, concurrency=2, max_consecutive_failures=6,
                          retry=RetryPolicy(1, 0.0, 0.0)))
    assert sum(srv.requests.values()) < 40  # it stopped long before trying all 80 items


def test_fatal_status_stops_the_run(tmp_path):
    probs = make_problems(3)
    with FakeTeacherServer(probs, script={(probs[0]["id"], "formal"): ["401"]}) as srv:
        with pytest.raises(BackendError, match="rejected the API key .*HTTP 401"):
            generate(_cfg(tmp_path, _write(tmp_path, probs), srv.url, concurrency=1))
    assert sum(srv.requests.values()) <= 2


def test_bad_flags_are_one_line_errors(tmp_path, capsys, monkeypatch):
    src = _write(tmp_path, make_problems(1))
    out = str(tmp_path / "o.jsonl")
    monkeypatch.delenv("MIND_NO_SUCH_KEY", raising=False)
    cases = [
        (["--teacher", "gpt-4o"], "--teacher 'gpt-4o': expected openai:MODEL"),
        (["--teacher", "openai:m", "--base-url", "https://api.example.com/v1", "--api-key-env", "MIND_NO_SUCH_KEY"],
         "MIND_NO_SUCH_KEY is not set"),
        (["--teacher", "openai:m", "--judge", "gpt"], "--judge 'gpt': expected 'answer' or llm:openai:MODEL"),
        (["--teacher", "openai:m", "--easy-keep", "2"], "--easy-keep 2.0: must be a probability"),
        (["--teacher", "openai:m", "--concurrency", "0"], "--concurrency 0: must be >= 1"),
    ]
    for extra, msg in cases:
        code = main(["generate", "--dataset", str(src), "--out", out, "--no-progress", *extra])
        err = capsys.readouterr().err.strip()
        assert code == 2 and err.startswith("error: ") and msg in err and len(err.splitlines()) == 1, err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "question": "q"}\n')
    assert main(["generate", "--dataset", str(bad), "--out", out, "--teacher", "openai:m"]) == 2
    assert "'answer' is missing or not a string/number" in capsys.readouterr().err


def test_benchmark_input_with_choices(tmp_path, shared_data):
    from mind.teacher.sources import load_items

    items = load_items("csqa", split="dev", limit=2)
    assert len(items) == 2 and items[0].answer_type == "choice" and len(items[0].choices) == 5
    with FakeTeacherServer() as srv:
        card = generate(_cfg(tmp_path, "csqa", srv.url, split="dev", limit=2, judge="answer"))
    prompt = srv.prompts[(items[0].question, "formal")]
    assert f"Problem:\n{items[0].question}\nAnswer choices:\n(A) {items[0].choices[0]}" in prompt
    assert "letter of the correct option" in prompt
    assert card["source"] == {"dataset": "csqa", "split": "dev", "limit": 2} and card["rationales_generated"] == 16
    assert card["problems_kept"] == 0 and card["rationales_kept"] == 0  # the fake teacher cannot answer these
