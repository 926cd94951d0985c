"""One call from a resolved config to a trained, exported model (what `kinema train` runs)."""

from __future__ import annotations

from pathlib import Path

from kinema.training.config import TrainingConfig
from kinema.training.engine import Trainer


def build_task(cfg: TrainingConfig):
    if cfg.kind == "vae":
        from kinema.training.train_vae import VAETask

        return VAETask(cfg)
    from kinema.training.train_dit import DiTTask

    return DiTTask(cfg)


def run_training(cfg: TrainingConfig, export: bool = True) -> tuple[dict[str, float], Path | None]:
    """Train (resuming from the run dir's latest checkpoint), then export; returns (last metrics, export)."""
    trainer = Trainer(cfg, build_task(cfg))
    try:
        metrics = trainer.fit()
        out = None
        if export and trainer.step >= cfg.train.steps:
            out = trainer.export()
        return metrics, out
    finally:
        trainer.close()
