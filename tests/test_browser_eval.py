"""A real headless Chromium against `mind app`: on the Evaluation page, press Evaluate for a tiny run that has no
evaluation yet, watch the progress bar of the `mind eval` job, and see the results (table, error-bar chart) appear.

Same set-up as tests/test_browser.py (Debian's /usr/bin/chromium through Playwright); screenshots go to
test-artifacts/browser/.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from app import evaluation
from conftest import patient
from mind.procs import stop_group

from test_app_runs import ROOT, real_runs
from test_browser import ARGS, CHROMIUM, SHOTS, _errors, _first_text, _free_port, _page, _settle

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`mind app` on a free loopback port with one real, not yet evaluated tiny run; yields (url, runs folder)."""
    assert Path(CHROMIUM).exists(), "headless Chromium missing: run `make browser` (apt-get install chromium)"
    base = tmp_path_factory.mktemp("browser-eval")
    runs, cached = base / "runs", base / "cached"
    runs.mkdir()
    cached.mkdir()
    shutil.copytree(real_runs() / "tiny-mind", runs / "tiny-mind")
    port = _free_port()
    log = open(base / "server.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "mind", "app", "--port", str(port), "--runs-dir", str(runs)],
                            cwd=ROOT, env=dict(os.environ, MIND_CACHED_RUNS=str(cached)), stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + patient(90)
        while True:
            try:
                if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                pass
            assert proc.poll() is None, (base / "server.log").read_text()
            assert time.time() < deadline, f"dashboard did not start in {patient(90):.0f} s"
            time.sleep(0.5)
        yield url, runs
    finally:
        stop_group(proc)
        log.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def test_press_evaluate_and_see_the_result(server, browser):
    url, runs = server
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = _page(browser, 2400)
    page.goto(f"{url}/evaluation?run=tiny-mind")
    _settle(page)
    assert page.get_by_text("no evaluation yet").count() == 1
    page.get_by_role("spinbutton", name="Items per benchmark").fill("2")
    page.get_by_role("button", name="Evaluate").click()
    seen, deadline = [], time.time() + 500
    bar = page.locator('[data-testid="stProgress"]')
    while time.time() < deadline:
        if bar.count():
            text = _first_text(bar)
            if text and (not seen or text != seen[-1]):
                seen.append(text)
                if len(seen) <= 3:
                    page.screenshot(path=str(SHOTS / f"evaluate-progress{len(seen)}.png"))
        if page.get_by_text("Evaluation finished").count():
            break
        assert page.get_by_text("exited with code").count() == 0, page.locator("pre").last.inner_text()
        time.sleep(0.3)
    page.get_by_text("Evaluation finished").wait_for(timeout=patient(30) * 1000)
    _settle(page, timeout_s=patient(60))
    page.screenshot(path=str(SHOTS / "evaluate-finished.png"), full_page=True)
    assert any(t.startswith("mind eval:") for t in seen), seen
    summary = json.loads((runs / "tiny-mind" / "eval" / "summary.json").read_text())
    assert {b: v["n"] for b, v in summary["benchmarks"].items()} == {"gsm8k": 2, "svamp": 2, "csqa": 2, "strategyqa": 2}
    assert page.get_by_text("no evaluation yet").count() == 0
    assert page.locator('[data-testid="stDataFrame"]').count() >= 3  # accuracy, intervals, wrong answers
    titles = page.evaluate("""() => [...document.querySelectorAll('.js-plotly-plot')].map(
        gd => gd.layout && gd.layout.title && gd.layout.title.text)""")
    assert any("Accuracy (95% Wilson intervals)" in t for t in titles if t), titles
    assert any("Answer log-likelihood" in t for t in titles if t), titles
    bars = page.evaluate("""() => [...document.querySelectorAll('.js-plotly-plot')]
        .filter(gd => gd.layout.title && gd.layout.title.text.includes('Accuracy (95%'))
        .map(gd => gd.data.map(t => [t.type, t.name, t.error_y && t.error_y.array]))[0]""")
    runs_bars = [arr for kind, _, arr in bars if kind == "bar"]
    assert len(runs_bars) == 2 and all(arr and len(arr) == 4 for arr in runs_bars)  # every benchmark of every run
    # the rest: the constant answers' legend entries (their lines are shapes across the choice benchmarks' bars)
    assert [name for kind, name, _ in bars if kind != "bar"] == [evaluation.MAJORITY_ROW, evaluation.CHANCE_ROW]
    log = (runs / "tiny-mind" / "eval.log.txt").read_text(encoding="utf-8")
    assert log.startswith("$ mind eval --run") and "summary written to" in log
    assert _errors(page) == []
    page.close()
