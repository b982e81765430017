"""The incremental readers of run folders, shared by every :class:`mind.run.Run` of a folder in this process.

:func:`readers` returns the :class:`Readers` of a folder (a :class:`StepsFrame` for steps.jsonl and a
:class:`SamplesReader` for the samples, with the lock their callers hold), creating it on first use; the 64 most
recently used folders are remembered. :func:`forget_readers` drops them, so that the next read is a full one (the
bench uses it to time cold reads).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from mind.run.samples import SamplesReader
from mind.run.steps import StepsFrame


class Readers:
    """The incremental readers of one run folder and the lock to hold while using them."""

    def __init__(self, path: Path):
        self.lock = threading.Lock()
        self.steps = StepsFrame(path / "steps.jsonl")
        self.samples = SamplesReader(path)


_READERS: dict[str, Readers] = {}
_READERS_LOCK = threading.Lock()
_READERS_MAX = 64  # run folders remembered per process (least recently used ones are forgotten)


def readers(path: Path) -> Readers:
    key = os.path.abspath(path)
    with _READERS_LOCK:
        r = _READERS.pop(key, None) or Readers(Path(key))
        _READERS[key] = r  # most recently used last
        while len(_READERS) > _READERS_MAX:
            _READERS.pop(next(iter(_READERS)))
        return r


def forget_readers(path: str | Path | None = None) -> None:
    """Drop the cached incremental readers of ``path`` (of every run when None): the next read is a full one."""
    with _READERS_LOCK:
        if path is None:
            _READERS.clear()
        else:
            _READERS.pop(os.path.abspath(path), None)
