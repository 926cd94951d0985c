"""Benchmark: which half of a codec loses an object's shape, the encoder or the decoder?

Scenario (declared): one static object (default purple, size 1.15 world units: the size the prompt reader gives
"a purple square") at the centre of a 64×64×9 clip on a plain background, rendered as a circle, a square and a
triangle, and as circles of nearby sizes. Each goes through the model folder's VAE (encode, posterior mode).
Printed side by side: the shape the tracker reads on the truth and on the round trip; the latent distance
(relative to the square's latent norm) from the square to circles of the same and nearby areas, beside the
distance between two circles whose radii differ by 0.05; and what the decoder draws for latents pushed from the
circle's towards the square's and past it. A square whose latent sits among the circles' lost its corners in
the encoder; one whose latent stands apart but decodes round lost them in the decoder.

    python benchmarks/bench_codec_shape_latents.py --model models/kinema-world-v1
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from kinema.eval.codec import vae_folder
from kinema.models import AutoencoderKinema
from kinema.pipelines.pipeline_kinema import frames_to_tensor, tensor_to_frames
from kinema.world.parser import track_objects
from kinema.world.render import render_scene
from kinema.world.spec import ObjectSpec, SceneSpec


def render(shape: str, size: float, color: str) -> np.ndarray:
    spec = SceneSpec(
        objects=[ObjectSpec(shape=shape, color=color, size=size, position=(5.0, 5.0))],
        width=64,
        height=64,
        num_frames=9,
    )
    states = np.zeros((9, 1, 6))
    states[:, 0, :2] = (5.0, 5.0)
    return render_scene(spec, states)[0]  # (9, 64, 64, 3) uint8


def shapes_read(frames: np.ndarray) -> list[str]:
    return [str(t.shape) for t in track_objects(frames).objects.values() if t.visible.mean() > 0.5]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/kinema-world-v1", help="a model folder or its VAE folder")
    parser.add_argument("--color", default="purple")
    parser.add_argument("--size", type=float, default=1.15, help="the square's size in world units")
    args = parser.parse_args()
    torch.set_num_threads(1)
    vae = AutoencoderKinema.from_pretrained(vae_folder(Path(args.model))).eval()

    @torch.no_grad()
    def encode(frames: np.ndarray) -> torch.Tensor:
        return vae.encode(frames_to_tensor(frames[None])).mode()

    @torch.no_grad()
    def decode(z: torch.Tensor) -> np.ndarray:
        return tensor_to_frames(vae.decode(z))[0]

    print(f"model {args.model}; a static {args.color} object of size {args.size} at 64x64x9")
    print("| object | truth read as | round trip read as |")
    print("|---|---|---|")
    latents = {}
    for shape in ("circle", "square", "triangle"):
        frames = render(shape, args.size, args.color)
        latents[shape] = encode(frames)
        print(f"| {shape} | {shapes_read(frames)} | {shapes_read(decode(latents[shape]))} |")

    square = latents["square"]
    equal_area = args.size * float(np.sqrt(2 / np.pi))  # a circle with the square's area
    print("\n| latents compared | distance ÷ the square's norm |")
    print("|---|---|")
    for size in (equal_area - 0.07, equal_area, equal_area + 0.08):
        circle = encode(render("circle", size, args.color))
        print(
            f"| square {args.size:g} and circle {size:.2f} | {float((circle - square).norm() / square.norm()):.3f} |"
        )
    a, b = (encode(render("circle", s, args.color)) for s in (equal_area, equal_area + 0.05))
    print(
        f"| circle {equal_area:.2f} and circle {equal_area + 0.05:.2f} | {float((a - b).norm() / square.norm()):.3f} |"
    )

    print("\n| latent decoded | read as |")
    print("|---|---|")
    circle = latents["circle"]
    for alpha in (1.0, 1.5, 2.0, 3.0):
        z = circle + alpha * (square - circle)
        print(f"| circle + {alpha:g} × (square − circle) | {shapes_read(decode(z))} |")


if __name__ == "__main__":
    main()
