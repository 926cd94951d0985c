"""Benchmark: every generation mode on the tiny random model, on this CPU; peak memory of a long extension.

Scenarios (declared here, printed with the tables):
1. Speed per mode: the `tiny` random model folder (`create_random_model_folder`, 32x32 px, 9 frames at
   8 fps = 1.125 s, its defaults: 2 Euler steps, guidance 3 → one batched [prompt; negative] forward per
   step), batch 1, fp32. Each mode is timed end to end (text encoding, conditions, denoising, chunked decode)
   as the median of `--repeats` calls after one warm-up; reported as seconds of compute per second of
   generated video (t2i: per image) — the real-time factor (< 1 = faster than real time).
2. Memory of extension: a fresh process per length loads the model, then extends a 5 s clip by 5 s and by
   `--extend-minutes` minutes (3 by default, Kling's maximum), streamed to an MP4. Reported: peak RSS
   (`ru_maxrss`) after loading and at the end, and its growth. Flat memory = the long run's growth is
   about the short run's.

    python benchmarks/bench_pipelines.py                     # both tables (the 3-minute run takes minutes)
    python benchmarks/bench_pipelines.py --skip-long --repeats 5
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

MODES = ("t2v", "t2i", "i2v", "keyframes", "extend", "v2v")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def source_clip(num_frames: int, size: int = 32) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size]
    return np.stack(
        [
            np.stack([(x * 7 + i * 5) % 256, (y * 5 + i * 3) % 256, (x + y) % 256], -1)
            for i in range(num_frames)
        ]
    ).astype(np.uint8)  # (T, H, W, 3)


def run_mode(pipes, mode: str, clip: np.ndarray):
    pipe = pipes[mode]
    prompt = "a red ball bounces off the floor"
    if mode in ("t2v", "t2i"):
        return pipe(prompt, seed=0)
    if mode == "i2v":
        return pipe(clip[0], prompt, seed=0)
    if mode == "keyframes":
        return pipe(clip[0], clip[-1], prompt, seed=0)
    if mode == "v2v":
        return pipe(clip, prompt, strength=0.7, seed=0)
    return pipe(clip, prompt, num_frames=pipe.config.num_frames - 1, include_source=False, seed=0)


def speed_table(model_dir: Path, repeats: int) -> list[dict]:
    from kinema.pipelines.loading import load_pipeline

    base = load_pipeline("t2v", model_dir)
    pipes = {mode: load_pipeline(mode, base) for mode in MODES}
    clip = source_clip(base.config.num_frames)
    rows = []
    for mode in MODES:
        out = run_mode(pipes, mode, clip)  # warm-up
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            out = run_mode(pipes, mode, clip)
            times.append(time.perf_counter() - t0)
        seconds = statistics.median(times)
        frames = out.frames.shape[1]
        video_seconds = frames / out.fps
        rows.append(
            {
                "mode": mode,
                "frames": frames,
                "size": f"{out.frames.shape[3]}x{out.frames.shape[2]}",
                "median_s": seconds,
                "s_per_video_s": seconds / video_seconds if mode != "t2i" else float("nan"),
                "s_per_image": seconds if mode == "t2i" else float("nan"),
            }
        )
    return rows


def child_extend(model_dir: Path, seconds: float) -> None:
    """In a fresh process: extend a 5 s clip by `seconds`, streamed to a temp MP4; print a JSON line."""
    from kinema.pipelines.loading import load_pipeline

    pipe = load_pipeline("extend", model_dir)
    clip = source_clip(int(5 * pipe.config.fps) + 1)
    pipe(
        clip, num_inference_steps=1, guidance_scale=1.0, num_frames=5, include_source=False, seed=0
    )  # warm-up
    loaded = peak_rss_mb()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        out = pipe(clip, "it keeps going", seconds=seconds, output_path=Path(tmp) / "long.mp4", seed=0)
        elapsed = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "added_s": seconds,
                "frames": out.num_frames,
                "loaded_mb": loaded,
                "peak_mb": peak_rss_mb(),
                "wall_s": elapsed,
            }
        )
    )


def memory_table(model_dir: Path, minutes: float, threads: int) -> list[dict]:
    rows = []
    for seconds in (5.0, 60.0 * minutes):
        cmd = [
            sys.executable,
            __file__,
            "--child-extend",
            str(seconds),
            "--model",
            str(model_dir),
            "--threads",
            str(threads),
        ]
        result = subprocess.run(cmd, capture_output=True, text=True, check=True)
        rows.append(json.loads(result.stdout.strip().splitlines()[-1]))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (tiny models gain nothing from more)"
    )
    parser.add_argument("--extend-minutes", type=float, default=3.0)
    parser.add_argument("--skip-long", action="store_true", help="skip the extension memory scenario")
    parser.add_argument("--model", type=Path, help="model folder (default: a fresh tiny random one)")
    parser.add_argument("--child-extend", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    if args.child_extend is not None:
        child_extend(args.model, args.child_extend)
        return 0

    from kinema.pipelines.model_folder import create_random_model_folder

    with tempfile.TemporaryDirectory() as tmp:
        model_dir = args.model or create_random_model_folder(Path(tmp) / "tiny", preset="tiny", seed=0)
        print(
            f"# Pipelines on the tiny random model — {platform.processor() or platform.machine()}, "
            f"torch {torch.__version__}, {args.threads} thread(s), fp32, CPU\n"
        )
        print(
            "Scenario: 32x32, 9 frames at 8 fps, 2 Euler steps, guidance 3 (batched CFG), median of "
            f"{args.repeats} after a warm-up.\n"
        )
        print("| mode | frames | size | median s / call | s per s of video | s per image |")
        print("|---|---|---|---|---|---|")
        for r in speed_table(model_dir, args.repeats):
            print(
                f"| {r['mode']} | {r['frames']} | {r['size']} | {r['median_s']:.3f} | "
                f"{r['s_per_video_s']:.3f} | {r['s_per_image']:.3f} |".replace("nan", "–")
            )
        if not args.skip_long:
            print(
                f"\nScenario: extend a 5 s clip by 5 s and by {args.extend_minutes:g} min, streamed to MP4, "
                "fresh process each, peak RSS (ru_maxrss).\n"
            )
            print(
                "| added | frames written (source + new) | RSS after load (MB) | peak RSS (MB) | growth (MB) | wall s | s per s of video |"
            )
            print("|---|---|---|---|---|---|---|")
            for r in memory_table(model_dir, args.extend_minutes, args.threads):
                print(
                    f"| {r['added_s']:g} s | {r['frames']} | {r['loaded_mb']:.0f} | {r['peak_mb']:.0f} | "
                    f"{r['peak_mb'] - r['loaded_mb']:.1f} | {r['wall_s']:.1f} | {r['wall_s'] / r['added_s']:.3f} |"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
