"""mind/model/precision.py: the bf16 probe's decision with injected timings, its per-machine cache, what auto / fp32 / bf16
resolve to on CPU and CUDA, the warning for slow bf16, resume keeping the recorded precision; plus one real probe."""

from __future__ import annotations

import json

import pytest

from conftest import assert_run_finished
from mind.model import precision as pr
from mind.errors import ConfigError


@pytest.fixture(autouse=True)
def _no_forced_auto(monkeypatch):
    monkeypatch.delenv(pr.ENV_AUTO, raising=False)  # the suite sets it; these tests are about the real decision


def _probe(fp32_s: float, bf16_s: float, n: int = 512) -> pr.Probe:
    return pr.Probe(cpu="Test CPU", torch="0.0", n=n, fp32_s=fp32_s, bf16_s=bf16_s)


def test_speedup_compares_the_fastest_timing_of_each():
    assert pr.speedup([0.010, 0.004, 0.020], [0.002, 0.009]) == pytest.approx(2.0)
    assert pr.speedup([0.004], [0.2]) == pytest.approx(0.02)
    with pytest.raises(ValueError):
        pr.speedup([], [0.1])


@pytest.mark.parametrize("ratio, fast", [(0.02, False), (1.0, False), (1.49, False), (1.5, True), (18.0, True)])
def test_fast_means_at_least_one_and_a_half_times(ratio, fast):
    assert pr.is_fast(ratio) is fast


class ScriptedTimer:
    """A clock that advances by a scripted duration per product: fp32 2**-8 s, bf16 as given (binary fractions, so
    the sums are exact)."""

    def __init__(self, bf16_s: float):
        self.now, self.bf16_s, self.calls = 0.0, bf16_s, []

    def __call__(self) -> float:
        return self.now

    def product(self, kind: str) -> None:
        self.calls.append(kind)
        self.now += 2.0**-8 if kind == "fp32" else self.bf16_s


def test_measure_alternates_until_the_budget_is_spent():
    t = ScriptedTimer(2.0**-10)
    p = pr.measure(seconds=10 * (2.0**-8 + 2.0**-10), n=64, product=t.product, timer=t)
    assert t.calls[:2] == ["fp32", "bf16"]  # untimed warm-up of each
    assert t.calls[2:] == ["fp32", "bf16"] * 10  # ten rounds fill the budget
    assert p.fp32_s == 2.0**-8 and p.bf16_s == 2.0**-10 and p.speedup == 4.0


def test_measure_stops_after_one_round_when_bf16_is_very_slow():
    t = ScriptedTimer(5.0)
    p = pr.measure(seconds=1.0, n=64, product=t.product, timer=t)
    assert t.calls == ["fp32", "bf16", "fp32", "bf16"] and p.speedup == pytest.approx(2.0**-8 / 5.0)


def test_cached_probe_measures_once_per_cpu_and_torch_version(tmp_path):
    calls = []

    def fake_measure():
        calls.append(1)
        return _probe(0.004, 0.001)

    a = pr.cached_probe(tmp_path, fake_measure)
    b = pr.cached_probe(tmp_path, fake_measure)
    assert a == b and len(calls) == 1
    (path,) = tmp_path.iterdir()
    import torch

    assert path == pr.cache_file(pr.cpu_model(), torch.__version__, tmp_path)
    saved = json.loads(path.read_text())
    assert saved["speedup"] == pytest.approx(4.0) and "isa" in saved
    assert pr.cache_file("CPU A", "2.13.0", tmp_path) != pr.cache_file("CPU B", "2.13.0", tmp_path)
    assert pr.cache_file("CPU A", "2.13.0", tmp_path) != pr.cache_file("CPU A", "2.12.0", tmp_path)
    path.write_text("{not json")  # a corrupt cache is measured again
    pr.cached_probe(tmp_path, fake_measure)
    assert len(calls) == 2


