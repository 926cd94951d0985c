"""One call from a resolved config to a trained, exported model (what `kinema train` runs)."""

from __future__ import annotations

from pathlib import Path

from kinema.errors import InvalidInputError
from kinema.training import checkpoint as ckpt
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


def find_checkpoint(run_dir: str | Path, step: int | None = None) -> tuple[int, Path]:
    """(step, folder) of the run's checkpoint of `step` (its latest when None), or an error naming the
    steps it holds."""
    found = dict(ckpt.list_checkpoints(run_dir))
    if not found:
        raise InvalidInputError(f"{run_dir} holds no complete checkpoint; train first (`kinema train`)")
    if step is None:
        step = max(found)
    if step not in found:
        raise InvalidInputError(
            f"{run_dir} holds no checkpoint of step {step}; it holds steps "
            f"{', '.join(str(s) for s in sorted(found))} (train.keep_last keeps the newest only)"
        )
    return step, found[step]


def export_checkpoint(cfg: TrainingConfig, path: Path, out_dir: str | Path | None = None) -> Path:
    """Export one checkpoint (its EMA weights unless export.use_ema is false) as a model folder without
    training or touching the run: a learning-curve point, or the best step of a run that went on."""
    trainer = Trainer(cfg, build_task(cfg), weights_from=path)
    try:
        return trainer.export(out_dir)
    finally:
        trainer.close()
