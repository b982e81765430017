"""The Runs page's Export panel: where a run's export goes, what state it is in, and its model card.

The export itself is ``mind export`` started as a subprocess by :meth:`app.jobs.JobRegistry.start_export`; this
module only reads what that process leaves behind (``<run>/export/``, ``<run>/export.log.txt``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from mind.export.folder import MARKER


def default_out(run_path: str | Path) -> Path:
    """The folder the dashboard exports a run to: ``<run>/export/``."""
    return Path(run_path) / "export"


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
    """The last ``lines`` lines of ``<run>/export.log.txt`` ('' when there is none)."""
    try:
        data = (Path(run_path) / "export.log.txt").read_text(encoding="utf-8", errors="replace")
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
