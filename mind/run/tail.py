"""Incremental reading of an append-only JSONL file: each refresh parses only the bytes appended since the last.

A :class:`JsonlTail` remembers how far it has read (a byte offset at a line boundary), how many lines and records
lie before that offset, and which file it read (device and inode, plus the first and the last bytes before the
offset). A refresh reads from the offset to the end of the file and returns the new complete records. It gives
exactly what :func:`mind.run.jsonl.read_jsonl` gives on the whole file:

- a complete line (ending in ``\\n``) that is not a JSON object is a :class:`RunDirError` naming its line number;
- the unterminated last line is the record in flight: it is returned as *provisional* when it already parses as a
  JSON object (the full read keeps it too) and is parsed again on the next refresh, when it may have grown; a torn
  one is skipped;
- a file that was replaced (another inode), shrank, or whose remembered bytes changed was rewritten (for example by
  ``RunWriter.truncate_after`` on ``--resume``, or by the compaction of ``samples.jsonl``): the refresh starts again
  from the top and says so (``Delta.reset``).

Nothing here is thread-safe; the caller holds a lock. Offsets let a caller re-read one record later
(:meth:`JsonlTail.refresh_and_read`, from the same open file as the refresh) without keeping every record in memory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from mind.run.jsonl import bad_line_error, parse_line, read_error

_PROBE = 32  # bytes remembered at the start of the file and just before the offset


@dataclass
class Delta:
    """What one refresh found. ``first_index`` is the index (0-based, over the whole file) of ``records[0]``."""

    reset: bool                      # the file was rewritten or removed: drop everything read before
    first_index: int                 # record index of records[0] (also of the provisional one when records is empty)
    records: list[dict] = field(default_factory=list)            # newly completed records, in file order
    spans: list[tuple[int, int]] = field(default_factory=list)   # their byte ranges [start, end) in the file
    provisional: dict | None = None  # the unterminated last line, when it parses as a JSON object
    provisional_span: tuple[int, int] | None = None


class JsonlTail:
    """Incrementally parsed view of one JSONL file written whole lines at a time (see the module docstring)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._reset_state()
        self._unreported_reset = False  # a reset whose refresh raised: report it on the next one that succeeds

    def _reset_state(self) -> None:
        self.identity: tuple[int, int] | None = None  # (st_dev, st_ino) of the file read so far
        self.offset = 0          # bytes consumed: always just after a '\n'
        self.lines = 0           # lines before offset (for error messages)
        self.records = 0         # records before offset
        self._head = b""         # the file's first bytes (up to _PROBE) when they were read
        self._before = b""       # the _PROBE bytes just before offset

    def _unchanged(self, f, st) -> bool:
        if self.identity is None or (st.st_dev, st.st_ino) != self.identity or st.st_size < self.offset:
            return False
        if self.offset == 0:
            return True
        f.seek(0)
        if f.read(len(self._head)) != self._head:
            return False
        f.seek(self.offset - len(self._before))
        return f.read(len(self._before)) == self._before

    def refresh(self) -> Delta:
        """Read what was appended since the last refresh (everything, after a rewrite)."""
        return self.refresh_and_read(None)[0]

    def refresh_and_read(self, pick) -> tuple[Delta, list[bytes]]:
        """Refresh, then read back the byte ranges ``pick(delta)`` chooses (records of earlier refreshes included)
        from the same open file, so a rewrite between the two cannot mix two files. ``pick`` may be None."""
        try:
            f = open(self.path, "rb")
        except FileNotFoundError:
            was = self.identity is not None or self._unreported_reset
            self._reset_state()
            self._unreported_reset = False
            delta = Delta(reset=was, first_index=0)
            return delta, self._read_spans(None, pick(delta) if pick else [])
        except OSError as exc:  # a folder in its place, no permission
            raise read_error(self.path, exc) from None
        with f:
            try:
                st = os.fstat(f.fileno())
                reset = not self._unchanged(f, st)
                if reset:
                    self._reset_state()
                    self.identity = (st.st_dev, st.st_ino)
                    self._unreported_reset = True
                f.seek(self.offset)
                data = f.read()
            except OSError as exc:  # IsADirectoryError surfaces at read()
                raise read_error(self.path, exc) from None
            if self.offset == 0 and data:
                self._head = data[:_PROBE]
            delta = self._consume(data, self._unreported_reset)
            self._unreported_reset = False
            return delta, self._read_spans(f, pick(delta) if pick else [])

    def _read_spans(self, f, spans: list[tuple[int, int]]) -> list[bytes]:
        if spans and f is None:
            raise RuntimeError("read_spans on a missing file")  # pick chose records of a file that is gone
        out = []
        for a, b in spans:
            f.seek(a)
            out.append(f.read(b - a))
        return out

    def _consume(self, data: bytes, reset: bool) -> Delta:
        delta = Delta(reset=reset, first_index=self.records)
        end = data.rfind(b"\n") + 1  # bytes up to the last newline are complete lines
        pos, line_no = 0, self.lines
        while pos < end:
            nl = data.index(b"\n", pos)
            line = data[pos:nl]
            line_no += 1
            if line.strip():
                obj = parse_line(line)
                if obj is None:
                    raise bad_line_error(self.path, line_no)  # state unchanged: the next refresh raises again
                delta.records.append(obj)
                delta.spans.append((self.offset + pos, self.offset + nl + 1))
            pos = nl + 1
        rest = data[end:]
        if rest.strip():
            obj = parse_line(rest)
            if obj is not None:
                delta.provisional = obj
                delta.provisional_span = (self.offset + end, self.offset + len(data))
        if end:
            consumed = data[:end]
            self._before = (self._before + consumed)[-_PROBE:]
            self.offset += end
            self.lines = line_no
            self.records += len(delta.records)
        return delta