def test_auto_on_cpu_follows_the_probe():
    fast = pr.resolve("auto", "cpu", probe=lambda: _probe(0.004, 0.0005))
    assert fast.precision == "bf16" and fast.bf16_speedup == pytest.approx(8.0) and fast.warning is None
    assert "Test CPU" in fast.reason and "8.00x" in fast.reason
    slow = pr.resolve("auto", "cpu", probe=lambda: _probe(0.004, 0.2))
    assert slow.precision == "fp32" and slow.warning is None
    assert slow.record() == {"precision_resolved": "fp32", "precision_reason": slow.reason, "bf16_speedup": pytest.approx(0.02)}


def test_explicit_bf16_on_a_slow_cpu_is_honoured_with_the_measured_ratio():
    r = pr.resolve("bf16", "cpu", probe=lambda: _probe(0.004, 0.2))
    assert r.precision == "bf16" and "0.02x the fp32 speed" in r.warning and "about 50x slower" in r.warning
    assert "\n" not in r.warning
    assert "hardly faster" in pr.resolve("bf16", "cpu", probe=lambda: _probe(0.004, 0.0035)).warning
    assert pr.resolve("bf16", "cpu", probe=lambda: _probe(0.004, 0.001)).warning is None


def test_fp32_never_probes_and_cuda_follows_bf16_support():
    def boom():
        raise AssertionError("probed")

    assert pr.resolve("fp32", "cpu", probe=boom).precision == "fp32"
    assert pr.resolve("auto", "cuda", probe=boom, cuda_bf16=True).precision == "bf16"
    assert pr.resolve("auto", "cuda", probe=boom, cuda_bf16=False).precision == "fp32"
    assert "does not support bf16" in pr.resolve("bf16", "cuda", probe=boom, cuda_bf16=False).warning
    assert pr.resolve("auto", "mps", probe=boom).precision == "fp32"


def test_forced_auto_and_bad_values(monkeypatch):
    def boom():
        raise AssertionError("probed")

    monkeypatch.setenv(pr.ENV_AUTO, "fp32")
    assert pr.resolve("auto", "cpu", probe=boom).precision == "fp32"
    assert pr.resolve("bf16", "cpu", probe=lambda: _probe(0.004, 0.001)).precision == "bf16"  # explicit wins
    monkeypatch.setenv(pr.ENV_AUTO, "fp16")
    with pytest.raises(ConfigError, match="MIND_PRECISION_AUTO='fp16' is invalid"):
        pr.resolve("auto", "cpu", probe=boom)
    with pytest.raises(ConfigError, match="precision='fp8' is invalid"):
        pr.resolve("fp8")


def test_resume_keeps_the_recorded_precision(tmp_path):
    fast = lambda: _probe(0.004, 0.0005)  # noqa: E731
    slow = lambda: _probe(0.004, 0.2)  # noqa: E731
    (tmp_path / "config.json").write_text(json.dumps({"precision": "auto", "precision_resolved": "bf16"}))
    r = pr.resolve_for_run("auto", tmp_path, device_type="cpu", probe=slow)  # moved to a machine with slow bf16
    assert r.precision == "bf16" and "recorded" in r.reason and "0.02x" in r.warning
    (tmp_path / "config.json").write_text(json.dumps({"precision": "auto", "precision_resolved": "fp32"}))
    assert pr.resolve_for_run("auto", tmp_path, device_type="cpu", probe=fast).precision == "fp32"
    (tmp_path / "config.json").write_text(json.dumps({"steps": 3}))  # before the option existed: fp32
    assert pr.resolve_for_run("auto", tmp_path, device_type="cpu", probe=fast).precision == "fp32"
    assert pr.resolve_for_run("auto", tmp_path / "none", device_type="cpu", probe=fast).precision == "bf16"


