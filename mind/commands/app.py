"""``mind app``: start the Streamlit dashboard.

Binds to 127.0.0.1 unless ``--host`` says otherwise, runs headless with Streamlit's XSRF protection on, and
switches off the Streamlit endpoints the dashboard does not use (static file serving, the agent API, the script
health check). Settings reach the app through environment variables: the runs folder (``MIND_RUNS_DIR``), the
access token (``MIND_APP_TOKEN``), ``--read-only`` (``MIND_APP_READ_ONLY``) and ``--allow-dir``
(``MIND_APP_ALLOW_DIRS``). A non-loopback ``--host`` needs a token: ``--token``, ``$MIND_APP_TOKEN``, or one
generated at start and printed as a link, like Jupyter's. The token never appears in the Streamlit command line.
Stopping ``mind app`` (SIGTERM, SIGHUP, Ctrl-C) stops the Streamlit server and its process group (:func:`serve`).
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

from mind.errors import ConfigError
from mind.hosts import is_loopback

APP_ENTRY = Path(__file__).resolve().parents[2] / "app" / "main.py"
ENV_RUNS, ENV_TOKEN, ENV_READ_ONLY, ENV_ALLOW_DIRS = ("MIND_RUNS_DIR", "MIND_APP_TOKEN", "MIND_APP_READ_ONLY",
                                                      "MIND_APP_ALLOW_DIRS")
_TOKEN_RE = re.compile(r"[A-Za-z0-9._~-]{12,256}")


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("app", help="open the dashboard (Streamlit) on this machine",
                              description="Start the MIND dashboard: runs, launch, curriculum, MetaNet, latent space, "
                                          "evaluation. Sharing it: see README, 'Sharing the dashboard'.")
    p.add_argument("--port", type=int, default=8501, help="port to listen on (default 8501)")
    p.add_argument("--runs-dir", default="runs", help="folder of your runs; new runs launched from the page go here (default runs/)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1, this machine only; 0.0.0.0 exposes it to your network "
                        "and then needs an access token)")
    p.add_argument("--token", default=None,
                   help="access token a browser must present (?token=... or the login box): 12-256 letters, digits, "
                        "'.', '_', '~' or '-'. Default: $MIND_APP_TOKEN, else one is generated and printed when "
                        "--host is not a loopback address (loopback stays open unless a token is given). Prefer "
                        "$MIND_APP_TOKEN: a command-line token is visible to other users in `ps`")
    p.add_argument("--read-only", action="store_true",
                   help="hide Launch, Stop, Evaluate and Export and refuse them on the server (for demos)")
    p.add_argument("--allow-dir", action="append", default=[], metavar="DIR",
                   help="a folder the Launch form may read dataset files and model folders from, besides the runs "
                        "folder (repeatable)")
    p.add_argument("--dry-run", action="store_true", help="print the streamlit command instead of running it")
    p.set_defaults(func=run)


def check_token(token: str, source: str = "--token") -> str:
    if not _TOKEN_RE.fullmatch(token):
        raise ConfigError(f"{source}: use 12 to 256 letters, digits, '.', '_', '~' or '-' "
                          "(or leave it out to get a generated token)")
    return token


def command(port: int, runs_dir: str | Path, host: str = "127.0.0.1", token: str | None = None,
            read_only: bool = False, allow_dirs=()) -> tuple[list[str], dict[str, str]]:
    """The argument list and extra environment that start the dashboard (the token travels in the environment)."""
    import sys

    if not (1 <= port <= 65535):
        raise ConfigError(f"--port {port}: use a port number from 1 to 65535")
    if not host or host.startswith("-") or any(c.isspace() for c in host):
        raise ConfigError(f"--host {host!r}: give an address such as 127.0.0.1")
    if token is not None:
        check_token(token)
    elif not is_loopback(host):
        raise ConfigError(f"--host {host}: other machines can reach this address, so the dashboard needs an access "
                          "token; leave --token out to get a generated one, or set MIND_APP_TOKEN")
    runs = Path(runs_dir).expanduser().resolve()
    if runs.exists() and not runs.is_dir():
        raise ConfigError(f"--runs-dir {runs}: exists and is not a folder; choose a folder for your runs")
    allowed = []
    for d in allow_dirs:
        p = Path(d).expanduser().resolve()
        if not p.is_dir():
            raise ConfigError(f"--allow-dir {d}: not an existing folder; give a folder that holds datasets or models")
        if os.pathsep in str(p):
            raise ConfigError(f"--allow-dir {d}: a folder name with {os.pathsep!r} cannot be passed on; rename it")
        allowed.append(str(p))
    argv = [
        sys.executable, "-m", "streamlit", "run", str(APP_ENTRY),
        "--server.address", host, "--server.port", str(port), "--server.headless", "true",
        "--server.enableXsrfProtection", "true", "--server.enableCORS", "true",
        "--server.enableStaticServing", "false", "--server.enableAgentApi", "false",
        "--server.scriptHealthCheckEnabled", "false",
        "--browser.gatherUsageStats", "false", "--global.developmentMode", "false",
        "--", "--runs-dir", str(runs),
    ]
    env = {ENV_RUNS: str(runs)}
    if token is not None:
        env[ENV_TOKEN] = token
    if read_only:
        env[ENV_READ_ONLY] = "1"
    if allowed:
        env[ENV_ALLOW_DIRS] = os.pathsep.join(allowed)
    return argv, env


def resolve_token(given: str | None, host: str, environ=os.environ) -> str | None:
    """``--token``, else ``$MIND_APP_TOKEN``, else a generated token for a non-loopback host, else None."""
    import secrets

    if given is not None:
        return check_token(given)
    if environ.get(ENV_TOKEN):
        return check_token(environ[ENV_TOKEN], "$" + ENV_TOKEN)
    return None if is_loopback(host) else secrets.token_urlsafe(32)


def urls(host: str, port: int, token: str | None) -> list[str]:
    """The links to print: the address itself, or this machine's name and 127.0.0.1 for a wildcard address."""
    import socket

    if host in ("0.0.0.0", "::"):
        hosts = [socket.gethostname(), "127.0.0.1"]
    else:
        hosts = [f"[{host}]" if ":" in host else host]
    query = f"/?token={token}" if token else ""
    return [f"http://{h}:{port}{query}" for h in hosts]


