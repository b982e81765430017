"""Experiment trackers (``report_to``): which package each needs, checked before a run starts.

``mind train --report-to tensorboard`` (or ``wandb``, ``mlflow``, comma-separated) sends the step records to
Accelerate's trackers as well as to the run directory. None of those packages is a dependency of ``mind``: each is
an optional extra (``pip install -e .[tensorboard]``, ``.[wandb]``, ``.[mlflow]``, or ``.[trackers]`` for all).
Accelerate silently drops a tracker whose package is missing, so :func:`check_trackers` runs first and turns that
into one line naming the extra to install, before any model is loaded or any run file is written.
"""

from __future__ import annotations

import importlib.util

from mind.errors import ConfigError

# tracker name -> the import names of which one must be present (Accelerate's TensorBoard tracker also accepts
# tensorboardX; mind's extra installs tensorboard itself).
TRACKER_MODULES: dict[str, tuple[str, ...]] = {
    "tensorboard": ("tensorboard", "tensorboardX"),
    "wandb": ("wandb",),
    "mlflow": ("mlflow",),
}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a broken or half-removed install
        return False


def missing_trackers(names) -> list[str]:
    """The trackers in ``names`` whose package is not importable, in the given order."""
    return [n for n in names if n in TRACKER_MODULES and not any(_installed(m) for m in TRACKER_MODULES[n])]


def check_trackers(names) -> None:
    """Raise :class:`~mind.errors.ConfigError` (one line) naming the extra to install for the first tracker in
    ``names`` whose package is missing, or for a name that is not a tracker at all."""
    for name in names:
        if name not in TRACKER_MODULES:
            raise ConfigError(f"report_to={name} is not a tracker; use none, {', '.join(TRACKER_MODULES)}")
    missing = missing_trackers(names)
    if missing:
        name = missing[0]
        raise ConfigError(f"report_to={name} needs the {TRACKER_MODULES[name][0]} package; "
                          f"install it with pip install -e .[{name}]")
