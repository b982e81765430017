"""Per-problem MetaNet records (``samples``): Parquet chunks written as the run goes, plus a JSONL tail.

Layout in a run directory::

    samples/step_000001-000100.parquet   complete chunks, immutable once renamed into place (steps lo-hi)
    samples/step_000101-000200.parquet
    samples.jsonl                        the tail: records newer than the last chunk, appended a line at a time

:class:`SamplesWriter` appends to the tail; when the tail holds ``chunk_steps`` distinct steps (or ``chunk_bytes``
bytes) and a record of a newer step arrives, it writes the tail's records as one chunk (to a temporary name, fsync,
rename) and then replaces the tail by a file holding only the new records (same way). A crash between the two
leaves the chunk *and* the old tail: readers ignore tail records whose step is covered by a chunk, so nothing is
lost or read twice. ``chunk_steps=0`` keeps everything in samples.jsonl (the layout of runs made before chunks).

A chunk reads back as exactly the records ``json.loads`` gave for the tail lines it replaced (mind/run/chunks.py:
columns, JSON text where Parquet would not be exact, checksums). Nothing is pickled.

:class:`SamplesReader` reads a run's samples by step range: the chunks that overlap the range (their file names
say which) and the tail lines of those steps (the tail is parsed incrementally with :class:`JsonlTail`, keeping only
each record's step and byte range). :func:`read_samples_full` reads everything from scratch (the reference).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from mind.errors import RunDirError
from mind.run.jsonl import _clean, append_jsonl, parse_line, read_jsonl, write_jsonl_atomic
from mind.run.tail import JsonlTail
from mind.run.chunks import Chunk, chunk_steps, list_chunks, read_chunk, write_chunk
from mind.run.steps import step_of

TAIL = "samples.jsonl"
SAMPLE_COLUMNS = ("step", "problem_id", "perspectives", "scores", "alphas", "selected", "loss_raw", "loss_filtered",
                  "attention", "loss_meta")


def samples_frame(records: list[dict]) -> pd.DataFrame:
    """The samples DataFrame of ``records`` (one row per record, columns in order of first appearance)."""
    return pd.DataFrame.from_records(records) if records else pd.DataFrame(columns=list(SAMPLE_COLUMNS))


# --------------------------------------------------------------------------------------------- reading


def read_samples_full(run_dir: Path) -> list[dict]:
    """Every sample record from scratch: the whole tail, then every chunk (the reference for tests and the bench)."""
    tail_path = Path(run_dir) / TAIL
    tail = read_jsonl(tail_path)
    steps = [step_of(r, tail_path, i) for i, r in enumerate(tail)]
    chunks = list_chunks(run_dir)
    cut = chunks[-1].hi if chunks else -1
    out = [r for c in chunks for r in read_chunk(c)]
    return out + [r for r, s in zip(tail, steps) if s > cut]


class SamplesReader:
    """Incremental, range-addressable reader of one run's samples (not thread-safe; the caller locks)."""

    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self.tail = JsonlTail(self.run_dir / TAIL)
        self._index: list[tuple[int, int, int]] = []  # (step, start, end) of each complete tail record
        self._prov: tuple[int, int, int] | None = None
        self._chunk_steps: dict[str, tuple[tuple, np.ndarray]] = {}  # name -> (file identity, its distinct steps)
        self._chunk_union: tuple[tuple, list[int]] | None = None     # (identities of all chunks, their steps)

    def _refresh_tail(self, lo: int | None = None, hi: int | None = None, read: bool = False) -> list[bytes]:
        """Update the tail index; with ``read``, return the lines of the tail records in [lo, hi] (same open file)."""
        def pick(delta):
            new = [(step_of(r, self.tail.path, delta.first_index + j), a, b)
                   for j, (r, (a, b)) in enumerate(zip(delta.records, delta.spans))]
            prov = None
            if delta.provisional is not None:
                prov = (step_of(delta.provisional, self.tail.path, delta.first_index + len(new)), *delta.provisional_span)
            if delta.reset:
                self._index = []
            self._index += new
            self._prov = prov
            return [(a, b) for _, a, b in self._in_range(lo, hi)] if read else []

        try:
            return self.tail.refresh_and_read(pick)[1]
        except RunDirError:  # start over next time, so that the error repeats like a full read's would
            self.tail, self._index, self._prov = JsonlTail(self.tail.path), [], None
            raise

    def _in_range(self, lo: int | None, hi: int | None) -> list[tuple[int, int, int]]:
        entries = self._index + ([self._prov] if self._prov else [])
        return [e for e in entries if (lo is None or e[0] >= lo) and (hi is None or e[0] <= hi)]

    def between(self, lo: int | None = None, hi: int | None = None) -> list[dict]:
        """The records with ``lo <= step <= hi`` (either bound may be None), in step order.

        The tail is read first (its lines in range from one open file), the chunks are listed after: a compaction
        renames its chunk before it replaces the tail, so every record is in the tail read or in a listed chunk,
        and tail records a chunk covers are dropped."""
        for _ in range(5):
            lines = self._refresh_tail(lo, hi, read=True)
            entries = self._in_range(lo, hi)
            chunks = list_chunks(self.run_dir)
            cut = chunks[-1].hi if chunks else -1
            try:
                out = [r for c in chunks if (lo is None or c.hi >= lo) and (hi is None or c.lo <= hi)
                       for r in read_chunk(c, lo, hi)]
            except FileNotFoundError:  # a chunk deleted by --resume's truncation meanwhile: read again
                continue
            for (step, _, _), line in zip(entries, lines):
                if step > cut:
                    rec = parse_line(line)
                    if rec is None:  # the bytes of a parsed record changed in place: not an append-only file
                        self.tail = JsonlTail(self.tail.path)
                        raise RunDirError(f"{self.tail.path}: changed in place while it was read (is another "
                                          "program editing it?); try again")
                    out.append(rec)
            return out
        raise RunDirError(f"{self.run_dir}: samples chunks keep disappearing while they are read (is --resume "
                          "truncating this run?); try again")

    def steps(self) -> list[int]:
        """The sorted distinct steps that have records (chunks' steps are cached per chunk file identity)."""
        for _ in range(5):
            self._refresh_tail()
            tail = [e[0] for e in self._in_range(None, None)]
            chunks = list_chunks(self.run_dir)
            cut = chunks[-1].hi if chunks else -1
            try:
                keys = tuple(self._chunk_key(c) for c in chunks)
            except FileNotFoundError:
                continue
            if self._chunk_union is None or self._chunk_union[0] != keys:
                try:
                    got = [self._steps_of(c, k) for c, k in zip(chunks, keys)]
                except FileNotFoundError:
                    continue
                self._chunk_steps = {c.path.name: self._chunk_steps[c.path.name] for c in chunks}
                self._chunk_union = (keys, [int(x) for x in np.unique(np.concatenate(got))] if got else [])
            return self._chunk_union[1] + sorted({s for s in tail if s > cut})
        raise RunDirError(f"{self.run_dir}: samples chunks keep disappearing while they are read; try again")

    @staticmethod
    def _chunk_key(c: Chunk) -> tuple:
        st = os.stat(c.path)
        return c.path.name, st.st_ino, st.st_size, st.st_mtime_ns

    def _steps_of(self, c: Chunk, key: tuple) -> np.ndarray:
        hit = self._chunk_steps.get(c.path.name)
        if hit is None or hit[0] != key:
            hit = (key, np.unique(chunk_steps(c)))
            self._chunk_steps[c.path.name] = hit
        return hit[1]


