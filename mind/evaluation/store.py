"""Append-only per-item predictions, so that an interrupted evaluation resumes where it stopped.

One JSON line per item: ``benchmark, id, prediction, extracted, gold, correct, key``. ``key`` names what produced the
line (student, checkpoint step, decoding settings); a rerun with the same key skips the items already present, a
rerun with a different key (a newer checkpoint, another ``max_new_tokens``) generates them again and its lines
supersede the old ones. The key may differ per benchmark (a ``{benchmark: key}`` dict), e.g. when the generation
budget depends on the benchmark. A torn last line (the process died mid-write) is cut off before anything is
appended. The same class stores the teacher-forced (likelihood) records.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from mind.run import append_jsonl, read_jsonl


class PredictionStore:
    """Predictions of one model in one JSONL file, indexed by (benchmark, id) for the current ``key``."""

    def __init__(self, path: str | Path, key: str | dict[str, str]):
        self.path = Path(path)
        self.key = key
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._cut_torn_tail()
        self.records: dict[tuple[str, str], dict] = {}
        for r in read_jsonl(self.path):
            if isinstance(r, dict) and "benchmark" in r and "id" in r and r.get("key") == self.key_of(str(r["benchmark"])):
                self.records[(str(r["benchmark"]), str(r["id"]))] = r

    def key_of(self, benchmark: str) -> str | None:
        """The key of this store's records of ``benchmark``."""
        return self.key.get(benchmark) if isinstance(self.key, dict) else self.key

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
        rows = [{**r, "key": self.key_of(str(r["benchmark"]))} for r in records]
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


def share_records(src: str | Path, dst: str | Path) -> int:
    """Append to ``dst`` the lines of ``src`` it lacks (same key, benchmark and id); returns how many. Used to let
    several runs of one student reuse each other's base-student results: readers only take lines whose key
    matches their own settings, so a line made under other settings is carried along but never used."""
    src, dst = Path(src), Path(dst)
    if not src.is_file() or src.resolve() == dst.resolve():
        return 0
    PredictionStore(dst, "")  # cuts a torn tail of dst before anything is appended
    have = {(r.get("key"), str(r.get("benchmark")), str(r.get("id"))) for r in read_jsonl(dst) if isinstance(r, dict)} \
        if dst.exists() else set()
    new = [r for r in read_jsonl(src) if isinstance(r, dict) and "benchmark" in r and "id" in r
           and (r.get("key"), str(r["benchmark"]), str(r["id"])) not in have]
    append_jsonl(dst, new)
    return len(new)
