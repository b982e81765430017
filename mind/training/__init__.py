"""Training: the config (:class:`TrainConfig`), the loop (:func:`train`), training sets, the inertia calibrator,
telemetry records, MetaNet tracking metrics and the experiment trackers.

Modules: ``config``, ``loop``, ``sets``, ``calibration``, ``telemetry``, ``tracking``, ``trackers``. Names load
lazily (the loop imports torch).
"""

from __future__ import annotations

from mind._lazy import lazy_face

__getattr__, __dir__, __all__ = lazy_face(__name__, {
    "train": "mind.training.loop",
    "TrainConfig": "mind.training.config",
    "build_config": "mind.training.config",
    "METHODS": "mind.training.config",
    "load_training_set": "mind.training.sets",
    "InertiaCalibrator": "mind.training.calibration",
})
