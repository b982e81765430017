"""Trackers (`mind train --report-to`): a real TensorBoard run read back with TensorBoard's own event reader, and the
one-line error for a tracker whose package is missing, raised before anything is loaded or written."""

from __future__ import annotations

import importlib.util
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import assert_run_finished
from mind.cli import main
from mind.training.config import TrainConfig
from mind.errors import ConfigError
from mind.run import read_jsonl
from mind.training.trackers import TRACKER_MODULES, check_trackers, missing_trackers

ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}
_real_find_spec = importlib.util.find_spec


def hide_packages(monkeypatch, *names: str, pretend: tuple[str, ...] = ()) -> None:
    """Make ``importlib.util.find_spec`` report ``names`` (and their submodules) as not installed, and the
    packages in ``pretend`` as installed (with the spec of the standard library's ``json``)."""

    def fake(name, *args, **kwargs):
        if name.split(".")[0] in names:
            return None
        if name in pretend:
            return _real_find_spec("json")
        return _real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", fake)


def snapshot_tree(path: Path) -> dict:
    """Every file under ``path`` with its size and modification time (to prove nothing changed)."""
    return {str(p.relative_to(path)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(path.rglob("*"))}


# ------------------------------------------------------------------------------------------- the check itself
def test_installed_tensorboard_passes_and_missing_packages_are_named_with_their_extra(monkeypatch):
    check_trackers(["tensorboard"])  # installed by requirements.txt
    check_trackers([])
    hide_packages(monkeypatch, "wandb", "mlflow")
    assert missing_trackers(["mlflow", "tensorboard", "wandb"]) == ["mlflow", "wandb"]
    with pytest.raises(ConfigError) as e:
        check_trackers(["tensorboard", "wandb", "mlflow"])
    assert str(e.value) == "report_to=wandb needs the wandb package; install it with pip install -e .[wandb]"
    with pytest.raises(ConfigError, match=r"pip install -e \.\[mlflow\]$"):
        check_trackers(["mlflow"])
    with pytest.raises(ConfigError, match="report_to=comet is not a tracker"):
        check_trackers(["comet"])


def test_tensorboardx_alone_also_serves_the_tensorboard_tracker(monkeypatch):
    """Accelerate's TensorBoard tracker falls back to tensorboardX; without either the extra is named."""
    hide_packages(monkeypatch, "tensorboard", pretend=("tensorboardX",))
    check_trackers(["tensorboard"])
    hide_packages(monkeypatch, "tensorboard", "tensorboardX")
    with pytest.raises(ConfigError, match=r"needs the tensorboard package; install it with pip install -e \.\[tensorboard\]"):
        check_trackers(["tensorboard"])


def test_pyproject_declares_each_tracker_as_an_extra():
    import tomllib

    meta = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]
    extras = meta["optional-dependencies"]
    for name in TRACKER_MODULES:
        assert [r.split(">")[0].split("=")[0] for r in extras[name]] == [name]
        assert name not in " ".join(meta["dependencies"])  # optional, not a hard dependency
    assert extras["trackers"] == ["mind[tensorboard,wandb,mlflow]"]


