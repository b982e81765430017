"""What each method changes against `mind`, resolved (TrainConfig.effective): an ablation changes one thing."""

from __future__ import annotations

import pytest

from mind.training.config import METHOD_CHANGES, METHODS, TrainConfig


def _diff(a: dict, b: dict) -> set[str]:
    return {k for k in a if a[k] != b[k]} - {"method", "changes"}


def test_instant_differs_from_mind_in_g_only():
    mind, instant = (TrainConfig(method=m).effective(16.0) for m in ("mind", "instant"))
    assert _diff(mind, instant) == {"g"} and instant["g"] == 0.0 and mind["g"] == 0.9
    assert instant["meta_lr"] == mind["meta_lr"] == 5e-5 and instant["meta_update_every"] == mind["meta_update_every"] == 4


def test_each_metanet_ablation_changes_what_its_description_says():
    mind = TrainConfig(method="mind").effective(16.0)
    assert _diff(mind, TrainConfig(method="no-attention").effective(16.0)) == {"meta_attention"}
    assert _diff(mind, TrainConfig(method="instant-fast").effective(16.0)) == {"g", "meta_lr", "meta_update_every"}
    assert set(METHOD_CHANGES) == set(METHODS)


@pytest.mark.parametrize("method", ["uniform", "single"])
def test_baselines_without_metanet_record_no_metanet_values(method):
    eff = TrainConfig(method=method).effective(16.0)
    assert eff["metanet"] is False and eff["g"] is None and eff["meta_lr"] is None and eff["lam"] == 0.0
    assert TrainConfig(method="uniform-consistency").effective(16.0)["lam"] == 0.1
