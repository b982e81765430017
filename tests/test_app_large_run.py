"""Every dashboard page on a large run: the 10,000-step synthetic run of bench/synth_run.py (8 problems per step,
8 perspectives, samples in Parquet chunks), made once per session through RunWriter.

AppTest runs each page with the large run chosen: no exception and no error, charts downsampled and saying so,
the step controls spanning all 10,000 steps, the MetaNet debugger showing one step's 8 problems read by range,
and a live refresh after 10 more steps showing them. (Page speed is measured by bench/bench_runs.py, not here.)
"""

from __future__ import annotations

import functools
import json
import shutil
import sys
import tempfile
import time
import atexit
from pathlib import Path

import pytest

from test_app_pages import PAGE, _length, assert_clean, figures, open_page, texts  # noqa: F401
from test_app_runs import ROOT, roots  # noqa: F401  (roots is a fixture)

sys.path.insert(0, str(ROOT / "bench"))
import synth_run  # noqa: E402

from app import charts, ui  # noqa: E402
from mind.run import load_run  # noqa: E402

STEPS = 10_000
pytestmark = pytest.mark.slow


@functools.lru_cache(maxsize=None)
def large_run() -> Path:
    base = Path(tempfile.mkdtemp(prefix="mind-large-run-"))
    atexit.register(shutil.rmtree, base, ignore_errors=True)
    return synth_run.make_run(base / "synth-10k", STEPS)


def assert_downsampled(figs: list[dict]) -> list[int]:
    """Every trace of ``figs`` draws at most MAX_POINTS + 1 points (its x values, lists or Plotly's typed arrays, and
    a heatmap's z columns); returns the measured sizes, which must not be empty."""
    sizes, too_long = [], []
    for f in figs:
        title = f["layout"].get("title", {}).get("text", "")
        for trace in f["data"]:
            n = []
            if trace.get("x") is not None:
                n.append(_length(trace["x"]))
            z = trace.get("z")
            if isinstance(z, dict) and "shape" in z:
                n.append(int(z["shape"].split(",")[-1]))
            elif isinstance(z, list) and z and isinstance(z[0], list):
                n.append(len(z[0]))
            sizes += n
            too_long += [(title, k) for k in n if k > charts.MAX_POINTS + 1]
    assert sizes, "no trace with x values was measured"
    assert not too_long, f"traces over MAX_POINTS={charts.MAX_POINTS} (+1): {too_long}"
    return sizes


def test_the_point_check_sees_typed_arrays_and_fails_on_a_long_trace():
    """Plotly writes numpy data as typed arrays ({"dtype", "bdata"}), not lists: the check must measure those."""
    import numpy as np
    import plotly.graph_objects as go

    def spec(n: int) -> dict:
        fig = go.Figure([go.Scatter(x=np.arange(n), y=np.zeros(n)), go.Heatmap(x=np.arange(n), z=np.zeros((2, n)))])
        return json.loads(fig.to_json())

    ok = spec(charts.MAX_POINTS + 1)
    assert isinstance(ok["data"][0]["x"], dict) and "bdata" in ok["data"][0]["x"]  # not a list
    assert assert_downsampled([ok]) == [charts.MAX_POINTS + 1] * 3
    with pytest.raises(AssertionError, match="over MAX_POINTS"):
        assert_downsampled([spec(charts.MAX_POINTS + 2)])
    with pytest.raises(AssertionError, match="no trace"):
        assert_downsampled([{"layout": {}, "data": [{"type": "bar"}]}])


@pytest.fixture
def big(roots) -> Path:
    """A copy of the large run in the dashboard's (empty) runs folder, chosen on every page."""
    return Path(shutil.copytree(large_run(), roots / "synth-10k"))


def test_the_large_run_is_what_the_issue_describes():
    run = load_run(large_run())
    assert len(run.steps) == STEPS and run.sample_steps == list(range(1, STEPS + 1))
    assert len(list((run.path / "samples").glob("*.parquet"))) == STEPS // 100 - 1  # the newest 100 are the tail
    assert len(run.samples_between(STEPS, STEPS)) == 8


def test_runs_page_on_the_large_run(big):
    at = open_page("runs", mind_run=str(big))
    assert_clean(at)
    row = at.dataframe[0].value.set_index("run").loc["synth-10k"]
    assert row["steps"] == f"{STEPS}/{STEPS}" and row["state"] == "finished"


def test_curriculum_page_on_the_large_run_is_downsampled_and_says_so(big):
    at = open_page("curriculum", mind_run=str(big))
    assert_clean(at)
    assert not at.error, texts(at.error)
    assert at.slider(key="cur_step").value == STEPS and at.slider(key="cur_step").max == STEPS
    figs = figures(at)
    notes = [f["layout"]["title"]["text"] for f in figs if "10,000 steps" in f["layout"]["title"]["text"]]
    assert len(notes) >= 4, [f["layout"]["title"]["text"] for f in figs]
    assert "mean of each 10-step bin (10,000 steps)" in texts(at.caption)
    sizes = assert_downsampled(figs)
    assert max(sizes) >= charts.MAX_POINTS  # the 10,000 steps, downsampled to about MAX_POINTS: really measured
    at.slider(key="cur_step").set_value(1234).run()
    assert_clean(at)
    assert "step 1234" in figures(at)[0]["layout"]["title"]["text"]
    assert at.get("download_button"), "no CSV download of the full steps"


def test_metanet_debugger_on_the_large_run_reads_one_step(big):
    at = open_page("metanet", mind_run=str(big))
    assert_clean(at)
    assert not at.error, texts(at.error)
    assert len(at.selectbox(key="dbg_problem").options) == 8
    assert len(figures(at)) >= 3
    at.toggle(key="dbg_follow").set_value(False).run()
    at.select_slider(key="dbg_step").set_value(4321).run()
    assert_clean(at)
    assert len(at.selectbox(key="dbg_problem").options) == 8


@pytest.mark.parametrize("slug", ["latent", "evaluation", "how-mind-works", "launch"])
def test_other_pages_on_the_large_run(big, slug):
    at = open_page(slug, mind_run=str(big))
    assert_clean(at)
    assert not at.error, texts(at.error)
    if slug == "how-mind-works":
        assert f"at step {STEPS}" in texts(at.markdown)
        sizes = assert_downsampled(figures(at))
        assert max(sizes) >= charts.MAX_POINTS  # the 10,000 steps, downsampled to about MAX_POINTS


def test_a_live_large_run_shows_ten_new_steps(big):
    status = json.loads((big / "status.json").read_text())
    (big / "status.json").write_text(json.dumps({**status, "state": "running", "heartbeat": time.time()}))
    at = open_page("curriculum", mind_run=str(big))
    assert_clean(at)
    assert at.toggle(key="cur_live").value is True
    last = synth_run.append_steps(big, 10)
    assert last == STEPS + 10
    at.run()  # what the live fragment's timer does
    assert_clean(at)
    assert at.slider(key="cur_step").max == STEPS + 10
    # A live trainer refreshes its heartbeat every 10 s; this test must too, or on a loaded machine (the Curriculum
    # run above took over 90 s under a CPU burner) the run reads as stale and the debugger stops following it.
    beat = json.loads((big / "status.json").read_text())
    (big / "status.json").write_text(json.dumps({**beat, "heartbeat": time.time()}))
    at.switch_page(PAGE["metanet"]).run()
    assert_clean(at)
    assert f"{STEPS + 10}" in texts(at.metric)
