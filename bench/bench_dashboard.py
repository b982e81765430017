"""Benchmark (issue 6, target 5): dashboard page time-to-interactive and live-run latency in headless Chromium.

Starts ``mind app`` on a free loopback port (the bundled ``cached_runs/`` plus a temporary runs folder holding a copy
of ``tiny-mind`` with its latent map computed by ``mind analyze --projector pca``) and a bare one-``st.write``
Streamlit script served with the same flags. For every page it times ``page.goto`` until the page is interactive:
Streamlit's running indicator gone, no skeleton, every Plotly chart drawn, and the page's main element (chart,
table or form) visible, holding for ``--quiet`` seconds (the reported time is when that stable state began).
Cold = the first visit after the server started; warm = median of ``--repeats`` later visits (full page loads).

Live latency: a copy of ``tiny-mind`` with ``steps.jsonl`` cut to half and ``status.json`` marked running with a fresh
heartbeat is opened on the Curriculum page (``Follow live`` is on by default, refresh every 1 s); the next real step
record is appended and the time until the step slider's maximum shows it is measured, ``--live-repeats`` times.

Browser helpers (Chromium path, flags, the "still busy" probe) come from ``tests/test_browser.py``. Usage::

    .venv/bin/python bench/bench_dashboard.py [--repeats 3] [--live-repeats 5] [--no-analyze]
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

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from streamlit import logger as _st_logger  # noqa: E402

_st_logger.set_log_level("ERROR")  # importing the test module builds st.cache_data outside a server: silence its warnings
from test_browser import ARGS, CHROMIUM, _BUSY_JS, _free_port  # noqa: E402  (shared with the browser tests)

from mind.commands.app import APP_ENTRY, command  # noqa: E402

SOURCE_RUN = "tiny-mind-s0"
PLOT = '[data-testid="stPlotlyChart"] .main-svg'
TABLE = '[data-testid="stDataFrame"]'
# (url path, label, selector of the element that must be visible for the page to count as interactive)
PAGES = (
    ("", "Runs", TABLE),
    ("launch", "Launch", '[data-testid="stForm"] button'),
    ("curriculum", "Curriculum", PLOT),
    ("metanet", "MetaNet debugger", PLOT),
    ("latent", "Latent space", PLOT),
    ("evaluation", "Evaluation", TABLE),
    ("how-mind-works", "How MIND works", PLOT),
)
BARE = ("", "bare Streamlit", '[data-testid="stMarkdownContainer"]')
BARE_SCRIPT = 'import streamlit as st\n\nst.write("bare page")\n'
# the maximum of the Curriculum page's "Step" slider (not the "refresh every" select-slider above it)
SLIDER_MAX_JS = """() => { const s = document.querySelector('[data-testid="stSlider"] input[type="range"][aria-label="Step"]');
    return s ? Number(s.getAttribute('max')) : null; }"""


def start_server(script: Path | None, port: int, runs: Path, log: Path) -> subprocess.Popen:
    """``mind app``'s own command line (or the same flags with ``script`` in place of app/main.py); waits for health."""
    argv, env = command(port, runs)
    if script is not None:
        argv[argv.index(str(APP_ENTRY))] = str(script)
    proc = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, **env}, stdout=open(log, "wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 120
    while True:
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read() == b"ok":
                return proc
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            stop_server(proc)
            raise SystemExit(f"error: server for {script or APP_ENTRY} did not start; see {log}")
        time.sleep(0.2)


def stop_server(proc: subprocess.Popen) -> None:
    from mind.procs import stop_group

    stop_group(proc)


def ready_js(selector: str) -> str:
    """JS predicate: not busy (the browser tests' probe) and ``selector`` present with a non-empty box."""
    return f"""() => {{ if (({_BUSY_JS})()) return false;
        const el = document.querySelector({json.dumps(selector)});
        if (!el) return false; const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; }}"""


def time_to_interactive(page, url: str, selector: str, quiet_s: float, timeout_s: float = 90.0) -> float:
    """Seconds from ``goto`` until the page is ready and stays ready for ``quiet_s`` (returns when readiness began)."""
    probe = ready_js(selector)
    t0 = time.perf_counter()
    page.goto(url, wait_until="commit")
    ready_since = None
    while True:
        now = time.perf_counter()
        if page.evaluate(probe):
            ready_since = ready_since if ready_since is not None else now
            if now - ready_since >= quiet_s:
                return ready_since - t0
        else:
            ready_since = None
        if now - t0 > timeout_s:
            raise SystemExit(f"error: {url} did not become interactive in {timeout_s:.0f} s")
        time.sleep(0.03)


def errors_on(page) -> list[str]:
    loc = page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]')
    return [loc.nth(i).inner_text()[:200] for i in range(loc.count())]


