"""The OpenAI-compatible backend against the loopback server: fault mapping, retries, key handling."""

from __future__ import annotations

import random
import threading

import pytest

from mind.errors import ConfigError
from mind.teacher.backends import ItemError, OpenAIBackend, is_local_url, make_backend, parse_teacher, resolve_api_key
from mind.teacher.prompts import build_messages, default_perspectives
from mind.teacher.retry import FatalError, RetryPolicy, Stopped, TransientError, call_with_retries
from openai_server import FakeTeacherServer, make_problems

PROBLEM = make_problems(1)[0]
FORMAL = default_perspectives()[0]
KEY = (PROBLEM["id"], "formal")


def _backend(srv, timeout=0.5):
    return OpenAIBackend("test-model", srv.url, "sk-test", timeout=timeout, max_tokens=64)


def _msgs():
    return build_messages(FORMAL, PROBLEM["question"])


def test_parse_teacher_specs():
    assert parse_teacher("openai:llama3:8b").model == "llama3:8b"
    assert parse_teacher("hf:/tmp/model").kind == "hf"
    for bad in ("gpt-4o", "openai:", "vllm:model", ""):
        with pytest.raises(ConfigError, match="--teacher .*expected openai:MODEL .*hf:ID_OR_FOLDER"):
            parse_teacher(bad)


def test_api_key_rules(monkeypatch):
    monkeypatch.delenv("MIND_TEST_NO_SUCH_KEY", raising=False)
    assert is_local_url("http://127.0.0.1:8000/v1") and is_local_url("http://localhost:1/v1")
    assert is_local_url("http://192.168.1.5:8000/v1") and not is_local_url("https://api.example.com/v1")
    assert resolve_api_key("MIND_TEST_NO_SUCH_KEY", "http://127.0.0.1:9/v1").startswith("sk-local")
    with pytest.raises(ConfigError, match="MIND_TEST_NO_SUCH_KEY is not set .*export MIND_TEST_NO_SUCH_KEY"):
        resolve_api_key("MIND_TEST_NO_SUCH_KEY", "https://api.example.com/v1")
    with pytest.raises(ConfigError, match="api.openai.com"):
        make_backend("openai:gpt-x", base_url=None, api_key_env="MIND_TEST_NO_SUCH_KEY")
    monkeypatch.setenv("MIND_TEST_NO_SUCH_KEY", "sk-real")
    assert resolve_api_key("MIND_TEST_NO_SUCH_KEY", "https://api.example.com/v1") == "sk-real"


def test_success_reads_text_and_usage():
    with FakeTeacherServer([PROBLEM]) as srv:
        comp = _backend(srv).complete(_msgs())
    assert comp.text.endswith(f"The answer is {PROBLEM['answer']}.")
    assert comp.prompt_tokens > 10 and comp.completion_tokens > 3 and comp.finish_reason == "stop"
    assert srv.requests[KEY] == 1 and srv.served[KEY] == 1 and srv.auth == {"Bearer sk-test"}


@pytest.mark.parametrize("fault,kind", [("429", "http_429"), ("500", "http_500"), ("503", "http_503"),
                                        ("malformed", "malformed"), ("empty", "malformed"), ("drop", "connection"),
                                        ("slow", "timeout")])
def test_each_fault_is_one_transient_error_and_the_client_does_not_retry_itself(fault, kind):
    with FakeTeacherServer([PROBLEM], script={KEY: [fault]}, slow_s=0.6) as srv:
        be = _backend(srv, timeout=0.25)
        with pytest.raises(TransientError) as err:
            be.complete(_msgs())
        assert err.value.kind == kind
        assert srv.requests[KEY] == 1  # the openai client's own retries are off
        assert be.complete(_msgs()).text.endswith(".")  # the next attempt succeeds
        assert srv.requests[KEY] == 2


def test_non_retryable_statuses():
    with FakeTeacherServer([PROBLEM], script={KEY: ["401", "404", "400"]}) as srv:
        be = _backend(srv)
        with pytest.raises(FatalError, match="rejected the API key from \\$OPENAI_API_KEY \\(HTTP 401\\)"):
            be.complete(_msgs())
        with pytest.raises(FatalError, match="HTTP 404.*--base-url"):
            be.complete(_msgs())
        with pytest.raises(ItemError, match="HTTP 400"):
            be.complete(_msgs())


def test_call_with_retries_counts_and_gives_up():
    with FakeTeacherServer([PROBLEM], script={KEY: ["429", "500", "drop"]}) as srv:
        be, seen = _backend(srv), []
        comp, attempts = call_with_retries(lambda: be.complete(_msgs()), RetryPolicy(5, 0.001, 0.01), None,
                                           lambda e: seen.append(e.kind), random.Random(0))
        assert attempts == 4 and seen == ["http_429", "http_500", "connection"] and comp.text
    with FakeTeacherServer([PROBLEM], script={KEY: ["500"] * 3}) as srv:
        be = _backend(srv)
        with pytest.raises(TransientError, match="HTTP 500"):
            call_with_retries(lambda: be.complete(_msgs()), RetryPolicy(2, 0.001, 0.01))
        assert srv.requests[KEY] == 3


def test_backoff_is_bounded_jittered_and_honours_retry_after():
    pol, rng = RetryPolicy(5, 0.5, 4.0), random.Random(1)
    for attempt in range(8):
        d = [pol.delay(attempt, rng) for _ in range(200)]
        cap = min(4.0, 0.5 * 2**attempt)
        assert 0 <= min(d) and max(d) <= cap and len(set(d)) > 100
    assert pol.delay(0, rng, retry_after=2.5) == 2.5 and pol.delay(0, rng, retry_after=99) == 4.0
    stop = threading.Event()
    stop.set()
    with pytest.raises(Stopped):
        call_with_retries(lambda: 1, pol, stop)
    with pytest.raises(ConfigError):
        RetryPolicy(max_retries=-1)
