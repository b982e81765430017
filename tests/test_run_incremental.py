"""Incremental readers (mind/run/tail.py, mind/run/steps.py, mind/run/samples.py) against the full read.

Property: at every point of a growing run (steps.jsonl written in arbitrary pieces, so lines are torn anywhere;
samples written through RunWriter with small chunks, so compactions happen; files rewritten as ``--resume`` does),
``load_run(p).steps`` / ``.samples`` / ``.samples_between`` / ``.sample_steps`` equal what a read from scratch
(:func:`mind.run.read_full`) gives, and a corrupt line raises the same :class:`RunDirError` in both.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mind.errors import RunDirError
from mind.run.tail import JsonlTail
from mind.run import RunWriter, forget_readers, load_run, read_full, read_jsonl
from mind.run.cache import readers as _readers
from mind.run.samples import list_chunks, read_samples_full, samples_frame

ROOT = Path(__file__).resolve().parents[1]
PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                         HealthCheck.too_slow])
PERSP = ["a", "b"]
KINDS = ("float", "int", "intfloat", "str", "bool", "nullable_float", "nullable_int", "nullable_str",
         "sometimes_missing", "late", "all_null", "list")


def new_run(root: Path, name: str = "run") -> Path:
    i = 0
    while (root / f"{name}{i}").exists():
        i += 1
    p = root / f"{name}{i}"
    p.mkdir()
    (p / "config.json").write_text(json.dumps({"perspectives": PERSP, "steps": 10}))
    return p


def same_outcome(run_dir: Path, what: str) -> None:
    """The incremental reader (a fresh load_run on the process cache) gives what a read from scratch gives."""
    def full():
        if what == "steps":
            return read_full(run_dir)[0]
        return samples_frame(read_samples_full(run_dir))

    outcomes = []
    for read in (full, lambda: getattr(load_run(run_dir), what)):
        try:
            outcomes.append((read(), None))
        except RunDirError as exc:
            outcomes.append((None, str(exc)))
    (ref, ref_err), (got, err) = outcomes
    assert err == ref_err, (err, ref_err)
    if err is None:
        pd.testing.assert_frame_equal(got, ref, check_exact=True)


# --------------------------------------------------------------------------------------------- steps.jsonl


@st.composite
def step_history(draw):
    """Step records with columns of every kind a trainer (or a lead engineer adding columns) may write."""
    n = draw(st.integers(1, 18))
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=5))
    late_at = draw(st.integers(0, n))
    step, recs = 0, []
    for i in range(n):
        step += draw(st.sampled_from([1, 1, 1, 2, 0, -1]))  # mostly increasing; sometimes repeated or back
        rec = {"step": max(step, 0) if draw(st.integers(0, 9)) else float(max(step, 0))}
        for j, kind in enumerate(kinds):
            key = f"c{j}_{kind}" if j % 3 else f"weight/{PERSP[j % 2]}"
            null = draw(st.integers(0, 3)) == 0
            if kind == "float":
                v = draw(st.floats(-1e6, 1e6))
            elif kind == "int":
                v = draw(st.integers(-5, 5))
            elif kind == "intfloat":
                v = draw(st.one_of(st.integers(-5, 5), st.floats(-5, 5)))
            elif kind == "str":
                v = draw(st.text("xyz", max_size=2))
            elif kind == "bool":
                v = draw(st.booleans())
            elif kind.startswith("nullable"):
                base = {"float": st.floats(-9, 9), "int": st.integers(0, 9), "str": st.text("ab", max_size=2)}
                v = None if null else draw(base[kind.split("_")[1]])
            elif kind == "sometimes_missing":
                if null:
                    continue
                v = draw(st.floats(0, 1))
            elif kind == "late":
                if i < late_at:
                    continue
                v = draw(st.floats(0, 1))
            elif kind == "all_null":
                v = None
            else:
                v = draw(st.lists(st.integers(0, 3), max_size=2))
            rec[key] = v
        if draw(st.integers(0, 5)) == 0:  # another key order
            rec = dict(reversed(list(rec.items())))
        recs.append(rec)
    return recs


@PROPS
@given(recs=step_history(), data=st.data())
def test_steps_read_incrementally_equal_a_full_read_at_every_point(tmp_path_factory, recs, data):
    run = new_run(tmp_path_factory.mktemp("steps"))
    lines = [json.dumps(r).encode() + b"\n" for r in recs]
    if data.draw(st.booleans()):  # a corrupt line somewhere (the full read raises once it is complete)
        lines.insert(data.draw(st.integers(0, len(lines))), data.draw(st.sampled_from([b"{oops\n", b"[1]\n", b'{"x": 1}\n'])))
    blob = b"".join(lines)
    cuts = sorted(set(data.draw(st.lists(st.integers(0, len(blob)), max_size=12)) + [len(blob)]))
    f = run / "steps.jsonl"
    done = 0
    for cut in cuts:
        action = data.draw(st.sampled_from(["append", "append", "append", "replace", "shrink"]))
        if action == "replace" and done:  # --resume: the file is rewritten (new inode) with a prefix of whole lines
            keep = blob[:done].rfind(b"\n") + 1
            tmp = run / ".steps.tmp"
            tmp.write_bytes(blob[:keep])
            os.replace(tmp, f)
            done = keep
        elif action == "shrink" and done:  # the same inode cut back (a torn tail removed in place)
            done = data.draw(st.integers(0, done))
            os.truncate(f, done)
        with open(f, "ab") as fh:
            fh.write(blob[done:cut])
        done = max(done, cut)
        same_outcome(run, "steps")


def test_a_live_refresh_parses_only_what_was_appended(tmp_path):
    run = new_run(tmp_path)
    w = RunWriter(run)
    for s in range(1, 51):
        w.log_step({"step": s, "loss_total": 1.0 / s, "weight/a": 0.5, "weight/b": 0.5, "meta_phase": "joint"})
    r = _readers(run)
    assert len(load_run(run).steps) == 50 and r.steps.rebuilds == 1
    offset = r.steps.tail.offset
    for s in range(51, 61):
        w.log_step({"step": s, "loss_total": 1.0 / s, "weight/a": 0.5, "weight/b": 0.5, "meta_phase": "joint"})
    df = load_run(run).steps
    assert df["step"].tolist() == list(range(1, 61)) and r.steps.rebuilds == 1  # extended, not re-read
    assert r.steps.tail.offset == (run / "steps.jsonl").stat().st_size > offset
    w.log_step({"step": 61, "loss_total": 0.1, "heldout_meta_spearman": 0.3})  # a new column: one full re-read
    df = load_run(run).steps
    assert r.steps.rebuilds == 2 and df["heldout_meta_spearman"].notna().sum() == 1
    pd.testing.assert_frame_equal(df, read_full(run)[0], check_exact=True)
    w.truncate_after(30)  # --resume rewrites the file: detected, re-read
    assert load_run(run).steps["step"].tolist() == list(range(1, 31))


def test_a_rewrite_in_place_with_the_same_length_is_detected(tmp_path):
    """Same inode, same size, different bytes before the offset: the remembered bytes differ, so it is re-read."""
    f = tmp_path / "x.jsonl"
    f.write_bytes(b'{"step": 1, "v": 1}\n{"step": 2, "v": 2}\n')
    tail = JsonlTail(f)
    assert [r["v"] for r in tail.refresh().records] == [1, 2]
    with open(f, "r+b") as fh:
        fh.write(b'{"step": 1, "v": 7}\n{"step": 2, "v": 8}\n')
    delta = tail.refresh()
    assert delta.reset and [r["v"] for r in delta.records] == [7, 8]


def test_a_complete_but_unterminated_last_record_counts_until_it_grows(tmp_path):
    f = tmp_path / "x.jsonl"
    f.write_bytes(b'{"step": 1}\n{"step": 2}')  # the writer died (or is) just before the newline
    tail = JsonlTail(f)
    d = tail.refresh()
    assert [r["step"] for r in d.records] == [1] and d.provisional == {"step": 2}
    assert read_jsonl(f) == [{"step": 1}, {"step": 2}]  # the full read keeps it too
    with open(f, "ab") as fh:
        fh.write(b'\n{"step": 3')  # the newline lands; the next record is torn
    d = tail.refresh()
    assert d.records == [{"step": 2}] and d.first_index == 1 and d.provisional is None and not d.reset
    with open(f, "ab") as fh:
        fh.write(b'0}\n')
    assert tail.refresh().records == [{"step": 30}]


# --------------------------------------------------------------------------------------------- samples


def sample(step: int, pid: str, rng_val: float) -> dict:
    return {"step": step, "problem_id": pid, "perspectives": PERSP, "scores": [rng_val, None],
            "alphas": [1.0, 0.0], "selected": [True, False], "loss_raw": [rng_val, 2.0], "loss_filtered": [0.5, None],
            "attention": [[0.5, 0.5], [0.25, 0.75]], "loss_meta": rng_val if step % 3 else None}


@pytest.mark.slow
@PROPS
@given(n_steps=st.integers(1, 14), per_step=st.integers(1, 3), chunk=st.integers(1, 4), data=st.data())
def test_samples_read_incrementally_equal_a_full_read_at_every_point(tmp_path_factory, n_steps, per_step, chunk, data):
    run = new_run(tmp_path_factory.mktemp("samples"))
    w = RunWriter(run, samples_chunk_steps=chunk)
    tail = run / "samples.jsonl"
    for s in range(1, n_steps + 1):
        w.log_samples([sample(s, f"p{j}", s / 7 + j) for j in range(per_step)])
        same_outcome(run, "samples")
        if data.draw(st.booleans()):  # the next record is in flight: a torn prefix of its line is on disk
            line = json.dumps(sample(s + 1, "p0", 0.5)).encode() + b"\n"
            size = tail.stat().st_size
            with open(tail, "ab") as fh:
                fh.write(line[: data.draw(st.integers(1, len(line) - 1))])
            same_outcome(run, "samples")
            os.truncate(tail, size)
        lo = data.draw(st.integers(0, s + 1))
        hi = data.draw(st.integers(lo, s + 2))
        want = [r for r in read_samples_full(run) if lo <= r["step"] <= hi]
        got = load_run(run).samples_between(lo, hi)
        pd.testing.assert_frame_equal(got, samples_frame(want), check_exact=True)
        assert load_run(run).sample_steps == list(range(1, s + 1))
    if n_steps > chunk:
        assert list_chunks(run), "no compaction happened"
    if data.draw(st.booleans()):  # --resume from a checkpoint at step k
        k = data.draw(st.integers(0, n_steps))
        RunWriter(run, samples_chunk_steps=chunk).truncate_after(k)
        same_outcome(run, "samples")
        assert load_run(run).sample_steps == list(range(1, k + 1))


def test_a_crash_between_chunk_and_tail_rewrite_reads_each_record_once(tmp_path):
    run = new_run(tmp_path)
    w = RunWriter(run, samples_chunk_steps=2)
    for s in (1, 2):
        w.log_samples([sample(s, "p0", 0.1)])
    tail_before = (run / "samples.jsonl").read_bytes()
    w.log_samples([sample(3, "p0", 0.1)])  # compaction: chunk 1-2, tail = step 3
    assert [c.path.name for c in list_chunks(run)] == ["step_000001-000002.parquet"]
    (run / "samples.jsonl").write_bytes(tail_before)  # as if the process died before replacing the tail
    assert load_run(run).samples["step"].tolist() == [1, 2]
    RunWriter(run, samples_chunk_steps=2).truncate_after(2)  # what --resume does next
    assert load_run(run).samples["step"].tolist() == [1, 2]
    assert read_jsonl(run / "samples.jsonl") == []


@st.composite
def odd_records(draw):
    """Records a chunk must give back exactly: mixed types, nested objects, big ints, missing keys, unicode."""
    value = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=False,
                                   allow_infinity=False), st.text(max_size=4)),
                         lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(st.text(max_size=3), c, max_size=2)),
                         max_leaves=6)
    keys = draw(st.lists(st.text(min_size=1, max_size=4).filter(lambda k: k != "step"), max_size=4, unique=True))
    out = []
    for step in range(1, draw(st.integers(1, 8)) + 1):
        rec = {"step": step}
        for k in keys:
            if draw(st.booleans()):
                rec[k] = draw(value)
        out.append(rec)
    return out


def strict(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(strict(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(strict(x, y) for x, y in zip(a, b))
    return a == b


@PROPS
@given(recs=odd_records())
def test_columnar_samples_round_trip_exactly(tmp_path_factory, recs):
    run = new_run(tmp_path_factory.mktemp("rt"))
    w = RunWriter(run, samples_chunk_steps=1)
    for r in recs:
        w.log_samples([r])
    want = [json.loads(json.dumps(r)) for r in recs]
    got = read_samples_full(run)
    assert len(list_chunks(run)) == len(recs) - 1  # every step but the newest is in a chunk
    assert all(strict(g, x) for g, x in zip(got, want)) and len(got) == len(want)


def test_samples_by_range_read_only_the_chunks_they_need(tmp_path):
    run = new_run(tmp_path)
    w = RunWriter(run, samples_chunk_steps=10)
    for s in range(1, 46):
        w.log_samples([sample(s, f"p{j}", s + j) for j in range(4)])
    chunks = list_chunks(run)
    assert [(c.lo, c.hi) for c in chunks] == [(1, 10), (11, 20), (21, 30), (31, 40)]
    (chunks[0].path).write_bytes(b"garbage")  # a chunk the range does not touch is never opened
    got = load_run(run).samples_between(25, 25)
    assert got["step"].tolist() == [25] * 4 and got["problem_id"].tolist() == ["p0", "p1", "p2", "p3"]
    assert load_run(run).samples_between(43, 44)["step"].tolist() == [43] * 4 + [44] * 4  # from the tail
    with pytest.raises(RunDirError, match="step_000001-000010.parquet"):
        load_run(run).samples_between(5, 5)


def test_existing_jsonl_only_runs_load_unchanged():
    """cached_runs/ were written before chunks: samples are read from samples.jsonl alone, as before."""
    for name in ("tiny-mind-s0", "smollm2-mind-s0"):
        run_dir = ROOT / "cached_runs" / name
        forget_readers(run_dir)
        run = load_run(run_dir)
        rows = read_jsonl(run_dir / "samples.jsonl")
        pd.testing.assert_frame_equal(run.samples, pd.DataFrame.from_records(rows), check_exact=True)
        pd.testing.assert_frame_equal(run.steps, read_full(run_dir)[0], check_exact=True)
        assert run.sample_steps == sorted({r["step"] for r in rows})
        one = run.samples_between(run.sample_steps[-1], run.sample_steps[-1])
        assert len(one) == sum(r["step"] == run.sample_steps[-1] for r in rows) > 0


@pytest.mark.parametrize("old, new", [
    ([1, 2], [3]),                      # int + int
    ([1, 2], [2.5]),                    # int + float -> float
    ([0.5], [1]),                       # float + int -> float
    ([0.5, None], [None]),              # float + nulls
    ([None, None], [0.5]),              # nulls + float -> float
    ([1], [None]),                      # int + nulls -> float
    (["x"], [None]),                    # str + nulls -> str
    ([None], ["x"]),                    # nulls + str -> str
    (["x"], ["y"]),                     # str + str
    ([True], [False]),                  # bool + bool
    ([None], [None]),                   # nulls + nulls stay objects
    ([[1]], [[2, 3]]),                  # lists stay objects
    ([0.5], "missing"),                 # a key the new records lack
    (["x"], "missing"),
    ([None], "missing"),
])
def test_extend_steps_takes_the_fast_path_exactly(old, new):
    from mind.run.steps import build_steps, extend_steps

    cols = ["step", "loss_total"]
    old_rows = [{"step": i + 1, "v": v} for i, v in enumerate(old)]
    new_rows = [{"step": len(old) + i + 1} if new == "missing" else {"step": len(old) + i + 1, "v": v}
                for i, v in enumerate(new if new != "missing" else [0])]
    keys = dict.fromkeys(k for r in old_rows for k in r)
    got = extend_steps(build_steps([dict(r) for r in old_rows], cols), keys, [dict(r) for r in new_rows], cols)
    assert got is not None, "fell back to a full re-read"
    pd.testing.assert_frame_equal(got, build_steps(old_rows + new_rows, cols), check_exact=True)


def test_an_expected_column_never_written_is_a_float_column_of_nan():
    """A run without MetaNet (uniform, single) writes loss_meta as null at every step: it reads as NaN floats (pages
    format it as a number or 'n/a'), in a full read and when steps are appended."""
    from mind.run.steps import build_steps, extend_steps

    cols = ["step", "loss_total", "loss_meta"]
    rows = [{"step": i + 1, "loss_total": 1.0 / (i + 1), "loss_meta": None} for i in range(4)]
    full = build_steps([dict(r) for r in rows], cols)
    assert full["loss_meta"].dtype == "float64" and full["loss_meta"].isna().all()
    keys = dict.fromkeys(rows[0])
    grown = extend_steps(build_steps([dict(r) for r in rows[:2]], cols), keys, [dict(r) for r in rows[2:]], cols)
    assert grown is not None, "fell back to a full re-read"
    pd.testing.assert_frame_equal(grown, full, check_exact=True)
    later = extend_steps(full, keys, [{"step": 5, "loss_total": 0.1, "loss_meta": 0.3}], cols)  # MetaNet from step 5
    pd.testing.assert_frame_equal(later, build_steps(rows + [{"step": 5, "loss_total": 0.1, "loss_meta": 0.3}], cols),
                                  check_exact=True)


@pytest.mark.parametrize("old, new", [([True], [None]), ([1], ["x"]), ([None], [True])])
def test_extend_steps_refuses_what_it_cannot_prove(old, new):
    from mind.run.steps import build_steps, extend_steps

    old_rows = [{"step": 1, "v": old[0]}]
    got = extend_steps(build_steps(old_rows, ["step"]), {"step": 1, "v": 1}, [{"step": 2, "v": new[0]}], ["step"])
    assert got is None


WRITER = """
import sys, time
from pathlib import Path
from mind.run import RunWriter
out, stop = Path(sys.argv[1]), Path(sys.argv[2])
w = RunWriter(out, samples_chunk_steps=2)
w.write_json("config.json", {"perspectives": ["a", "b"]})
step, last = 0, int(sys.argv[3])
t_end = time.time() + 300  # a safety limit only: the reader ends the writer with the stop file
while not stop.exists() and time.time() < t_end:
    if step < last:  # a bounded run: past it the writer idles, so the reader's cost stops growing
        step += 1
        w.log_step({"step": step, "loss_total": step * 0.5})
        w.log_samples([{"step": step, "problem_id": f"p{j}", "scores": [step, j]} for j in range(2)])
    time.sleep(0.008)
