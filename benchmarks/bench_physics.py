"""Benchmark: physics-grounded text→video on the shipped model, beside plain text→video, on one thread.

Scenario (declared): `models/kinema-world` (or --model), its native 64x64x33 at 10 fps (3.2 s of motion),
its default sampling, batch 1, fp32, `torch.set_num_threads(1)`. Three rows, each the median of
`--repeats` calls after one warm-up, timed end to end through the backend (`GenerationSpec` →
`KinemaBackend.generate`, in memory): plain t2v; physics t2v (prompt parse + simulation + trajectory map,
then the same sampler); physics with `--candidates` videos drawn in one batch and scored against the
simulation. Reported: seconds, real-time factor (seconds of video per second of compute, as the README counts it;
≥ 1 = faster than real time) and the cost of physics mode relative to plain.

    python benchmarks/bench_physics.py --repeats 3 --candidates 4
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from kinema.backends import GenerationSpec, load_backend
from kinema.pipelines.model_config import default_model_path

PROMPT = "a red ball is thrown to the right and bounces twice"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--candidates", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(1)
    backend = load_backend(args.model or default_model_path())
    f = backend.facts
    seconds_of_video = f.num_frames / f.fps  # as the README counts it (33 frames at 10 fps = 3.3 s)
    rows = [
        ("plain t2v", {}),
        ("physics t2v", {"physics": True}),
        (
            f"physics t2v, {args.candidates} candidates",
            {"physics": True, "physics_candidates": args.candidates},
        ),
    ]
    print(
        f"model {f.name}, {f.width}x{f.height}x{f.num_frames} at {f.fps:g} fps, 1 thread, fp32, prompt {PROMPT!r}"
    )
    print("| mode | s per video | real-time factor | vs plain |\n|---|---:|---:|---:|")
    base = None
    for name, extra in rows:

        def spec(extra=extra):
            return GenerationSpec(prompt=PROMPT, seed=0, **extra)

        backend.generate(spec())  # warm-up
        times = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            backend.generate(spec())
            times.append(time.perf_counter() - t)
        s = statistics.median(times)
        base = base or s
        print(f"| {name} | {s:.2f} | {seconds_of_video / s:.2f} | {s / base:.2f}x |")


if __name__ == "__main__":
    main()
