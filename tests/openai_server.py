"""A real OpenAI-compatible chat-completions server on 127.0.0.1 for tests, with injectable faults.

It answers ``POST /v1/chat/completions`` like a deterministic teacher: it finds the problem in the user message
(the text after ``Problem:``), solves the simple arithmetic questions made by :func:`make_problems`
("What is 12 plus 30?"), and replies with a short rationale ending ``The answer is 42.``. Requests are told
apart by (problem id, perspective id): the problem by its question text, the perspective by which
perspective prompt the user message contains. Scripted behaviour per key:

* ``wrong``: keys answered with ``gold + 1``; ``no_answer``: keys answered with text that holds no number.
* ``script``: ``{key: [fault, ...]}``, the first requests for that key get these faults in order.
* ``fault_rate`` / ``fault_kinds``: every request draws a fault with this probability (seeded).

Faults: ``429`` (with ``Retry-After: 0``), ``500``, ``slow`` (sleeps ``slow_s`` first, past the client's
timeout), ``malformed`` (truncated JSON with a JSON content type), ``empty`` (valid JSON, no choices),
``drop`` (closes the connection without a response); ``502``, ``503``, and the non-retryable ``400``, ``401``
and ``404`` (for scripts, not part of the random mix).

Judge requests (a user message with ``Reference answer:``) get ``yes`` when the solution's ``The answer is``
value equals the reference, else ``no``. Counters: ``requests`` per key (every request), ``served`` per key
(complete 200 responses written), ``faults`` per kind, ``auth`` (Authorization headers seen), ``prompts``
(the last user message per key).
"""

from __future__ import annotations

import json
import random
import re
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAULT_KINDS = ("429", "500", "slow", "malformed", "empty", "drop")
_Q_RE = re.compile(r"What is (-?\d+) (plus|minus|times) (-?\d+)\?")
_ANS_RE = re.compile(r"The answer is\s+(-?[\d.]+)")


def make_problems(n: int, seed: int = 0, prefix: str = "p") -> list[dict]:
    """``n`` distinct arithmetic problems ``{id, question, answer}`` the server can solve."""
    rng = random.Random(seed)
    out, seen = [], set()
    ops = {"plus": lambda a, b: a + b, "minus": lambda a, b: a - b, "times": lambda a, b: a * b}
    while len(out) < n:
        a, b, op = rng.randint(2, 999), rng.randint(2, 99), rng.choice(sorted(ops))
        q = f"What is {a} {op} {b}?"
        if q in seen:
            continue
        seen.add(q)
        out.append({"id": f"{prefix}{len(out):05d}", "question": q, "answer": str(ops[op](a, b))})
    return out


def solve(question: str) -> int | None:
    m = _Q_RE.search(question)
    if not m:
        return None
    a, op, b = int(m.group(1)), m.group(2), int(m.group(3))
    return a + b if op == "plus" else a - b if op == "minus" else a * b


