"""A stop someone asked for: ``stop_request.json`` in the run directory.

A SIGTERM alone does not say who sent it: the dashboard's Stop button, a service manager, or another program on the
machine stopping its own children (issue 24: a test run stopped at step 1 of 3 "successfully"). So a stop that a
person asks for leaves a note first: :func:`request_stop` writes the file, then the dashboard signals the run's
process group as before. The trainer (mind/training/runtime.py) reads the note on every step, so the file alone
stops a run too, and a SIGTERM without the note is reported as a stop nobody asked for. ``mind train --resume``
removes a note left from an earlier stop (:func:`clear_stop_request`) so that the resumed run does not stop at once.

Files only, no torch: the dashboard imports this module.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from mind.run.jsonl import write_json_atomic

STOP_REQUEST = "stop_request.json"


def stop_request_path(run_dir: str | Path) -> Path:
    """Where the stop request of ``run_dir`` lives."""
    return Path(run_dir) / STOP_REQUEST


def request_stop(run_dir: str | Path, by: str = "dashboard") -> Path:
    """Ask the run in ``run_dir`` to stop after its current step: write who asked (``by``), when, and from which
    process. Atomic, so the trainer never reads half a request. Returns the file's path."""
    path = stop_request_path(run_dir)
    write_json_atomic(path, {"by": by, "at": time.time(), "pid": os.getpid()})
    return path


def read_stop_request(run_dir: str | Path) -> dict | None:
    """The stop request of ``run_dir`` ({by, at, pid}), or None when nobody asked. A file that exists but does not
    parse (written by hand, say) still counts as a request: its presence is the request, the content is a record."""
    path = stop_request_path(run_dir)
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError:
        return {"by": "unknown"}
    try:
        value = json.loads(text)
    except ValueError:
        return {"by": "unknown"}
    return value if isinstance(value, dict) else {"by": "unknown"}


def stop_requested(run_dir: str | Path) -> bool:
    """True when a stop request is waiting in ``run_dir``: one ``stat``, cheap enough for every training step."""
    return stop_request_path(run_dir).exists()


def clear_stop_request(run_dir: str | Path) -> bool:
    """Remove a stop request left in ``run_dir`` (before a resume); True if there was one."""
    try:
        stop_request_path(run_dir).unlink()
    except FileNotFoundError:
        return False
    return True