print(step)
"""
WRITER_STEPS = 600  # ~5 s of writing (300 chunks); unbounded, a slow machine's full reads grew past a second each


@pytest.mark.slow
def test_samples_polled_while_the_writer_compacts_every_two_steps(tmp_path):
    """A writer compacts its samples tail every 2 steps while this process reads: every read is a consistent
    prefix (each step once, both problems, values a function of the step), whatever the interleaving."""
    import subprocess
    import sys

    run_dir, stop = tmp_path / "live", tmp_path / "STOP"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(run_dir), str(stop), str(WRITER_STEPS)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    seen, deadline = set(), time.monotonic() + 240  # a deadline for a loaded machine, not a quiet window
    try:
        while not (run_dir / "config.json").exists():
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "the writer wrote no config.json in 240 s"
            time.sleep(0.01)
        i = 0
        while i < 300 or len(seen) < 30:  # at least 300 reads, and until the reads overlapped 30 writer states
            assert time.monotonic() < deadline, f"{i} reads overlapped only {len(seen)} writer states in 240 s"
            assert len(seen) >= 30 or max(seen, default=0) < WRITER_STEPS, \
                f"the writer wrote all {WRITER_STEPS} steps while the reads overlapped only {len(seen)} of its states"
            assert proc.poll() is None, f"the writer ended early: {proc.stderr.read()}"
            run = load_run(run_dir)
            if i % 3 == 0:
                smp = run.samples
                n = len(smp) // 2
                assert smp["step"].tolist() == [s for s in range(1, n + 1) for _ in range(2)]
                assert all(sc == [st, j] for st, sc, j in zip(smp["step"], smp["scores"], [0, 1] * n))
            else:
                steps = run.sample_steps
                n = len(steps)
                assert steps == list(range(1, n + 1))
                if n:
                    one = run.samples_between(n, n)
                    assert one["step"].tolist() == [n, n] and one["problem_id"].tolist() == ["p0", "p1"]
            seen.add(n)
            i += 1
    finally:
        stop.touch()
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert len(seen) >= 30, "the reader did not overlap the writer"
    final = load_run(run_dir)
    assert final.sample_steps == list(range(1, int(out) + 1))
    pd.testing.assert_frame_equal(final.samples, read_full(run_dir)[1], check_exact=True)


@pytest.mark.parametrize("resume_at", [0, 3, 5, 6, 9])
def test_resume_truncates_chunks_and_keeps_writing(tmp_path, resume_at):
    """--resume at any step: chunks beyond it go, a straddling chunk's kept records return to the tail, and the
    continued run (new compactions included) reads as steps 1..12 exactly once, like an uninterrupted run."""
    run = new_run(tmp_path)
    w = RunWriter(run, samples_chunk_steps=3)
    for s in range(1, 11):
        w.log_step({"step": s, "loss_total": 1.0})
        w.log_samples([sample(s, "p0", 0.1), sample(s, "p1", 0.2)])
    assert load_run(run).sample_steps == list(range(1, 11))  # a reader with cached state, before the resume
    w2 = RunWriter(run, samples_chunk_steps=3)
    w2.truncate_after(resume_at)
    assert load_run(run).sample_steps == list(range(1, resume_at + 1))
    for s in range(resume_at + 1, 13):
        w2.log_step({"step": s, "loss_total": 2.0})
        w2.log_samples([sample(s, "p0", 0.3), sample(s, "p1", 0.4)])
    got = load_run(run)
    assert got.sample_steps == list(range(1, 13)) and got.samples["step"].tolist() == [s for s in range(1, 13) for _ in (0, 1)]
    assert got.steps["step"].tolist() == list(range(1, 13))
    pd.testing.assert_frame_equal(got.samples, read_full(run)[1], check_exact=True)
    chunks = list_chunks(run)
    assert all(a.hi < b.lo for a, b in zip(chunks, chunks[1:])) and len(chunks) >= 2
