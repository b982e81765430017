"""Where the dashboard looks for runs.

Two roots: the bundled ``cached_runs/`` (read-only examples) and the user's runs folder, where the Launch page
writes new runs. ``mind app --runs-dir X`` passes the folder through the ``MIND_RUNS_DIR`` environment variable
(``streamlit run app/main.py -- --runs-dir X`` works too); ``MIND_CACHED_RUNS`` overrides the cached folder.

Sharing settings travel the same way, as environment variables that ``mind app`` sets for the Streamlit process:
``MIND_APP_TOKEN`` (the access token; never written to any file), ``MIND_APP_READ_ONLY`` (``1``: no Launch, Stop,
Evaluate or Export) and ``MIND_APP_ALLOW_DIRS`` (folders besides the runs folder that the Launch form may read
datasets and models from, joined with ``os.pathsep``). :mod:`app.access` enforces them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES_DIR = ROOT / "pages"
ENV_RUNS = "MIND_RUNS_DIR"
ENV_CACHED = "MIND_CACHED_RUNS"
ENV_TOKEN = "MIND_APP_TOKEN"
ENV_READ_ONLY = "MIND_APP_READ_ONLY"
ENV_ALLOW_DIRS = "MIND_APP_ALLOW_DIRS"


def _argv_runs_dir(argv: list[str]) -> str | None:
    """``--runs-dir X`` or ``--runs-dir=X`` from the script arguments (what follows ``--`` in streamlit run)."""
    for i, a in enumerate(argv):
        if a == "--runs-dir" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--runs-dir="):
            return a.split("=", 1)[1]
    return None


def runs_dir() -> Path:
    """The user's runs folder (absolute): env var, then script argument, then ``runs/`` in the repository."""
    raw = os.environ.get(ENV_RUNS) or _argv_runs_dir(sys.argv[1:]) or str(ROOT / "runs")
    p = Path(raw).expanduser()
    return (p if p.is_absolute() else Path.cwd() / p).resolve()


def cached_runs_dir() -> Path:
    raw = os.environ.get(ENV_CACHED)
    return Path(raw).expanduser().resolve() if raw else ROOT / "cached_runs"


def roots() -> list[Path]:
    """Folders whose sub-folders are runs: the user's runs first, then the cached examples (no duplicates). Runs
    one level further down (the separation students) are read by their own pages, not listed as runs."""
    out: list[Path] = []
    for r in (runs_dir(), cached_runs_dir()):
        if r not in out:
            out.append(r)
    return out


def root_label(run_path: Path) -> str:
    """'cached' for a bundled run, 'runs' for one of the user's."""
    try:
        Path(run_path).resolve().relative_to(cached_runs_dir())
        return "cached"
    except ValueError:
        return "runs"


def access_token() -> str | None:
    """The token a browser must present, or None when the dashboard is open (loopback without ``--token``)."""
    return os.environ.get(ENV_TOKEN) or None


def read_only() -> bool:
    """True when ``mind app --read-only`` switched the actions off (Launch, Stop, Evaluate, Export)."""
    return os.environ.get(ENV_READ_ONLY, "").strip().lower() in ("1", "true", "yes")


def allowed_dirs() -> list[Path]:
    """The ``--allow-dir`` folders (absolute, resolved), in the order given."""
    raw = os.environ.get(ENV_ALLOW_DIRS, "")
    return [Path(d).expanduser().resolve() for d in raw.split(os.pathsep) if d.strip()]
