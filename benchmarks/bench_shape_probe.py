"""Benchmark: in physics mode, does the model draw the shape the prompt asks for, in the asked colour?

Scenario (declared): each shape word (ball, square, triangle, ring) × four colours (red, blue, green,
purple) × `--seeds` seeds, one object moving left or right ("a purple square drifts leftward"), at the model's
native size, length and sampling, in physics mode through the backend. The shape-aware tracker
(`kinema.world.parser.track_objects`) finds the objects of the asked colour; a video passes when one of them
is seen in at least 90 % of the frames and the tracker reads it as the asked shape (a ball is a circle).

Side by side in the same run: every `--model` given (a folder; `name=folder` to label it; `folder#no-map`
for the same folder with `guide_trajectory` off per request), and the ceiling no model can pass: the
simulated scene rendered by the world renderer and passed through the first model's VAE (encode, posterior
mode, decode), read by the same tracker.

    python benchmarks/bench_shape_probe.py --seeds 2 models/kinema-world-v1 "models/kinema-world-v1#no-map"
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from kinema.backends import GenerationSpec, load_backend
from kinema.pipelines.pipeline_kinema import frames_to_tensor, tensor_to_frames
from kinema.world.parser import track_objects

SHAPES = (("ball", "circle"), ("square", "square"), ("triangle", "triangle"), ("ring", "ring"))
COLOURS = ("red", "blue", "green", "purple")
DIRECTIONS = ("drifts leftward", "moves to the right")


def cases(seeds: int) -> list[tuple[str, str, str, int]]:
    """(prompt, colour, shape, seed) for every shape × colour × seed; the direction alternates."""
    out = []
    for i, (word, shape) in enumerate(SHAPES):
        for j, colour in enumerate(COLOURS):
            direction = DIRECTIONS[(i + j) % 2]
            out += [(f"a {colour} {word} {direction}", colour, shape, seed) for seed in range(seeds)]
    return out


def passes(video: np.ndarray, colour: str, shape: str, fps: float) -> bool:
    found = track_objects(video, fps=fps).objects.values()
    return any(t.color == colour and t.visible.mean() >= 0.9 and t.shape == shape for t in found)


def truth_through_codec(folder: str, facts, todo: list[tuple[str, str, str, int]]) -> dict[str, int]:
    """Each prompt's simulated scene at the model's size, rendered and passed through the folder's VAE,
    read as the models' videos are (the seed does not change the simulated scene)."""
    from kinema.eval.codec import load_codec
    from kinema.world.grounding import plan_from_prompt, simulate_states
    from kinema.world.render import render_scene

    f = facts  # the model's native size, length and rate
    codec = load_codec(folder)
    hits: dict[str, int] = {}
    for prompt, colour, shape, _ in todo:
        plan = plan_from_prompt(prompt, width=f.width, height=f.height, num_frames=f.num_frames, fps=f.fps)
        frames, _ = render_scene(plan.spec, simulate_states(plan.spec))
        video = tensor_to_frames(codec.round_trip(frames_to_tensor(frames[None])))[0]
        hits[shape] = hits.get(shape, 0) + passes(video, colour, shape, f.fps)
    return hits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="model folders (name=folder; folder#no-map)")
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    todo = cases(args.seeds)
    columns: list[tuple[str, dict[str, int]]] = []
    first_facts = None
    for entry in args.models:
        name, _, path = entry.rpartition("=")
        path, _, flag = path.partition("#")
        options = {"guide_trajectory": False} if flag == "no-map" else {}
        backend = load_backend(path)
        first_facts = first_facts or backend.facts
        hits: dict[str, int] = {}
        for prompt, colour, shape, seed in todo:
            result = backend.generate(GenerationSpec(prompt=prompt, physics=True, seed=seed, **options))
            hits[shape] = hits.get(shape, 0) + passes(result.frames, colour, shape, result.fps)
        columns.append((name or entry, hits))
    first = args.models[0].rpartition("=")[2].partition("#")[0]
    columns.append((f"the truth through {first}'s codec", truth_through_codec(first, first_facts, todo)))

    per_shape = len(COLOURS) * args.seeds
    print(f"{len(todo)} physics-mode prompts ({per_shape} per shape); 1 thread")
    print("| shape | " + " | ".join(name for name, _ in columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for _, shape in SHAPES:
        print(f"| {shape} | " + " | ".join(f"{hits.get(shape, 0)}/{per_shape}" for _, hits in columns) + " |")
    print("| all | " + " | ".join(f"{sum(hits.values())}/{len(todo)}" for _, hits in columns) + " |")


if __name__ == "__main__":
    main()
