"""`kinema worker`: run a worker that takes jobs from a server's database (the loop is
kinema/serving/worker.py). Also `python -m kinema.commands.worker`, which `kinema serve` starts.

The options here are shared with `kinema serve` (argparse only: cheap to import, so `kinema --help` stays
fast); `settings_from_args` turns either command's options into `ServeSettings`.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kinema.serving.settings import ServeSettings
    from kinema.serving.worker import BackendPool


def register(subparsers: argparse._SubParsersAction, help_text: str) -> None:
    parser = subparsers.add_parser("worker", help=help_text, description=help_text)
    add_worker_arguments(parser)
    parser.set_defaults(func=run)


def add_worker_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database", help="SQLAlchemy URL of the job database (default: SQLite in --data-dir)"
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="folder for the SQLite database, uploads and outputs (with --storage s3://…: working copies)",
    )
    parser.add_argument(
        "--storage",
        help="where uploads and outputs live: file://DIR (default: the data dir) or s3://BUCKET[/PREFIX] "
        "(credentials from the environment as boto3 reads them; the endpoint from AWS_ENDPOINT_URL)",
    )
    parser.add_argument("--s3-endpoint-url", help="the S3 API's URL (default: AWS_ENDPOINT_URL or AWS)")
    parser.add_argument("--s3-region", help="the bucket's region (default: AWS_DEFAULT_REGION)")
    parser.add_argument(
        "--s3-presign-seconds",
        type=int,
        help="answer downloads with a redirect to a presigned bucket URL valid this long (default: stream)",
    )
    parser.add_argument("--models-dir", type=Path, help="folder of model folders (each with kinema.json)")
    parser.add_argument(
        "--model",
        action="append",
        type=Path,
        default=[],
        help="a model folder or Hugging Face Hub id org/name[@revision] (repeatable)",
    )
    parser.add_argument(
        "--models",
        dest="models_file",
        type=Path,
        metavar="FILE",
        help="a YAML file listing models (folders or hub ids), each with its settings (dtype, offload, ...)",
    )
    parser.add_argument("--default-model", help="model used when a request names none")
    parser.add_argument(
        "--backends",
        help="module:factory making a custom backend pool (default: kinema.backends.BackendCache)",
    )
    parser.add_argument(
        "--memory",
        metavar="auto|SIZE",
        help="plan each diffusers model's load options to fit this memory (auto: the device's free memory)",
    )
    parser.add_argument(
        "--quantize",
        metavar="KIND[:COMPONENT,...]",
        help="quantize diffusers models' weights: int8 | fp8 (torchao), nf4 | bnb-int8 (bitsandbytes, CUDA)",
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


def settings_from_args(args: argparse.Namespace, **extra: Any) -> ServeSettings:
    """The options of `kinema serve` / `kinema worker` (those given) over the settings' defaults."""
    from kinema.serving.settings import ServeSettings

    overrides: dict[str, Any] = dict(extra)
    for key in (
        "database",
        "data_dir",
        "storage",
        "s3_endpoint_url",
        "s3_region",
        "s3_presign_seconds",
        "models_dir",
        "models_file",
        "default_model",
        "lease_seconds",
        "heartbeat_seconds",
        "max_attempts",
        "c2pa_cert",
        "c2pa_key",
        "c2pa_sign",
        "visible_label",
    ):
        value = getattr(args, key, None)
        if value is not None:
            overrides[key] = value
    if getattr(args, "model", None):
        overrides["models"] = list(args.model)
    return ServeSettings(**overrides)


def load_backends(spec: str | None) -> BackendPool | None:
    """`--backends module:factory` → factory() (a custom pool, e.g. the tests' fake); None → None (the
    worker's own `BackendCache`, which loads each model with its models-file settings)."""
    if not spec:
        return None
    module_name, _, attr = spec.partition(":")
    factory = getattr(importlib.import_module(module_name), attr or "make_backends")
    return factory()


def run(args: argparse.Namespace) -> int:
    from kinema.serving.worker import build_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    load = {k: getattr(args, k, None) for k in ("memory", "quantize") if getattr(args, k, None)}
    worker = build_worker(settings_from_args(args), load_backends(getattr(args, "backends", None)), load)
    worker.parent_pid = getattr(args, "parent_pid", None)

    def stop(signum: int, frame: Any) -> None:
        worker.stop_event.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    worker.run_forever()
    worker.store.dispose()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kinema worker", description=(__doc__ or "").splitlines()[0])
    add_worker_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
