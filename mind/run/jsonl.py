"""JSON and JSONL files of a run directory, written and read whole: the bottom layer of the run-file modules.

Writing: :func:`append_jsonl` appends records one whole line per write and flushes, so a reader that meets an
unterminated last line (the record in flight) can skip it; :func:`write_json_atomic` and :func:`write_jsonl_atomic`
write to a temporary name, fsync and rename, so a reader sees the old file or the new one. Every value passes
through :func:`_clean` first (NaN/inf become null, numpy values become Python ones).

Reading: :func:`read_jsonl` parses a whole JSONL file; a torn last line is skipped, a bad line elsewhere is a
one-line :class:`RunDirError` (:func:`bad_line_error`). :mod:`mind.run.tail` reads the same files incrementally
with the same rules (:func:`parse_line`).

This module imports nothing from ``mind`` but :mod:`mind.errors`; :mod:`mind.run` re-exports its functions under
the same names (``from mind.run import read_jsonl`` keeps working).
"""

from __future__ import annotations

import json
import math
import os
import threading
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from mind.errors import RunDirError

# --------------------------------------------------------------------------------------------- writing


def _clean(value: Any) -> Any:
    """JSON-safe copy: NaN/inf become null, numpy scalars and arrays become Python values."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return _clean(value.tolist())
    if isinstance(value, np.generic):
        return _clean(value.item())
    return value


def _tmp_name(path: Path) -> Path:
    """A hidden temporary file next to ``path``, unique to this process and thread."""
    return path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")


def write_json_atomic(path: Path, obj: Any) -> None:
    """Replace ``path`` by ``obj`` as indented JSON (temporary file, fsync, rename): readers see the old or the new file."""
    path = Path(path)
    tmp = _tmp_name(path)
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(_clean(obj), f, indent=2, ensure_ascii=False)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_jsonl_atomic(path: Path, records: list[dict]) -> None:
    """Replace ``path`` by ``records`` (temporary file, fsync, rename): readers see the old or the new file."""
    path = Path(path)
    tmp = _tmp_name(path)
    tmp.unlink(missing_ok=True)
    append_jsonl(tmp, records)
    tmp.touch()
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def append_jsonl(path: Path, records: Iterable[dict]) -> None:
    """Append records, one whole line per write, then flush to the OS."""
    lines = "".join(json.dumps(_clean(r), ensure_ascii=False, allow_nan=False) + "\n" for r in records)
    if not lines:
        return
    with open(path, "a", encoding="utf-8") as f:
        f.write(lines)
        f.flush()


# --------------------------------------------------------------------------------------------- reading


def parse_line(line: bytes):
    """A JSON object from one line, or None when the line is not one (garbage, a torn record, another JSON type)."""
    try:
        obj = json.loads(line)
    except (ValueError, UnicodeDecodeError, RecursionError):  # JSONDecodeError is a ValueError
        return None
    return obj if isinstance(obj, dict) else None


def bad_line_error(path: Path, line_no: int) -> RunDirError:
    """The error for line ``line_no`` (1-based) of ``path`` that is complete but not a JSON object."""
    return RunDirError(
        f"{path}: line {line_no} is not a valid JSON record (corrupt run file); delete that line or re-run the training"
    )


def read_error(path: Path, exc: OSError) -> RunDirError:
    """The error for a run file that exists but cannot be read (a folder in its place, no permission)."""
    return RunDirError(f"{path}: cannot read it ({exc.strerror}); fix its permissions or re-run the training")


def read_json_or_empty(path: Path) -> dict:
    """A JSON object file, or {} when it is missing, unreadable, half-written or not an object: for files a reader
    may meet while their writer is still at work (status.json, calibration.json) and shows what it can."""
    try:
        obj = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return obj if isinstance(obj, dict) else {}


def read_jsonl(path: Path) -> list[dict]:
    """Read a JSONL file written by :func:`append_jsonl`. A missing file is empty; a torn last line is skipped;
    a bad line elsewhere is a :class:`RunDirError` naming its line number."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:  # a folder in its place, no permission
        raise read_error(path, exc) from None
    lines = data.split(b"\n")
    torn_tail = not data.endswith(b"\n")
    out = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        obj = parse_line(line)
        if obj is None:
            if torn_tail and i == len(lines) - 1:
                break  # the record in flight
            raise bad_line_error(path, i + 1)
        out.append(obj)
    return out
