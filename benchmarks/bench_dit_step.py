"""Benchmark: one DiT forward, Kinema vs diffusers' WanTransformer3DModel, same width/depth/heads/FFN/tokens.

Scenario (declared here, printed with the table): S preset (12 x 384, 6 heads, FFN 1536), batch 1, fp32,
CPU, latent (16, 5, 16, 16) → 5 x 8 x 8 = 320 tokens after 1x2x2 patches, 8 text tokens of width 384, random
init. Both models run in the same process, interleaved, under ``torch.inference_mode``; we report the median
of ``--repeats`` timed calls after ``--warmup`` untimed ones. MFU = analytic FLOPs of the forward (matmuls and
attention, 2 FLOPs per multiply-add) / a matmul peak measured in the same run (a square fp32 GEMM), once
from wall time and once from process CPU time (the machine may be shared; see ``time_interleaved``).

    python benchmarks/bench_dit_step.py                # prints a Markdown table
    python benchmarks/bench_dit_step.py --threads 1 --repeats 30 --csv out.csv
"""

from __future__ import annotations

import argparse
import csv
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Scenario:
    preset: str = "S"
    batch: int = 1
    channels: int = 16
    frames: int = 5  # latent frames
    height: int = 16  # latent height
    width: int = 16  # latent width
    text_tokens: int = 8
    text_dim: int = 384
    dtype: torch.dtype = torch.float32


def forward_flops(
    d: int, depth: int, ffn: int, n: int, text: int, text_dim: int, patch_in: int, patch_out: int
) -> float:
    """FLOPs of one forward (batch 1): every GEMM and the two attention products; elementwise ops ignored."""
    per_block = (
        2 * n * d * 3 * d  # self-attention QKV
        + 2 * 2 * n * n * d  # QK^T and AV
        + 2 * n * d * d  # self-attention out
        + 2 * n * d * d  # cross-attention Q
        + 2 * text * d * 2 * d  # cross-attention K, V
        + 2 * 2 * n * text * d  # cross QK^T and AV
        + 2 * n * d * d  # cross-attention out
        + 2 * 2 * n * d * ffn  # FFN up and down
    )
    embed = 2 * n * patch_in * d + 2 * text * (text_dim * d + d * d) + 2 * n * d * patch_out
    return depth * per_block + embed


