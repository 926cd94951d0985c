"""`kinema plan`: how a diffusers model fits a memory budget, worked out without loading a weight.

    kinema plan --model models/Wan2.1-T2V-1.3B-Diffusers --memory 8GB
    kinema plan --model models/Wan2.1-T2V-14B-Diffusers --memory 24GB --size 1280x720 --frames 81
    kinema plan --model ... --memory auto --device cuda        (the GPU's free memory)

Prints each component's parameters and the plans (as is, the one chosen, the smallest) with the expected
peak per phase; `kinema generate --memory 8GB` / `kinema serve --memory auto` apply the chosen one. Exits 1
with what is missing when no plan fits.
"""

from __future__ import annotations

import argparse
import sys

from kinema.errors import InvalidInputError


def register(subparsers: argparse._SubParsersAction, help_text: str) -> None:
    parser = subparsers.add_parser(
        "plan", help=help_text, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model", required=True, help="a diffusers model folder or hub id (org/name[@revision])"
    )
    parser.add_argument(
        "--memory",
        required=True,
        metavar="auto|SIZE",
        help="the budget, e.g. 24GB (auto: the device's free memory)",
    )
    parser.add_argument("--size", metavar="WxH", help="the request's size (default: the model's native)")
    parser.add_argument("--frames", type=int, help="the request's frame count (default: the model's native)")
    parser.add_argument("--device", default="cuda", help="the device planned for (default cuda; cpu: RAM)")
    parser.add_argument("--dtype", choices=("bf16", "fp16", "fp32"), help="default: bf16 (fp32 on cpu)")
    parser.set_defaults(func=run)


def parse_size(text: str | None) -> tuple[int | None, int | None]:
    if text is None:
        return None, None
    width, sep, height = text.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit() or int(width) < 1 or int(height) < 1:
        raise InvalidInputError(f"--size {text!r} must look like WIDTHxHEIGHT, e.g. 832x480.")
    return int(width), int(height)


def run(args: argparse.Namespace) -> int:
    from kinema.backends.memory import format_bytes, plan_for_folder

    width, height = parse_size(args.size)
    plan = plan_for_folder(args.model, args.memory, args.device, args.dtype, width, height, args.frames)
    print(plan.table())
    chosen = plan.chosen
    if chosen is None:
        print(f"no plan fits: {plan.missing()}", file=sys.stderr)
        return 1
    flags = " ".join(_flags(chosen.load_options())) or "(no options needed)"
    print(f"\nchosen: {chosen.describe()} - expected peak {format_bytes(chosen.peak)}; as flags: {flags}")
    return 0


def _flags(options: dict) -> list[str]:
    out = []
    if options.get("quantize"):
        out.append(f"--quantize {options['quantize']}")
    if options.get("offload"):
        out.append(f"--offload {options['offload']}")
    if options.get("offload_dir"):
        out.append(f"--offload-dir {options['offload_dir']}")
    if options.get("vae_tiling"):
        out.append("--vae-tiling")
    return out
