"""Live reads under writes: the dashboard re-reads a run directory while the trainer appends to it.

A writer process drives :class:`mind.run.RunWriter` as fast as it can (a step record, two sample records and a
status heartbeat per step, a hidden-state snapshot every few steps). Meanwhile this process calls
:func:`mind.load_run` at least 1,000 times and reads ``steps``, ``samples``, ``status``, ``snapshot_steps`` and
``hidden_states(latest)``. Every value the writer writes is a function of the step, so a torn or mixed read shows
as a wrong value, not only as an exception.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from mind import load_run
from mind.errors import RunDirError

PROBES, DIM, SNAP_EVERY = 24, 32, 7
MIN_POLLS = 1000
# The writer sleeps this long per step (at most ~100 steps/s, still ~100x a real tiny run) so that steps.jsonl stays
# small enough for 1,000 full re-reads (each poll re-parses every file) on a shared 2-core machine.
PACE_S = 0.01

WRITER = textwrap.dedent(
    f"""
    import sys, time
    from pathlib import Path
    import numpy as np
    from mind.run import RunWriter

    out, stop, PACE_S = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])
    persp = ["formal", "intuitive", "decomposition"]
    w = RunWriter(out)
    w.write_json("config.json", {{"perspectives": persp, "steps": 10**9}})
    w.write_jsonl("probes.jsonl", [{{"problem_id": f"p{{i}}", "perspective": persp[i % 3]}} for i in range({PROBES})])
    w.set_status("running", step=0)
    step = 0
    while not stop.exists() and step < 200_000:
        time.sleep(PACE_S)
        step += 1
        rec = {{"step": step, "loss_total": step * 0.5, "loss_sft": step * 0.25, "note": "x" * (step % 97)}}
        rec.update({{f"weight/{{p}}": 1 / 3 for p in persp}})
        w.log_step(rec)
        w.log_samples([{{"step": step, "problem_id": f"p{{j}}", "scores": [step, step, step]}} for j in range(2)])
        w.set_status(None, step=step)
        if step % {SNAP_EVERY} == 0:
            w.write_snapshot(step, np.full(({PROBES}, {DIM}), step % 2048, dtype=np.float16), np.arange({PROBES}) % 2)
    w.set_status("finished", step=step)
    print(step)
    """
)


def _check_poll(run_dir: Path, last_n: int, with_samples: bool = True) -> tuple[int, int, bool]:
    """One dashboard-like read. Returns (steps seen, latest snapshot step, whether a snapshot was read)."""
    run = load_run(run_dir)
    steps = run.steps
    n = len(steps)
    assert n >= last_n, f"steps went backwards: {n} < {last_n}"
    if n:
        got = steps["step"].to_numpy()
        assert (got == np.arange(1, n + 1)).all(), "steps not exactly 1..n"
        assert np.allclose(steps["loss_total"].to_numpy(), got * 0.5), "a step record was read torn or mixed"
    samples = run.samples if with_samples else ()
    if len(samples):
        assert samples["step"].is_monotonic_increasing  # read after steps.jsonl, so it may be further along
        assert all(sc == [st] * 3 for st, sc in zip(samples["step"], samples["scores"])), "a sample was read torn"
    assert run.status.get("state") in ("running", "finished")
    snaps = run.snapshot_steps
    if not snaps:
        return n, -1, False
    assert all(s % SNAP_EVERY == 0 for s in snaps)
    X, meta = run.hidden_states(snaps[-1])
    assert X.shape == (PROBES, DIM) and (X == snaps[-1] % 2048).all(), "snapshot visible before it was complete"
    assert len(meta) == PROBES and meta["correct"].tolist() == [bool(i % 2) for i in range(PROBES)]
    return n, snaps[-1], True


@pytest.mark.slow
def test_reader_polls_while_writer_appends(tmp_path):
    run_dir, stop = tmp_path / "live", tmp_path / "STOP"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(run_dir), str(stop), str(PACE_S)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    polls, errors, snapshot_reads, last_n, last_snap, distinct = 0, [], 0, 0, -1, set()
    t0 = time.monotonic()
    try:
        while not (run_dir / "config.json").exists():
            assert writer.poll() is None, writer.stderr.read()
            time.sleep(0.01)
        while polls < MIN_POLLS or snapshot_reads < 20:
            try:
                n, snap, read = _check_poll(run_dir, last_n, with_samples=polls % 5 == 0)
            except (AssertionError, RunDirError, Exception) as exc:  # noqa: BLE001 - count every failure
                errors.append(f"poll {polls}: {type(exc).__name__}: {exc}")
                if len(errors) > 5:
                    break
            else:
                assert snap >= last_snap, "snapshot list went backwards"
                last_n, last_snap = n, snap
                snapshot_reads += read
                distinct.add(n)
            polls += 1
            assert time.monotonic() - t0 < 400, f"too slow: {polls} polls, writer at step {last_n}"
    finally:
        stop.touch()
        out, err = writer.communicate(timeout=60)
    assert writer.returncode == 0, err
    written = int(out.strip())
    final = _check_poll(run_dir, last_n)
    elapsed = time.monotonic() - t0
    print(f"live reads: {polls} polls in {elapsed:.1f} s, {len(errors)} errors, {snapshot_reads} snapshot reads, "
          f"{len(distinct)} distinct step counts seen, writer wrote {written} steps")
    assert errors == [], errors
    assert polls >= MIN_POLLS and final[0] == written
    assert len(distinct) >= 50, "the reader did not overlap the writer"


def test_reader_skips_the_line_in_flight_but_not_garbage_in_the_middle(tmp_path):
    """A torn last line (the record being written) is invisible; the same bytes mid-file are a RunDirError."""
    from mind.run import RunWriter

    w = RunWriter(tmp_path / "r")
    w.write_json("config.json", {"perspectives": ["a", "b"]})
    for s in (1, 2):
        w.log_step({"step": s, "loss_total": 1.0})
    with open(tmp_path / "r" / "steps.jsonl", "a") as f:
        f.write('{"step": 3, "loss_to')
    assert load_run(tmp_path / "r").steps["step"].tolist() == [1, 2]
    with open(tmp_path / "r" / "steps.jsonl", "a") as f:
        f.write("\n" + '{"step": 4, "loss_total": 1.0}\n')
    with pytest.raises(RunDirError, match=r"steps\.jsonl: line 3 is not a valid JSON record"):
        load_run(tmp_path / "r").steps
