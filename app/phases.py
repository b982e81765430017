"""What a launched ``mind train`` is doing now, phase by phase, from what it leaves in its run folder.

The trainer goes through: start-up (imports, data, student) -> Sentence-BERT text features of every rationale
(MetaNet's input; cached on disk, so only a cold cache computes them) -> the run folder (config.json) and the
first hidden-state snapshot -> MetaNet calibration (``meta_calibrate_epochs`` passes over the initial student's
losses) -> training steps. It writes no progress file for the phases before the first step, so
:func:`launch_phases` reads them from what is there: the log's tqdm bars (``Batches`` from sentence-transformers,
``MetaNet calibration``, ``mind train [...]``: :func:`tqdm_bars`), ``config.json``, ``calibration.json``,
``steps.jsonl`` and, from the first step on, ``status.json``'s ``startup`` clock (seconds per phase). A method
without MetaNet skips features and calibration.

:func:`preset_timing` turns a finished run of a preset into the sentence the Launch page's preset label shows
("took 13 min 2 s here, first weights after 1 min 51 s"), measured from the run's own clock.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from app.logs import read_tail
from mind.run.jsonl import read_json_or_empty

# tqdm's line: "desc:  34%|███▍      | 17/50 [00:10<00:20,  1.62it/s]" (rewritten in place with '\r')
_BAR = re.compile(r"(?P<desc>[^\r\n|]*?):\s+(?P<pct>\d+)%\|[^|\r\n]*\|\s*(?P<n>\d+)/(?P<total>\d+)"
                  r"(?:\s*\[(?P<elapsed>[\d:]+)(?:<(?P<left>[\d:?]+))?)?")
BARS = {"features": "Batches", "calibration": "MetaNet calibration", "training": "mind train"}
NO_METANET = ("uniform", "single", "uniform-consistency")


@dataclass(frozen=True)
class Phase:
    key: str  # startup | features | calibration | training
    label: str
    state: str  # pending | running | done | skipped
    fraction: float | None = None  # 0-1 when the phase reports progress
    detail: str = ""  # "17/50 epochs · 10 s, ~20 s left", "took 32.1 s", ...


def _seconds(hms: str | None) -> float | None:
    if not hms or "?" in hms:
        return None
    parts = [int(p) for p in hms.split(":")]
    out = 0
    for p in parts:
        out = out * 60 + p
    return float(out)


def tqdm_bars(log_text: str) -> dict[str, dict]:
    """The newest state of each known tqdm bar in a log: {phase key: {n, total, elapsed_s, left_s}}."""
    out: dict[str, dict] = {}
    for m in _BAR.finditer(log_text):
        desc = m.group("desc").strip()
        for key, prefix in BARS.items():
            if desc.endswith(prefix) or desc.startswith(prefix):
                out[key] = {"n": int(m.group("n")), "total": int(m.group("total")),
                            "elapsed_s": _seconds(m.group("elapsed")), "left_s": _seconds(m.group("left"))}
    return out


def _fmt(s: float | None) -> str:
    if s is None:
        return "?"
    s = int(round(s))
    return f"{s} s" if s < 60 else f"{s // 60} min {s % 60:02d} s"


def _bar_detail(bar: dict, unit: str) -> str:
    text = f"{bar['n']}/{bar['total']} {unit}"
    if bar.get("elapsed_s") is not None:
        text += f" · {_fmt(bar['elapsed_s'])}"
        if bar.get("left_s") is not None and bar["n"] < bar["total"]:
            text += f", about {_fmt(bar['left_s'])} left"
    return text



def _count_lines(path: Path) -> int:
    try:
        with open(path, "rb") as fh:
            return sum(1 for ln in fh if ln.endswith(b"\n"))
    except OSError:
        return 0


def launch_phases(run_path: str | Path, method: str = "mind", total_steps: int | None = None,
                  elapsed_s: float | None = None, calibrate: bool = True) -> list[Phase]:
    """The phases of a launched run, each pending, running, done or skipped, with its own progress where known.
    ``elapsed_s``: seconds since the job started (shown for the start-up phase, which reports nothing)."""
    p = Path(run_path)
    bars = tqdm_bars(read_tail(p / "log.txt", 32_000))
    status = read_json_or_empty(p / "status.json")
    clock = status.get("startup") if isinstance(status.get("startup"), dict) else {}
    steps = _count_lines(p / "steps.jsonl")
    total = int(status.get("total_steps") or total_steps or 0) or None
    metanet = method not in NO_METANET
    opened = (p / "config.json").exists()
    calibrated = (p / "calibration.json").exists() or "training" in bars or steps > 0
    started = {"features": "features" in bars or opened, "calibration": "calibration" in bars or calibrated,
               "training": "training" in bars or steps > 0}

    def took(*keys) -> str:
        vals = [clock[k] for k in keys if isinstance(clock.get(k), (int, float))]
        return f"took {_fmt(sum(vals))}" if vals else "done"

    out: list[Phase] = []
    later_started = any(started.values())
    out.append(Phase("startup", "Start-up: Python, the data, the student", "done" if later_started else "running",
                     None, took("imports", "data", "model") if later_started else
                     (f"{_fmt(elapsed_s)} so far" if elapsed_s is not None else "")))
    if not metanet:
        out.append(Phase("features", "Text features (Sentence-BERT)", "skipped", None, f"{method}: no MetaNet"))
    elif opened or started["calibration"]:
        detail = took("features")
        if clock.get("features") is not None and float(clock["features"]) < 1.0:
            detail = "read from the feature cache"
        out.append(Phase("features", "Text features (Sentence-BERT)", "done", 1.0, detail))
    elif "features" in bars:
        b = bars["features"]
        out.append(Phase("features", "Text features (Sentence-BERT)", "running", b["n"] / max(1, b["total"]),
                         _bar_detail(b, "batches") + " (a cold cache; later runs read them from disk)"))
    else:
        out.append(Phase("features", "Text features (Sentence-BERT)", "pending"))
    if not metanet or not calibrate:
        out.append(Phase("calibration", "MetaNet calibration", "skipped", None,
                         "no MetaNet" if not metanet else "meta_calibrate_epochs = 0"))
    elif calibrated:
        out.append(Phase("calibration", "MetaNet calibration", "done", 1.0, took("snapshot_0", "calibration")))
    elif "calibration" in bars:
        b = bars["calibration"]
        out.append(Phase("calibration", "MetaNet calibration", "running", b["n"] / max(1, b["total"]),
                         _bar_detail(b, "epochs")))
    else:
        out.append(Phase("calibration", "MetaNet calibration", "running" if opened else "pending", None,
                         "first hidden-state snapshot, then the calibration epochs" if opened else ""))
    if steps > 0 or "training" in bars:
        n = max(steps, bars.get("training", {}).get("n", 0))
        done = status.get("state") == "finished" or (total and n >= total)
        out.append(Phase("training", "Training steps", "done" if done else "running",
                         (n / total) if total else None,
                         f"{n}/{total or '?'} steps" + (f" · first step after {_fmt(clock.get('total'))}"
                                                         if clock.get("total") else "")))
    else:
        out.append(Phase("training", "Training steps", "pending", 0.0 if total else None,
                         f"0/{total} steps" if total else ""))
    return out


def current(phases: list[Phase]) -> Phase | None:
    """The phase in progress (the last running one), or None."""
    running = [ph for ph in phases if ph.state == "running"]
    return running[-1] if running else None


def preset_timing(run_path: str | Path) -> dict | None:
    """The measured timing of a finished run: ``total_s`` (process start to the last step) and ``first_s``
    (process start to the first step record, from status.json's ``startup`` clock); None without them."""
    p = Path(run_path)
    status = read_json_or_empty(p / "status.json")
    clock = status.get("startup") if isinstance(status.get("startup"), dict) else None
    if status.get("state") != "finished" or not clock or not isinstance(clock.get("total"), (int, float)):
        return None
    try:
        lines = [ln for ln in (p / "steps.jsonl").read_bytes().split(b"\n") if ln.strip()]
        first, last = json.loads(lines[0]), json.loads(lines[-1])
        start = float(first["wall"]) - float(clock["total"])
        return {"total_s": float(last["wall"]) - start, "first_s": float(clock["total"]),
                "features_s": clock.get("features"), "calibration_s": clock.get("calibration"),
                "steps": int(last["step"]), "run": p.name}
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None


def describe_timing(t: dict) -> str:
    return (f"the last one here ({t['run']}) took {_fmt(t['total_s'])} for {t['steps']} steps, its first weights "
            f"after {_fmt(t['first_s'])}")


def last_preset_timing(runs_root: str | Path, preset: str) -> dict | None:
    """:func:`preset_timing` of the newest finished run in ``runs_root`` that the Launch page started with
    ``preset`` (its log.txt's first line is the command, with ``--preset NAME``); None when there is none."""
    found = []
    try:
        entries = list(Path(runs_root).iterdir())
    except OSError:
        return None
    for d in entries:
        try:
            with open(d / "log.txt", encoding="utf-8", errors="replace") as fh:
                head = fh.readline()
        except OSError:
            continue
        if re.search(rf"--preset {re.escape(preset)}(\s|$)", head):
            t = preset_timing(d)
            if t:
                found.append(((d / "status.json").stat().st_mtime, t))
    return max(found, key=lambda x: x[0])[1] if found else None
