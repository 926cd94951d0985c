"""`kinema pull ID`: download a model (or a LoRA) from the Hugging Face Hub into its cache, ahead of time,
exactly as `kinema generate --model ID` / `kinema serve --model ID` would fetch it — only the components the
pipeline loads, in one format and precision variant (`--dtype bf16` takes the bf16 files where the repo has
them) — so a machine without a network can use the cache afterwards (copy it, or share HF_HOME).

    kinema pull Wan-AI/Wan2.1-T2V-1.3B-Diffusers
    kinema pull Lightricks/LTX-Video@main --dtype bf16
    kinema pull some-org/style-lora --lora

The token comes from HF_TOKEN or `hf auth login`; the cache is HF_HUB_CACHE, else HF_HOME/hub.
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction, help_text: str) -> None:
    parser = subparsers.add_parser(
        "pull", help=help_text, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("id", help="a Hugging Face Hub id, org/name[@revision]")
    parser.add_argument(
        "--dtype",
        choices=("bf16", "fp16", "fp32"),
        help="take this precision's variant files where there are",
    )
    parser.add_argument("--lora", action="store_true", help="a LoRA repo: its .safetensors and .json files")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kinema.backends.hub import LORA_PATTERNS, pull

    source = pull(args.id, args.dtype, patterns=LORA_PATTERNS if args.lora else None)
    print(f"{source.hub} is at {source.path} (commit {source.commit})")
    return 0
