"""Frozen Sentence-BERT features for MetaNet, computed once per (question, rationale) and cached on disk.

The cache is one safetensors file per (encoder, text set) under ``$MIND_CACHE_DIR/features``, keyed by a hash
of the encoder name and all texts, so a rerun (or another method on the same data) never re-encodes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from mind.embedded import cache_dir, minilm_path

EMBEDDED_ENCODER = "all-MiniLM-L6-v2"


def resolve_encoder(name: str) -> str:
    """The embedded MiniLM for its short or full hub name, else the id / folder as given."""
    if name in (EMBEDDED_ENCODER, f"sentence-transformers/{EMBEDDED_ENCODER}"):
        return str(minilm_path())
    return name


def feature_text(question: str, rationale: str) -> str:
    return f"Question: {question}\nRationale: {rationale}"


def encode_texts(texts: list[str], encoder: str = EMBEDDED_ENCODER, batch_size: int = 64,
                 show_progress: bool = False) -> np.ndarray:
    """Embeddings (n, d) float32 of ``texts``, from the disk cache when this exact set was encoded before."""
    h = hashlib.sha256(encoder.encode())
    for t in texts:
        h.update(b"\0" + t.encode("utf-8"))
    path = cache_dir() / "features" / f"{h.hexdigest()[:24]}.safetensors"
    from safetensors.numpy import load_file, save_file

    if path.exists():
        try:
            return load_file(str(path))["features"]
        except Exception:  # noqa: BLE001 - a corrupt cache entry is recomputed
            path.unlink(missing_ok=True)
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(resolve_encoder(encoder), device="cpu")
    feats = model.encode(texts, batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True,
                         show_progress_bar=show_progress).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file({"features": feats}, str(tmp))
    Path(tmp).replace(path)
    return feats
