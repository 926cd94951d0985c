"""`kinema serve`: the OpenAI-compatible video API, its web studio, and (by default) one worker process.

Auth policy: by default (`--auth auto`) a key is required as soon as one was ever created (`kinema keys
create`; revoking every key leaves the server closed); until then the server serves everyone as one local
tenant. `--no-auth` never asks; `--auth on` always does.

Workers are supervised: one that dies is logged and restarted with back-off (kinema/serving/supervisor.py),
and its job returns to the queue when its lease expires.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction, help_text: str) -> None:
    from kinema.commands.worker import add_worker_arguments

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
    parser.add_argument(
        "--cors-origin",
        action="append",
        default=None,
        dest="cors_origins",
        help="a web origin allowed to call the API from a browser (repeatable; default: none but the studio)",
    )
    parser.add_argument(
        "--allowed-host",
        action="append",
        default=None,
        dest="allowed_hosts",
        help="a name clients use to reach this server besides localhost and IP addresses (repeatable; "
        "e.g. kinema.example.com or *.example.com); requests naming any other Host are refused",
    )
    parser.add_argument(
        "--webhook-allow-host",
        action="append",
        default=None,
        dest="webhook_allowed_hosts",
        help="a host, address or CIDR that webhooks may reach although private (repeatable; e.g. 127.0.0.1)",
    )
    parser.add_argument(
        "--metrics-key",
        default=None,
        help="serve /metrics only to `Authorization: Bearer KEY` (default: open)",
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="serve /metrics on this port of --metrics-host instead of the public port",
    )
    parser.add_argument("--metrics-host", default=None, help="address of --metrics-port (default 127.0.0.1)")
    add_worker_arguments(parser)
    parser.set_defaults(func=run)


def worker_command(args: argparse.Namespace, settings) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "kinema.commands.worker",
        "--parent-pid",
        str(os.getpid()),
        "--database",
        settings.database_url(),
        "--data-dir",
        str(settings.data_dir),
    ]
    if settings.models_dir is not None:
        cmd += ["--models-dir", str(settings.models_dir)]
    if settings.models_file is not None:
        cmd += ["--models", str(settings.models_file)]
    for path in settings.models:
        cmd += ["--model", str(path)]
    for flag, value in (
        ("--storage", settings.storage),
        ("--s3-endpoint-url", settings.s3_endpoint_url),
        ("--s3-region", settings.s3_region),
        ("--s3-presign-seconds", settings.s3_presign_seconds),
        ("--default-model", settings.default_model),
        ("--backends", getattr(args, "backends", None)),
        ("--memory", getattr(args, "memory", None)),
        ("--quantize", getattr(args, "quantize", None)),
        ("--lease-seconds", settings.lease_seconds),
        ("--heartbeat-seconds", settings.heartbeat_seconds),
        ("--max-attempts", settings.max_attempts),
        ("--c2pa-cert", settings.c2pa_cert),
        ("--c2pa-key", settings.c2pa_key),
    ):
        if value is not None:
            cmd += [flag, str(value)]
    cmd += [] if settings.c2pa_sign else ["--no-c2pa"]
    cmd += [] if settings.visible_label else ["--no-visible-label"]
    return cmd


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from kinema.commands.worker import settings_from_args
    from kinema.serving.app import create_app
    from kinema.serving.settings import signing_identity
    from kinema.serving.supervisor import Supervisor

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    extra = {
        k: v
        for k, v in (
            ("host", args.host),
            ("port", args.port),
            ("workers", args.workers),
            ("auth", args.auth),
            ("cors_origins", getattr(args, "cors_origins", None)),
            ("allowed_hosts", getattr(args, "allowed_hosts", None)),
            ("webhook_allowed_hosts", getattr(args, "webhook_allowed_hosts", None)),
            ("metrics_key", getattr(args, "metrics_key", None)),
            ("metrics_port", getattr(args, "metrics_port", None)),
            ("metrics_host", getattr(args, "metrics_host", None)),
        )
        if v is not None
    }
    settings = settings_from_args(args, **extra)
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    signing_identity(settings)  # a missing or unreadable certificate stops start-up, not the first job
    app = create_app(settings)
    # uvicorn re-raises SIGTERM after its graceful shutdown; turn it into SystemExit so `finally` stops the
    # workers instead of the process dying with them orphaned.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    supervisor = Supervisor(worker_command(args, settings), settings.workers).start()
    app.state.supervisor = supervisor
    try:
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="info")
    finally:
        supervisor.stop()
    return 0
