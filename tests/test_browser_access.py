"""A shared dashboard in a real headless Chromium: `mind app --token T --read-only` on a free loopback port, with a
real run and a planted API key in the server's environment. Without the token every page shows the login prompt
and nothing the server sends (DOM or WebSocket frames) names a run; `?token=T` or the login box opens the
dashboard and removes the token from the address bar; read-only leaves no Launch page; the key never reaches the
browser."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import patient
from mind.procs import stop_group

from test_app_runs import ROOT, real_runs
from test_browser import ARGS, CHROMIUM, SLUGS, _errors, _free_port, _settle

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TOKEN = "browser-token-" + os.urandom(8).hex()
KEY = "sk-planted-" + os.urandom(12).hex()
SHOTS = ROOT / "test-artifacts" / "browser-access"
# Waits for an element the test needs: it comes in a second or two on a quiet machine, and a loaded one (issue 24:
# 2 busy cores) drew the page title well before the login box, so the deadline is generous and costs nothing.
ELEMENT_MS = patient(60) * 1000


def expect(target):
    """Playwright's ``expect`` (it retries until its timeout), imported when used like Playwright elsewhere here."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`mind app --token --read-only` on 127.0.0.1 with one real run; yields (base url, runs folder)."""
    assert Path(CHROMIUM).exists(), "headless Chromium missing: run `make browser` (apt-get install chromium)"
    base = tmp_path_factory.mktemp("browser-access")
    runs, cached = base / "runs", base / "cached"
    cached.mkdir()
    runs.mkdir()
    shutil.copytree(real_runs() / "tiny-mind", runs / "tiny-mind")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIND_APP_")}
    env.update(MIND_CACHED_RUNS=str(cached), MIND_APP_TOKEN=TOKEN, OPENAI_API_KEY=KEY)
    log = open(base / "server.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "mind", "app", "--port", str(port), "--runs-dir", str(runs),
                             "--read-only"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
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
        printed = (base / "server.log").read_text()
        assert f"MIND dashboard (read-only) on {url}/?token={TOKEN}" in printed
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


class Recorded:
    """A page plus every WebSocket frame the server sent to it (the whole of what a session receives)."""

    def __init__(self, browser, height: int = 1800):
        self.page = browser.new_page(viewport={"width": 1400, "height": height})
        self.frames: list[bytes] = []
        self.page.on("websocket", self._ws)

    def _ws(self, ws) -> None:
        ws.on("framereceived", lambda payload: self.frames.append(
            payload if isinstance(payload, bytes) else payload.encode("utf-8")))

    def received(self) -> bytes:
        return b"".join(self.frames)

    def seen(self, needle: str) -> bool:
        """``needle`` in anything the server sent: the WebSocket frames or the rendered DOM."""
        return needle.encode() in self.received() or needle in self.page.content()


def _login_only(rec: Recorded) -> None:
    """The page is the login prompt and nothing else. Waits for the login box first: counting elements after a quiet
    window missed it on a loaded machine, where the title had drawn and the box had not yet."""
    page = rec.page
    expect(page.get_by_label("Access token")).to_be_visible(timeout=ELEMENT_MS)
    assert page.locator("h1").first.inner_text().strip() == "MIND dashboard"
    assert page.get_by_label("Access token").count() == 1
    assert page.locator('[data-testid="stSidebarNav"]').count() == 0  # no page list
    for testid in ("stDataFrame", "stPlotlyChart", "stSelectbox", "stPageLink"):
        assert page.locator(f'[data-testid="{testid}"]').count() == 0, testid


def test_without_the_token_every_page_is_the_login_prompt(server, browser):
    url, runs = server
    SHOTS.mkdir(parents=True, exist_ok=True)
    for slug in SLUGS:
        rec = Recorded(browser)
        rec.page.goto(f"{url}/{slug}")
        _settle(rec.page)
        _login_only(rec)
        assert rec.frames, "no WebSocket traffic recorded"
        for secret in ("tiny-mind", str(runs), "loss_total", TOKEN, KEY):
            assert not rec.seen(secret), (slug, secret)
        if slug in ("", "launch"):
            rec.page.screenshot(path=str(SHOTS / f"login-{slug or 'runs'}.png"))
        rec.page.close()
    rec = Recorded(browser)  # a run named in the URL is not opened either
    rec.page.goto(f"{url}/curriculum?run=tiny-mind")
    _settle(rec.page)
    _login_only(rec)
    assert not rec.seen(str(runs)) and not rec.seen("loss_total") and not rec.seen(KEY)
    rec.page.close()


def test_a_wrong_token_is_refused_and_the_login_box_opens_the_page_asked_for(server, browser):
    url, _ = server
    rec = Recorded(browser)
    page = rec.page
    page.goto(f"{url}/curriculum?token=not-the-token-0000")
    _settle(page)
    _login_only(rec)
    expect(page.get_by_text("not this dashboard's token")).to_be_visible(timeout=ELEMENT_MS)
    assert page.get_by_text("not this dashboard's token").count() == 1
    page.wait_for_function("() => !location.search.includes('token=')", timeout=ELEMENT_MS)  # gone from the address bar
    assert not rec.seen("tiny-mind")
    page.get_by_label("Access token").fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Curriculum").wait_for(timeout=ELEMENT_MS)
    expect(page.locator(".js-plotly-plot").nth(2)).to_be_attached(timeout=ELEMENT_MS)  # three charts at least
    _settle(page)
    assert _errors(page) == [] and page.locator(".js-plotly-plot").count() >= 3
    assert rec.seen("tiny-mind") and not rec.seen(KEY) and not rec.seen(TOKEN)
    page.screenshot(path=str(SHOTS / "after-login-curriculum.png"))
    page.close()


def test_token_link_lists_runs_read_only_without_launch_and_no_key_reaches_the_browser(server, browser):
    url, runs = server
    rec = Recorded(browser, 2400)
    page = rec.page
    page.goto(f"{url}/?token={TOKEN}")
    expect(page.locator("h1").first).to_have_text("Runs", timeout=ELEMENT_MS)
    expect(page.locator('[data-testid="stDataFrame"]').first).to_be_visible(timeout=ELEMENT_MS)  # the runs table
    _settle(page)
    page.wait_for_function("() => !location.search.includes('token=')", timeout=ELEMENT_MS)  # gone from the address bar
    assert rec.seen("tiny-mind")
    nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
    assert "Curriculum" in nav and "Evaluation" in nav and "Launch" not in nav
    assert page.get_by_text("Read-only dashboard").count() == 1
    page.screenshot(path=str(SHOTS / "read-only-runs.png"))
    # the session stays signed in while it moves between pages
    page.locator('[data-testid="stSidebarNav"]').get_by_text("MetaNet debugger").click()
    page.get_by_role("heading", name="MetaNet debugger").wait_for(timeout=ELEMENT_MS)
    _settle(page)
    assert _errors(page) == []
    assert not rec.seen(KEY) and not rec.seen(TOKEN)
    page.close()
    for slug in SLUGS:  # every page, opened with the token: it renders, and shows no Launch controls
        rec = Recorded(browser, 2400)
        rec.page.goto(f"{url}/{slug}?run=tiny-mind&token={TOKEN}")
        _settle(rec.page)
        title = rec.page.locator("h1").first.inner_text().strip()
        assert title not in ("MIND dashboard", "Launch a run"), (slug, title)
        assert rec.page.get_by_role("button", name="Start training").count() == 0
        assert rec.page.get_by_role("button", name="Stop").count() == 0
        assert not rec.seen(KEY) and not rec.seen(TOKEN), slug
        if slug == "launch":
            rec.page.screenshot(path=str(SHOTS / "read-only-launch-url.png"))
        rec.page.close()
    # after signed-in sessions rendered every page, Streamlit's open endpoints still name no run and no path
    for path in ("/_stcore/metrics", "/_stcore/host-config", "/media/", "/launch"):
        try:
            body = urllib.request.urlopen(url + path, timeout=10).read()
        except urllib.error.HTTPError as exc:
            body = exc.read()
        assert b"tiny-mind" not in body and str(runs).encode() not in body and KEY.encode() not in body, path
        if path == "/_stcore/metrics":
            names = sorted(set(re.findall(r'cache="([^"]*)"', body.decode())))
            print(f"/_stcore/metrics after signed-in sessions: {len(body)} bytes, caches named {names}")
