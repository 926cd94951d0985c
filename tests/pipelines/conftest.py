"""Shared fixtures: one seeded tiny random model folder per test session, loaded once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from kinema.pipelines.loading import load_pipeline
from kinema.pipelines.model_folder import create_random_model_folder
from kinema.pipelines.pipeline_kinema import KinemaPipeline


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return create_random_model_folder(tmp_path_factory.mktemp("models") / "tiny", preset="tiny", seed=0)


@pytest.fixture(scope="session")
def base_pipe(tiny_model_dir: Path) -> KinemaPipeline:
    return load_pipeline("t2v", tiny_model_dir)


@pytest.fixture(scope="session")
def pipes(base_pipe: KinemaPipeline) -> Callable[[str], KinemaPipeline]:
    """task -> pipeline over the one loaded model (components shared)."""
    return lambda task: load_pipeline(task, base_pipe)


@pytest.fixture(scope="session")
def make_frames() -> Callable[..., np.ndarray]:
    return random_frames


def random_frames(n: int, height: int = 32, width: int = 32, seed: int = 0) -> np.ndarray:
    """Smooth random uint8 (n, H, W, 3) frames (a moving gradient + noise), like a real clip."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    frames = []
    for i in range(n):
        base = np.stack([(x * 7 + i * 5) % 256, (y * 5 + i * 3) % 256, (x + y + i * 11) % 256], axis=-1)
        frames.append(np.clip(base + rng.integers(-20, 20, base.shape), 0, 255))
    return np.asarray(frames, dtype=np.uint8)