class FakeTeacherServer:
    def __init__(self, problems=(), perspectives=None, wrong=(), no_answer=(), script=None, fault_rate=0.0,
                 fault_kinds=FAULT_KINDS, slow_s=1.5, delay_s=0.0, seed=0):
        if perspectives is None:
            from mind.teacher.prompts import default_perspectives

            perspectives = default_perspectives()
        self.ids = {p["question"]: p["id"] for p in problems}
        self.perspectives = [(p.id, p.prompt.strip()) for p in perspectives]
        self.wrong, self.no_answer = set(wrong), set(no_answer)
        self.script = {k: list(v) for k, v in (script or {}).items()}
        self.fault_rate, self.fault_kinds, self.slow_s = fault_rate, tuple(fault_kinds), slow_s
        self.delay_s = delay_s  # every normal answer waits this long (to make runs slow enough to interrupt)
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.requests: Counter = Counter()
        self.served: Counter = Counter()
        self.faults: Counter = Counter()
        self.judge_requests = 0
        self.auth: set[str] = set()
        self.prompts: dict = {}  # last user message per key
        self.httpd: ThreadingHTTPServer | None = None

    # -- lifecycle -----------------------------------------------------------------------------------------
    def start(self) -> "FakeTeacherServer":
        server = self

        class Handler(_Handler):
            owner = server

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    # -- behaviour -----------------------------------------------------------------------------------------
    def identify(self, user: str) -> tuple[str, str]:
        m = re.search(r"Problem:\n(.*?)(?:\n\n|$)", user, re.S)
        question = m.group(1).split("\nAnswer choices:")[0].strip() if m else ""
        pid = self.ids.get(question, question)
        persp = next((i for i, prompt in self.perspectives if prompt and prompt in user), "unknown")
        return pid, persp

    def pick_fault(self, key) -> str | None:
        with self.lock:
            queue = self.script.get(key)
            if queue:
                return queue.pop(0)
            if self.fault_rate and self.rng.random() < self.fault_rate:
                return self.rng.choice(self.fault_kinds)
        return None

    def answer(self, key, user: str) -> str:
        if "Reference answer:" in user:
            ref = re.search(r"Reference answer:\s*(.+)", user).group(1).strip()
            sol = _ANS_RE.findall(user.split("Solution to grade:", 1)[-1])
            return "yes" if sol and sol[-1].rstrip(".") == ref else "no"
        pid, persp = key
        if key in self.no_answer:
            return f"[{persp}] I could not work this one out."
        gold = solve(user)
        if gold is None:
            return f"[{persp}] I do not recognise this problem."
        ans = gold + 1 if key in self.wrong else gold
        return f"[{persp}] Working it through for problem {pid}, the result is {ans}.\nThe answer is {ans}."


class _Handler(BaseHTTPRequestHandler):
    owner: FakeTeacherServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep test output quiet
        pass

    def _send(self, code: int, body: bytes, headers: dict | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def do_POST(self):  # noqa: N802 - http.server naming
        srv = self.owner
        length = int(self.headers.get("Content-Length") or 0)
        payload = json.loads(self.rfile.read(length) or b"{}")
        if self.headers.get("Authorization"):
            with srv.lock:
                srv.auth.add(self.headers["Authorization"])
        if not self.path.endswith("/chat/completions"):
            return self._send(404, b'{"error": {"message": "not found"}}')
        user = "\n".join(m.get("content", "") for m in payload.get("messages", []) if m.get("role") == "user")
        key = srv.identify(user)
        is_judge = "Reference answer:" in user
        with srv.lock:
            if is_judge:
                srv.judge_requests += 1
            else:
                srv.requests[key] += 1
                srv.prompts[key] = user
        fault = None if is_judge else srv.pick_fault(key)
        if fault:
            with srv.lock:
                srv.faults[fault] += 1
        try:
            if fault == "429":
                return self._send(429, b'{"error": {"message": "rate limited"}}', {"Retry-After": "0"})
            if fault in ("500", "502", "503", "400", "401", "404"):
                return self._send(int(fault), b'{"error": {"message": "injected HTTP error"}}')
            if fault == "malformed":
                return self._send(200, b'{"id": "chatcmpl-x", "choices": [{"index": 0, "message": ')
            if fault == "empty":
                return self._send(200, b'{"id": "chatcmpl-x", "object": "chat.completion", "created": 0, "model": "m", "choices": []}')
            if fault == "drop":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return None
            if fault == "slow":
                time.sleep(srv.slow_s)
            elif srv.delay_s and not is_judge:
                time.sleep(srv.delay_s)
            text = srv.answer(key, user)
            body = {
                "id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()),
                "model": payload.get("model", "test"),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": len(user.split()), "completion_tokens": len(text.split()),
                          "total_tokens": len(user.split()) + len(text.split())},
            }
            self._send(200, json.dumps(body).encode())
            if fault != "slow" and not is_judge:
                with srv.lock:
                    srv.served[key] += 1
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True
        return None


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # listen backlog: many concurrent clients must not be refused before counting
    daemon_threads = True
    block_on_close = False
