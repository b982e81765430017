"""The Runs page's Export panel: where a run's export goes, what state it is in, and its model card.

The export itself is ``mind export`` started as a subprocess by :meth:`app.jobs.JobRegistry.start_export`; this
module says where it writes and reads what that process leaves behind. A run of the user's exports to
``<run>/export/`` with its log in ``<run>/export.log.txt``; a bundled run (``cached_runs/``, inside the checkout,
read-only by intent) exports to the user's runs folder instead: ``<runs>/exports/<run>/`` with its log beside it,
``<runs>/exports/<run>.export.log.txt``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from mind.export.folder import MARKER


def _bundled(run_path: str | Path) -> bool:
    from app import settings

    return settings.root_label(Path(run_path)) == "cached"


def default_out(run_path: str | Path) -> Path:
    """The folder the dashboard exports a run to: ``<run>/export/``, or ``<runs>/exports/<run>/`` for a bundled run
    (nothing is written inside the checkout's cached_runs/)."""
    from app import settings

    p = Path(run_path)
    return settings.runs_dir() / "exports" / p.name if _bundled(p) else p / "export"


def has_weights(run_path: str | Path) -> bool:
    """Whether the run has a checkpoint to export (a shipped run beyond seed 0 carries no weights)."""
    return any((Path(run_path) / "checkpoints").glob("step_*/trainer_state.json"))


def log_path(run_path: str | Path) -> Path:
    """Where ``mind export``'s output goes: ``<run>/export.log.txt``, or beside a bundled run's export folder."""
    p = Path(run_path)
    return default_out(p).with_name(f"{p.name}.export.log.txt") if _bundled(p) else p / "export.log.txt"


def exported(out: str | Path) -> dict | None:
    """The ``mind_export.json`` record of a finished export in ``out`` (run, step, kind), or None."""
    try:
        rec = json.loads((Path(out) / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return rec if isinstance(rec, dict) else None


def card_markdown(out: str | Path) -> str | None:
    """The export's README.md without its YAML front matter (for ``st.markdown``), or None when there is none."""
    try:
        text = (Path(out) / "README.md").read_text(encoding="utf-8")
    except OSError:
        return None
    if text.startswith("---\n"):
        end = text.find("\n---\n", 4)
        if end != -1:
            text = text[end + 5:]
    # st.markdown shows HTML as text: the card's collapsible config becomes a bold heading over its code block
    text = re.sub(r"<details><summary>(.*?)</summary>", r"**\1**", text).replace("</details>", "")
    return text.lstrip("\n")


def log_text(run_path: str | Path, lines: int = 20) -> str:
    """The last ``lines`` lines of the run's export log (:func:`log_path`; '' when there is none)."""
    try:
        data = log_path(run_path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(data.replace("\r", "\n").rstrip("\n").split("\n")[-lines:])


def last_error(log_text: str) -> str:
    """The ``error: ...`` line ``mind export`` printed (its one-line MindError), else the log's last line."""
    lines = [ln.strip() for ln in log_text.replace("\r", "\n").splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error: ")]
    if errors:
        return errors[-1][len("error: "):]
    return lines[-1] if lines else "(empty log)"
