"""Benchmark: does a codec's latent carry a clip? Overfit the decoder alone on a few fixed clips.

Scenario (declared): the encoder of `--model` (a Kinema VAE folder) frozen, its latents (posterior mode) of
`--clips` clips of the codec mix (`configs/kinema_world_vae_v1_decoder.yaml`'s data, a seed no training run
draws), and the decoder - as it is, or widened to `--width` base channels (`AutoencoderKinema.widen_decoder`,
same output at step 0) - trained on those clips alone with Adam, the config's L1 + 2·L2 (no foreground weight), one thread. Printed: PSNR of the
reconstruction against step. A decoder that keeps climbing says the latents carry more than the decoder draws
(the limit is the decoder or its training, not the latent space); one that stalls low says the encoder or the
compression is the wall.

The first v1 codec (16-wide decoder; `models/kinema-world-v1/vae` at commit 61675df), its own decoder and
widened to 48 (measured: 32.3 and 35.7 dB at step 400), and the shipped one (37.9 dB):

    mkdir -p runs/v1_first_codec && for f in config.json diffusion_pytorch_model.safetensors; do
      git show 61675df:models/kinema-world-v1/vae/$f > runs/v1_first_codec/$f; done
    python benchmarks/bench_codec_overfit.py --model runs/v1_first_codec --steps 400
    python benchmarks/bench_codec_overfit.py --model runs/v1_first_codec --width 48 --steps 400
    python benchmarks/bench_codec_overfit.py --model models/kinema-world-v1/vae --steps 400
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import yaml

from kinema.models import AutoencoderKinema
from kinema.training.config import TrainingConfig
from kinema.training.streams import codec_dataset
from kinema.training.train_vae import psnr

CONFIG = "configs/kinema_world_vae_v1_decoder.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/kinema-world-v1/vae")
    parser.add_argument(
        "--width", type=int, default=None, help="widen the decoder to this many base channels"
    )
    parser.add_argument("--clips", type=int, default=2)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--lr", type=float, default=5e-4)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    cfg = TrainingConfig.model_validate(yaml.safe_load(Path(CONFIG).read_text()))
    clips = torch.stack(
        [item["video"] for item in codec_dataset(cfg, seed=123).render(list(range(args.clips)))]
    )
    vae = AutoencoderKinema.from_pretrained(args.model)
    if args.width:
        vae = vae.widen_decoder(args.width, torch.Generator().manual_seed(0))
    with torch.no_grad():
        z = vae.encode(clips).mode()  # (N, C, t, h, w): fixed, the encoder does not train
    opt = torch.optim.Adam(vae.decoder.parameters(), lr=args.lr)
    start = time.time()
    print("| step | PSNR dB | seconds |\n|---|---|---|")
    for step in range(1, args.steps + 1):
        recon = vae.decode(z)
        err = recon - clips
        loss = cfg.vae_loss.l1_weight * err.abs().mean() + cfg.vae_loss.l2_weight * err.pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step == 1 or step % 50 == 0:
            print(f"| {step} | {psnr(recon.detach(), clips):.2f} | {time.time() - start:.0f} |", flush=True)


if __name__ == "__main__":
    main()
