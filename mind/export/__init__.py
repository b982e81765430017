"""Export of a run's student as a Hugging Face model folder (``mind export``) with its model card.

Modules: ``folder`` (the export itself), ``card`` (the README.md model card). Names load lazily.
"""

from __future__ import annotations

from mind._lazy import lazy_face

__getattr__, __dir__, __all__ = lazy_face(__name__, {
    "export_run": "mind.export.folder",
    "ExportResult": "mind.export.folder",
    "render_card": "mind.export.card",
})
