"""The process around a training run: where the start-up time goes (:class:`StartupClock`), a heartbeat that keeps
status.json fresh during long steps (:class:`Heartbeat`), the stop signal (:class:`StopFlag`) and the versions a
run records."""

from __future__ import annotations

import signal
import threading
import time


class StopFlag:
    """Set by SIGTERM (the dashboard's Stop button): the loop checkpoints and exits cleanly after the step."""

    def __init__(self):
        self.stop = False
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, *_):
        self.stop = True


class StartupClock:
    """Where the time to the first step record goes: seconds per phase (``imports``: from the process start to
    :func:`train`, then data, model, features, snapshot_0, calibration, first_step), reported in status.json."""

    def __init__(self):
        self.t = time.time()
        try:
            import psutil

            self.phases = {"imports": round(self.t - psutil.Process().create_time(), 2)}
        except Exception:  # noqa: BLE001 - psutil is optional here
            self.phases = {}

    def mark(self, phase: str) -> None:
        now = time.time()
        self.phases[phase] = round(now - self.t, 2)
        self.t = now

    def report(self) -> dict:
        return {**self.phases, "total": round(sum(self.phases.values()), 2)}


class Heartbeat:
    """Refreshes status.json every few seconds from a daemon thread, so long steps never look stale."""

    def __init__(self, writer, every_s: float = 10.0):
        self.writer, self.step, self._done = writer, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every_s,), daemon=True)
        self._thread.start()

    def _run(self, every_s):
        while not self._done.wait(every_s):
            self.writer.heartbeat(self.step, every_s=0)

    def close(self):
        self._done.set()


def versions() -> dict:
    import platform

    import torch
    import transformers

    from mind._version import __version__

    return {"mind": __version__, "torch": torch.__version__, "transformers": transformers.__version__,
            "python": platform.python_version(), "machine": platform.machine()}
