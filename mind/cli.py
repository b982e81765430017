"""The ``mind`` command line. Each sub-command lives in ``mind/commands/<name>.py`` and exposes
``add_parser(subparsers)``, which registers its flags and sets ``func`` (called with the parsed args).
Command modules import heavy libraries inside ``func`` so that ``mind --help`` stays fast."""

from __future__ import annotations

import argparse
import importlib
import sys

from mind.errors import MindError

# Sub-commands in the order `mind --help` lists them. Add a module here to add a command.
COMMANDS = ("train", "generate", "perspectives", "eval", "analyze", "experiment", "export", "app")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mind",
        description="Capability-aware multi-perspective chain-of-thought distillation (MIND).",
    )
    from mind._version import __version__

    parser.add_argument("--version", action="version", version=f"mind {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            mod = importlib.import_module(f"mind.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"mind.commands.{name}":
                continue  # command not built yet
            raise
        mod.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # `key=value` overrides may stand anywhere on the line (argparse only collects one contiguous group).
    dest = next((d for d in ("overrides", "train_args") if hasattr(args, d)), None)
    if extra and dest and all("=" in e and not e.startswith("-") for e in extra):
        setattr(args, dest, list(getattr(args, dest) or []) + extra)
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except MindError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
