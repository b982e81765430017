"""Down-sampling of easy problems: seeded, order-independent, respects its parameters."""

from __future__ import annotations

import pytest

from mind.errors import ConfigError
from mind.teacher.downsample import DownsampleConfig, difficulty_value, select


def _kept(n_easy: int, n_hard: int) -> dict[str, list[str]]:
    out = {f"e{i}": ["r"] * 8 for i in range(n_easy)}  # all eight right: easy
    out.update({f"h{i}": ["r"] * 5 for i in range(n_hard)})  # five of eight right
    return out


def test_hard_problems_always_kept_and_easy_kept_at_rate():
    kept = _kept(2000, 300)
    for rate in (0.0, 0.25, 0.5, 1.0):
        d = select(kept, 8, DownsampleConfig(easy_keep=rate, seed=3))
        assert all(d[f"h{i}"]["kept"] and not d[f"h{i}"]["easy"] for i in range(300))
        frac = sum(d[f"e{i}"]["kept"] for i in range(2000)) / 2000
        assert abs(frac - rate) < 0.04, (rate, frac)
        assert all(d[f"e{i}"]["reason"] in ("", "easy_downsampled") for i in range(2000))


def test_seeded_and_independent_of_order():
    kept = _kept(500, 0)
    a = select(kept, 8, DownsampleConfig(easy_keep=0.5, seed=7))
    b = select(dict(reversed(list(kept.items()))), 8, DownsampleConfig(easy_keep=0.5, seed=7))
    c = select(kept, 8, DownsampleConfig(easy_keep=0.5, seed=8))
    assert {k: v["kept"] for k, v in a.items()} == {k: v["kept"] for k, v in b.items()}
    assert {k: v["kept"] for k, v in a.items()} != {k: v["kept"] for k, v in c.items()}


def test_threshold_and_min_rationales():
    kept = {"six": ["r"] * 6, "eight": ["r"] * 8, "one": ["r"], "none": []}
    d = select(kept, 8, DownsampleConfig(easy_keep=0.0, threshold=0.75, min_rationales=2))
    assert d["six"]["easy"] and not d["six"]["kept"] and d["six"]["reason"] == "easy_downsampled"
    assert not d["eight"]["kept"]
    assert d["one"]["reason"] == "too_few_rationales" and d["none"]["reason"] == "too_few_rationales"
    d = select(kept, 8, DownsampleConfig(easy_keep=0.0))  # default threshold 1.0: only all-right is easy
    assert d["six"]["kept"] and not d["eight"]["kept"] and d["one"]["kept"] and not d["none"]["kept"]


def test_length_signal():
    short, long_ = ["a b c"] * 8, [" ".join(["w"] * 200)] * 8
    assert difficulty_value(short, 8, "length") == 3.0
    d = select({"s": short, "l": long_}, 8, DownsampleConfig(signal="length", easy_keep=0.0, threshold=50))
    assert not d["s"]["kept"] and d["s"]["easy"] and d["l"]["kept"] and not d["l"]["easy"]


@pytest.mark.parametrize("kwargs,field", [({"easy_keep": 1.5}, "--easy-keep"), ({"signal": "vibes"}, "--difficulty"),
                                          ({"threshold": 0.0}, "--easy-threshold"), ({"min_rationales": 0}, "--min-rationales"),
                                          ({"signal": "length", "threshold": -1}, "--easy-threshold")])
def test_bad_config_names_the_flag(kwargs, field):
    with pytest.raises(ConfigError, match=field):
        DownsampleConfig(**kwargs)
