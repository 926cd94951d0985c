"""Training logs (console + JSONL + TensorBoard when installed) and the throughput arithmetic: tokens/s and
model-FLOPs utilisation (MFU, as in nanoGPT's bench.py / the PaLM paper, appendix B).

MFU = (analytic model FLOPs per second) / (peak FLOPs per second). Model FLOPs of a training step are taken
as 3x the forward (backward ~ 2x forward); activation recomputation is not counted, by convention. The peak
is a measured large-matmul rate on this device and dtype, so MFU on a shared CPU is honest about that CPU.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import torch


def dit_forward_flops(
    cfg: dict[str, Any], latent_shape: tuple[int, int, int, int], text_len: int
) -> tuple[float, int]:
    """Analytic matmul FLOPs of one KinemaTransformer3DModel forward for one sample, and its token count.

    `cfg` is the model config, `latent_shape` = (C, t, h, w). 2 FLOPs per multiply-add, N video tokens,
    L text tokens, D width, r MLP ratio:
      embeddings: patch (noisy + condition channels) and trajectory linears 2N(C_in + C_cond + C_traj)P D;
                  text MLP 2L(D_text D + D^2); text K/V of all blocks in one GEMM 2L D (2 depth D);
      per block:  self-attn QKV + out 8ND^2, scores + weighted sum 4N^2 D, cross-attn Q + out 4ND^2,
                  cross scores + weighted sum 4NLD, MLP 4rND^2, adaLN 12D^2;
      final:      2ND P C_out;
      trajectory adapter (if any): 2N(C_adapter P D + D^2) + depth 2ND^2.
    Norms, RoPE, softmax, the timestep / camera MLPs (per sample or per frame, not per token) are ignored.
    """
    _, t, h, w = latent_shape
    p = cfg.get("patch_size", (1, 2, 2))
    pt, ph, pw = (p, p, p) if isinstance(p, int) else tuple(p)
    n = (t // pt) * (h // ph) * (w // pw)
    d = cfg["hidden_size"]
    depth = cfg["depth"]
    r = cfg.get("mlp_ratio") or 4.0
    text_dim = cfg.get("text_dim") or 384
    c_in = cfg.get("in_channels") or 16
    c_cond = cfg.get("condition_channels") or c_in + 1
    c_traj = cfg.get("trajectory_channels") or 3
    c_out = cfg.get("out_channels") or c_in
    patch = pt * ph * pw
    embed = 2 * n * (c_in + c_cond + c_traj) * patch * d
    text = 2 * text_len * (text_dim * d + d * d) + 2 * text_len * d * 2 * depth * d
    block = (
        8 * n * d * d + 4 * n * n * d + 4 * n * d * d + 4 * n * text_len * d + 4 * r * n * d * d + 12 * d * d
    )
    final = 2 * n * d * patch * c_out
    c_adapter = cfg.get("trajectory_adapter_channels") or 0
    adapter = 2 * n * (c_adapter * patch * d + d * d) + depth * 2 * n * d * d if c_adapter else 0
    return float(embed + text + depth * block + final + adapter), n


def measure_matmul_peak(device: torch.device, dtype: torch.dtype, seconds: float = 0.5) -> float:
    """Best measured FLOP/s of a square matmul on `device` in `dtype` (the MFU denominator)."""
    n = 4096 if device.type == "cuda" else 1024
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    best = 0.0
    deadline = time.perf_counter() + seconds
    for _ in range(3):  # warm-up
        a @ b
    while True:
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(4):
            a @ b
        if device.type == "cuda":
            torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        best = max(best, 4 * 2 * n**3 / dt)
        if time.perf_counter() > deadline:
            break
    return best


class MetricsLogger:
    """Rank 0 writes; other ranks' calls are no-ops. JSONL rows: {"step": .., "loss": .., ...}."""

    def __init__(self, run_dir: str | Path, enabled: bool = True, resume_step: int | None = None):
        self.enabled = enabled
        self.path = Path(run_dir) / "metrics.jsonl"
        self._tb = None
        if not enabled:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            # A resumed run drops rows written after its checkpoint, so the file is the run's one true curve.
            keep = []
            for line in self.path.read_text().splitlines():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by a kill
                if resume_step is not None and row.get("step", 0) > resume_step:
                    continue
                keep.append(line)
            self.path.write_text("".join(k + "\n" for k in keep))
        try:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(Path(run_dir) / "tensorboard"))
        except Exception:  # tensorboard is optional
            self._tb = None

    def log(self, step: int, metrics: dict[str, float], console: bool = True) -> None:
        if not self.enabled:
            return
        row = {"step": step, **{k: _clean(v) for k, v in metrics.items()}}
        with open(self.path, "a") as f:
            f.write(json.dumps(row) + "\n")
        if self._tb is not None:
            for k, v in metrics.items():
                if isinstance(v, (int, float)) and math.isfinite(v):
                    self._tb.add_scalar(k, v, step)
        if console:
            parts = [f"step {step}"] + [f"{k} {_fmt(v)}" for k, v in metrics.items()]
            print(" | ".join(parts), file=sys.stdout, flush=True)

    def info(self, message: str) -> None:
        if self.enabled:
            print(message, file=sys.stdout, flush=True)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    path = Path(run_dir) / "metrics.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _clean(v: Any) -> Any:
    if isinstance(v, torch.Tensor):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return v


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)
