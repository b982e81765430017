"""Issue 23 in a real headless Chromium against `mind app`: two runs overlaid on the Curriculum page in their own
colours, `?run=` naming no run, a cut steps.jsonl said wherever the run is shown, the `/runs` address, the linked
latent maps keeping a selection across 'Colour by', the phases of a launched run (calibration with its own bar),
a token sign-in that survives a reload, and `mind app` leaving nothing behind after SIGTERM.

Screenshots go to test-artifacts/browser-views/ (git-ignored)."""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from mind.procs import stop_group
from playwright.sync_api import expect

from conftest import patient
from test_app_runs import ROOT, TRAIN_STEPS, real_runs
from test_browser import (ARGS, CHROMIUM, _analyze, _errors, _first_text, _free_port, _page, _settle,  # noqa: F401
                          browser)  # browser: the module's Chromium fixture, shared

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOTS = ROOT / "test-artifacts" / "browser-views"
CUT_AT = 3  # the cut run keeps steps 1-3 and half of step 4's line


def _wait_healthy(proc, url: str, log: Path, timeout_s: float = 120) -> None:
    deadline = time.time() + timeout_s
    while True:
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                return
        except OSError:
            pass
        assert proc.poll() is None, log.read_text()
        assert time.time() < deadline, f"dashboard did not start in {timeout_s:.0f} s"
        time.sleep(0.5)


def _start_app(base: Path, runs: Path, cached: Path, *extra: str, env_extra: dict | None = None):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIND_APP_")}
    env.update(MIND_CACHED_RUNS=str(cached), **(env_extra or {}))
    log_path = base / f"server-{port}.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen([sys.executable, "-m", "mind", "app", "--port", str(port), "--runs-dir", str(runs), *extra],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    _wait_healthy(proc, url, log_path)
    return proc, url, log


