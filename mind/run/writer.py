"""Writing a run directory: :class:`RunWriter` (the run folder as the training loop's sink) and
:class:`TrackerSink` (Accelerate's trackers). The layout is described in :mod:`mind.run`."""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from mind.run.jsonl import append_jsonl, read_jsonl, write_json_atomic, write_jsonl_atomic
from mind.run.samples import SamplesWriter
from mind.run.steps import step_of

_SNAP_RE = re.compile(r"^step_(\d{6,})\.safetensors$")


class MetricSink(Protocol):
    """Where the training loop sends its records. The run directory is one sink; trackers are others."""

    def log_step(self, record: dict) -> None: ...

    def log_samples(self, records: list[dict]) -> None: ...

    def close(self) -> None: ...


class RunWriter:
    """Writes a run directory. Only the main process of a (distributed) run creates one.

    ``samples_chunk_steps`` / ``samples_chunk_bytes``: when the samples tail holds that many distinct steps (or
    bytes), it becomes a Parquet chunk (mind/run/samples.py); ``samples_chunk_steps=0`` keeps every sample in
    samples.jsonl, the layout of runs made before chunks.
    """

    def __init__(self, path: str | Path, samples_chunk_steps: int = 100, samples_chunk_bytes: int = 4 << 20):
        self.path = Path(path)
        (self.path / "snapshots").mkdir(parents=True, exist_ok=True)
        (self.path / "checkpoints").mkdir(exist_ok=True)
        self._samples = SamplesWriter(self.path, samples_chunk_steps, samples_chunk_bytes)
        self._status: dict = {}
        self._last_beat = 0.0
        self._lock = threading.Lock()  # the heartbeat thread and the loop both write status.json

    # -- one-off files
    def write_json(self, name: str, obj: Any) -> None:
        write_json_atomic(self.path / name, obj)

    def write_jsonl(self, name: str, records: list[dict]) -> None:
        write_jsonl_atomic(self.path / name, records)

    # -- status and heartbeat
    def set_status(self, state: str | None, **fields: Any) -> None:
        """Update status.json; ``state=None`` keeps the current state (a heartbeat)."""
        with self._lock:
            if not self._status:
                self._status = {"pid": os.getpid(), "host": socket.gethostname(), "started_at": time.time()}
            self._status.update(fields, state=state or self._status.get("state", "running"), heartbeat=time.time())
            self.write_json("status.json", self._status)
            self._last_beat = time.monotonic()

    def heartbeat(self, step: int, every_s: float = 2.0, **fields: Any) -> None:
        """Refresh status.json with the current step, at most every ``every_s`` seconds."""
        if time.monotonic() - self._last_beat >= every_s:
            self.set_status(None, step=step, **fields)

    # -- MetricSink
    def log_step(self, record: dict) -> None:
        append_jsonl(self.path / "steps.jsonl", [record])

    def log_samples(self, records: list[dict]) -> None:
        self._samples.append(records)

    def close(self) -> None:
        pass

    def log_heldout(self, record: dict) -> None:
        """One line of tracking_heldout.jsonl: per-problem held-out tracking at a step (0 = after calibration)."""
        append_jsonl(self.path / "tracking_heldout.jsonl", [record])

    # -- snapshots
    def write_snapshot(self, step: int, hidden: np.ndarray, correct: np.ndarray) -> Path:
        from safetensors.numpy import save_file

        final = self.path / "snapshots" / f"step_{step:06d}.safetensors"
        tmp = final.with_name(f".{final.name}.tmp")
        save_file(
            {"hidden": np.ascontiguousarray(hidden, dtype=np.float16), "correct": np.asarray(correct, dtype=np.int8)},
            str(tmp),
            metadata={"step": str(step)},
        )
        os.replace(tmp, final)
        return final

    def truncate_after(self, step: int) -> None:
        """Drop step/sample records and snapshots newer than ``step`` (used by ``--resume``)."""
        for name in ("steps.jsonl", "tracking_heldout.jsonl"):
            p = self.path / name
            if p.exists():
                self.write_jsonl(p.name, [r for i, r in enumerate(read_jsonl(p)) if step_of(r, p, i) <= step])
        self._samples.truncate_after(step)
        for snap in (self.path / "snapshots").glob("step_*.safetensors"):
            m = _SNAP_RE.match(snap.name)
            if m and int(m.group(1)) > step:
                snap.unlink()


class TrackerSink:
    """Forwards step records to Accelerate's trackers (TensorBoard, W&B, MLflow)."""

    def __init__(self, accelerator):
        self.accelerator = accelerator

    def log_step(self, record: dict) -> None:
        values = {k: v for k, v in record.items() if isinstance(v, (int, float)) and k != "step" and v == v}
        self.accelerator.log(values, step=int(record["step"]))

    def log_samples(self, records: list[dict]) -> None:
        pass

    def close(self) -> None:
        self.accelerator.end_training()