# ------------------------------------------------------------------------------------------- before anything runs
@pytest.mark.parametrize("tracker", ["wandb", "mlflow", "tensorboard"])
def test_mind_train_with_a_missing_tracker_fails_in_one_line_and_writes_nothing(tracker, tmp_path, monkeypatch,
                                                                                 capsys):
    hide_packages(monkeypatch, tracker, "tensorboardX")
    out = tmp_path / "run"
    code = main(["train", "--data", "demo", "--student", "tiny", "--steps", "3", "--report-to", tracker,
                 "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert err == (f"error: report_to={tracker} needs the {tracker} package; "
                   f"install it with pip install -e .[{tracker}]\n")
    assert not out.exists()


def test_trainer_checks_trackers_before_it_creates_the_run_directory(tmp_path, monkeypatch):
    """The library entry point (``mind.training.loop.train``) has the same guard as the command."""
    from mind.training.loop import train

    hide_packages(monkeypatch, "mlflow")
    out = tmp_path / "lib-run"
    with pytest.raises(ConfigError, match=r"report_to=mlflow needs the mlflow package"):
        train(TrainConfig(data="demo", student="tiny", steps=3, report_to="mlflow"), out, progress=False)
    assert not out.exists()


@pytest.mark.skipif(importlib.util.find_spec("wandb") is not None, reason="wandb is installed here")
def test_real_missing_package_in_a_fresh_process(tmp_path):
    """No monkeypatching: wandb is not in the test environment, so a real subprocess must name its extra."""
    out = tmp_path / "run"
    mini = Path(__file__).parent / "data" / "mini.jsonl"  # 4 problems: the scalars' path, not the data, is tested
    proc = subprocess.run([sys.executable, "-m", "mind", "train", "--data", str(mini), "--student", "tiny", "--steps", "3",
                           "--report-to", "wandb", "--out", str(out)], capture_output=True, text=True, env=ENV,
                          timeout=600)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: report_to=wandb needs the wandb package; install it with pip install -e .[wandb]")
    assert not out.exists()


# ------------------------------------------------------------------------------------------- a real TensorBoard run
@pytest.fixture(scope="module")
def tb_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("tb") / "run"
    # 4 of the demo problems (all 8 perspectives), 4 held out: the scalars' path is tested, not the data's size
    proc = subprocess.run([sys.executable, "-m", "mind", "train", "--data", "demo", "--student", "tiny", "--steps", "3",
                           "--report-to", "tensorboard", "--out", str(out), "--quiet", "max_problems=4", "holdout=4"],
                          capture_output=True, text=True, env=ENV, timeout=1200)
    assert_run_finished(out, 3, proc)  # issue 24: once exited 0 with status 'stopped' at step 1
    return out


def read_tensorboard_scalars(run_dir: Path) -> dict[str, dict[int, float]]:
    """{tag: {step: value}} from every TensorBoard event file under ``run_dir``, read by TensorBoard's own reader."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    files = sorted(run_dir.rglob("events.out.tfevents.*"))
    assert files, f"no TensorBoard event file under {run_dir}"
    scalars: dict[str, dict[int, float]] = {}
    for f in files:
        acc = EventAccumulator(str(f), size_guidance={"scalars": 0})  # 0 = keep every event
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            for ev in acc.Scalars(tag):
                assert ev.step not in scalars.setdefault(tag, {}), f"{tag} logged twice at step {ev.step}"
                scalars[tag][ev.step] = ev.value
    return scalars


def is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


@pytest.mark.slow  # one real 3-step training run of the tiny student
def test_tensorboard_scalars_match_steps_jsonl_column_by_column(tb_run):
    records = read_jsonl(tb_run / "steps.jsonl")
    assert [r["step"] for r in records] == [1, 2, 3]
    numeric = sorted({k for r in records for k, v in r.items() if k != "step" and is_number(v)})
    scalars = read_tensorboard_scalars(tb_run)
    assert {"loss_total", "loss_meta", "lr", "tokens", "weight/formal", "loss_filtered/counterfactual"} <= set(numeric)
    assert set(scalars) == set(numeric), (set(scalars) ^ set(numeric))
    checked = 0
    for col in numeric:
        expected = {r["step"]: r[col] for r in records if is_number(r.get(col))}
        assert sorted(scalars[col]) == sorted(expected), col
        for step, value in expected.items():
            # TensorBoard stores a scalar as float32: the value must be the float32 rounding of the JSONL one
            assert np.float32(scalars[col][step]) == np.float32(value), (col, step, scalars[col][step], value)
            checked += 1
    assert checked >= 3 * 40


@pytest.mark.slow
def test_resume_with_a_missing_tracker_leaves_the_run_untouched(tb_run, monkeypatch, capsys):
    before = snapshot_tree(tb_run)
    hide_packages(monkeypatch, "wandb")
    code = main(["train", "--resume", str(tb_run), "steps=5", "report_to=wandb", "--quiet"])
    assert code == 2
    assert capsys.readouterr().err.startswith("error: report_to=wandb needs the wandb package")
    assert snapshot_tree(tb_run) == before
