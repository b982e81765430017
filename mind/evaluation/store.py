"""Append-only per-item predictions, so that an interrupted evaluation resumes where it stopped.

One JSON line per item: ``benchmark, id, prediction, extracted, gold, correct, key``. ``key`` names what produced the
line (student, checkpoint step, decoding settings); a rerun with the same key skips the items already present, a
rerun with a different key (a newer checkpoint, another ``max_new_tokens``) generates them again and its lines
supersede the old ones. A torn last line (the process died mid-write) is cut off before anything is appended.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from mind.run import append_jsonl, read_jsonl


class PredictionStore:
    """Predictions of one model in one JSONL file, indexed by (benchmark, id) for the current ``key``."""

    def __init__(self, path: str | Path, key: str):
        self.path = Path(path)
        self.key = key
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._cut_torn_tail()
        self.records: dict[tuple[str, str], dict] = {}
        for r in read_jsonl(self.path):
            if isinstance(r, dict) and r.get("key") == key and "benchmark" in r and "id" in r:
                self.records[(str(r["benchmark"]), str(r["id"]))] = r

    def _cut_torn_tail(self) -> None:
        """Drop bytes after the last newline: a record in flight when the writer died."""
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            keep = data.rfind(b"\n") + 1
            with open(self.path, "r+b") as f:
                f.truncate(keep)
                f.flush()
                os.fsync(f.fileno())

    def has(self, benchmark: str, item_id: str) -> bool:
        return (benchmark, str(item_id)) in self.records

    def get(self, benchmark: str, item_id: str) -> dict | None:
        return self.records.get((benchmark, str(item_id)))

    def add(self, records: list[dict]) -> None:
        """Append records (each gets this store's key) and flush them to the OS."""
        rows = [{**r, "key": self.key} for r in records]
        append_jsonl(self.path, rows)
        for r in rows:
            self.records[(str(r["benchmark"]), str(r["id"]))] = r


def count_lines(path: str | Path) -> int:
    """Complete JSON lines in a predictions file (a torn tail is not counted)."""
    p = Path(path)
    return len(read_jsonl(p)) if p.exists() else 0


def dumps_key(**fields) -> str:
    """A stable one-line key from keyword fields."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":"))
