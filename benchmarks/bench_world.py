"""Benchmark: the physics world — parser floor beside the seed paper's, and clip throughput.

Scenarios (declared here, printed with the tables):

1. Parser floor (arXiv 2411.02385 protocol). Ground-truth renders of `--clips` ID clips per paper scene
   (closed form, 32 frames at 0.1 s, 10 x 10 world) at 128x128 and 64x64, uint8 like a decoded video. The
   paper parser (colour thresholds, centre = mask mean) tracks each ball; velocity by finite differences.
   Error = mean |v − v̂| (Euclidean, world units / s) over balls and frames where the ball is fully visible
   (in the truth and to the parser) and, for collisions, only after the collision (the difference at the
   contact frame straddles it). Peer column: the paper's floor .0099 / .0117 / .0210. A second column per
   size uses the parser's `centre="soft"` (colour-weighted sub-pixel centre) instead of the mask mean.
2. Throughput, clips per second (32 frames unless said):
   closed form = sample + simulate + render a batch of `--batch` clips to float (B, T, H, W, 3);
   pymunk = `simulate()` of general scenes (1-4 mixed shapes, walls, gravity), then the same renderer;
   dataset = `WorldClipDataset` items (the training path: video, caption, camera, tracks, spec) at 64x64,
   17 frames; beside a DiT-S training step (forward + backward, batch `--batch`, same clip shape after the
   default VAE: latent 16 x 5 x 8 x 8) — the rate at which training consumes clips on this CPU.

The machine is shared, so throughputs are lower bounds.

    python benchmarks/bench_world.py                  # prints Markdown tables
    python benchmarks/bench_world.py --clips 16 --threads 1 --csv out.csv
"""

from __future__ import annotations

import argparse
import csv
import platform
import time

import numpy as np
import torch

from kinema.world import paper
from kinema.world.dataset import WorldClipDataset, WorldDataConfig, plan_clip
from kinema.world.parser import parse_video
from kinema.world.render import render_batch, specs_to_tensors, to_uint8
from kinema.world.simulate import simulate

PAPER_FLOOR = {"uniform": 0.0099, "collision": 0.0117, "parabola": 0.0210}


def parser_floor(
    scenario: str, size: int, clips: int, seed: int = 0, centre: str = "mask"
) -> tuple[float, int]:
    """(mean velocity error, number of ball-frames scored)."""
    p = paper.sample_paper_params(scenario, "id", clips, generator=seed)
    states = paper.simulate_paper(p)  # (n, T, K, 6)
    errors = []
    for start in range(0, clips, 8):
        frames = to_uint8(
            paper.render_paper(states[start : start + 8], p.radius[start : start + 8], size, size)
        )
        for j, video in enumerate(frames):
            i = start + j
            tracks = parse_video(video, world_size=paper.WORLD_SIZE, fps=1 / paper.DT, centre=centre)
            t = np.arange(states.shape[1]) * paper.DT
            for k, color in enumerate(("red", "blue")[: states.shape[2]]):
                x, y = states[i, :, k, 0], states[i, :, k, 1]
                r = p.radius[i, k]
                inside = (x - r >= 0) & (x + r <= 10) & (y - r >= 0) & (y + r <= 10)
                ok = inside & tracks[color].fully_visible & np.isfinite(tracks[color].velocity_world).all(-1)
                if scenario == "collision":
                    ok &= (
                        t - paper.DT > p.collision_time[i]
                    )  # the backward neighbour is after the contact too
                err = np.linalg.norm(tracks[color].velocity_world[ok] - states[i, ok, k, 2:4], axis=-1)
                errors.append(err)
    errors = np.concatenate(errors)
    return float(errors.mean()), int(errors.size)


def closed_form_rate(size: int, batch: int, repeats: int) -> float:
    paper.render_paper(*_paper_batch(2), size, size)  # warm-up
    t0 = time.perf_counter()
    for r in range(repeats):
        states, radius = _paper_batch(batch, seed=r)
        paper.render_paper(states, radius, size, size)
    return batch * repeats / (time.perf_counter() - t0)


def _paper_batch(n: int, seed: int = 0):
    p = paper.sample_paper_params("collision", "id", n, generator=seed)
    return paper.simulate_paper(p), p.radius


