"""Benchmark: does the model draw the prompt's object and move it the prompt's way, at each aspect ratio?

Scenario (declared): four single-object prompts (red ball → right, blue square → left, green ball → up,
purple ball → down) × `--seeds` seeds × each `--aspects` bucket (the sizes `--aspect` asks for at the
model's native area: 64x64, 80x48, 48x80 for kinema-world), the model's native length and sampling, through
the backend, plain and (with `--physics`) physics mode. The shape-aware tracker (`kinema.world.parser
.track_objects`) finds the object of the prompt's colour; a video passes when that object is found in at
least half of the frames and its fitted velocity along the asked axis is > 0.3 px/frame the asked way.

    python benchmarks/bench_direction_probe.py --model models/kinema-world --seeds 4 --physics
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from kinema.backends import GenerationSpec, load_backend
from kinema.world.parser import track_objects

PROBES = (
    ("a red ball moves to the right", "red", (1, 0)),
    ("a blue square moves to the left", "blue", (-1, 0)),
    ("a green ball moves upward", "green", (0, -1)),  # pixel y grows downward
    ("a purple ball moves downward", "purple", (0, 1)),
)


def passes(video: np.ndarray, color: str, direction: tuple[int, int], fps: float) -> bool:
    best = track_objects(video, fps=fps, colors=(color,)).most_seen()
    if best is None or best.visible.mean() < 0.5:
        return False
    axis = 0 if direction[0] else 1
    return best.drift_px(axis) * (direction[0] or direction[1]) > 0.3  # px per frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/kinema-world")
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--aspects", default="1:1,16:9,9:16")
    parser.add_argument("--physics", action="store_true", help="also measure physics mode")
    args = parser.parse_args()
    torch.set_num_threads(1)
    backend = load_backend(args.model)
    modes = [("plain", False)] + ([("physics", True)] if args.physics else [])
    print(f"model {args.model}; {len(PROBES)} prompts x {args.seeds} seeds per cell; 1 thread")
    print("| aspect | size | " + " | ".join(m for m, _ in modes) + " |")
    print("|---|---|" + "---:|" * len(modes))
    for aspect in args.aspects.split(","):
        cells, size = [], ""
        for _, physics in modes:
            ok = 0
            for prompt, color, direction in PROBES:
                for seed in range(args.seeds):
                    spec = GenerationSpec(prompt=prompt, aspect_ratio=aspect, seed=seed, physics=physics)
                    result = backend.generate(spec)
                    size = f"{result.width}x{result.height}"
                    ok += passes(result.frames, color, direction, result.fps)
            cells.append(f"{ok}/{len(PROBES) * args.seeds}")
        print(f"| {aspect} | {size} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
