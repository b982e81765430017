"""Benchmark (issue 15, section 1): reading runs that grow, today's full re-read vs the incremental readers.

Runs: bench/synth_run.py writes synthetic runs through RunWriter (8 problems and 8 perspectives per step) of
1,000 and 10,000 steps (+60 held back for live appends), twice: in today's layout (``--chunk-steps 0``: all
samples in samples.jsonl, what runs made before chunks look like) and in the new one (Parquet chunks of 100 steps
plus the JSONL tail). They are made once into ``--work`` (default .cache/bench-runs) and copied for each use.

Measured side by side in the same process, for each run length:

- reads: ``steps`` and ``samples`` by today's reader (``mind.run.read_full``: the full re-read every call made
  before, kept as the reference) on the old layout, against the new readers from a cold cache (the first read in a
  process) on the new layout: ``load_run(p).steps``, ``.sample_steps``, ``.samples_between(s, s)`` (what the
  MetaNet debugger reads for one step), and ``.samples`` (everything);
- one live refresh after 10 new steps (their lines, as RunWriter writes them, appended to both runs): today's
  dashboard re-read steps.jsonl and samples.jsonl whole on every refresh of the Curriculum and MetaNet pages; the
  new one reads ``steps`` (incremental), ``sample_steps`` and one step's samples. Median of ``--live-repeats``;
- server-side page refresh (AppTest, one rerun of the Curriculum and the MetaNet page after 10 new steps) and each
  page's time to interactive in headless Chromium (bench_dashboard.py's machinery; cold = first visit after the
  server started, warm = median of ``--repeats``), for the dashboard as it was (a tree of this checkout with the
  whole tree at BASELINE_REV) against this checkout. Each server lists only the one synthetic run.

Targets (issue 15): every page interactive within 3 s and a live refresh within 0.5 s, both independent of run
length; the last line says whether they hold. Usage::

    .venv/bin/python bench/bench_runs.py                      # everything (~15-25 min on 2 busy cores)
    .venv/bin/python bench/bench_runs.py --no-browser --sizes 1000,10000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import _env  # noqa: F401  (the checkout's root on sys.path, offline environment)

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "bench"), str(ROOT / "tests")]

from mind.procs import stop_group  # noqa: E402
from mind.run import forget_readers, load_run  # noqa: E402
from mind.run.samples import read_samples_full  # noqa: E402
from mind.run.steps import read_steps_full  # noqa: E402

import synth_run  # noqa: E402

HOLD = 60  # steps written beyond the run's length and held back, to be appended during the live measurements
# The dashboard as it was: the whole tree at the revision before the incremental readers (f8b6fda) and the
# incremental pages (9a58960, its descendant). A whole tree, not old files laid over this one: the package
# regrouping (mind/run.py -> mind/run/) left no place for single old files to go.
BASELINE_REV = "f8b6fda^"


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        line = next(x for x in out.splitlines() if x.startswith("Model name"))
        flags = next((x for x in out.splitlines() if x.startswith("Flags")), "")
        amx = " (AMX)" if "amx_tile" in flags else ""
        return line.split(":", 1)[1].strip() + amx
    except (OSError, StopIteration):
        return "unknown CPU"


# --------------------------------------------------------------------------------------------- runs


def source_run(work: Path, n: int, chunk_steps: int) -> Path:
    """The synthetic run of n + HOLD steps in one layout, made once."""
    p = work / f"synth-{n}-{'chunked' if chunk_steps else 'jsonl'}"
    if not (p / "synthetic.json").exists():
        shutil.rmtree(p, ignore_errors=True)
        t, _ = timed(lambda: synth_run.make_run(p, n + HOLD, chunk_steps=chunk_steps))
        print(f"# made {p.name} ({n + HOLD} steps) in {t:.0f} s", flush=True)
    return p


def held_back_copy(src: Path, dst: Path, running: bool = False) -> list[tuple[bytes, bytes]]:
    """Copy ``src`` to ``dst`` without its last HOLD steps; returns their (steps line, samples lines) per step.
    ``running``: status.json says running, with a heartbeat an hour ahead (so it stays live while measured)."""
    shutil.copytree(src, dst)
    steps = (dst / "steps.jsonl").read_bytes().splitlines(keepends=True)
    samples = (dst / "samples.jsonl").read_bytes().splitlines(keepends=True)
    last = len(steps) - HOLD
    by_step: dict[int, list[bytes]] = {}
    keep = []
    for line in samples:
        s = json.loads(line)["step"]
        (by_step.setdefault(s, []) if s > last else keep).append(line)
    if sorted(by_step) != list(range(last + 1, last + HOLD + 1)):
        raise SystemExit(f"error: the last {HOLD} steps of {src} are not all in its samples tail")
    (dst / "steps.jsonl").write_bytes(b"".join(steps[:last]))
    (dst / "samples.jsonl").write_bytes(b"".join(keep))
    for snap in (dst / "snapshots").glob("step_*.safetensors"):
        if int(snap.stem.split("_")[1]) > last:
            snap.unlink()
    status = json.loads((dst / "status.json").read_text())
    state = {"state": "running", "heartbeat": time.time() + 3600} if running else {"state": "finished"}
    total = last + HOLD if running else last
    (dst / "status.json").write_text(json.dumps({**status, "step": last, "total_steps": total, **state}))
    return [(steps[last + i], b"".join(by_step[last + 1 + i])) for i in range(HOLD)]


def append_steps(run: Path, pending: list[tuple[bytes, bytes]], k: int) -> int:
    """Append the next ``k`` held-back steps (RunWriter's own bytes); returns the new last step."""
    for _ in range(k):
        step_line, sample_lines = pending.pop(0)
        with open(run / "steps.jsonl", "ab") as f:
            f.write(step_line)
        with open(run / "samples.jsonl", "ab") as f:
            f.write(sample_lines)
    return json.loads(step_line)["step"]


# --------------------------------------------------------------------------------------------- reader costs


def old_read(run: Path, cols: list[str]):
    """Today's reader: what every dashboard refresh did (steps.jsonl and samples.jsonl parsed whole)."""
    return read_steps_full(run / "steps.jsonl", cols), read_samples_full(run)


def new_page_reads(run: Path, step: int | None = None):
    r = load_run(run)
    steps = r.steps
    last = step if step is not None else r.sample_steps[-1]
    return steps, r.sample_steps, r.samples_between(last, last)


def bench_readers(work: Path, tmp: Path, n: int, live_repeats: int) -> dict:
    old_run = tmp / f"old-{n}"
    new_run = tmp / f"new-{n}"
    old_pending = held_back_copy(source_run(work, n, 0), old_run)
    new_pending = held_back_copy(source_run(work, n, 100), new_run)
    cols = load_run(old_run).step_columns()
    res: dict = {}
    res["old steps"], _ = timed(lambda: read_steps_full(old_run / "steps.jsonl", cols))
    res["old samples"], _ = timed(lambda: read_samples_full(old_run))
    forget_readers()
    res["new steps (cold)"], df = timed(lambda: load_run(new_run).steps)
    assert len(df) == n
    res["new steps (no change)"], _ = timed(lambda: load_run(new_run).steps)
    res["new sample_steps (cold)"], ss = timed(lambda: load_run(new_run).sample_steps)
    assert ss[-1] == n
    res["new samples of 1 step"], one = timed(lambda: load_run(new_run).samples_between(n // 2, n // 2))
    assert len(one) == 8
    res["new samples (all)"], allsmp = timed(lambda: load_run(new_run).samples)
    assert len(allsmp) == 8 * n
    del allsmp
    forget_readers()
    res["new on old layout: steps (cold)"], _ = timed(lambda: load_run(old_run).steps)
    res["new on old layout: 1 step's samples (cold)"], _ = timed(lambda: load_run(old_run).samples_between(n, n))
    old_live, new_live = [], []
    for _ in range(live_repeats):
        last = append_steps(old_run, old_pending, 10)
        assert append_steps(new_run, new_pending, 10) == last
        t, (st_old, smp_old) = timed(lambda: old_read(old_run, cols))
        old_live.append(t)
        t, (st_new, ss, one) = timed(lambda: new_page_reads(new_run))
        new_live.append(t)
        assert int(st_new["step"].iloc[-1]) == last == ss[-1] and len(one) == 8 and len(st_old) == last
    res["old live refresh (10 new steps)"] = statistics.median(old_live)
    res["new live refresh (10 new steps)"] = statistics.median(new_live)
    return res


# --------------------------------------------------------------------------------------------- dashboard


def baseline_tree(dst: Path) -> Path:
    """The repository at BASELINE_REV, unpacked into ``dst``: the dashboard and readers as they were."""
    dst.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "archive", "--format=tar", BASELINE_REV], cwd=ROOT, capture_output=True,
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dst)], input=archive, check=True)
    return dst


