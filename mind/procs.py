"""Child processes started in their own session (``start_new_session=True``): stopping one with everything it
started. The dashboard's jobs, ``mind app``'s Streamlit server, and the benches' and tests' servers all stop this
way; below everything that starts processes."""

from __future__ import annotations

import os
import signal
import subprocess


def stop_group(proc: subprocess.Popen, timeout: float = 20.0) -> int | None:
    """SIGTERM the process group led by ``proc`` (its pid, as ``start_new_session`` makes it), wait up to
    ``timeout`` seconds, then SIGKILL the group. Returns the exit status (None if it could not be reaped). A process
    that has already exited is only reaped; a group that is gone is not an error."""
    if proc.poll() is not None:
        return proc.returncode
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            return proc.wait(timeout if sig == signal.SIGTERM else 10.0)
        except subprocess.TimeoutExpired:
            continue
    try:
        return proc.wait(1.0)
    except subprocess.TimeoutExpired:
        return None
