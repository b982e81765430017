"""Time to the first moving weights of the demo preset, as the Launch page starts it, on a cold and a warm cache.

Starts ``mind train --preset demo`` with exactly the Launch page's argument list for its untouched form
(``app.jobs.preset_spec``: the preset's steps, learning rates and precision), in its
own session, and times from the start of the process to: the first step record (the first α the Curriculum and
Launch pages can draw) and the second one (the first time the weights *move* on a chart). It reads the run's own
phase clock (``status.json``'s ``startup``: imports, data, model, Sentence-BERT features, snapshot 0, MetaNet
calibration, first step), then stops the run (SIGTERM to its group). ``cold``: an empty ``MIND_CACHE_DIR`` (the
features are computed); ``shipped``: an empty cache seeded with app/assets/demo_features.safetensors, as the Launch
page does before a demo run; ``warm``: the checkout's cache (``.cache/mind``), filled by the cold pass if needed.

    .venv/bin/python bench/bench_first_weights.py                  # cold, shipped, then warm
    .venv/bin/python bench/bench_first_weights.py --only warm

The last line is the summary; the machine (lscpu model, load average) is printed with it: the figures hold for that
machine and its load only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path

import _env  # noqa: F401  (the checkout on sys.path, offline environment)

from app.jobs import preset_spec
from mind.procs import stop_group


KINDS = ("cold", "shipped", "warm")  # empty cache; empty cache + the shipped demo features (the Launch page); full


def machine() -> str:
    try:
        model = next(ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name"))
    except (OSError, StopIteration):
        model = platform.processor() or "?"
    return f"{model}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}"


def steps_written(run: Path) -> int:
    try:
        return sum(1 for ln in (run / "steps.jsonl").read_bytes().split(b"\n") if ln.strip())
    except OSError:
        return 0


def one(cache: Path, out: Path, timeout_s: float) -> dict:
    """Launch the demo preset into ``out`` with ``MIND_CACHE_DIR=cache``; seconds to steps 1 and 2, and phases."""
    argv = preset_spec(out.name, "demo").argv(out)
    out.mkdir(parents=True)
    env = dict(os.environ, MIND_CACHE_DIR=str(cache), PYTHONUNBUFFERED="1")
    t0 = time.time()
    with open(out / "log.txt", "wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=_env.ROOT,
                                start_new_session=True)
    first = second = None
    try:
        while time.time() - t0 < timeout_s and proc.poll() is None:
            n = steps_written(out)
            if n >= 1 and first is None:
                first = time.time() - t0
            if n >= 2:
                second = time.time() - t0
                break
            time.sleep(0.2)
    finally:
        stop_group(proc)
    try:
        startup = json.loads((out / "status.json").read_text()).get("startup") or {}
    except (OSError, ValueError):
        startup = {}
    return {"first_step_s": first, "second_step_s": second, "startup": startup}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", choices=KINDS, default=None)
    ap.add_argument("--timeout", type=float, default=900.0, help="give up on a pass after this many seconds")
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-first-weights-"))
    results = {}
    for kind in KINDS:
        if args.only and kind != args.only:
            continue
        cache = base / f"cache-{kind}" if kind != "warm" else Path(os.environ["MIND_CACHE_DIR"])
        cache.mkdir(parents=True, exist_ok=True)
        if kind == "shipped":  # what the Launch page does before a demo run: the shipped features into the cache
            from app import demo_features

            old = os.environ["MIND_CACHE_DIR"]
            os.environ["MIND_CACHE_DIR"] = str(cache)
            try:
                demo_features.seed()
            finally:
                os.environ["MIND_CACHE_DIR"] = old
        r = one(cache, base / f"demo-{kind}", args.timeout)
        results[kind] = r
        print(f"{kind}: first step record after {r['first_step_s']} s, second after {r['second_step_s']} s; "
              f"phases {r['startup']}", flush=True)
    line = "; ".join(f"{k}: first weights {r['first_step_s']:.0f} s, moving {r['second_step_s']:.0f} s "
                     f"(features {r['startup'].get('features', '?')} s, calibration "
                     f"{r['startup'].get('calibration', '?')} s)"
                     for k, r in results.items() if r["first_step_s"] and r["second_step_s"])
    print(f"demo preset, time to first moving weights: {line or 'did not reach step 2'} [{machine()}]")
    return 0 if line else 1


if __name__ == "__main__":
    raise SystemExit(main())