def code_env(code: Path) -> dict:
    return {**os.environ, "PYTHONPATH": str(code), "MIND_CACHED_RUNS": str(code / ".no-cached-runs")}


def start(code: Path, runs: Path, log: Path):
    from test_browser import _free_port

    from mind.commands.app import APP_ENTRY, command

    (code / ".no-cached-runs").mkdir(exist_ok=True)
    port = _free_port()
    argv, env = command(port, runs)
    argv[argv.index(str(APP_ENTRY))] = str(code / "app" / "main.py")
    proc = subprocess.Popen(argv, cwd=code, env={**code_env(code), **env}, stdout=open(log, "wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 120
    while True:
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read() == b"ok":
                return proc, f"http://127.0.0.1:{port}"
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            stop(proc)
            raise SystemExit(f"error: dashboard server did not start; see {log}")
        time.sleep(0.2)


def stop(proc) -> None:
    stop_group(proc)


RERUN_CHILD = r"""
import json, sys, time
from pathlib import Path
from streamlit.testing.v1 import AppTest
code, run, pending_file, k, repeats = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
pending = [(bytes.fromhex(a), bytes.fromhex(b)) for a, b in json.load(open(pending_file))]
sys.path.insert(0, str(code))
from app import ui
page = {u: ui.page_path(f) for f, _, _, u in ui.PAGES}
out = {}
for slug in ("curriculum", "metanet"):
    at = AppTest.from_file(str(code / "app" / "main.py"), default_timeout=600)
    at.session_state["mind_run"] = str(run)
    at.run()
    at.switch_page(page[slug]).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title and at.title[0].value != "Runs" and not at.info, "the page did not open the run"
    times = []
    for _ in range(repeats):
        for _ in range(k):
            a, b = pending.pop(0)
            open(run / "steps.jsonl", "ab").write(a)
            open(run / "samples.jsonl", "ab").write(b)
        t = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - t)
        assert not at.exception, [e.value for e in at.exception]
        assert str(json.loads(a)["step"]) in " ".join(str(m.value) for m in at.metric), "the new step is not shown"
    out[slug] = times
print(json.dumps(out))
"""


def page_reruns(code: Path, run: Path, pending: list, repeats: int) -> dict:
    """Server-side cost of one live refresh (AppTest rerun of the page) after 10 new steps, median per page."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump([(a.hex(), b.hex()) for a, b in pending], f)
    res = subprocess.run([sys.executable, "-c", RERUN_CHILD, str(code), str(run), f.name, "10", str(repeats)],
                         cwd=code, env={**code_env(code), "MIND_RUNS_DIR": str(run.parent)}, capture_output=True,
                         text=True, timeout=3600)
    os.unlink(f.name)
    if res.returncode:
        raise SystemExit(f"error: page rerun bench failed:\n{res.stderr[-3000:]}")
    return {k: statistics.median(v) for k, v in json.loads(res.stdout.strip().splitlines()[-1]).items()}


def bench_pages(work: Path, tmp: Path, sizes: list[int], repeats: int, live_repeats: int) -> dict:
    from playwright.sync_api import sync_playwright
    from streamlit import logger

    logger.set_log_level("ERROR")  # the test module below builds st.cache_data outside a server
    from test_browser import ARGS, CHROMIUM

    from bench_dashboard import PAGES, errors_on, time_to_interactive

    # no latent map in these runs: the Latent page's main element is its "compute the map" box
    pages = [(s, n, '[data-testid="stAlert"]' if s == "latent" else sel) for s, n, sel in PAGES]

    old_code = baseline_tree(tmp / "old-code")
    out: dict = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for n in sizes:
            for label, code, chunk in (("old", old_code, 0), ("new", ROOT, 100)):
                runs = tmp / f"pages-{label}-{n}" / "runs"
                runs.mkdir(parents=True)
                run = runs / f"synth-{n}"
                pending = held_back_copy(source_run(work, n, chunk), run, running=True)
                out[(label, n, "rerun")] = page_reruns(code, run, pending[: 20 * live_repeats], live_repeats)
                shutil.rmtree(run)
                held_back_copy(source_run(work, n, chunk), run)
                proc, base = start(code, runs, tmp / f"server-{label}-{n}.log")
                try:
                    page = browser.new_page(viewport={"width": 1400, "height": 1600})
                    for slug, name, sel in pages:
                        url = f"{base}/{slug}?run={run.name}"
                        try:
                            cold = time_to_interactive(page, url, sel, 0.5, timeout_s=180)
                            errs = errors_on(page)
                            warm = [time_to_interactive(page, url, sel, 0.5, timeout_s=180) for _ in range(repeats)]
                        except SystemExit as exc:  # not interactive within the timeout: record it, go on
                            print(f"# {label} {n} {name}: {exc}", flush=True)
                            cold, warm, errs = float("nan"), [float("nan")], [str(exc)]
                        out[(label, n, name)] = (cold, statistics.median(warm), errs)
                        print(f"# {label} {n:>6} {name:<18} cold {cold:6.2f} s  warm {statistics.median(warm):6.2f} s"
                              + (f"  ERRORS {errs}" if errs else ""), flush=True)
                    page.close()
                finally:
                    stop(proc)
        browser.close()
    return out


# --------------------------------------------------------------------------------------------- report


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,10000", help="run lengths in steps (comma list)")
    ap.add_argument("--work", default=str(ROOT / ".cache" / "bench-runs"), help="where the synthetic runs are kept")
    ap.add_argument("--repeats", type=int, default=3, help="warm visits per page (median)")
    ap.add_argument("--live-repeats", type=int, default=3, help="live refreshes of 10 steps each (median)")
    ap.add_argument("--no-browser", action="store_true", help="reader costs only (no servers, no Chromium)")
    a = ap.parse_args(argv)
    sizes = [int(s) for s in a.sizes.split(",")]
    if not 1 <= a.live_repeats <= HOLD // 20 or a.repeats < 1:
        ap.error(f"--live-repeats is 1 to {HOLD // 20}; --repeats at least 1")
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    print(f"# runs benchmark on {cpu_model()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="mind-bench-runs-"))
    try:
        readers = {n: bench_readers(work, tmp, n, a.live_repeats) for n in sizes}
        pages = {} if a.no_browser else bench_pages(work, tmp, sizes, a.repeats, a.live_repeats)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    lo, hi = sizes[0], sizes[-1]
    print(f"\nreads (seconds; synthetic runs, 8 problems x 8 perspectives per step)")
    print(f"{'':<42}" + "".join(f"{n:>10,}" for n in sizes) + f"{'x' + str(hi // lo):>8}")
    for key in readers[lo]:
        row = [readers[n][key] for n in sizes]
        print(f"{key:<42}" + "".join(f"{v:10.3f}" for v in row) + f"{row[-1] / max(row[0], 1e-9):8.1f}")
    for n in sizes:
        r = readers[n]
        print(f"{n:,} steps: live refresh {r['old live refresh (10 new steps)'] / r['new live refresh (10 new steps)']:.0f}x "
              f"faster, steps read {r['old steps'] / r['new steps (cold)']:.1f}x (cold), "
              f"one step's samples {r['old samples'] / r['new samples of 1 step']:.0f}x")
    worst_page = worst_rerun = None
    if pages:
        print(f"\npages in headless Chromium (seconds to interactive; cold / warm median of {a.repeats})")
        names = [k[2] for k in pages if k[0] == "new" and k[1] == lo and k[2] != "rerun"]
        print(f"{'page':<18}" + "".join(f"{f'{c} {n:,}':>22}" for n in sizes for c in ("old", "new")))
        for name in names:
            cells = "".join(f"{pages[(c, n, name)][0]:10.2f} / {pages[(c, n, name)][1]:7.2f}  "
                            for n in sizes for c in ("old", "new"))
            print(f"{name:<18}{cells}")
        print(f"\none live refresh after 10 new steps, server side (AppTest rerun, median of {a.live_repeats})")
        for slug in ("curriculum", "metanet"):
            print(f"{slug:<18}" + "".join(f"{pages[(c, n, 'rerun')][slug]:22.2f}" for n in sizes for c in ("old", "new")))
        worst_page = max(max(v[0], v[1]) for k, v in pages.items() if k[0] == "new" and k[2] != "rerun")
        worst_rerun = max(max(pages[("new", n, "rerun")].values()) for n in sizes)
    live = max(readers[n]["new live refresh (10 new steps)"] for n in sizes)
    growth = readers[hi]["new live refresh (10 new steps)"] / readers[lo]["new live refresh (10 new steps)"]
    ok = live <= 0.5 and (worst_page is None or worst_page <= 3.0)
    print(f"\nruns: live refresh (reads) <= {live:.3f} s ({growth:.1f}x from {lo:,} to {hi:,} steps, target <= 0.5 s)"
          + (f"; pages <= {worst_page:.2f} s cold or warm (target 3 s); page rerun <= {worst_rerun:.2f} s"
             if worst_page is not None else "") + f"; {'OK' if ok else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
