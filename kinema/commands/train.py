"""`kinema train vae|dit --config configs/<recipe>.yaml [--set key=value ...]`.

Runs as one process with `python`/`kinema`, or as many under torchrun:
    torchrun --nproc-per-node 8 -m kinema.cli train dit --config configs/world_dit_small.yaml
A rerun with the same run directory continues from its latest checkpoint.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from kinema.errors import InvalidInputError


def register(subparsers: argparse._SubParsersAction, help_text: str) -> None:
    parser = subparsers.add_parser(
        "train",
        help=help_text,
        description="Train a VAE (first) or a DiT (on the frozen VAE) from a recipe in configs/.",
    )
    parser.add_argument("kind", choices=["vae", "dit"], help="what to train")
    parser.add_argument("--config", "-c", help="recipe file (YAML/JSON), e.g. configs/world_dit_small.yaml")
    parser.add_argument(
        "--set",
        dest="overrides",
        nargs="+",
        action="extend",
        default=[],
        metavar="KEY=VALUE",
        help="override recipe values, e.g. --set optim.lr=1e-4 train.steps=100",
    )
    parser.add_argument("--run-dir", help="where checkpoints, logs and the export go (= train.run_dir)")
    parser.add_argument("--fresh", action="store_true", help="do not resume from the run dir's checkpoints")
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    parser.add_argument(
        "--export-step",
        metavar="STEP|latest",
        help="export the run dir's checkpoint of this step (or the latest) as a model folder, without "
        "training; the config defaults to the one the checkpoint was trained with",
    )
    parser.add_argument(
        "--out", help="with --export-step: where the model folder goes (default <run dir>/export_step<N>)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kinema.training.config import load_config

    overrides = list(args.overrides)
    if args.run_dir:
        overrides.append(f"train.run_dir={args.run_dir}")
    if args.fresh:
        overrides.append("train.resume=never")
    if args.export_step is not None:
        return _export_step(args, overrides)
    if args.out:
        raise InvalidInputError("--out goes with --export-step; a training run exports to export.dir")
    if args.config is None or "kind" not in _read_keys(args.config):
        overrides.insert(0, f"kind={args.kind}")  # a recipe without `kind` takes the command's
    cfg = load_config(args.config, overrides)
    if cfg.kind != args.kind:
        raise InvalidInputError(
            f"{args.config or 'the config'} is a {cfg.kind!r} recipe but you ran `kinema train {args.kind}`; "
            f"run `kinema train {cfg.kind}` or pick a {args.kind} recipe"
        )
    if args.print_config:
        sys.stdout.write(cfg.to_yaml())
        return 0
    from kinema.training.runner import run_training

    _, out = run_training(cfg)
    if out is not None and os.environ.get("RANK", "0") == "0":
        print(f"model written to {out}")
    return 0


def _export_step(args: argparse.Namespace, overrides: list[str]) -> int:
    from kinema.training.config import load_config
    from kinema.training.runner import export_checkpoint, find_checkpoint

    if not args.run_dir:
        raise InvalidInputError("--export-step needs the run's directory: --run-dir runs/<name>")
    step = None if args.export_step == "latest" else _step(args.export_step)
    number, path = find_checkpoint(args.run_dir, step)
    cfg = load_config(args.config or str(path / "config.yaml"), overrides)
    if cfg.kind != args.kind:
        raise InvalidInputError(
            f"{path} is a {cfg.kind!r} run; run `kinema train {cfg.kind} --export-step …`"
        )
    out = export_checkpoint(cfg, path, args.out or Path(args.run_dir) / f"export_step{number}")
    print(f"model written to {out} (step {number})")
    return 0


def _step(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InvalidInputError(f"--export-step takes a step number or 'latest', not {text!r}") from None


def _read_keys(path: str) -> set[str]:
    import yaml

    try:
        with open(path) as f:
            data = yaml.safe_load(f)
    except (OSError, yaml.YAMLError):
        return set()  # load_config reports the problem with the file
    return set(data) if isinstance(data, dict) else set()
