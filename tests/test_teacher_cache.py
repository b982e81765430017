"""The append-only response cache: persistence, torn lines, concurrent writers."""

from __future__ import annotations

import json
import threading

from mind.teacher.cache import ResponseCache, make_key


def test_put_get_and_reload(tmp_path):
    path = tmp_path / "c.jsonl"
    k1 = make_key("teacher", "p1", "formal", "openai:m", "h1")
    with ResponseCache(path) as c:
        assert c.get(k1) is None and len(c) == 0
        c.put(k1, "The answer is 3.", prompt_tokens=5, completion_tokens=4)
        assert c.get(k1)["text"] == "The answer is 3."
    with ResponseCache(path) as c:
        assert len(c) == 1 and c.get(k1)["prompt_tokens"] == 5
        assert c.get(make_key("teacher", "p1", "formal", "openai:m", "other-hash")) is None
        assert c.get(make_key("judge", "p1", "formal", "openai:m", "h1")) is None


def test_torn_last_line_is_skipped_and_next_record_starts_a_new_line(tmp_path):
    path = tmp_path / "c.jsonl"
    with ResponseCache(path) as c:
        c.put(make_key("teacher", "p1", "a", "m", "h"), "one")
    with open(path, "a", encoding="utf-8") as f:
        f.write('{"kind": "teacher", "problem": "p2", "persp')  # a write cut off by kill -9
    with ResponseCache(path) as c:
        assert c.skipped_lines == 1 and len(c) == 1
        c.put(make_key("teacher", "p3", "a", "m", "h"), "three")
    with ResponseCache(path) as c:
        assert c.skipped_lines == 1 and len(c) == 2
        assert c.get(make_key("teacher", "p3", "a", "m", "h"))["text"] == "three"
    lines = path.read_text().splitlines()
    assert json.loads(lines[-1])["problem"] == "p3"


def test_concurrent_writers_lose_nothing(tmp_path):
    path = tmp_path / "c.jsonl"
    cache = ResponseCache(path)

    def writer(t):
        for i in range(200):
            cache.put(make_key("teacher", f"p{t}-{i}", "a", "m", "h"), "x" * (i % 50))

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    cache.close()
    assert len(path.read_text().splitlines()) == 1600
    again = ResponseCache(path)
    assert len(again) == 1600 and again.skipped_lines == 0
    again.close()
