"""Training throughput and time-to-loss, through the real `Trainer` (config → engine → DiT job).

Scenarios (each a row of the Markdown table printed at the end):
- `dit_s_world`: DiT-S (12 x 384, 6 heads) at the world recipe's clip size (64x64, 17 frames -> latents
  16x5x8x8 -> 80 tokens), latents from the disk cache: samples/s, tokens/s, MFU. The peer is a bare
  PyTorch loop (forward, backward, AdamW on the same model and inputs, no engine) measured in the same run;
  the ratio is the engine's overhead (EMA, clipping, logging, task mixing).
- `world_dit_small`: the shipped recipe's DiT (configs/world_dit_small.yaml), same measurement.
- `tiny_time_to_loss`: configs/tiny_dit.yaml trained until the logged loss (mean of a 5-step window) is
  below `--target-loss`; wall seconds and steps.

The frozen VAE is a seeded random one of the recipe's preset (throughput does not depend on its weights).
MFU's peak is a measured fp32 (CPU) / bf16 (CUDA) matmul rate on this machine at this moment.

    python benchmarks/bench_training.py [--steps 20] [--threads 0] [--scenarios dit_s_world,...]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import torch

from kinema.models import AutoencoderKinema, vae_config
from kinema.training.config import load_config
from kinema.training.engine import Trainer
from kinema.training.logging import dit_forward_flops, measure_matmul_peak, read_metrics
from kinema.training.train_dit import DiTTask

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def _random_vae(folder: Path, preset: str) -> Path:
    torch.manual_seed(0)
    AutoencoderKinema(**vae_config(preset)).save_pretrained(folder)
    return folder


def _trainer(recipe: str, run_dir: Path, vae: Path, overrides: list[str]) -> Trainer:
    cfg = load_config(
        CONFIGS / recipe,
        [
            f"train.run_dir={run_dir}",
            f"vae.path={vae}",
            f"data.cache_dir={run_dir.parent / 'cache'}",
            *overrides,
        ],
    )
    return Trainer(cfg, DiTTask(cfg))


def _bare_loop_samples_per_s(trainer: Trainer, steps: int) -> float:
    """The peer: forward + backward + AdamW of the same model on one cached batch, no engine."""
    task = trainer.task
    model = task.model
    batch = trainer.stream.next_batch()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    b, _, t, _, _ = batch["latents"].shape
    timestep = torch.full((b,), 500.0, device=trainer.device)
    zeros_mask = torch.zeros(b, 1, *batch["latents"].shape[2:], device=trainer.device)

    def step():
        with trainer.autocast():
            out = model(
                batch["latents"],
                timestep,
                batch["text"],
                encoder_attention_mask=batch["text_mask"],
                cond_latents=torch.zeros_like(batch["latents"]),
                cond_mask=zeros_mask,
                camera=batch["camera"],
                trajectory=batch["trajectory"],
            )
        out.float().pow(2).mean().backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    step()
    if trainer.device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if trainer.device.type == "cuda":
        torch.cuda.synchronize()
    return b * steps / (time.perf_counter() - t0)


def throughput(
    name: str, recipe: str, vae_preset: str, steps: int, batch: int, extra: list[str], tmp: Path
) -> dict:
    vae = _random_vae(tmp / f"vae_{vae_preset}", vae_preset)
    run_dir = tmp / name
    warm = 3
    overrides = [
        f"train.steps={warm + steps}",
        f"train.batch_size={batch}",
        f"train.log_every={warm + steps}",
        "train.ckpt_every=0",
        f"data.pool_size={batch}",
        *extra,
    ]
    # Fill the latent cache and warm up first (steps 1..warm), then measure a clean window.
    trainer = _trainer(recipe, run_dir, vae, [*overrides, f"train.steps={warm}", f"train.log_every={warm}"])
    trainer.fit()
    trainer.close()
    trainer = _trainer(recipe, run_dir, vae, overrides)
    t0 = time.perf_counter()
    trainer.fit()
    wall = time.perf_counter() - t0
    row = read_metrics(run_dir)[-1]
    peer = _bare_loop_samples_per_s(trainer, max(3, steps // 2))
    cfg = dict(trainer.task.model.config)
    flops, tokens = dit_forward_flops(cfg, trainer.task.latent_shape, trainer.cfg.text_encoder.max_length)
    peak = measure_matmul_peak(trainer.device, trainer.autocast_dtype or torch.float32)
    params = sum(p.numel() for p in trainer.task.model.parameters())
    trainer.close()
    return {
        "scenario": name,
        "model": f"{cfg['depth']}x{cfg['hidden_size']} ({params / 1e6:.1f}M)",
        "clip": f"{trainer.cfg.data.width}x{trainer.cfg.data.height}x{trainer.cfg.data.num_frames} ({tokens} tok)",
        "batch": batch,
        "samples/s": row["samples_per_s"],
        "tokens/s": row["tokens_per_s"],
        "MFU": row["mfu"],
        "peer samples/s (bare loop)": peer,
        "ratio to peer": row["samples_per_s"] / peer,
        "peer MFU": 3 * flops * peer / peak,
        "wall s": wall,
    }


def time_to_loss(target: float, max_steps: int, tmp: Path) -> dict:
    vae = _random_vae(tmp / "vae_tiny", "tiny")
    run_dir = tmp / "tiny_time_to_loss"
    trainer = _trainer(
        "tiny_dit.yaml", run_dir, vae, [f"train.steps={max_steps}", "train.log_every=5", "train.ckpt_every=0"]
    )

    class Stop(Exception):
        pass

    t0 = time.perf_counter()
    log = trainer.logger.log
    reached: dict = {}

    def watch(step, metrics, console=True):
        log(step, metrics, console)
        if metrics["loss"] < target and not reached:
            reached.update(step=step, seconds=time.perf_counter() - t0, loss=metrics["loss"])
            raise Stop

    trainer.logger.log = watch
    try:
        trainer.fit()
    except Stop:
        pass
    trainer.close()
    return {
        "scenario": "tiny_time_to_loss",
        "target loss": target,
        "reached": bool(reached),
        "steps": reached.get("step", max_steps),
        "seconds": reached.get("seconds", time.perf_counter() - t0),
        "loss": reached.get("loss"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    parser.add_argument("--scenarios", default="dit_s_world,world_dit_small,tiny_time_to_loss")
    parser.add_argument("--target-loss", type=float, default=0.6)
    parser.add_argument("--max-steps", type=int, default=400)
    parser.add_argument("--json", help="also write the rows to this JSON file")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    extra = [f"train.num_threads={args.threads}"] if args.threads else []
    rows = []
    wanted = args.scenarios.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if "dit_s_world" in wanted:
            rows.append(
                throughput(
                    "dit_s_world",
                    "world_dit_small.yaml",
                    "small",
                    args.steps,
                    args.batch,
                    [*extra, "transformer.preset=S", "transformer.overrides={}"],
                    tmp,
                )
            )
        if "world_dit_small" in wanted:
            rows.append(
                throughput(
                    "world_dit_small", "world_dit_small.yaml", "small", args.steps, args.batch, extra, tmp
                )
            )
        if "tiny_time_to_loss" in wanted:
            rows.append(time_to_loss(args.target_loss, args.max_steps, tmp))
    device = (
        "cuda:" + torch.cuda.get_device_name()
        if torch.cuda.is_available()
        else f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
    )
    print(
        f"\n## Training benchmark — device {device}, torch {torch.__version__}, fp32 on CPU / bf16 autocast on CUDA\n"
    )
    for row in rows:
        keys = list(row)
        print("| " + " | ".join(keys) + " |")
        print("|" + "---|" * len(keys))
        print("| " + " | ".join(_fmt(row[k]) for k in keys) + " |\n")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


if __name__ == "__main__":
    main()
