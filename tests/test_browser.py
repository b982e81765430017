"""A real headless Chromium (Playwright, Debian's /usr/bin/chromium) against `mind app` started on a free
loopback port: every page renders without an error element, a click on a latent point shows its rationale,
and a tiny run launched from the Launch page shows progress advancing and finishing.

Screenshots go to test-artifacts/browser/ (git-ignored). `make browser` installs Chromium.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import patient
from mind.procs import stop_group

from test_app_runs import ROOT, real_runs, train  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = ROOT / "test-artifacts" / "browser"
SLUGS = ("", "launch", "curriculum", "metanet", "latent", "evaluation", "how-mind-works")  # "" = Runs (default page)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _analyze(run: Path) -> None:
    res = subprocess.run([sys.executable, "-m", "mind", "analyze", "--run", str(run), "--projector", "pca", "--quiet"], capture_output=True, text=True,
                         cwd=ROOT, timeout=600)
    assert res.returncode == 0, f"mind analyze failed:\n{res.stderr[-3000:]}"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`mind app` on a free loopback port with one real analysed run; yields (base url, runs folder)."""
    assert Path(CHROMIUM).exists(), "headless Chromium missing: run `make browser` (apt-get install chromium)"
    base = tmp_path_factory.mktemp("browser")
    runs, cached = base / "runs", base / "cached"
    cached.mkdir()
    runs.mkdir()
    run = Path(shutil.copytree(real_runs() / "tiny-mind", runs / "tiny-mind"))
    _analyze(run)
    port = _free_port()
    env = dict(os.environ, MIND_CACHED_RUNS=str(cached))
    log = open(base / "server.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "mind", "app", "--port", str(port), "--runs-dir", str(runs),
                             "--allow-dir", str(real_runs().parent)],  # where the launch test's dataset lies
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
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


_BUSY_JS = """() => !!document.querySelector('[data-testid="stStatusWidget"]')
    || !document.querySelector('[data-testid="stMainBlockContainer"]')
    || [...document.querySelectorAll('[data-testid="stPlotlyChart"]')].some(c => !c.querySelector('.main-svg'))
    || !!document.querySelector('[data-testid="stSkeleton"]')"""


def _settle(page, quiet_s: float = 1.5, timeout_s: float | None = None) -> None:
    """Wait until the script has stopped running and every Plotly chart has drawn, for ``quiet_s`` seconds; give up
    after ``timeout_s`` (default: 90 s stretched for a loaded machine, tests/conftest.py ``patient``). A quiet window
    says the page stopped changing, not that a given element is there: wait for that element as well."""
    timeout_s = patient(90) if timeout_s is None else timeout_s
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout_s * 1000)
    deadline, quiet_since = time.time() + timeout_s, None
    while time.time() < deadline:
        busy = page.evaluate(_BUSY_JS)
        if busy:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.time()
        elif time.time() - quiet_since >= quiet_s:
            return
        time.sleep(0.2)
    raise AssertionError("page kept running for too long")


def _first_text(locator) -> str:
    """The first match's text, or "" when none: unlike `locator.first.inner_text()` it does not wait, so an element
    that a rerun removes between a count() and the read (a progress bar at the end of a job) is not a 30 s timeout."""
    texts = locator.all_inner_texts()
    return texts[0] if texts else ""


def _errors(page) -> list[str]:
    sel = '[data-testid="stException"], [data-testid="stAlertContentError"]'
    return [page.locator(sel).nth(i).inner_text() for i in range(page.locator(sel).count())]


def _page(browser, height: int = 2600):
    return browser.new_page(viewport={"width": 1400, "height": height})


def test_every_page_renders_without_errors(server, browser):
    url, _ = server
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = _page(browser)
    for slug in SLUGS:
        page.goto(f"{url}/{slug}?run=tiny-mind")
        _settle(page)
        page.screenshot(path=str(SHOTS / f"{slug or 'runs'}.png"))
        assert _errors(page) == [], f"{slug}: {_errors(page)}"
        assert page.locator('[role="dialog"]').count() == 0, f"{slug}: {page.locator('[role=dialog]').inner_text()}"
        assert page.locator("h1").first.inner_text().strip(), f"{slug}: no title"
    page.goto(f"{url}/curriculum?run=tiny-mind")
    _settle(page)
    assert page.locator(".js-plotly-plot").count() == 9  # 6 at the step cursor, 3 over the whole run
    page.close()


def test_click_on_a_latent_point_shows_its_rationale(server, browser):
    url, url_runs = server
    page = _page(browser, 1800)
    page.goto(f"{url}/latent?run=tiny-mind")
    _settle(page)
    plot = page.locator(".stPlotlyChart .js-plotly-plot").first
    plot.wait_for()
    # pixel position of the first point of the first trace, from Plotly's own axes
    x, y = page.evaluate("""() => {
        const gd = document.querySelector('.stPlotlyChart .js-plotly-plot');
        const fl = gd._fullLayout, t = gd._fullData[0], r = gd.getBoundingClientRect();
        return [r.left + fl._size.l + fl.xaxis.l2p(t.x[0]), r.top + fl._size.t + fl.yaxis.l2p(t.y[0])];
    }""")
    page.mouse.click(x, y)
    page.get_by_text("Selected points (1)").wait_for(timeout=patient(30) * 1000)
    _settle(page)
    page.screenshot(path=str(SHOTS / "latent-selected.png"))
    # the clicked point's own rationale is shown: look it up in the run's data by the point's id
    point = page.evaluate("() => document.querySelector('.stPlotlyChart .js-plotly-plot')._fullData[0].customdata[0]")
    point = point[0] if isinstance(point, list) else point
    problem_id, perspective = point.split("::")
    from mind import load_run

    problems = load_run(url_runs / "tiny-mind").problems
    text = problems.set_index("id").loc[problem_id, "rationales"][perspective]
    shown = page.locator('[class*="st-key-lat_first"]').inner_text()
    assert text.splitlines()[0] in shown and problem_id in shown, (point, shown[:500])
    table = page.locator('[data-testid="stDataFrame"]').last
    table.wait_for()
    assert page.get_by_text("Download selection as CSV").count() == 1
    assert _errors(page) == []
    page.close()


