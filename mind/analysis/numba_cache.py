"""Import umap-learn with numba's compilation cached across processes.

umap-learn compiles its numba kernels in every new process: importing it took 17-21 s cold here, and the first
fit another 35-40 s, because most of umap's own kernels (``smooth_knn_dist``, ``compute_membership_strengths``, the
layout epoch) are not declared ``cache=True``. :func:`import_umap`:

1. sets ``NUMBA_CACHE_DIR`` (default ``~/.cache/mind/numba``, or ``$MIND_CACHE_DIR/numba``) unless the user set it,
   before numba is imported, so the kernels that *are* cacheable land in a writable, persistent folder;
2. turns on numba's on-disk cache for umap's module-level kernels that lack it (``Dispatcher.enable_caching()``,
   before their first compilation), so a second process loads them instead of recompiling. The parallel variant of
   the layout epoch is skipped: it wraps the same Python function as the serial one and the two would share a
   cache entry. We never use it (a fixed ``random_state`` runs the serial layout).

The nearest-neighbour search (pynndescent) is avoided altogether by the fast path, which passes an exact kNN graph
computed with numpy (see :mod:`mind.analysis.knn`).
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path


def default_numba_cache_dir() -> Path:
    base = os.environ.get("MIND_CACHE_DIR")
    return Path(base) / "numba" if base else Path.home() / ".cache" / "mind" / "numba"


def configure_numba_cache() -> str:
    """Set ``NUMBA_CACHE_DIR`` when unset (must run before numba is imported) and return it."""
    path = os.environ.get("NUMBA_CACHE_DIR")
    if not path:
        path = str(default_numba_cache_dir())
        if "numba" in sys.modules:
            warnings.warn("numba was imported before mind set NUMBA_CACHE_DIR; its default cache location is used")
        os.environ["NUMBA_CACHE_DIR"] = path
    Path(path).mkdir(parents=True, exist_ok=True)
    return path


_PATCHED = False


def import_umap():
    """Return the ``umap`` module with the compilation cache configured (see the module docstring)."""
    global _PATCHED
    configure_numba_cache()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import umap  # noqa: F401 - imports numba, pynndescent
    if not _PATCHED:
        _enable_cache_for(m for name, m in list(sys.modules.items()) if name == "umap" or name.startswith("umap."))
        _PATCHED = True
    return sys.modules["umap"]


def _enable_cache_for(modules) -> int:
    from numba.core.caching import NullCache
    from numba.core.dispatcher import Dispatcher

    n = 0
    for mod in modules:
        for name, obj in list(vars(mod).items()):
            if (
                isinstance(obj, Dispatcher)
                and isinstance(getattr(obj, "_cache", None), NullCache)
                and not obj.signatures  # not compiled yet in this process
                and not name.endswith("_parallel")
            ):
                try:
                    obj.enable_caching()
                    n += 1
                except Exception:  # noqa: BLE001 - a kernel that cannot be cached still works, just compiles
                    pass
    return n