def pymunk_rates(size: int, clips: int) -> tuple[float, float]:
    """(simulate-only clips/s, simulate + render clips/s) for general scenes of 32 frames."""
    cfg = WorldDataConfig(scenarios=("general",), width=size, height=size, num_frames=32, fps=10.0)
    plans = [plan_clip(i, cfg) for i in range(2)]  # warm-up
    specs = [plan_clip(i, cfg).spec for i in range(clips)]
    t0 = time.perf_counter()
    states = [simulate(s).states for s in specs]
    sim = time.perf_counter() - t0
    t0 = time.perf_counter()
    for start in range(0, clips, 8):
        inputs = specs_to_tensors(specs[start : start + 8], states[start : start + 8])
        render_batch(**inputs, width=size, height=size)
    ren = time.perf_counter() - t0
    del plans
    return clips / sim, clips / (sim + ren)


def dataset_rate(clips: int, **options) -> float:
    ds = WorldClipDataset(size=(64, 64), num_frames=17, num_clips=clips, **options)
    next(iter(WorldClipDataset(size=(64, 64), num_frames=17, num_clips=1, **options)))  # warm-up
    t0 = time.perf_counter()
    n = sum(1 for _ in ds)
    return n / (time.perf_counter() - t0)


def dit_s_rate(batch: int, repeats: int = 3) -> float | None:
    """Clips per second a DiT-S training step consumes (forward + backward, fp32) on this CPU."""
    try:
        from kinema.models import KinemaTransformer3DModel, transformer_config
    except ImportError:
        return None
    model = KinemaTransformer3DModel(**transformer_config("S"))
    x = torch.randn(batch, 16, 5, 8, 8)
    text = torch.randn(batch, 8, 384)
    t = torch.full((batch,), 500.0)
    model(x, t, text).square().mean().backward()  # warm-up
    t0 = time.perf_counter()
    for _ in range(repeats):
        model.zero_grad()
        model(x, t, text).square().mean().backward()
    return batch * repeats / (time.perf_counter() - t0)


def _table(title: str, rows: list[dict]) -> None:
    print(f"\n{title}\n")
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for row in rows:
        print("| " + " | ".join(str(row[k]) for k in keys) + " |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=64, help="clips per paper scene for the parser floor")
    parser.add_argument("--batch", type=int, default=16, help="clips per batched render / per DiT step")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--skip-dit", action="store_true", help="do not time the DiT-S step")
    parser.add_argument("--skip-floor", action="store_true", help="only the throughput table")
    parser.add_argument("--csv", default=None, help="also write all rows to this CSV file")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"\nkinema.world on {platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads (shared machine: throughputs are lower bounds)"
    )

    floor_rows = []
    for scenario in paper.SCENARIOS if not args.skip_floor else ():
        row = {"scene": scenario, "paper floor": PAPER_FLOOR[scenario]}
        for size in (128, 64):
            err, n = parser_floor(scenario, size, args.clips)
            row[f"kinema {size}x{size} (mask)"] = round(err, 4)
            row[f"{size}x{size} soft centre"] = round(
                parser_floor(scenario, size, args.clips, centre="soft")[0], 4
            )
            row[f"ball-frames {size}"] = n
        floor_rows.append(row)
    if floor_rows:
        _table(f"Parser floor: mean |v - v̂| (world units/s), {args.clips} ID clips per scene", floor_rows)

    rate_rows = []
    for size in (64, 128):
        rate = closed_form_rate(size, args.batch, args.repeats)
        rate_rows.append(
            {"path": f"closed form (collision), {size}x{size}, 32 frames", "clips/s": round(rate, 1)}
        )
    sim, both = pymunk_rates(64, max(8, args.batch))
    rate_rows.append({"path": "pymunk simulate only (general), 32 frames", "clips/s": round(sim, 1)})
    rate_rows.append(
        {"path": "pymunk simulate + render (general), 64x64, 32 frames", "clips/s": round(both, 1)}
    )
    rate_rows.append(
        {
            "path": "WorldClipDataset paper mix, 64x64, 17 frames",
            "clips/s": round(dataset_rate(4 * args.batch, scenarios=paper.SCENARIOS), 1),
        }
    )
    rate_rows.append(
        {
            "path": "WorldClipDataset all scenes + camera 0.5 + texture 0.5, 64x64, 17 frames",
            "clips/s": round(dataset_rate(4 * args.batch, camera_prob=0.5, texture_prob=0.5), 1),
        }
    )
    if not args.skip_dit:
        rate = dit_s_rate(args.batch)
        if rate is not None:
            rate_rows.append(
                {
                    "path": f"DiT-S training step consumes (batch {args.batch}, 64x64x17)",
                    "clips/s": round(rate, 1),
                }
            )
    _table("Throughput (one process)", rate_rows)

    if args.csv:
        with open(args.csv, "w", newline="") as fh:
            writer = csv.writer(fh)
            for rows in (r for r in (floor_rows, rate_rows) if r):
                writer.writerow(list(rows[0]))
                writer.writerows([list(r.values()) for r in rows])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
