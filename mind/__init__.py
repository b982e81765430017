"""mind: capability-aware multi-perspective chain-of-thought distillation (MIND), with a dashboard.

The public entry points are :func:`load_run` (read a run directory) and the ``mind`` command line.
"""

from mind.errors import MindError
from mind.run import Run, load_run

__all__ = ["MindError", "Run", "load_run", "__version__"]
__version__ = "0.1.0"
