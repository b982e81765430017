"""``mind app``: start the Streamlit dashboard.

Binds to 127.0.0.1 unless ``--host`` says otherwise, runs headless with Streamlit's XSRF protection on, and
passes the runs folder to the app through the ``MIND_RUNS_DIR`` environment variable.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mind.errors import ConfigError

APP_ENTRY = Path(__file__).resolve().parents[2] / "app" / "main.py"


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("app", help="open the dashboard (Streamlit) on this machine",
                              description="Start the MIND dashboard: runs, launch, curriculum, MetaNet, latent space, evaluation.")
    p.add_argument("--port", type=int, default=8501, help="port to listen on (default 8501)")
    p.add_argument("--runs-dir", default="runs", help="folder of your runs; new runs launched from the page go here (default runs/)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1, this machine only; 0.0.0.0 exposes it to your network)")
    p.add_argument("--dry-run", action="store_true", help="print the streamlit command instead of running it")
    p.set_defaults(func=run)


def command(port: int, runs_dir: str | Path, host: str = "127.0.0.1") -> tuple[list[str], dict[str, str]]:
    """The argument list and extra environment that start the dashboard."""
    import sys

    if not (1 <= port <= 65535):
        raise ConfigError(f"--port {port}: use a port number from 1 to 65535")
    if not host or host.startswith("-") or any(c.isspace() for c in host):
        raise ConfigError(f"--host {host!r}: give an address such as 127.0.0.1")
    runs = Path(runs_dir).expanduser().resolve()
    if runs.exists() and not runs.is_dir():
        raise ConfigError(f"--runs-dir {runs}: exists and is not a folder; choose a folder for your runs")
    argv = [
        sys.executable, "-m", "streamlit", "run", str(APP_ENTRY),
        "--server.address", host, "--server.port", str(port), "--server.headless", "true",
        "--server.enableXsrfProtection", "true", "--server.enableCORS", "true",
        "--browser.gatherUsageStats", "false", "--global.developmentMode", "false",
        "--", "--runs-dir", str(runs),
    ]
    return argv, {"MIND_RUNS_DIR": str(runs)}


def run(args: argparse.Namespace) -> int:
    import os
    import subprocess

    argv, env = command(args.port, args.runs_dir, args.host)
    if args.dry_run:
        print(" ".join(argv))
        return 0
    Path(env["MIND_RUNS_DIR"]).mkdir(parents=True, exist_ok=True)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: the dashboard will be reachable from other machines on {args.host}:{args.port}", flush=True)
    print(f"MIND dashboard on http://{'127.0.0.1' if args.host in ('0.0.0.0', '::') else args.host}:{args.port}", flush=True)
    try:
        return subprocess.call(argv, env={**os.environ, **env})
    except KeyboardInterrupt:
        return 0
