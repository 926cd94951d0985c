"""`kinema world`: make physics-world datasets and parse videos into object tracks.

kinema world make --scenario collision --count 1000 --out data/collision --size 128x128 --seed 0
kinema world parse clip.mp4 [--shapes] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from kinema.errors import InvalidInputError

SCENARIO_CHOICES = ("uniform", "collision", "parabola", "general", "paper", "all")


def parse_size(text: str) -> tuple[int, int]:
    """'128x96' → (128, 96) (width x height)."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise InvalidInputError(f"--size must look like WIDTHxHEIGHT (e.g. 128x128), got {text!r}") from None
    if w < 8 or h < 8:
        raise InvalidInputError(f"--size must be at least 8x8, got {text}")
    return w, h


def parse_scenarios(text: str) -> tuple[str, ...]:
    """'collision', 'uniform,parabola', 'paper' (the three paper scenes) or 'all'."""
    out: list[str] = []
    for name in (t.strip() for t in text.split(",") if t.strip()):
        if name not in SCENARIO_CHOICES:
            raise InvalidInputError(f"unknown scenario {name!r}; choose from {', '.join(SCENARIO_CHOICES)}")
        if name == "paper":
            out += ["uniform", "collision", "parabola"]
        elif name == "all":
            out += ["uniform", "collision", "parabola", "general"]
        else:
            out.append(name)
    if not out:
        raise InvalidInputError("--scenario is empty; name at least one scenario")
    return tuple(dict.fromkeys(out))


def register(subparsers: argparse._SubParsersAction, help_text: str) -> None:
    parser = subparsers.add_parser(
        "world", help=help_text, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="world_command", metavar="ACTION")

    make = sub.add_parser("make", help="render clips to MP4 shards + JSONL (deterministic, resumable)")
    make.add_argument(
        "--scenario",
        default="paper",
        help="uniform, collision, parabola, general, paper or all (comma-separated)",
    )
    make.add_argument("--count", type=int, required=True, help="number of clips")
    make.add_argument("--out", required=True, help="output folder (rerun with the same options to resume)")
    make.add_argument("--size", default="128x128", help="WIDTHxHEIGHT in pixels (default 128x128)")
    make.add_argument("--seed", type=int, default=0)
    make.add_argument("--frames", type=int, default=32, help="frames per clip (default 32, the paper's)")
    make.add_argument("--fps", type=float, default=10.0, help="frames per second (default 10: 0.1 s steps)")
    make.add_argument("--split", choices=("id", "ood"), default="id", help="paper parameter ranges")
    make.add_argument("--camera-prob", type=float, default=0.0, help="chance of a moving camera per clip")
    make.add_argument("--texture-prob", type=float, default=0.0, help="chance of a textured background")
    make.add_argument("--shard-size", type=int, default=100, help="clips per shard folder")
    make.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    make.set_defaults(func=run_make)

    parse = sub.add_parser("parse", help="track the objects in a video (paper colour thresholds or shapes)")
    parse.add_argument("video", help="an MP4 file")
    parse.add_argument("--world-size", default="10x10", help="world width x height shown by the frame")
    parse.add_argument("--shapes", action="store_true", help="shape-aware tracking of every named colour")
    parse.add_argument("--json", action="store_true", help="print per-frame tracks as JSON")
    parse.set_defaults(func=run_parse)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def run_make(args: argparse.Namespace) -> int:
    from kinema.world.make import make_dataset

    captions = make_dataset(
        out=args.out,
        count=args.count,
        scenarios=parse_scenarios(args.scenario),
        size=parse_size(args.size),
        seed=args.seed,
        num_frames=args.frames,
        fps=args.fps,
        split=args.split,
        camera_prob=args.camera_prob,
        texture_prob=args.texture_prob,
        shard_size=args.shard_size,
        progress=not args.no_progress,
    )
    print(f"wrote {args.count} clips; index: {captions}")
    return 0


def run_parse(args: argparse.Namespace) -> int:
    from kinema.io.video import read_video
    from kinema.world.parser import parse_video, track_objects

    try:
        ww, wh = (float(v) for v in args.world_size.lower().split("x"))
    except ValueError:
        raise InvalidInputError(
            f"--world-size must look like WxH (e.g. 10x10), got {args.world_size!r}"
        ) from None
    frames, fps = read_video(args.video)
    tracks = (track_objects if args.shapes else parse_video)(frames, world_size=(ww, wh), fps=fps)
    if args.json:
        out = {
            name: {
                "shape": tr.shape,
                "visible": tr.visible.tolist(),
                "fully_visible": tr.fully_visible.tolist(),
                "centre_world": [None if np.isnan(p).any() else p.round(4).tolist() for p in tr.centre_world],
                "velocity_world": [
                    None if np.isnan(v).any() else v.round(4).tolist() for v in tr.velocity_world
                ],
                "radius_world": [None if np.isnan(r) else round(float(r), 4) for r in tr.radius_world],
            }
            for name, tr in tracks.objects.items()
        }
        json.dump(out, sys.stdout)
        print()
        return 0
    print(f"{args.video}: {tracks.num_frames} frames, {tracks.width}x{tracks.height}, {fps:g} fps")
    for name, tr in tracks.objects.items():
        seen = int(tr.visible.sum())
        speed = (
            np.nanmean(np.linalg.norm(tr.velocity_world, axis=-1))
            if np.isfinite(tr.velocity_world).any()
            else float("nan")
        )
        print(
            f"  {name}: seen in {seen}/{tracks.num_frames} frames, fully visible in {int(tr.fully_visible.sum())}, mean speed {speed:.3f} world units/s"
        )
    return 0
