"""Sentence-BERT features of the demo set, shipped, so that a demo run on a cold cache starts its curriculum sooner.

MetaNet reads a frozen Sentence-BERT vector of every (question, rationale) pair. ``mind train`` caches them on disk
(:func:`mind.model.encoder.encode_texts`: ``$MIND_CACHE_DIR/features/<sha256(encoder)[:16]>/chunk_*.safetensors``,
keys = a hash of each text and the encoder), so only the first run on a machine computes them: 12-32 s of
all-MiniLM-L6-v2 on 2 cores for the demo preset's ~256 texts. ``assets/demo_features.safetensors`` is that chunk as
the demo preset's first run wrote it; :func:`seed` copies it into the cache before the Launch page starts a run on
the demo set. The vectors are the encoder's own output, read exactly as a warm cache would be, so the run trains on
the same inputs; a text the chunk lacks (an edited demo set, another subset) is encoded as before.

To refresh the asset after the demo set changes: run ``mind train --preset demo --out /tmp/d`` with an empty
``MIND_CACHE_DIR`` and copy the one chunk it writes here (tests/test_app_views.py checks it covers the preset).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

ASSET = Path(__file__).resolve().parent / "assets" / "demo_features.safetensors"
ENCODER = "all-MiniLM-L6-v2"  # the trainer's default encoder (TrainConfig.encoder), which the demo preset keeps
NAME = "chunk_demo_shipped.safetensors"


def cache_folder(encoder: str = ENCODER) -> Path:
    """The feature cache folder of ``encoder``, named as :func:`mind.model.encoder.encode_texts` names it."""
    from mind.model.embedded import cache_dir

    return cache_dir() / "features" / hashlib.sha256(encoder.encode()).hexdigest()[:16]


def seed(encoder: str = ENCODER) -> Path | None:
    """Put the shipped chunk into the feature cache (once; atomic). Returns its path there, or None when there is
    no asset or the cache cannot be written (the run then computes its features, as without this)."""
    if not ASSET.is_file():
        return None
    try:
        folder = cache_folder(encoder)
        target = folder / NAME
        if target.is_file() and target.stat().st_size == ASSET.stat().st_size:
            return target
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{NAME}.{os.getpid()}.tmp"
        shutil.copyfile(ASSET, tmp)
        tmp.replace(target)
        return target
    except OSError:
        return None
