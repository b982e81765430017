"""Log files of runs and jobs: the end of a file, the last lines of a run's ``log.txt``, its newest progress line.

Below :mod:`app.loading` and :mod:`app.evaluation`, which both show logs; imports nothing of the app.
"""

from __future__ import annotations

from pathlib import Path


def read_tail(path: str | Path, max_bytes: int = 64_000) -> str:
    """The last ``max_bytes`` of a text file, decoded leniently ('' when it cannot be read)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            fh.seek(max(0, fh.tell() - max_bytes))
            return fh.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def log_tail(run_path: str | Path, lines: int = 40) -> str:
    """The last ``lines`` lines of the run's ``log.txt`` ('' when there is none)."""
    data = read_tail(Path(run_path) / "log.txt")
    return "\n".join(data.rstrip("\n").split("\n")[-lines:]) if data else ""


def last_progress_line(text: str) -> str:
    """The newest progress message in a log (tqdm rewrites its line with '\\r': keep the last rewrite)."""
    for line in reversed(text.split("\n")):
        seg = [s for s in line.split("\r") if s.strip()]
        if seg:
            return seg[-1].strip()
    return ""