def measure_pages(browser, base: str, pages, query: str, repeats: int, quiet_s: float, shots: Path) -> dict:
    """{label: (cold s, [warm s...])}: one cold round over all pages, then ``repeats`` warm rounds."""
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    out: dict[str, tuple[float, list[float]]] = {}
    for slug, label, sel in pages:
        cold = time_to_interactive(page, f"{base}/{slug}{query}", sel, quiet_s)
        errs = errors_on(page)
        page.screenshot(path=str(shots / f"{slug or 'runs'}{'-bare' if label == BARE[1] else ''}.png"))
        if errs:
            print(f"warning: {label} shows errors: {errs}", flush=True)
        out[label] = (cold, [])
    for _ in range(repeats):
        for slug, label, sel in pages:
            out[label][1].append(time_to_interactive(page, f"{base}/{slug}{query}", sel, quiet_s))
    page.close()
    return out


def make_live_run(runs: Path, name: str) -> tuple[Path, list[str]]:
    """Copy the source run, keep the first half of its steps, mark it running; return (path, held-back lines)."""
    dst = Path(shutil.copytree(ROOT / "cached_runs" / SOURCE_RUN, runs / name))
    lines = (dst / "steps.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    half = len(lines) // 2
    (dst / "steps.jsonl").write_text("".join(lines[:half]), encoding="utf-8")
    shutil.rmtree(dst / "checkpoints", ignore_errors=True)
    mark_running(dst, json.loads(lines[half - 1])["step"])
    return dst, lines[half:]


def mark_running(run: Path, step: int) -> None:
    status = json.loads((run / "status.json").read_text(encoding="utf-8"))
    status.update(state="running", step=step, heartbeat=time.time(), pid=os.getpid())
    tmp = run / "status.json.tmp"
    tmp.write_text(json.dumps(status), encoding="utf-8")
    os.replace(tmp, run / "status.json")


def measure_live(browser, base: str, run: Path, pending: list[str], repeats: int, timeout_s: float = 30.0) -> list[float]:
    """Append the held-back step records one at a time; seconds until the Curriculum slider's maximum shows each."""
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    time_to_interactive(page, f"{base}/curriculum?run={run.name}", PLOT, quiet_s=1.0)
    if page.get_by_text("Follow live").count() == 0:
        raise SystemExit("error: the Curriculum page shows no 'Follow live' toggle for the fake live run")
    lat = []
    for line in pending[:repeats]:
        step = json.loads(line)["step"]
        before = page.evaluate(SLIDER_MAX_JS)
        if before is None or before >= step:
            raise SystemExit(f"error: step slider max is {before} before appending step {step}")
        with open(run / "steps.jsonl", "a", encoding="utf-8") as f:
            f.write(line)
        t0 = time.perf_counter()
        mark_running(run, step)
        while page.evaluate(SLIDER_MAX_JS) != step:
            if time.perf_counter() - t0 > timeout_s:
                raise SystemExit(f"error: step {step} did not appear on the Curriculum page within {timeout_s:.0f} s")
            time.sleep(0.02)
        lat.append(time.perf_counter() - t0)
        time.sleep(0.37 * (len(lat) % 3))  # vary the phase against the page's refresh timer
    page.close()
    return lat


def analyze(run: Path) -> float:
    t = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "mind", "analyze", "--run", str(run), "--projector", "pca", "--quiet"],
                         cwd=ROOT, capture_output=True, text=True, timeout=900)
    if res.returncode:
        raise SystemExit(f"error: mind analyze failed:\n{res.stderr[-2000:]}")
    return time.perf_counter() - t


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3, help="warm visits per page (median reported; >= 3)")
    ap.add_argument("--live-repeats", type=int, default=5, help="step records appended to the fake live run")
    ap.add_argument("--quiet", type=float, default=0.5, help="seconds a page must stay ready to count as interactive")
    ap.add_argument("--no-analyze", action="store_true", help="skip `mind analyze` (the Latent page then shows its info box)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (server logs, runs)")
    args = ap.parse_args(argv)
    if args.repeats < 3 or not 1 <= args.live_repeats <= 10 or args.quiet < 0:
        ap.error("--repeats must be >= 3, --live-repeats 1..10, --quiet >= 0")
    if not Path(CHROMIUM).exists():
        ap.error(f"{CHROMIUM} missing: run `make browser` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="mind-bench-dash-"))
    runs = tmp / "runs"
    runs.mkdir()
    shots = ROOT / "test-artifacts" / "bench-dashboard"
    shots.mkdir(parents=True, exist_ok=True)
    bench_run = Path(shutil.copytree(ROOT / "cached_runs" / SOURCE_RUN, runs / "bench-run"))
    print(f"# dashboard benchmark: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; temp {tmp}", flush=True)
    if not args.no_analyze:
        print(f"# mind analyze --projector pca on a copy of {SOURCE_RUN}: {analyze(bench_run):.1f} s", flush=True)
    bare_script = tmp / "bare.py"
    bare_script.write_text(BARE_SCRIPT, encoding="utf-8")
    procs = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            port = _free_port()
            procs.append(start_server(bare_script, port, runs, tmp / "bare.log"))
            bare = measure_pages(browser, f"http://127.0.0.1:{port}", [BARE], "", args.repeats, args.quiet, shots)
            stop_server(procs.pop())
            port = _free_port()
            t = time.perf_counter()
            procs.append(start_server(None, port, runs, tmp / "app.log"))
            print(f"# mind app started in {time.perf_counter() - t:.1f} s", flush=True)
            base = f"http://127.0.0.1:{port}"
            pages = [(s, lab, '[data-testid="stAlert"]' if args.no_analyze and s == "latent" else sel)
                     for s, lab, sel in PAGES]  # without a latent map the Latent page's main element is its info box
            res = measure_pages(browser, base, pages, "?run=bench-run", args.repeats, args.quiet, shots)
            live_run, pending = make_live_run(runs, "live-run")
            live = measure_live(browser, base, live_run, pending, args.live_repeats)
            browser.close()
    finally:
        for p in procs:
            stop_server(p)
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    b_cold, b_warm = bare[BARE[1]][0], statistics.median(bare[BARE[1]][1])
    print(f"\n{'page':<18} {'cold s':>7} {'warm med s':>10} {'warm max s':>10} {'warm/bare':>9} {'cold/bare':>9}")
    print(f"{BARE[1]:<18} {b_cold:7.2f} {b_warm:10.2f} {max(bare[BARE[1]][1]):10.2f} {1:9.2f} {1:9.2f}")
    worst = ("", 0.0)
    for _, label, _ in PAGES:
        cold, warm = res[label]
        med = statistics.median(warm)
        worst = max(worst, (label, med), key=lambda x: x[1])
        print(f"{label:<18} {cold:7.2f} {med:10.2f} {max(warm):10.2f} {med / b_warm:9.2f} {cold / b_cold:9.2f}")
    live_med = statistics.median(live)
    print("\nlive step -> Curriculum slider (refresh every 1 s, the default): " + ", ".join(f"{x:.2f}" for x in live)
          + f" s; median {live_med:.2f}, max {max(live):.2f}")
    meds = [statistics.median(res[label][1]) for _, label, _ in PAGES]
    ok = max(meds) <= 3.0 and live_med <= 2.0
    print(f"dashboard: warm page median {statistics.median(meds):.2f} s (worst {worst[0]} {worst[1]:.2f} s, target <= 3), "
          f"{statistics.median(meds) / b_warm:.1f}x bare Streamlit ({b_warm:.2f} s), worst {worst[1] / b_warm:.1f}x; "
          f"live step median {live_med:.2f} s max {max(live):.2f} s (target <= 2); {'OK' if ok else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