def test_launch_a_tiny_run_and_watch_it_finish(server, browser):
    url, runs = server
    data = real_runs().parent / "tiny.jsonl"
    page = _page(browser, 1600)
    page.goto(f"{url}/launch")
    _settle(page)
    page.get_by_role("textbox", name="Run name").fill("from-browser")
    page.get_by_text("file", exact=True).click()
    page.get_by_role("textbox", name="Dataset file (.jsonl)").fill(str(data))
    page.get_by_role("spinbutton", name="Steps").fill("5")
    page.get_by_role("button", name="Start training").click()
    seen, deadline = [], time.time() + 400
    bar = page.locator('[data-testid="stProgress"]')
    while time.time() < deadline:
        if bar.count():
            text = _first_text(bar)
            m = re.search(r"step (\d+)/5", text)
            if m and (not seen or int(m.group(1)) != seen[-1]):
                seen.append(int(m.group(1)))
                page.screenshot(path=str(SHOTS / f"launch-step{m.group(1)}.png"))
            if "finished" in text:
                break
            assert "crashed" not in text, text
        time.sleep(0.5)
    # the process exits after marking the run finished; then the Stop button goes away
    page.get_by_role("button", name="Stop").wait_for(state="detached", timeout=patient(60) * 1000)
    _settle(page, timeout_s=patient(60))
    page.screenshot(path=str(SHOTS / "launch-finished.png"))
    assert "finished" in bar.first.inner_text(), f"progress seen: {seen}"
    assert len(seen) >= 2 and seen == sorted(seen) and seen[-1] == 5, seen
    log = (runs / "from-browser" / "log.txt").read_text(encoding="utf-8")
    assert log.startswith("$ mind train --data") and "run written to" in log
    assert page.get_by_text("Finished. Explore it").count() == 1
    assert _errors(page) == []
    page.close()


def test_the_demo_preset_launches_and_the_curriculum_page_shows_tracking(server, browser):
    """The Launch page's defaults are the demo preset: press Start, wait for the run to finish, and read MetaNet's
    tracking sentence on the Curriculum page."""
    url, runs = server
    page = _page(browser, 1600)
    page.goto(f"{url}/launch")
    _settle(page)
    preset = page.locator('[class*="st-key-launch_preset"]')  # the chosen option: a combobox input's value
    assert "demo:" in (preset.get_by_role("combobox").input_value() if preset.get_by_role("combobox").count()
                       else preset.inner_text())
    page.get_by_role("textbox", name="Run name").fill("demo-preset")
    page.get_by_role("button", name="Start training").click()
    bar, deadline = page.locator('[data-testid="stProgress"]'), time.time() + 900
    link = page.get_by_role("link", name="Open in Curriculum")
    href = ""
    while time.time() < deadline:
        text = _first_text(bar)
        assert "crashed" not in text, text
        # right after the click, and while a rerun redraws the page top-down, the previous run's finished bar and
        # link can still be on screen beside the new run's picker: wait for the link to the run just launched
        href = (link.first.get_attribute("href") or "") if link.count() else ""
        if "finished" in text and href.endswith("curriculum?run=demo-preset"):
            break
        time.sleep(1.0)
    assert "finished" in text and href.endswith("curriculum?run=demo-preset"), (text, href)
    following = page.locator('[class*="st-key-follow_select"]').get_by_role("combobox")
    assert "demo-preset" in following.first.input_value()  # the picker follows the run just launched
    argv = (runs / "demo-preset" / "log.txt").read_text(encoding="utf-8").splitlines()[0]
    assert "--preset demo" in argv
    link.first.click()  # what a user does next: same session, same run
    _settle(page, timeout_s=patient(120))
    # a quiet window is not the page drawn: under a CPU burner the Curriculum page's picker came after it
    picker = page.locator('[class*="st-key-run_select"]').get_by_role("combobox")
    picker.wait_for(timeout=patient(120) * 1000)
    assert "demo-preset" in picker.input_value()
    try:  # the tracking block renders inside a fragment after the charts above it; on a loaded machine give it time
        page.get_by_text("problems it never trained on", exact=False).first.wait_for(timeout=patient(60) * 1000)
    except Exception:  # noqa: BLE001 - the assertions below report what the page shows
        pass
    page.screenshot(path=str(SHOTS / "demo-preset-curriculum.png"), full_page=True)
    body = page.locator('[data-testid="stMainBlockContainer"]').inner_text()
    assert "MetaNet ranks the rationales the way the student's losses do: Spearman ρ =" in body
    assert "problems it never trained on" in body  # held-out tracking at the epoch snapshots
    assert _errors(page) == []
    page.close()
