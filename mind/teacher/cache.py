"""An append-only on-disk cache of successful teacher (and LLM-judge) responses.

One JSON object per line, keyed by ``(kind, problem id, perspective, model, prompt hash)``; ``kind`` is
``teacher`` or ``judge``. Each response is appended and flushed as soon as it arrives (and ``fsync``-ed when
``durable=True``), so a crash, ``kill -9`` or Ctrl-C loses at most the line being written, and a rerun sends no
request whose response is already here. On load, a torn or garbled line is skipped and counted
(``skipped_lines``); if the file does not end in a newline, one is written before the next append so that the
next record starts on a line of its own. Failures are never cached, so a rerun retries them.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

CacheKey = tuple[str, str, str, str, str]


def make_key(kind: str, problem: str, perspective: str, model: str, prompt_hash: str) -> CacheKey:
    return (kind, str(problem), str(perspective), str(model), str(prompt_hash))


class ResponseCache:
    """Thread-safe JSONL response cache; ``get``/``put`` by key, ``len`` is the number of distinct keys."""

    def __init__(self, path: str | Path, durable: bool = False):
        self.path = Path(path)
        self.durable = durable
        self.skipped_lines = 0
        self._lock = threading.Lock()
        self._data: dict[CacheKey, dict] = {}
        self._load()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._needs_newline = self.path.exists() and self.path.stat().st_size > 0 and not self._ends_with_newline()
        self._file = open(self.path, "a", encoding="utf-8")

    def _ends_with_newline(self) -> bool:
        with open(self.path, "rb") as f:
            f.seek(-1, os.SEEK_END)
            return f.read(1) == b"\n"

    def _load(self) -> None:
        if not self.path.exists():
            return
        with open(self.path, "rb") as f:
            for line in f:
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line.decode("utf-8"))
                    key = make_key(rec["kind"], rec["problem"], rec["perspective"], rec["model"], rec["hash"])
                    if not isinstance(rec.get("text"), str):
                        raise ValueError("text")
                except (ValueError, KeyError, TypeError, UnicodeDecodeError):
                    self.skipped_lines += 1
                    continue
                self._data[key] = rec

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)

    def __contains__(self, key: CacheKey) -> bool:
        with self._lock:
            return key in self._data

    def get(self, key: CacheKey) -> dict | None:
        with self._lock:
            return self._data.get(key)

    def put(self, key: CacheKey, text: str, **fields) -> dict:
        """Store one successful response and append it to the file before returning."""
        kind, problem, perspective, model, h = key
        rec = {"kind": kind, "problem": problem, "perspective": perspective, "model": model, "hash": h,
               "text": text, **fields, "time": round(time.time(), 3)}
        line = json.dumps(rec, ensure_ascii=False) + "\n"
        with self._lock:
            if self._needs_newline:
                line = "\n" + line
                self._needs_newline = False
            self._file.write(line)
            self._file.flush()
            if self.durable:
                os.fsync(self._file.fileno())
            self._data[key] = rec
        return rec

    def records(self, kind: str | None = None) -> list[dict]:
        with self._lock:
            return [r for k, r in self._data.items() if kind is None or k[0] == kind]

    def close(self) -> None:
        with self._lock:
            if not self._file.closed:
                self._file.flush()
                os.fsync(self._file.fileno())
                self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
