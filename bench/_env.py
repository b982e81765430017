"""Shared by the bench scripts: the repository root and the offline environment they run in."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MIND_CACHE_DIR", str(ROOT / ".cache" / "mind"))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
if str(ROOT) not in sys.path:  # `python bench/x.py` from anywhere imports this checkout's mind
    sys.path.insert(0, str(ROOT))
