"""Run every benchmark script in bench/ in turn and collect their one-line summaries at the end.

Order: bench_train.py, bench_memory.py, bench_latent.py, bench_generation.py, then any other bench_*.py (e.g.
bench_dashboard.py) alphabetically. Each runs as its own process with its default settings plus the extra
arguments given after ``--`` for that script (``--train "--student smollm2-135m --trl"``). A failing script is
reported and the others still run; the exit code is 1 if any failed. The machine (CPU model, ISA flags, torch) is
printed first and again above the summaries: the figures hold for that machine only.

    .venv/bin/python bench/run_all.py                 # everything, default settings
    .venv/bin/python bench/run_all.py --only train,memory --train "--repeats 3 --trl"
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIRST = ("bench_train.py", "bench_memory.py", "bench_latent.py", "bench_generation.py")


def scripts() -> list[Path]:
    found = {p.name: p for p in HERE.glob("bench_*.py")}
    return [found[n] for n in FIRST if n in found] + [found[n] for n in sorted(found) if n not in FIRST]


def short(p: Path) -> str:
    return p.stem.removeprefix("bench_")


def main(argv=None) -> int:
    all_scripts = scripts()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default="", help="comma list of short names to run (" + ", ".join(map(short, all_scripts)) + ")")
    for p in all_scripts:
        ap.add_argument(f"--{short(p)}", default="", metavar="ARGS", help=f"extra arguments for {p.name} (one quoted string)")
    args = ap.parse_args(argv)
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    unknown = only - {short(p) for p in all_scripts}
    if unknown:
        ap.error(f"--only: unknown benchmark(s) {sorted(unknown)}; pick from {[short(p) for p in all_scripts]}")
    sys.path.insert(0, str(HERE.parent))  # this checkout's mind
    from mind.model.precision import machine_line

    machine = machine_line()
    print(f"machine: {machine}", flush=True)
    results = []
    for p in all_scripts:
        if only and short(p) not in only:
            continue
        extra = shlex.split(getattr(args, short(p)) or "")
        print(f"\n===== {p.name} {' '.join(extra)}", flush=True)
        t = time.perf_counter()
        proc = subprocess.Popen([sys.executable, str(p), *extra], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        last = ""
        for line in proc.stdout:  # stream the script's output and keep its last non-empty line (the summary)
            sys.stdout.write(line)
            if line.strip():
                last = line.strip()
        rc = proc.wait()
        results.append((p.name, rc, time.perf_counter() - t, last))
    print(f"\n===== summaries (machine: {machine})")
    for name, rc, wall, last in results:
        print(f"{name:<22} {'ok' if rc == 0 else f'FAILED (exit {rc})':<16} {wall:>7.0f} s  {last}")
    return 0 if all(rc == 0 for _, rc, _, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