def _cut(run: Path, keep: int) -> None:
    """steps.jsonl as a truncated copy leaves it: ``keep`` whole lines and the first half of the next one."""
    lines = (run / "steps.jsonl").read_bytes().split(b"\n")
    (run / "steps.jsonl").write_bytes(b"\n".join(lines[:keep]) + b"\n" + lines[keep][: len(lines[keep]) // 2])


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`mind app` with three copies of the real tiny run (one with its text map, one cut mid-line)."""
    assert Path(CHROMIUM).exists(), "headless Chromium missing: run `make browser` (apt-get install chromium)"
    base = tmp_path_factory.mktemp("browser-views")
    runs, cached = base / "runs", base / "cached"
    cached.mkdir()
    runs.mkdir()
    first = Path(shutil.copytree(real_runs() / "tiny-mind", runs / "tiny-mind"))
    res = subprocess.run([sys.executable, "-m", "mind", "analyze", "--run", str(first), "--projector", "pca", "--text",
                          "--quiet"], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    shutil.copytree(real_runs() / "tiny-mind", runs / "tiny-b")
    _cut(Path(shutil.copytree(real_runs() / "tiny-mind", runs / "cut")), CUT_AT)
    proc, url, log = _start_app(base, runs, cached, "--allow-dir", str(real_runs().parent))
    try:
        yield url, runs, cached
    finally:
        stop_group(proc)
        log.close()


@contextlib.contextmanager
def _dashboard_env(runs: Path, cached: Path):
    """The server's roots in this process, to compute the colours it must show."""
    old = {k: os.environ.get(k) for k in ("MIND_RUNS_DIR", "MIND_CACHED_RUNS")}
    os.environ.update(MIND_RUNS_DIR=str(runs), MIND_CACHED_RUNS=str(cached))
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _traces(page, title_start: str) -> list[dict]:
    """name and line colour of every trace of the chart whose title starts with ``title_start``."""
    return page.evaluate("""(t) => {
        // Streamlit wraps a title in <b><b>...</b></b>
        const title = g => ((g.layout && g.layout.title && g.layout.title.text) || '').replace(/^(<b>)+/, '');
        const gd = [...document.querySelectorAll('.js-plotly-plot')].find(g => title(g).startsWith(t));
        return gd ? gd._fullData.map(d => ({name: d.name, color: d.line && d.line.color, yaxis: d.yaxis,
                                            n: (d.x || []).length, legend: d.showlegend})) : [];
    }""", title_start)


def _body(page) -> str:
    return page.locator('[data-testid="stMainBlockContainer"]').inner_text()


def test_two_runs_overlaid_on_the_curriculum_page_in_their_own_colours(server, browser):
    url, runs, cached = server
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = _page(browser, 5200)
    page.goto(f"{url}/curriculum?run=tiny-mind&overlay=tiny-b")
    _settle(page, timeout_s=120)
    page.screenshot(path=str(SHOTS / "curriculum-overlay.png"), full_page=True)
    assert _errors(page) == []
    weights = _traces(page, "Perspective weights α, run by run")
    by_run = {}
    for t in weights:
        by_run.setdefault(t["name"], set()).add(t["color"])
    assert set(by_run) == {"tiny-mind", "tiny-b"}, weights
    assert all(len(c) == 1 for c in by_run.values())  # one colour per run in every panel
    from app import colors

    with _dashboard_env(runs, cached):
        expected = colors.run_colours(["tiny-mind", "tiny-b"])
    assert {n: next(iter(c)) for n, c in by_run.items()} == expected
    assert expected["tiny-mind"] != expected["tiny-b"]
    tracking = _traces(page, "Does MetaNet follow the student? Run by run")
    assert {t["yaxis"] for t in tracking if t["name"].endswith("shift")} == {"y2"}  # its own panel
    assert "each bar: the mean over the 2 problems of step" in _body(page)
    # the per-epoch view: one point per epoch of each run
    page.locator('[class*="st-key-cur_view"]').get_by_text("per epoch", exact=True).click()
    _settle(page, timeout_s=90)
    n = _traces(page, "Perspective weights α, run by run")[0]["n"]
    epochs = {math.ceil(json.loads(ln)["epoch"] - 1e-9)
              for ln in (runs / "tiny-mind" / "steps.jsonl").read_text().splitlines() if ln.strip()}
    assert n == len(epochs) < TRAIN_STEPS, (n, epochs)
    assert "per epoch (each point: the mean of one epoch's steps)" in _body(page)
    page.close()


def test_the_evaluation_page_opens_on_evaluated_runs_in_their_curriculum_colours(server, browser):
    """Two runs with an evaluation (summaries written here, removed after): the page opens on them, not on the
    newest run, and draws each in the colour the Curriculum overlay gives it, error bars included."""
    url, runs, cached = server
    written = []
    try:
        for name, acc in (("tiny-mind", 0.25), ("tiny-b", 0.5)):
            f = runs / name / "eval" / "summary.json"
            f.parent.mkdir()
            written.append(f.parent)
            f.write_text(json.dumps({"benchmarks": {"gsm8k": {"accuracy": acc, "n": 8}}}))
        page = _page(browser, 2600)
        page.goto(f"{url}/evaluation")
        _settle(page, timeout_s=120)
        page.screenshot(path=str(SHOTS / "evaluation-colours.png"), full_page=True)
        assert _errors(page) == []
        picker = page.locator('[data-testid="stMultiSelect"]').first.inner_text()
        assert "tiny-b" in picker and "tiny-mind" in picker and "cut" not in picker, picker  # not the newest
        bars = page.evaluate("""() => {
            const title = g => ((g.layout && g.layout.title && g.layout.title.text) || '').replace(/^(<b>)+/, '');
            const gd = [...document.querySelectorAll('.js-plotly-plot')].find(g => title(g).startsWith('Accuracy ('));
            return gd ? gd._fullData.map(d => ({name: d.name, color: d.marker.color,
                                                 err: d.error_y && d.error_y.color})) : [];
        }""")
        from app import colors

        with _dashboard_env(runs, cached):
            expected = colors.run_colours(["tiny-mind", "tiny-b"])
        assert {b["name"]: b["color"] for b in bars} == expected, bars
        assert {b["name"]: b["err"] for b in bars} == expected
        page.close()
    finally:
        for d in written:
            shutil.rmtree(d)


def test_an_address_naming_no_run_says_so_and_opens_nothing(server, browser):
    url, _, _ = server
    page = _page(browser, 1400)
    page.goto(f"{url}/curriculum?run=nope")
    _settle(page)
    body = _body(page)
    assert "No run named nope exists" in body.replace("`", ""), body[:600]
    assert page.locator(".js-plotly-plot").count() == 0
    assert "run=nope" in page.url  # the address is not rewritten to another run
    page.screenshot(path=str(SHOTS / "run-nope.png"))
    page.close()


def test_a_cut_steps_file_is_said_on_the_run_pages_and_the_runs_table(server, browser):
    url, _, _ = server
    missing = TRAIN_STEPS - CUT_AT
    page = _page(browser, 2600)
    page.goto(f"{url}/curriculum?run=cut")
    _settle(page)
    alert = page.locator('[data-testid="stAlertContentWarning"]').first.inner_text()
    assert f"missing {missing} of the {TRAIN_STEPS} steps" in alert and f"step {CUT_AT + 1}-{TRAIN_STEPS}" in alert
    assert "cut mid-record" in alert and f"up to step {CUT_AT}" in alert
    assert f"{CUT_AT} of {TRAIN_STEPS} steps recorded" in _body(page)
    page.screenshot(path=str(SHOTS / "cut-curriculum.png"))
    page.goto(f"{url}/runs")
    _settle(page)
    warnings = page.locator('[data-testid="stAlertContentWarning"]').all_inner_texts()
    assert any("cut: steps.jsonl is missing 3 of the 6 steps" in w for w in warnings), warnings
    page.screenshot(path=str(SHOTS / "cut-runs.png"))
    page.close()


def test_the_runs_page_answers_at_its_own_address(server, browser):
    url, _, _ = server
    page = _page(browser, 1400)
    page.goto(f"{url}/runs")
    _settle(page)
    assert page.locator("h1").first.inner_text().strip() == "Runs"
    assert page.locator('[role="dialog"]').count() == 0  # no "Page not found"
    assert page.locator('[data-testid="stDataFrame"]').count() >= 1
    assert _errors(page) == []
    page.close()


def test_linked_latent_maps_keep_the_selection_when_the_colouring_changes(server, browser):
    url, _, _ = server
    page = _page(browser, 2400)
    page.goto(f"{url}/latent?run=tiny-mind")
    _settle(page, timeout_s=120)
    assert page.locator(".stPlotlyChart .js-plotly-plot").count() >= 2  # hidden states and text side by side
    x, y = page.evaluate("""() => {
        const gd = document.querySelector('.stPlotlyChart .js-plotly-plot');
        const fl = gd._fullLayout, t = gd._fullData[0], r = gd.getBoundingClientRect();
        return [r.left + fl._size.l + fl.xaxis.l2p(t.x[0]), r.top + fl._size.t + fl.yaxis.l2p(t.y[0])];
    }""")
    page.mouse.click(x, y)
    page.get_by_text("Selected points (1)").wait_for(timeout=30_000)
    _settle(page)
    page.get_by_text("perspective", exact=True).first.click()  # Colour by: perspective
    _settle(page)
    page.screenshot(path=str(SHOTS / "latent-linked.png"), full_page=True)
    assert page.get_by_text("Selected points (1)").count() == 1
    highlighted = page.evaluate("""() => [...document.querySelectorAll('.stPlotlyChart .js-plotly-plot')].slice(0, 2)
        .map(gd => gd._fullData.reduce((n, t) => n + ((t.selectedpoints || []).length), 0))""")
    assert highlighted == [1, 1], highlighted  # the same point highlighted on both maps
    assert _errors(page) == []
    page.close()


def _missed_phases(seen: set, text: str, run: Path, page) -> str:
    """What a reader of a failed phases test needs: the phases shown, the box's last text, what the run wrote
    (did it reach step 1, how long calibration took) and the end of its log."""
    calib = run / "calibration.json"
    took = json.loads(calib.read_text(encoding="utf-8")).get("time_s") if calib.exists() else None
    log = run / "log.txt"
    tail = log.read_text(encoding="utf-8", errors="replace")[-1500:] if log.exists() else "(no log.txt)"
    return (f"calibration bar never seen; phases seen running: {sorted(seen)}; box text: {text!r}; "
            f"steps written: {(run / 'steps.jsonl').exists()}; calibration time_s: {took}; "
            f"page errors: {_errors(page)}; run files: {sorted(p.name for p in run.iterdir()) if run.exists() else []}"
            f"\nlog tail:\n{tail}")


def test_a_launched_run_shows_its_calibration_phase_with_its_own_bar(server, browser):
    """The demo preset (the Launch page's default) spends its first minute before step 1: start-up, the text
    features, then 50 MetaNet calibration epochs. The page shows each phase; during calibration it has its own bar.
    Then: how long a freshly opened Curriculum tab takes to draw while the run trains."""
    url, runs, _ = server
    page = _page(browser, 1800)
    page.goto(f"{url}/launch")
    _settle(page)
    page.get_by_role("textbox", name="Run name").fill("phases")
    page.get_by_role("button", name="Start training").click()
    box = page.locator('[class*="st-key-launch_phases"]')
    seen, deadline, shot = set(), time.time() + 400, False
    while time.time() < deadline:
        text = _first_text(box)
        for key in ("Start-up", "Text features", "MetaNet calibration"):
            if re.search(rf"{key}[^\n]*· running", text):
                seen.add(key)
        if re.search(r"MetaNet calibration · running · \d+/50 epochs", text) and box.locator(
                '[data-testid="stProgress"]').count():
            page.screenshot(path=str(SHOTS / "launch-calibration.png"))
            shot = True
            break
        if (runs / "phases" / "steps.jsonl").exists():
            break  # step 1 is written: the phases box has folded into an expander, calibration is over
        time.sleep(0.3)
    assert shot, _missed_phases(seen, text, runs / "phases", page)
    assert "Start-up" in seen or "Text features" in seen, seen  # an earlier phase was shown running too
    # first steps: then a new tab on the Curriculum page, timed while the run trains
    while time.time() < deadline and not (runs / "phases" / "steps.jsonl").exists():
        time.sleep(0.5)
    tab = _page(browser, 2600)
    t0 = time.time()
    tab.goto(f"{url}/curriculum?run=phases")
    _settle(tab, quiet_s=1.0, timeout_s=180)
    drawn = time.time() - t0
    print(f"a fresh Curriculum tab drew in {drawn:.1f} s while the launched run trained")  # bench_dashboard times it
    assert tab.locator('[data-testid="stPlotlyChart"] .main-svg').count() >= 1  # it drew, however long it took
    tab.close()
    page.get_by_role("button", name="Stop").click()
    page.get_by_role("button", name="Stop").wait_for(state="detached", timeout=patient(90) * 1000)
    page.close()


def _group_alive(pgid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":  # pgrp, not a zombie
                out.append(int(d.name))
    return out


def test_a_token_sign_in_survives_a_reload_and_sigterm_stops_everything(server, browser, tmp_path):
    """`mind app --token`: sign in once with the link, then reload without it (the cookie keeps the session);
    SIGTERM to `mind app` then stops its Streamlit server and frees the port."""
    _, runs, cached = server
    token = "views-token-" + os.urandom(6).hex()
    proc, url, log = _start_app(tmp_path, runs, cached, env_extra={"MIND_APP_TOKEN": token})
    try:
        children = [int(p) for p in (Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split())]
        assert children, "mind app started no server"
        ctx = browser.new_context(viewport={"width": 1400, "height": 1400})
        page = ctx.new_page()
        page.goto(f"{url}/?token={token}")
        expect(page.locator("h1").first).to_have_text("Runs", timeout=patient(60) * 1000)
        _settle(page)
        page.wait_for_function("() => document.cookie.includes('mind_access=')", timeout=patient(30) * 1000)
        assert token not in page.evaluate("() => document.cookie")
        page.goto(f"{url}/curriculum?run=tiny-mind")  # a reload, no token in the address
        expect(page.locator("h1").first).to_have_text("Curriculum", timeout=patient(60) * 1000)
        _settle(page)
        assert page.get_by_label("Access token").count() == 0
        other = browser.new_context().new_page()  # another browser (no cookie) still gets the login prompt
        other.goto(f"{url}/curriculum")
        expect(other.get_by_label("Access token")).to_be_visible(timeout=patient(60) * 1000)  # wait for it, then count
        assert other.get_by_label("Access token").count() == 1
        other.context.close()
        ctx.close()
        os.kill(proc.pid, signal.SIGTERM)  # to `mind app` alone, as a service manager sends it
        proc.wait(60)
        deadline = time.time() + 30
        while time.time() < deadline and (any(_group_alive(c) for c in children) or _group_alive(proc.pid)):
            time.sleep(0.3)
        assert not _group_alive(proc.pid) and not any(_group_alive(c) for c in children)
        with pytest.raises(OSError):
            urllib.request.urlopen(url + "/_stcore/health", timeout=3)
    finally:
        stop_group(proc)
        log.close()
