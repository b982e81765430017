"""The process around a training run: where the start-up time goes (:class:`StartupClock`), a heartbeat that keeps
status.json fresh during long steps (:class:`Heartbeat`), the stop and why it came (:class:`StopFlag`: a request
or a signal) and the versions a run records."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

from mind.run.stop import stop_requested


class StopFlag:
    """Why the run should stop after its current step, if it should: :attr:`by` is None (keep going), ``"request"``
    (someone asked: the dashboard's Stop writes ``stop_request.json`` before it signals, mind/run/stop.py) or
    ``"signal N"`` (a signal with no request beside it, which nobody is known to have asked for: ``mind train`` then
    says so and exits 128+N instead of reporting success with steps missing).

    The loop calls :meth:`arm` (the SIGTERM handler) once the run directory is open, :meth:`poll` after every step
    (the request file alone stops a run, no signal needed) and :meth:`disarm` at the end, which puts the previous
    handler back so that a process training in-process (tests, notebooks) keeps its own SIGTERM behaviour."""

    def __init__(self, run_dir: str | Path | None = None):
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.by: str | None = None
        self.signum: int | None = None  # the signal's number when ``by`` is "signal N"
        self.step: int | None = None  # the step the loop stopped after (None: it did not stop early)
        self._armed, self._previous = False, None

    @property
    def stop(self) -> bool:
        return self.by is not None

    @property
    def requested(self) -> bool:
        return self.by == "request"

    def arm(self, run_dir: str | Path | None = None) -> None:
        """Watch ``run_dir`` for a request and take SIGTERM (main thread only: Python allows handlers nowhere else)."""
        if run_dir is not None:
            self.run_dir = Path(run_dir)
        if threading.current_thread() is threading.main_thread() and not self._armed:
            self._previous, self._armed = signal.signal(signal.SIGTERM, self._handle), True

    def disarm(self) -> None:
        """Put back the SIGTERM handler that was there before :meth:`arm`."""
        if self._armed and threading.current_thread() is threading.main_thread():
            # None: the previous handler was not installed from Python; the default is the closest we can restore
            signal.signal(signal.SIGTERM, self._previous if self._previous is not None else signal.SIG_DFL)
            self._armed, self._previous = False, None

    def poll(self) -> bool:
        """Once per step: a request file makes the stop a requested one, whether or not a signal came with it (the
        dashboard writes the file first, then signals; a request after a stray signal is still a request)."""
        if self.by != "request" and self._request_waiting():
            self.set_from("request")
        return self.stop

    def set_from(self, by: str | None) -> None:
        """Take the reason agreed between processes (see the loop's ``_agree_stop``)."""
        self.by = by
        self.signum = int(by.split()[1]) if by and by.startswith("signal ") else None

    def _request_waiting(self) -> bool:
        return self.run_dir is not None and stop_requested(self.run_dir)

    def _handle(self, signum, _frame):
        if self.by is None:
            self.set_from("request" if self._request_waiting() else f"signal {signum}")


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
