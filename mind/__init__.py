"""mind: capability-aware multi-perspective chain-of-thought distillation (MIND), with a dashboard.

Entry points: the ``mind`` command line, and in Python::

    from mind import load_run, train, TrainConfig, evaluate, LatentMap
    run = load_run("runs/demo")

The package is one folder per concept, imported downward only (``tests/test_structure.py`` checks it):
``run`` (the run directory) < ``data`` (the multi-perspective schema, perspectives, prompts) < ``benchmarks`` <
``model`` (student, MetaNet, encoder, losses, checkpoints) < ``training`` (config, the loop) < ``evaluation`` <
``analysis``, ``export``, ``teacher`` < ``experiment`` < ``commands`` < ``cli``. Names other than :func:`load_run`
load on first use, so ``import mind`` does not import torch.
"""

from mind._lazy import lazy_face
from mind.errors import MindError
from mind.run import Run, load_run

from mind._version import __version__  # noqa: E402 - the one place it is set

__getattr__, __dir__, _LAZY = lazy_face(__name__, {
    "train": "mind.training.loop",
    "TrainConfig": "mind.training.config",
    "build_config": "mind.training.config",
    "evaluate": "mind.evaluation.runner",
    "EvalSettings": "mind.evaluation.runner",
    "LatentMap": "mind.analysis.latent",
    "analyze_run": "mind.analysis.analyze",
    "load_analysis": "mind.analysis.store",
    "export_run": "mind.export.folder",
    "load_problems": "mind.data.schema",
    "load_benchmark": "mind.benchmarks.items",
})
__all__ = ["MindError", "Run", "load_run", "__version__", *_LAZY]