def test_machine_description_names_cpu_and_isa():
    line = pr.machine_line()
    assert pr.cpu_model() in line and "torch" in line and "ISA:" in line
    assert set(pr.cpu_flags()) <= set(pr.ISA_FLAGS)


def test_the_real_probe_measures_both_precisions():
    p = pr.measure(seconds=0.3, n=256)
    assert p.fp32_s > 0 and p.bf16_s > 0 and p.cpu == pr.cpu_model()
    assert 1e-3 < p.speedup < 1e3  # bf16 at most 1000x faster or slower: a sane timing, whatever the CPU


def test_eval_precision_auto_resolves_through_the_same_decision(monkeypatch):
    from mind.cli import build_parser

    args = build_parser().parse_args(["eval", "--student", "tiny", "--out", "x", "--precision", "auto"])
    assert args.precision == "auto"
    monkeypatch.setenv(pr.ENV_AUTO, "bf16")
    assert pr.resolve_name("auto", "cpu") == "bf16"
    monkeypatch.setenv(pr.ENV_AUTO, "fp32")
    assert pr.resolve_name("auto", "cuda:0") == "fp32"
    monkeypatch.delenv(pr.ENV_AUTO)
    assert pr.resolve_name("fp32") == "fp32" and pr.resolve_name("bf16", "cpu") == "bf16"  # explicit: no probe


@pytest.mark.slow
def test_train_records_the_resolved_precision_and_warns_for_slow_bf16(tmp_path):
    """`mind train` with a probe result planted in a private cache: slow bf16 -> auto trains in fp32 and an explicit
    bf16 warns with the ratio; fast bf16 -> auto really computes in bf16."""
    import os
    import subprocess
    import sys

    import numpy as np
    import torch

    from mind import load_run

    real_cache = pr.Path(os.environ["MIND_CACHE_DIR"])
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "models").symlink_to(real_cache / "models", target_is_directory=True)  # the tiny student's tokenizer
    env = {k: v for k, v in os.environ.items() if k != pr.ENV_AUTO}
    env["MIND_CACHE_DIR"] = str(cache)
    planted = pr.cache_file(pr.cpu_model(), torch.__version__, cache / "precision")
    planted.parent.mkdir()

    def train(name: str, bf16_s: float, *extra: str):
        planted.write_text(json.dumps({"cpu": pr.cpu_model(), "torch": torch.__version__, "n": 512, "fp32_s": 0.004,
                                       "bf16_s": bf16_s}))
        out = tmp_path / name
        proc = subprocess.run([sys.executable, "-m", "mind", "train", "--data", str(pr.Path(__file__).parent / "data" / "mini.jsonl"),
                               "--student", "tiny", "--method", "uniform", "--steps", "2", "snapshot_every=0", "--quiet",
                               "--out", str(out), *extra], capture_output=True, text=True, env=env, timeout=600)
        assert_run_finished(out, 2, proc)
        return load_run(out), proc.stderr

    slow, err = train("auto-slow", 0.2)
    assert slow.config["precision"] == "auto" and slow.config["precision_resolved"] == "fp32"
    assert slow.config["bf16_speedup"] == pytest.approx(0.02) and pr.cpu_model() in slow.config["precision_reason"]
    assert "note: precision=auto -> fp32" in err
    forced, err = train("bf16-slow", 0.2, "precision=bf16")
    assert forced.config["precision_resolved"] == "bf16"
    assert "warning: precision=bf16" in err and "0.02x the fp32 speed" in err
    fast, err = train("auto-fast", 0.0005)
    assert fast.config["precision_resolved"] == "bf16" and "note: precision=auto -> bf16" in err
    a, b, c = (r.steps["loss_sft"].to_numpy() for r in (slow, forced, fast))
    assert np.allclose(a, c, rtol=1e-2) and not np.allclose(a, c, rtol=1e-7, atol=0)  # auto computed in bf16 ...
    assert np.array_equal(b, c)  # ... exactly as an explicit bf16 run
