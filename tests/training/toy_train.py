"""A deterministic toy training job for the engine tests (run in-process or as a torchrun-style subprocess).

Usage as a script: python toy_train.py <run_dir> [key=value overrides...]  (RANK / WORLD_SIZE /
MASTER_ADDR / MASTER_PORT in the environment make it one rank of a process group).
Env TOY_NOISE=1 makes the loss use the per-step generator (checks RNG-exact resume);
env TOY_SLEEP=<s> sleeps per step (so a test can kill it mid-run).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import torch
from torch import nn

from kinema.training.config import config_from_dict
from kinema.training.engine import Trainer
from kinema.training.streams import IndexStream


class ToyNet(nn.Module):
    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.blocks = nn.ModuleList([nn.Linear(8, 16), nn.Linear(16, 16)])
        self.head = nn.Linear(16, 1)
        for p in self.parameters():
            with torch.no_grad():
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)

    def forward(self, x):
        for b in self.blocks:
            x = torch.tanh(b(x))  # (B, 16)
        return self.head(x).squeeze(-1)  # (B,)


class ToyTask:
    def __init__(
        self, size: int = 64, noise: bool = False, sleep: float = 0.0, term_at_step: int | None = None
    ):
        self.term_at_step = term_at_step
        self.nan_steps: set[int] = set()
        g = torch.Generator().manual_seed(123)
        self.x = torch.randn(size, 8, generator=g)
        self.y = torch.sin(self.x.sum(-1))
        self.noise = noise
        self.sleep = sleep
        self.model = ToyNet()

    def setup(self, trainer):
        pass

    def make_stream(self, trainer):
        return IndexStream(
            len(self.x),
            trainer.cfg.train.batch_size,
            lambda idx: (self.x[idx], self.y[idx]),
            trainer.info.rank,
            trainer.info.world_size,
            trainer.cfg.train.seed,
        )

    def loss(self, model, batch, generator, step):
        x, y = batch
        if self.noise:
            x = x + 0.1 * torch.randn(x.shape, generator=generator)
        if self.sleep:
            time.sleep(self.sleep)
        if step == self.term_at_step:
            os.kill(os.getpid(), signal.SIGTERM)
        pred = model(x)
        loss = ((pred - y) ** 2).mean()
        if step in self.nan_steps:
            loss = loss * float("nan")
        return loss, {}

    def samples_in(self, batch):
        return len(batch[0])

    def flops_per_sample(self):
        return None

    def tokens_per_sample(self):
        return None

    def after_step(self, trainer, step):
        return {}

    def extra_state(self):
        return {"toy": 1}

    def load_extra_state(self, state):
        assert state == {"toy": 1}

    def export(self, trainer, weights, out_dir):
        out_dir.mkdir(parents=True, exist_ok=True)
        torch.save(weights, out_dir / "weights.pt")


def toy_config(run_dir: str | Path, **sections) -> object:
    raw = {
        "kind": "vae",
        "train": {
            "steps": 6,
            "batch_size": 4,
            "run_dir": str(run_dir),
            "log_every": 1,
            "ckpt_every": 2,
            "device": "cpu",
        },
        "optim": {"lr": 0.05, "grad_clip": 1.0, "schedule": "cosine", "warmup_steps": 2},
        "ema": {"decay": 0.9},
    }
    for section, values in sections.items():
        raw.setdefault(section, {}).update(values)
    return config_from_dict(raw)


def run_toy(
    run_dir: str | Path,
    overrides: list[str],
    dist_info=None,
    noise: bool = False,
    sleep: float = 0.0,
    term_at_step: int | None = None,
):
    """Train the toy job to the end and export; returns the final parameters (rank 0) or None."""
    sections: dict[str, dict] = {}
    for item in overrides:
        key, value = item.split("=", 1)
        sec, name = key.split(".")
        sections.setdefault(sec, {})[name] = type_guess(value)
    cfg = toy_config(run_dir, **sections)
    trainer = Trainer(cfg, ToyTask(noise=noise, sleep=sleep, term_at_step=term_at_step), dist_info)
    trainer.fit()
    trainer.export()
    state = {k: v.detach().cpu() for k, v in trainer._model_state().items()}  # collective under FSDP
    if trainer.info.is_main:
        torch.save(state, Path(run_dir) / "final_params.pt")
    trainer.logger.close()
    return state if trainer.info.is_main else None


def main(argv: list[str]) -> int:
    """argv: run_dir [overrides]; env TOY_MODES=ddp,fsdp runs one job per mode into run_dir/<mode>."""
    from kinema.training.engine import init_distributed

    info = init_distributed("cpu")
    noise = os.environ.get("TOY_NOISE") == "1"
    sleep = float(os.environ.get("TOY_SLEEP", "0"))
    modes = os.environ.get("TOY_MODES")
    if modes:
        for mode in modes.split(","):
            run_toy(Path(argv[0]) / mode, [*argv[1:], f"train.parallel={mode}"], info, noise, sleep)
    else:
        run_toy(argv[0], argv[1:], info, noise, sleep)
    if info.owns_group:
        torch.distributed.destroy_process_group()
    return 0


def type_guess(value: str):
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(value, value)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
