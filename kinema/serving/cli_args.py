"""Command-line options shared by `kinema serve` and `kinema worker` (argparse only: cheap to import, so
`kinema --help` stays fast)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_worker_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database", help="SQLAlchemy URL of the job database (default: SQLite in --data-dir)"
    )
    parser.add_argument("--data-dir", type=Path, help="folder for the SQLite database, uploads and outputs")
    parser.add_argument("--models-dir", type=Path, help="folder of model folders (each with kinema.json)")
    parser.add_argument("--model", action="append", type=Path, default=[], help="a model folder (repeatable)")
    parser.add_argument("--default-model", help="model used when a request names none")
    parser.add_argument(
        "--backends",
        help="module:factory making a custom backend pool (default: kinema.backends.BackendCache)",
    )
    parser.add_argument(
        "--lease-seconds", type=float, help="how long a job stays claimed without a heartbeat"
    )
    parser.add_argument("--heartbeat-seconds", type=float, help="how often a running job renews its lease")
    parser.add_argument("--max-attempts", type=int, help="claims per job before it fails as worker_lost")
    parser.add_argument("--c2pa-cert", type=Path, help="your C2PA signing certificate chain (PEM)")
    parser.add_argument("--c2pa-key", type=Path, help="its private key (PEM)")
    parser.add_argument(
        "--no-c2pa", dest="c2pa_sign", action="store_false", default=None, help="do not sign outputs"
    )
    parser.add_argument(
        "--no-visible-label",
        dest="visible_label",
        action="store_false",
        default=None,
        help='do not burn the visible "AI生成 / AI-generated" mark into outputs',
    )
    parser.add_argument(
        "--parent-pid", type=int, help=argparse.SUPPRESS
    )  # set by `kinema serve`: exit with it
