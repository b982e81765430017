"""The Sentence-BERT feature cache: per text, by content hash, so runs over overlapping texts encode only new ones."""

from __future__ import annotations

import numpy as np
import pytest

from mind.model import encoder


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MIND_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_known_texts_come_from_the_cache_without_the_encoder(cache, monkeypatch):
    a = encoder.encode_texts(["two plus two", "seven times six"])
    assert a.shape == (2, 384) and a.dtype == np.float32
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)  # normalised embeddings
    b = encoder.encode_texts(["seven times six", "a new rationale", "two plus two"])  # one new text
    assert np.array_equal(b[0], a[1]) and np.array_equal(b[2], a[0])
    assert len(list((cache / "features").glob("*/chunk_*.safetensors"))) == 2  # the new text went into its own chunk

    import sentence_transformers

    def refuse(*_a, **_k):
        raise AssertionError("the encoder was loaded although every text is cached")

    monkeypatch.setattr(sentence_transformers, "SentenceTransformer", refuse)
    c = encoder.encode_texts(["a new rationale", "two plus two"])
    assert np.array_equal(c, b[[1, 2]])


def test_a_corrupt_chunk_is_recomputed(cache):
    a = encoder.encode_texts(["first text"])
    chunk = next((cache / "features").glob("*/chunk_*.safetensors"))
    chunk.write_bytes(b"garbage")
    again = encoder.encode_texts(["first text"])
    assert np.allclose(again, a, atol=1e-6)
    assert not chunk.exists() or chunk.read_bytes() != b"garbage"
