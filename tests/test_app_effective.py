"""The dashboard shows what a run really did: the effective config values (not the raw flags) and why a run stopped."""

from app import loading
from mind.training.config import TrainConfig


def config_of(method: str) -> dict:
    cfg = TrainConfig(method=method, data="demo")
    return {"method": method, "g": cfg.g, "meta_lr": cfg.meta_lr, "effective": cfg.effective(16.0)}


def test_instant_shows_g_zero_and_uniform_shows_no_g():
    instant, uniform, mind = config_of("instant"), config_of("uniform"), config_of("mind")
    assert instant["g"] == 0.9  # the saved flag ...
    assert loading.cfg_get(instant, "g") == 0.0  # ... is not what the dashboard shows
    assert loading.cfg_get(instant, "meta_lr") == loading.cfg_get(mind, "meta_lr")  # instant changes g only
    assert loading.cfg_get(uniform, "g") is None and loading.cfg_get(uniform, "g", default="-") == "-"
    assert loading.cfg_get(mind, "g") == 0.9


def test_runs_without_the_block_fall_back_to_their_flags():
    assert loading.cfg_get({"g": 0.5, "metanet": {"lr": 1e-3}}, "g") == 0.5
    assert loading.cfg_get({"g": 0.5, "metanet": {"lr": 1e-3}}, "lr") == 1e-3


def test_a_stopped_run_says_why():
    from app import ui

    assert ui.badge("stopped", {"stopped_by": "request"}).endswith("stopped (Stop requested)]")
    assert "stopped by signal 15, not requested" in ui.badge("stopped", {"stopped_by": "signal 15"})
    assert ui.badge("stopped") == ui.STATE_BADGE["stopped"] and ui.badge("finished", {"stopped_by": "x"}) == ui.STATE_BADGE["finished"]
