"""The shared backend suite adapted to diffusers folders, and helpers the family tests share."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from backend_suite import BackendSuite

from kinema.backends import GenerationSpec


class FirstFrameSuite(BackendSuite):
    """`BackendSuite` for folders without text→video (image→video folders): the suite's t2v-based checks
    (determinism, sizes, progress, sink) run on i2v; `test_modes` still asks for every task literally."""

    _literal = False

    def spec(self, backend, task: str, tmp_path: Path, fast: dict, **fields) -> GenerationSpec:
        if task == "t2v" and not self._literal and "t2v" not in backend.modes:
            task = "i2v"
        return super().spec(backend, task, tmp_path, fast, **fields)

    @pytest.mark.parametrize("task", ["t2v", "t2i", "i2v", "keyframes", "extend", "v2v"])
    def test_modes(self, backend, fast, tmp_path, task):
        self._literal = True
        try:
            super().test_modes(backend, fast, tmp_path, task)
        finally:
            self._literal = False


def diffusers_frames(pipe, seed: int = 0, **kwargs) -> np.ndarray:
    """The same call straight through diffusers → uint8 (T, H, W, 3), as the backend converts it."""
    import torch

    video = pipe(generator=torch.Generator("cpu").manual_seed(seed), output_type="np", **kwargs).frames[0]
    return (np.clip(video, 0.0, 1.0) * 255.0).round().astype(np.uint8)
