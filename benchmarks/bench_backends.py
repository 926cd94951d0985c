"""Benchmark: Kinema's diffusers backends against the same pipelines called directly through diffusers.

Declared scenario: tiny random-weight Wan 2.1 T2V and LTX-Video folders (`tests/backends/tiny_diffusers.py`:
the components the tests use, saved with `save_pretrained` and loaded back like a user's folder), fp32,
CPU, batch 1, text→video at `--size`² × `--frames` frames, `--steps` Euler steps, guidance on (Wan 5,
LTX 3: two transformer passes a step). In one process, for each model, the two callers alternate on the
same loaded pipeline, same seed:
  diffusers  pipe(prompt, height, width, num_frames, steps, guidance, generator, output_type="np")
  kinema     backend.generate(GenerationSpec(...)) → uint8 frames in memory (size rules, progress
             callback, uint8 conversion included)
Reported: median wall and process-CPU seconds per video over `--repeats` after one warm-up each, their
ratio Kinema / diffusers (target ≤ 1.03× wall), and whether the frames are identical (Kinema's uint8 vs
diffusers' float output rounded to uint8).

    python benchmarks/bench_backends.py                        # Markdown table
    python benchmarks/bench_backends.py --repeats 15 --size 96 --frames 17 --json backends.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "backends"))  # the tiny builders the tests use

import numpy as np  # noqa: E402
import torch  # noqa: E402


def build(kind: str, root: Path, size: int, frames: int, steps: int) -> Path:
    from tiny_diffusers import ltx_folder, wan_folder

    folder = wan_folder(root / "wan", "t2v") if kind == "wan" else ltx_folder(root / "ltx")
    defaults = {"width": size, "height": size, "num_frames": frames, "num_inference_steps": steps}
    fps = 16 if kind == "wan" else 24
    (folder / "kinema_defaults.json").write_text(json.dumps({**defaults, "fps": fps}))
    return folder


def timed(fn) -> tuple[float, float, object]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, out


def scenario(kind: str, folder: Path, repeats: int) -> dict:
    from kinema.backends import GenerationSpec, load_backend

    backend = load_backend(folder)
    f = backend.facts
    guidance = float(f.config["guidance_scale"])
    pipe = backend.pipeline("t2v")
    extra = {"frame_rate": f.fps} if kind == "ltx" else {}
    prompt, seed = "a red ball bounces off the floor", 0

    def direct():
        generator = torch.Generator("cpu").manual_seed(seed)
        return pipe(
            prompt=prompt,
            height=f.height,
            width=f.width,
            num_frames=f.num_frames,
            num_inference_steps=f.num_inference_steps,
            guidance_scale=guidance,
            generator=generator,
            output_type="np",
            **extra,
        ).frames[0]

    def kinema():
        return backend.generate(GenerationSpec(prompt=prompt, seed=seed, callback=lambda *a: None)).frames

    direct(), kinema()  # warm-up
    times: dict[str, list[tuple[float, float]]] = {"diffusers": [], "kinema": []}
    outs = {}
    for _ in range(repeats):  # alternate, so drift on a shared machine hits both alike
        for name, fn in (("diffusers", direct), ("kinema", kinema)):
            wall, cpu, outs[name] = timed(fn)
            times[name].append((wall, cpu))
    ours = outs["kinema"]
    theirs = (np.clip(outs["diffusers"], 0, 1) * 255).round().astype(np.uint8)
    med = {
        n: (statistics.median(w for w, _ in t), statistics.median(c for _, c in t)) for n, t in times.items()
    }
    return {
        "model": kind,
        "size": f"{f.width}x{f.height}x{f.num_frames}",
        "steps": f.num_inference_steps,
        "diffusers_wall_s": med["diffusers"][0],
        "kinema_wall_s": med["kinema"][0],
        "ratio_wall": med["kinema"][0] / med["diffusers"][0],
        "diffusers_cpu_s": med["diffusers"][1],
        "kinema_cpu_s": med["kinema"][1],
        "ratio_cpu": med["kinema"][1] / med["diffusers"][1],
        "identical": bool(ours.shape == theirs.shape and np.array_equal(ours, theirs)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", nargs="+", default=["wan", "ltx"], choices=["wan", "ltx"])
    parser.add_argument("--size", type=int, default=64, help="width = height (a multiple of 32)")
    parser.add_argument("--frames", type=int, default=17)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import diffusers

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.models:
            folder = build(kind, Path(tmp), args.size, args.frames, args.steps)
            rows.append(scenario(kind, folder, args.repeats))
    print(
        f"device: {platform.machine()} CPU, {args.threads} thread(s), torch {torch.__version__}, "
        f"diffusers {diffusers.__version__}, fp32, median of {args.repeats} after a warm-up"
    )
    print("| model | size | steps | diffusers s | kinema s | ratio (wall) | diffusers CPU s | kinema CPU s "
          "| ratio (CPU) | identical frames |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['model']} | {r['size']} | {r['steps']} | {r['diffusers_wall_s']:.3f} | {r['kinema_wall_s']:.3f} "
            f"| {r['ratio_wall']:.3f} | {r['diffusers_cpu_s']:.3f} | {r['kinema_cpu_s']:.3f} "
            f"| {r['ratio_cpu']:.3f} | {'yes' if r['identical'] else 'NO'} |"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0 if all(r["identical"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