# --------------------------------------------------------------------------------------------- writing


class SamplesWriter:
    """Appends sample records to the tail and moves full tails into chunks (see the module docstring)."""

    def __init__(self, run_dir: str | Path, chunk_steps: int = 100, chunk_bytes: int = 4 << 20):
        if chunk_steps < 0 or chunk_bytes <= 0:
            raise ValueError("chunk_steps must be >= 0 and chunk_bytes > 0")
        self.run_dir = Path(run_dir)
        self.chunk_steps, self.chunk_bytes = chunk_steps, chunk_bytes
        self._state: tuple[set, int, int] | None = None  # (distinct steps in the tail, its bytes, its last step)

    @property
    def tail_path(self) -> Path:
        return self.run_dir / TAIL

    def _tail_state(self) -> tuple[set, int, int]:
        if self._state is None:
            rows = read_jsonl(self.tail_path)
            steps = {step_of(r, self.tail_path, i) for i, r in enumerate(rows)}
            size = self.tail_path.stat().st_size if self.tail_path.exists() else 0
            self._state = (steps, size, max(steps, default=-1))
        return self._state

    def append(self, records: list[dict]) -> None:
        if not records:
            return
        new_steps = [step_of({"step": _clean(r.get("step"))}, self.tail_path, i) for i, r in enumerate(records)]
        steps, size, last = self._tail_state()
        full = steps and (len(steps) >= self.chunk_steps or size >= self.chunk_bytes)
        if self.chunk_steps and full and min(new_steps) > last:
            self._compact(records)
            return
        before = size
        append_jsonl(self.tail_path, records)
        steps.update(new_steps)
        size = self.tail_path.stat().st_size if self.tail_path.exists() else before
        self._state = (steps, size, max(last, *new_steps))

    def _compact(self, new_records: list[dict]) -> None:
        """Tail -> one chunk (renamed into place first), then the tail becomes ``new_records`` only."""
        rows = read_jsonl(self.tail_path)
        if rows:
            write_chunk(self.run_dir, rows)
        write_jsonl_atomic(self.tail_path, new_records)
        steps = {int(r["step"]) for r in new_records}
        self._state = (steps, self.tail_path.stat().st_size, max(steps))

    def truncate_after(self, step: int) -> None:
        """Drop records newer than ``step`` (``--resume``): chunks beyond it are deleted, a chunk that straddles it
        moves its kept records back into the tail (written before that chunk is deleted)."""
        self._state = None
        chunks = list_chunks(self.run_dir)
        cut = chunks[-1].hi if chunks else -1  # tail records up to here are covered by a chunk (a compaction's crash)
        for c in chunks:
            if c.lo > step:
                c.path.unlink(missing_ok=True)
        rows = read_jsonl(self.tail_path)
        tail = [r for i, r in enumerate(rows) if cut < step_of(r, self.tail_path, i) <= step]
        straddle = [c for c in chunks if c.lo <= step < c.hi]
        kept = [r for c in straddle for r in read_chunk(c, hi=step)]
        if kept or self.tail_path.exists():
            write_jsonl_atomic(self.tail_path, kept + tail)
        for c in straddle:
            c.path.unlink(missing_ok=True)
