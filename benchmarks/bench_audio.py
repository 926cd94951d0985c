"""What the sound track costs and keeps (issue 28): one clip written with and without an AAC track by
`kinema.io.write_video` — seconds to write, file size — and the track decoded back: SNR against what was
written, and the tone's pitch. A declared scenario that prints a table; never a timed assertion.

    PYTHONPATH=. python benchmarks/bench_audio.py [--frames 121 --width 384 --height 256 --rate 24000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from kinema.io import read_audio, write_video


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=121)
    parser.add_argument("--width", type=int, default=384)
    parser.add_argument("--height", type=int, default=256)
    parser.add_argument("--fps", type=float, default=24.0)
    parser.add_argument("--rate", type=int, default=24_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (args.frames, args.height, args.width, 3), dtype=np.uint8)
    t = np.arange(round(args.frames / args.fps * args.rate)) / args.rate
    sound = np.stack([0.5 * np.sin(2 * np.pi * 440 * t), 0.5 * np.sin(2 * np.pi * 880 * t)]).astype(
        np.float32
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, extra in (("video only", {}), ("video + AAC", {"audio": sound, "audio_rate": args.rate})):
            path = Path(tmp) / f"{len(rows)}.mp4"
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                write_video(path, frames, args.fps, **extra)
                times.append(time.perf_counter() - start)
            rows.append((name, min(times), path.stat().st_size))
            if extra:
                decoded, _ = read_audio(path)
                n = min(decoded.shape[1], sound.shape[1]) - 2048
                err = decoded[:, 2048:n] - sound[:, 2048:n]  # past the encoder's first frame
                snr = 10 * np.log10((sound[:, 2048:n] ** 2).mean() / (err**2).mean())
                window = decoded[0, 2048 : 2048 + 8192]
                pitch = np.abs(np.fft.rfft(window)).argmax() * args.rate / len(window)
    base = rows[0]
    seconds = args.frames / args.fps
    print(
        f"{args.frames} frames {args.width}x{args.height} at {args.fps:g} fps ({seconds:.2f} s), {args.rate} Hz stereo"
    )
    print(f"| file | write s (best of {args.repeats}) | size MB | size vs video only |")
    print("|---|---:|---:|---:|")
    for name, secs, size in rows:
        print(f"| {name} | {secs:.2f} | {size / 1e6:.2f} | {size / base[2]:.3f} |")
    print(f"decoded sound: SNR {snr:.1f} dB, left channel's pitch {pitch:.1f} Hz (written 440)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