def serve(argv: list[str], env: dict[str, str]) -> int:
    """Run the Streamlit server until it exits or this process is told to stop, then stop it and everything it
    started in its session.

    The server runs in its own session (``start_new_session``), so a signal meant for ``mind app`` does not depend
    on the terminal reaching its whole group; instead SIGTERM, SIGHUP and Ctrl-C (SIGINT) to ``mind app`` stop the
    server's process group (:func:`mind.procs.stop_group`: SIGTERM, then SIGKILL after a grace period). Before, a
    SIGTERM to ``mind app`` killed only ``mind app`` and left Streamlit serving the port. Training runs launched from
    the dashboard run in sessions of their own and keep running (they record their own state in the run folder)."""
    import signal
    import subprocess

    from mind.procs import stop_group

    class _Stop(Exception):
        pass

    def _raise(signum, frame):  # noqa: ARG001 - signal handler signature
        raise _Stop(signum)

    proc = subprocess.Popen(argv, env=env, start_new_session=True)
    previous = {s: signal.signal(s, _raise) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        return proc.wait()
    except (_Stop, KeyboardInterrupt):
        for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):  # a second signal must not cut the clean-up short
            signal.signal(s, signal.SIG_IGN)
        code = stop_group(proc)
        return 0 if code in (0, -signal.SIGTERM, None) else code
    finally:
        if proc.poll() is None:
            stop_group(proc)
        for s, h in previous.items():
            signal.signal(s, h)


def run(args: argparse.Namespace) -> int:
    token = resolve_token(args.token, args.host)
    argv, env = command(args.port, args.runs_dir, args.host, token, args.read_only, args.allow_dir)
    if args.dry_run:
        print(" ".join(argv))
        return 0
    Path(env[ENV_RUNS]).mkdir(parents=True, exist_ok=True)
    if not is_loopback(args.host):
        print(f"warning: the dashboard is reachable from other machines on {args.host}:{args.port}; anyone with the "
              "link below can use it (an SSH tunnel to a 127.0.0.1 dashboard is safer)", flush=True)
    mode = " (read-only)" if args.read_only else ""
    print(f"MIND dashboard{mode} on", "  ".join(urls(args.host, args.port, token)), flush=True)
    base = {k: v for k, v in os.environ.items() if k not in (ENV_TOKEN, ENV_READ_ONLY, ENV_ALLOW_DIRS)}
    return serve(argv, {**base, **env})
