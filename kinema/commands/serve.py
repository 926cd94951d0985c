"""`kinema serve`: the OpenAI-compatible video API, its web studio, and (by default) one worker process.

Auth policy: by default (`--auth auto`) a key is required as soon as one exists (`kinema keys create`);
with no keys the server serves everyone as one local tenant. `--no-auth` never asks; `--auth on` always does.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction, help_text: str) -> None:
    from kinema.serving.cli_args import add_worker_arguments

    parser = subparsers.add_parser("serve", help=help_text, description=__doc__)
    parser.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="port (default 8000)")
    parser.add_argument(
        "--workers", type=int, default=None, help="worker processes to start (default 1; 0 = API only)"
    )
    parser.add_argument(
        "--auth", choices=("auto", "on", "off"), default=None, help="API key policy (default auto)"
    )
    parser.add_argument(
        "--no-auth", dest="auth", action="store_const", const="off", help="same as --auth off"
    )
    add_worker_arguments(parser)
    parser.set_defaults(func=run)


def worker_command(args: argparse.Namespace, settings) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "kinema.serving.worker",
        "--parent-pid",
        str(os.getpid()),
        "--database",
        settings.database_url(),
        "--data-dir",
        str(settings.data_dir),
    ]
    if settings.models_dir is not None:
        cmd += ["--models-dir", str(settings.models_dir)]
    for path in settings.models:
        cmd += ["--model", str(path)]
    for flag, value in (
        ("--default-model", settings.default_model),
        ("--backends", getattr(args, "backends", None)),
        ("--lease-seconds", settings.lease_seconds),
        ("--heartbeat-seconds", settings.heartbeat_seconds),
        ("--max-attempts", settings.max_attempts),
    ):
        if value is not None:
            cmd += [flag, str(value)]
    return cmd


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from kinema.serving.app import create_app
    from kinema.serving.worker import settings_from_args

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    extra = {
        k: v
        for k, v in (("host", args.host), ("port", args.port), ("workers", args.workers), ("auth", args.auth))
        if v is not None
    }
    settings = settings_from_args(args, **extra)
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    app = create_app(settings)
    # uvicorn re-raises SIGTERM after its graceful shutdown; turn it into SystemExit so `finally` stops the
    # workers instead of the process dying with them orphaned.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    workers = [subprocess.Popen(worker_command(args, settings)) for _ in range(settings.workers)]
    try:
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="info")
    finally:
        for proc in workers:
            proc.terminate()
        for proc in workers:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    return 0
