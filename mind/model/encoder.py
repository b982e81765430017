"""Frozen Sentence-BERT features for MetaNet, computed once per (question, rationale) and cached on disk.

Each text is cached by a hash of its content and the encoder's name (:func:`encode_texts`), so a rerun, another
method, another subset or split of the same data never re-encodes what was encoded before.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from mind.model.embedded import cache_dir, minilm_path

EMBEDDED_ENCODER = "all-MiniLM-L6-v2"


def resolve_encoder(name: str) -> str:
    """The embedded MiniLM for its short or full hub name, else the id / folder as given."""
    if name in (EMBEDDED_ENCODER, f"sentence-transformers/{EMBEDDED_ENCODER}"):
        return str(minilm_path())
    return name


def feature_text(question: str, rationale: str) -> str:
    return f"Question: {question}\nRationale: {rationale}"


def _text_key(encoder: str, text: str) -> bytes:
    return hashlib.sha256(encoder.encode() + b"\0" + text.encode("utf-8")).digest()[:16]


def _load_store(folder: Path) -> dict[bytes, np.ndarray]:
    """Every cached vector of one encoder: {text key: vector}. Unreadable chunks are dropped (and recomputed)."""
    from safetensors.numpy import load_file

    out: dict[bytes, np.ndarray] = {}
    for chunk in sorted(folder.glob("chunk_*.safetensors")):
        try:
            data = load_file(str(chunk))
            keys, feats = data["keys"], data["features"]
            if keys.shape != (feats.shape[0], 16):
                raise ValueError("shapes")
        except Exception:  # noqa: BLE001 - a corrupt cache entry is recomputed
            chunk.unlink(missing_ok=True)
            continue
        out.update({bytes(k): f for k, f in zip(keys, feats)})
    return out


def encode_texts(texts: list[str], encoder: str = EMBEDDED_ENCODER, batch_size: int = 64,
                 show_progress: bool = False) -> np.ndarray:
    """Embeddings (n, d) float32 of ``texts``. Each text is cached by the hash of its content (and the encoder), so
    a run over texts any earlier run has seen (another subset, split or method of the same data) encodes only the
    new ones, and a run over known texts does not even load the encoder. The cache lives under
    ``$MIND_CACHE_DIR/features/<encoder hash>/`` as safetensors chunks (text keys + vectors), appended atomically."""
    folder = cache_dir() / "features" / hashlib.sha256(encoder.encode()).hexdigest()[:16]
    keys = [_text_key(encoder, t) for t in texts]
    store = _load_store(folder) if folder.is_dir() else {}
    missing = list(dict.fromkeys(k for k in keys if k not in store))
    if missing:
        from safetensors.numpy import save_file
        from sentence_transformers import SentenceTransformer

        todo = {k: t for k, t in zip(keys, texts) if k in set(missing)}
        model = SentenceTransformer(resolve_encoder(encoder), device="cpu")
        feats = model.encode([todo[k] for k in missing], batch_size=batch_size, convert_to_numpy=True,
                             normalize_embeddings=True, show_progress_bar=show_progress).astype(np.float32)
        folder.mkdir(parents=True, exist_ok=True)
        name = hashlib.sha256(b"".join(missing)).hexdigest()[:24]
        tmp = folder / f".chunk_{name}.tmp"
        save_file({"keys": np.frombuffer(b"".join(missing), dtype=np.uint8).reshape(-1, 16), "features": feats}, str(tmp))
        tmp.replace(folder / f"chunk_{name}.safetensors")
        store.update(zip(missing, feats))
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack([store[k] for k in keys]).astype(np.float32)


def rationale_features(problems, perspectives: list[str], encoder: str = EMBEDDED_ENCODER,
                       show_progress: bool = False):
    """(N, K, F) frozen Sentence-BERT features of every (question, rationale) pair, a torch tensor; zeros where a
    perspective is missing. MetaNet's input."""
    import torch

    where, texts = [], []
    for i, p in enumerate(problems):
        for k, pid in enumerate(perspectives):
            r = p.rationale(pid)
            if r is not None:
                where.append((i, k))
                texts.append(feature_text(p.question, r.text))
    feats = encode_texts(texts, encoder, show_progress=show_progress)
    out = torch.zeros(len(problems), len(perspectives), feats.shape[1])
    ii, kk = zip(*where)
    out[list(ii), list(kk)] = torch.from_numpy(feats)
    return out