def matmul_peak(size: int = 1024, seconds: float = 1.0) -> tuple[float, float]:
    """(wall, CPU-time) FLOP/s of a square fp32 GEMM on this machine now, best of repeated runs."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    for _ in range(3):
        a @ b
    best_wall = best_cpu = float("inf")
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        c0, t0 = time.process_time(), time.perf_counter()
        a @ b
        best_wall = min(best_wall, time.perf_counter() - t0)
        best_cpu = min(best_cpu, max(time.process_time() - c0, 1e-9))
    flop = 2 * size**3
    return flop / best_wall, flop / best_cpu


def build_models(sc: Scenario):
    from diffusers import WanTransformer3DModel

    from kinema.models import KinemaTransformer3DModel, transformer_config

    cfg = transformer_config(
        sc.preset, in_channels=sc.channels, out_channels=sc.channels, text_dim=sc.text_dim
    )
    torch.manual_seed(0)
    kinema = KinemaTransformer3DModel(**cfg).to(sc.dtype).eval()
    d, heads, depth = cfg["hidden_size"], cfg["num_heads"], cfg["depth"]
    ffn = int(d * kinema.config.mlp_ratio)
    wan = (
        WanTransformer3DModel(
            patch_size=(1, 2, 2),
            num_attention_heads=heads,
            attention_head_dim=d // heads,
            in_channels=sc.channels,
            out_channels=sc.channels,
            text_dim=sc.text_dim,
            freq_dim=256,
            ffn_dim=ffn,
            num_layers=depth,
            cross_attn_norm=True,
            qk_norm="rms_norm_across_heads",
        )
        .to(sc.dtype)
        .eval()
    )
    # adaLN-Zero / zero output layers would let a lazy kernel skip work on zeros; give all weights values.
    with torch.no_grad():
        for p in kinema.parameters():
            if not p.any():
                p.normal_(0, 0.02)
    return kinema, wan, d, depth, ffn


def make_floor(d: int, depth: int, ffn: int, n: int, heads: int) -> Callable[[], None]:
    """Only the per-block GEMMs (QKV, out, cross Q/out, FFN) and self-attention SDPA at the model's shapes:
    what an implementation with zero elementwise overhead would still pay. Reported as a third row."""
    import torch.nn.functional as F

    x, hidden = torch.randn(1, n, d), torch.randn(1, n, ffn)
    w_qkv, w_d, w_up, w_down = (torch.randn(o, i) * 0.02 for o, i in ((3 * d, d), (d, d), (ffn, d), (d, ffn)))
    b_qkv, b_d, b_up = torch.zeros(3 * d), torch.zeros(d), torch.zeros(ffn)
    q = torch.randn(1, heads, n, d // heads)

    def floor() -> None:
        for _ in range(depth):
            F.linear(x, w_qkv, b_qkv)
            F.scaled_dot_product_attention(q, q, q)
            for _ in range(3):  # self out, cross Q, cross out
                F.linear(x, w_d, b_d)
            F.linear(x, w_up, b_up)  # FFN up
            F.linear(hidden, w_down, b_d)  # FFN down

    return floor


def time_interleaved(
    fns: dict[str, Callable[[], object]], warmup: int, repeats: int
) -> dict[str, tuple[float, float]]:
    """Median (wall seconds, process CPU seconds) per function, the functions run in alternation.

    On a shared machine wall time also counts the time other processes hold the cores; process CPU time
    (``time.process_time``) counts only this process's work, so both are reported.
    """
    wall: dict[str, list[float]] = {name: [] for name in fns}
    cpu: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    for _ in range(repeats):
        for name, fn in fns.items():
            c0, t0 = time.process_time(), time.perf_counter()
            fn()
            wall[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    return {name: (statistics.median(wall[name]), statistics.median(cpu[name])) for name in fns}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # 1 thread by default: on a shared 2-core machine two OpenMP threads spun against other processes and
    # took 12 s per forward instead of 0.9 s (measured); pass --threads N on a machine of your own.
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--csv", default=None, help="also write the rows to this CSV file")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    sc = Scenario()
    kinema, wan, d, depth, ffn = build_models(sc)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(sc.batch, sc.channels, sc.frames, sc.height, sc.width, generator=g, dtype=sc.dtype)
    text = torch.randn(sc.batch, sc.text_tokens, sc.text_dim, generator=g, dtype=sc.dtype)
    t = torch.full((sc.batch,), 500.0)
    tokens = kinema.num_tokens(sc.frames, sc.height, sc.width)

    with torch.inference_mode():
        fns = {
            "kinema": lambda: kinema(x, t, text),
            "diffusers-wan": lambda: wan(x, t, text, return_dict=False),
        }
        assert fns["kinema"]().shape == fns["diffusers-wan"]()[0].shape
        fns["floor: GEMMs+SDPA only"] = make_floor(d, depth, ffn, tokens, kinema.config.num_heads)
        peak, peak_cpu = matmul_peak()
        medians = time_interleaved(fns, args.warmup, args.repeats)

    # Kinema's patch embed also reads the condition channels (C + 1 more); count each model's own.
    flops = {
        "kinema": forward_flops(
            d, depth, ffn, tokens, sc.text_tokens, sc.text_dim, (2 * sc.channels + 1) * 4, sc.channels * 4
        ),
        "diffusers-wan": forward_flops(
            d, depth, ffn, tokens, sc.text_tokens, sc.text_dim, sc.channels * 4, sc.channels * 4
        ),
        "floor: GEMMs+SDPA only": depth
        * (2 * tokens * d * (3 * d + 3 * d + 2 * ffn) + 4 * tokens * tokens * d),
    }
    params = {
        "kinema": sum(p.numel() for p in kinema.parameters()),
        "diffusers-wan": sum(p.numel() for p in wan.parameters()),
        "floor: GEMMs+SDPA only": 0,
    }
    rows = [
        {
            "model": name,
            "device": "cpu",
            "threads": torch.get_num_threads(),
            "dtype": str(sc.dtype).replace("torch.", ""),
            "tokens": tokens,
            "width x depth": f"{d} x {depth}",
            "params_M": round(params[name] / 1e6, 2),
            "GFLOP": round(flops[name] / 1e9, 2),
            "wall_ms": round(medians[name][0] * 1e3, 1),
            "ratio_wall": round(medians[name][0] / medians["diffusers-wan"][0], 3),
            "cpu_ms": round(medians[name][1] * 1e3, 1),
            "ratio_cpu": round(medians[name][1] / medians["diffusers-wan"][1], 3),
            "MFU_wall_%": round(100 * flops[name] / medians[name][0] / peak, 1),
            "MFU_cpu_%": round(100 * flops[name] / medians[name][1] / peak_cpu, 1),
        }
        for name in fns
    ]
    print(
        f"\nDiT forward, preset {sc.preset}, batch {sc.batch}, {tokens} tokens, {sc.text_tokens} text tokens, "
        f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"matmul peak {peak / 1e9:.1f} GFLOP/s wall, {peak_cpu / 1e9:.1f} GFLOP/s CPU time "
        f"({torch.get_num_threads()} threads), median of {args.repeats}\n"
    )
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for row in rows:
        print("| " + " | ".join(str(row[k]) for k in keys) + " |")
    if args.csv:
        with open(args.csv, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=keys)
            writer.writeheader()
            writer.writerows(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
