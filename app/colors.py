"""One fixed colour per run, the same on every page and in every session.

:func:`run_colour` is what pages call: ``run_colour("smollm2-mind")`` gives the same hex colour on the Curriculum
overlay, the Runs page's loss curves and the Evaluation charts, today and after a restart. The rule
(:func:`assign`):

* every run name has a preferred slot in :data:`RUN_PALETTE`, from a hash of the name (MD5, so it does not change
  between processes the way Python's salted ``hash`` does);
* among the runs the dashboard knows (every run folder under its roots), runs are served oldest first (by the mtime
  of their ``config.json``, then by name): each takes its preferred slot, or the next free one when an older run
  holds it. So a newly launched run never changes the colour of the runs already there, and up to
  ``len(RUN_PALETTE)`` (12) runs get distinct colours; beyond that the slots are shared again in the same order.

A name the dashboard does not know (a comparison file naming a run that was deleted) gets its preferred slot.
Perspective colours (:func:`app.charts.colors`) come from another palette, so a run is never mistaken for a
perspective on a chart that shows both.

Imports nothing of the app but :mod:`app.settings` (lazily), so any module may use it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

# 12 colours that stay apart on a white background (Okabe-Ito and Tol's muted scheme, yellow left out)
RUN_PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9",
               "#882255", "#999933", "#332288", "#44AA99", "#000000", "#AA4499")


def preferred_slot(name: str, n: int = len(RUN_PALETTE)) -> int:
    """The palette slot a run name asks for (stable across processes and machines)."""
    return int.from_bytes(hashlib.md5(str(name).encode("utf-8")).digest()[:4], "big") % n


def assign(names_oldest_first: Sequence[str], palette: Sequence[str] = RUN_PALETTE) -> dict[str, str]:
    """{name: colour} for runs listed oldest first: each takes its preferred slot or the next free one."""
    n = len(palette)
    out: dict[str, str] = {}
    taken: set[int] = set()
    for name in dict.fromkeys(names_oldest_first):
        if len(taken) == n:  # more runs than colours: start sharing, in the same order
            taken.clear()
        slot = preferred_slot(name, n)
        while slot in taken:
            slot = (slot + 1) % n
        taken.add(slot)
        out[name] = palette[slot]
    return out


def _known_runs() -> list[str]:
    """Names of the run folders under the dashboard's roots, oldest first (config.json mtime, then name)."""
    from app import settings

    found: dict[str, float] = {}
    for root in settings.roots():
        try:
            entries = list(os.scandir(root))
        except OSError:
            continue
        for e in entries:
            try:
                m = os.stat(Path(e.path) / "config.json").st_mtime
            except OSError:
                continue
            found[e.name] = min(m, found.get(e.name, m))
    return sorted(found, key=lambda k: (found[k], k))


def run_colours(names: Iterable[str], known: Sequence[str] | None = None) -> dict[str, str]:
    """{name: colour} for ``names``; ``known`` (oldest first) defaults to every run the dashboard can see."""
    table = assign(list(known) if known is not None else _known_runs())
    return {n: table.get(n) or RUN_PALETTE[preferred_slot(n)] for n in names}


def run_colour(name: str, known: Sequence[str] | None = None) -> str:
    """The colour of run ``name`` (a run folder's name, e.g. ``smollm2-mind``): the same on every page."""
    return run_colours([name], known)[name]
