"""mind.procs.stop_group: a child started in its own session is stopped with everything it started."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from mind.procs import stop_group

STUBBORN = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)  # ignores the polite request
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
print(child.pid, flush=True)
time.sleep(120)
"""


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def test_a_group_that_ignores_sigterm_is_killed_with_its_children():
    proc = subprocess.Popen([sys.executable, "-c", STUBBORN], stdout=subprocess.PIPE, text=True, start_new_session=True)
    grandchild = int(proc.stdout.readline())
    t0 = time.monotonic()
    status = stop_group(proc, timeout=1.0)
    assert status == -9 and time.monotonic() - t0 < 15
    deadline = time.monotonic() + 10
    while _group_alive(proc.pid) and time.monotonic() < deadline:  # the grandchild is reaped by init
        time.sleep(0.05)
    assert not _group_alive(proc.pid), f"process {grandchild} of the group survived"


def test_a_group_that_exits_on_sigterm_reports_its_status_and_a_finished_one_is_only_reaped():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)
    assert stop_group(proc, timeout=10) == -15
    done = subprocess.Popen([sys.executable, "-c", "pass"], start_new_session=True)
    done.wait()
    assert stop_group(done) == 0
