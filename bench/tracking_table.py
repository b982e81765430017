"""Does MetaNet follow the student? The tracking table of README.md ("MetaNet tracking"), one run per option.

Each option is a real ``mind train`` run (subprocess) of several epochs of the demo set; the table reports, per run
(:func:`mind.training.tracking.tracking_summary`): meta_spearman / meta_top1 on the trained problems averaged over the last
epoch, the same on the held-out problems at the last snapshot, the perspective-mean baseline beside each, the
mean curriculum shift of the last epoch and how many distinct selection sets the student trained on.

    python bench/tracking_table.py --student tiny --out runs/tracking            # ~minutes
    python bench/tracking_table.py --student smollm2-135m --out runs/tracking    # hours on 2 CPU cores

Finished runs are skipped, so an interrupted table resumes; ``--options`` picks a subset. Results are printed and
written to ``<out>/<student>-table.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import _env  # noqa: F401 - repository root on sys.path, offline environment

from mind.run import load_run, write_json_atomic
from mind.training.tracking import tracking_summary

# The options measured, each on top of the paper's reading (meta_warmup_steps=4, meta_lr=5e-5, meta_grad_accum=4).
OPTIONS = {
    "paper": [],
    "zscore": ["meta_target=zscore"],
    "calibrated": ["meta_calibrate_epochs=50"],
    "calibrated+zscore": ["meta_calibrate_epochs=50", "meta_target=zscore"],
    "calibrated+lag0.25": ["meta_calibrate_epochs=50", "meta_every_epochs=0.25", "meta_lr=1e-3"],
    "calibrated+zscore+lag0.25": ["meta_calibrate_epochs=50", "meta_target=zscore", "meta_every_epochs=0.25",
                                  "meta_lr=1e-3"],
}

# Per student: what makes it learn visibly, and how much of the demo set fits the budget.
STUDENTS = {
    "tiny": ["max_problems=32", "finetune=full", "lr=1e-3"],
    "smollm2-135m": ["max_problems=32", "precision=auto"],
}


def run_option(out: Path, student: str, name: str, epochs: int, batch: int, extra: list[str]) -> Path:
    run_dir = out / f"{student}-{name}"
    try:
        if load_run(run_dir).state == "finished":
            return run_dir
    except Exception:  # noqa: BLE001 - missing or partial: (re)train it
        pass
    n_train = int(STUDENTS[student][0].split("=")[1])  # max_problems comes first
    steps = epochs * n_train // batch
    args = [sys.executable, "-m", "mind", "train", "--data", "demo", "--student", student, "--method", "mind",
            "--steps", str(steps), "--batch-size", str(batch), "--out", str(run_dir), "--quiet",
            f"snapshot_every={n_train // batch}", "probe_problems=8", "checkpoint_every=0",
            *STUDENTS[student], *OPTIONS[name], *extra]
    if (run_dir / "config.json").exists():
        import shutil

        shutil.rmtree(run_dir)
    t0 = time.time()
    print(f"[{name}] {' '.join(args[3:])}", flush=True)
    subprocess.run(args, check=True)
    print(f"[{name}] {time.time() - t0:.0f} s", flush=True)
    return run_dir


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--student", default="tiny", choices=sorted(STUDENTS))
    ap.add_argument("--out", default="runs/tracking")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=2)
    ap.add_argument("--options", default=",".join(OPTIONS), help="comma list of " + ", ".join(OPTIONS))
    ap.add_argument("extra", nargs="*", help="key=value overrides for every run")
    args = ap.parse_args()
    out = Path(args.out)
    rows = {}
    for name in args.options.split(","):
        run_dir = run_option(out, args.student, name, args.epochs, args.batch_size, args.extra)
        run = load_run(run_dir)
        rows[name] = tracking_summary(run.steps, run.samples)
        rows[name]["train_wall_s"] = float(run.steps["time_s"].sum())
        write_json_atomic(out / f"{args.student}-table.json", rows)
    cols = ["meta_spearman", "meta_top1", "baseline_spearman", "baseline_top1", "heldout_meta_spearman",
            "heldout_meta_top1", "heldout_baseline_spearman", "heldout_baseline_top1", "curriculum_shift", "selection_sets"]
    print("option".ljust(28) + "".join(c.replace("heldout_", "ho_")[:16].rjust(17) for c in cols))
    for name, r in rows.items():
        print(name.ljust(28) + "".join(f"{r.get(c, float('nan')):17.3f}" for c in cols))
    print(json.dumps({"student": args.student, "epochs": args.epochs}))


if __name__ == "__main__":
    main()
