"""`kinema worker`: run a worker that takes jobs from a server's database (see kinema/serving/worker.py)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction, help_text: str) -> None:
    from kinema.serving.cli_args import add_worker_arguments

    parser = subparsers.add_parser("worker", help=help_text, description=help_text)
    add_worker_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kinema.serving.worker import run_worker

    return run_worker(args)
