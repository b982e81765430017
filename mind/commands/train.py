"""``mind train``: train a student with MIND or one of the baselines and write a run directory."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import MISSING, fields
from pathlib import Path

from mind.training.config import METHODS, TrainConfig

EXAMPLES = """examples:
  mind train --data demo --student tiny --method mind --steps 20 --out runs/demo
  mind train --student smollm2-135m --config cfg.yaml beta=0.5 lam=0.2 --out runs/smol
  mind train --preset demo --out runs/demo-curriculum   # tiny student, several epochs: a visible curriculum
  mind train --resume runs/demo steps=40          # continue from the last checkpoint (and extend)
  mind train --resume runs/demo --restart         # no checkpoint yet: train it again from step 1, same config
  accelerate launch --cpu --num_processes 2 -m mind train --data demo --student tiny --batch-size 1 --out runs/ddp

stopping and exit status:
  The dashboard's Stop (or a stop_request.json file in the run directory, mind/run/stop.py) ends the run after the
  current step with a checkpoint, status "stopped" (stopped_by: request) and exit status 0. A SIGTERM without such a
  request is a stop nobody asked for: the run checkpoints the same way (stopped_by: signal 15), says on stderr at
  which step it stopped and how to resume, and exits 143 (128 + the signal number, the shell's convention; Ctrl-C
  exits 130). Other exit statuses: 0 finished, 2 a configuration or input error (one `error:` line).
"""


def add_parser(sub) -> None:
    p = sub.add_parser("train", help="train a student (MIND or a baseline) and write a run directory",
                       description="Train a student with capability-aware multi-perspective distillation (MIND) or a "
                                   "baseline. Options come from --config (YAML/JSON), then flags, then key=value overrides.",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("overrides", nargs="*", metavar="key=value", help="override any option below (e.g. beta=0.5)")
    p.add_argument("--out", help="run directory to write (required unless --resume)")
    p.add_argument("--config", help="YAML or JSON file of options")
    p.add_argument("--preset", help="a bundled set of options applied first (mind/training/presets/NAME.yaml): 'demo' shows "
                                    "MetaNet's curriculum moving within about two minutes on a laptop CPU")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue RUN_DIR from its last checkpoint (its saved config; key=value may extend steps)")
    p.add_argument("--restart", action="store_true",
                   help="with --resume, for a run stopped before its first checkpoint: clear its records and train it "
                        "again from step 1 with its saved config")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    hp = p.add_argument_group("hyperparameters (every option of mind.training.config.TrainConfig)")
    for f in fields(TrainConfig):
        default = f.default if f.default is not MISSING else None
        shown = ",".join(default) if isinstance(default, tuple) else default
        extra = {"choices": METHODS} if f.name == "method" else {}
        names = [f"--{f.name.replace('_', '-')}"] + (["--lambda"] if f.name == "lam" else [])
        hp.add_argument(*names, dest=f"cfg_{f.name}", default=None, metavar=f.name.upper() if not extra else None,
                        help=f"{f.metadata.get('help', '')} (default: {shown})".replace("%", "%%"), **extra)
    p.set_defaults(func=run)


def parse_overrides(items: list[str]) -> dict:
    from mind.errors import ConfigError

    out = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not key=value; write e.g. beta=0.5")
        k, v = item.split("=", 1)
        out[k.strip().replace("-", "_")] = v
    return out


def run(args) -> int:
    from mind.training.config import build_config, saved_values
    from mind.errors import ConfigError
    from mind.training.trackers import check_trackers
    from mind.training.loop import train

    flags = {k[4:]: v for k, v in vars(args).items() if k.startswith("cfg_") and v is not None}
    overrides = {**flags, **parse_overrides(args.overrides)}
    if args.restart and not args.resume:
        raise ConfigError("--restart goes with --resume RUN_DIR: it restarts that run in place from step 1")
    if args.resume:
        run_dir = Path(args.resume)
        from mind.run import load_run

        saved = saved_values(load_run(run_dir).config)
        changed = set(overrides) - {"steps", "checkpoint_every", "checkpoint_minutes", "snapshot_every", "report_to"}
        if changed:
            raise ConfigError(f"--resume keeps the run's config; only steps/checkpoint_every/checkpoint_minutes/snapshot_every can change, not {sorted(changed)}")
        cfg = build_config(None, {**saved, **overrides})
        check_trackers(cfg.trackers)  # before anything in the run directory changes
        out = run_dir
        from mind.model.checkpoint import clear_for_restart, latest_checkpoint, no_checkpoint_message
        from mind.errors import RunDirError

        if args.restart:
            if int(os.environ.get("RANK", "0")) == 0:  # one process clears; the others meet it in Accelerate's setup
                clear_for_restart(run_dir)
                from mind.run.stop import clear_stop_request

                clear_stop_request(run_dir)  # the stop that ended the first attempt must not end this one
        elif latest_checkpoint(run_dir / "checkpoints") is None:
            raise RunDirError(no_checkpoint_message(run_dir))
    else:
        if not args.out:
            raise ConfigError("--out is required: the run directory to write (e.g. --out runs/demo)")
        cfg = build_config(args.config, overrides, preset=args.preset)
        check_trackers(cfg.trackers)  # a missing tracker package: one line before any model loads
        out = Path(args.out)
        if (out / "config.json").exists():
            raise ConfigError(f"{out} already holds a run; choose another --out or continue it with --resume {out}")
    from mind.training.runtime import StopFlag

    stop = StopFlag()
    train(cfg, out, resume=bool(args.resume) and not args.restart, progress=not args.quiet, stop=stop)
    main_process = int(os.environ.get("RANK", "0")) == 0
    if stop.step is not None:  # stopped before the last step
        if main_process:
            print(stop_message(stop, cfg.steps, out), file=sys.stderr)
        return stop_exit_code(stop)
    if main_process:
        print(f"run written to {out}")
    return 0


def stop_message(stop, total: int, out: Path) -> str:
    """The one stderr line of a run that stopped early: at which step, why, and the command that continues it."""
    why = "(Stop requested)" if stop.requested else "(not a Stop from the dashboard)"
    by = "" if stop.requested else f" by {stop.by}"
    return f"mind train: stopped{by} at step {stop.step} of {total} {why}; resume with: mind train --resume {out}"


def stop_exit_code(stop) -> int:
    """0 for a stop someone asked for; 128 + N for signal N, the shell's convention, so that a run stopped by a
    signal nobody asked for never looks like a success with steps missing."""
    return 0 if stop.requested else 128 + (stop.signum or 0)
