"""Shared fixtures: offline hub, a repository-local model cache, seeds, one torch thread, the shared data."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MIND_CACHE_DIR", str(ROOT / ".cache" / "mind"))
os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".cache" / "numba"))
# precision=auto (the default) means bf16 on CPUs with fast bf16 and fp32 elsewhere; the suite pins it to fp32 so that
# its recorded trajectories and exact comparisons hold on every machine (tests/test_precision.py unsets it).
os.environ.setdefault("MIND_PRECISION_AUTO", "fp32")

SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _seed():
    random.seed(0)
    np.random.seed(0)
    try:
        import torch

        torch.manual_seed(0)
        torch.set_num_threads(1)
    except ImportError:
        pass
    yield


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The benchmark folder beside the checkout (../shared/data); tests that need it fail loudly without it."""
    assert SHARED_DATA.is_dir(), f"benchmark data not found at {SHARED_DATA}"
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _default_sigint():
    """Give every test Python's default Ctrl-C behaviour. A library used earlier in the session (seen with the
    full suite, not with single files) can leave SIGINT ignored, and child processes inherit an ignored SIGINT,
    which breaks the interrupt-and-resume tests."""
    import signal

    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # a blocked signal is inherited too
    yield
