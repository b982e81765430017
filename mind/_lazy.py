"""Lazy package faces: a package's public names resolve on first use, so importing the package stays cheap.

``mind.model``, ``mind.training``, ``mind.evaluation``, ``mind.export``, ``mind.analysis`` and ``mind`` itself
expose names from modules that import torch, transformers or scikit-learn; the dashboard imports those packages to
list runs and must not pay for them. A face is a dict of public name -> module that defines it::

    __getattr__, __dir__, __all__ = lazy_face(__name__, {"train": "mind.training.loop"})
"""

from __future__ import annotations

import importlib


def lazy_face(package: str, exports: dict[str, str]):
    """(``__getattr__``, ``__dir__``, ``__all__``) for ``package`` whose public ``exports`` load on first access."""

    def __getattr__(name: str):
        if name in exports:
            value = getattr(importlib.import_module(exports[name]), name)
            globals_ = importlib.import_module(package).__dict__
            globals_[name] = value  # later lookups skip this function
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted({*importlib.import_module(package).__dict__, *exports})

    return __getattr__, __dir__, sorted(exports)
