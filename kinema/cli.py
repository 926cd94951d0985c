"""The `kinema` command line: one subcommand per job, each defined in `kinema/commands/<name>.py`.

Every command module exposes `register(subparsers, help_text)`, which adds its parser and sets
`func(args) -> int`.
A command whose module is not built yet still shows in `kinema --help` and says so when run.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from kinema import __version__
from kinema.errors import KinemaError

# name -> one-line help; order is the order of `kinema --help`.
COMMANDS: dict[str, str] = {
    "generate": "generate a video (text, image, keyframes, extend, remix, camera, trajectories)",
    "train": "train a VAE or a DiT (runs under torchrun for many GPUs)",
    "plan": "show how a diffusers model fits a memory budget (no weights loaded)",
    "serve": "run the OpenAI-compatible video API with a worker and the web studio",
    "worker": "run a worker that takes jobs from a server's database",
    "keys": "create and list API keys for `kinema serve`",
    "eval": "measure a model: physical-law benchmark, prompt adherence, camera accuracy",
    "world": "make physics-world videos with captions and ground truth",
    "bench": "run the declared benchmark scenarios",
    "pull": "download a model or LoRA from the Hugging Face Hub into its cache, for offline use",
    "inspect": "show a file's AIGC label and C2PA content credential, and whether its signature validates",
}


def _not_available(name: str):
    def run(args: argparse.Namespace) -> int:
        print(f"kinema {name}: not available yet in this version of Kinema.", file=sys.stderr)
        return 2

    return run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kinema", description="Kinema: open, self-hostable video generation."
    )
    parser.add_argument("--version", action="version", version=f"kinema {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        try:
            module = importlib.import_module(f"kinema.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"kinema.commands.{name}":
                raise
            sub = subparsers.add_parser(name, help=f"{help_text} (not available yet)")
            sub.set_defaults(func=_not_available(name))
            continue
        module.register(subparsers, help_text)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KinemaError as exc:
        print(f"kinema {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"kinema {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
