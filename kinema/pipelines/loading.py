"""`load_pipeline(task, model)`: the one call the CLI and the server make to get a pipeline."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from kinema.errors import InvalidInputError
from kinema.pipelines.pipeline_extend import ExtendPipeline
from kinema.pipelines.pipeline_image_to_video import ImageToVideoPipeline
from kinema.pipelines.pipeline_keyframes import KeyframesPipeline
from kinema.pipelines.pipeline_kinema import KinemaPipeline, TextToVideoPipeline
from kinema.pipelines.pipeline_text_to_image import TextToImagePipeline
from kinema.pipelines.pipeline_video_to_video import VideoToVideoPipeline
from kinema.runtime import tasks

_CLASSES = (
    TextToVideoPipeline,
    TextToImagePipeline,
    ImageToVideoPipeline,
    KeyframesPipeline,
    ExtendPipeline,
    VideoToVideoPipeline,
)
# Each task of the table (kinema/runtime/tasks.py) → its pipeline class, in the table's order.
TASKS: dict[str, type[KinemaPipeline]] = {
    name: next(c for c in _CLASSES if c.task == name) for name in tasks.TASK_NAMES
}


def load_pipeline(
    task: str,
    model: str | Path | KinemaPipeline | Mapping[str, Any],
    device: str | torch.device = "cpu",
    dtype: torch.dtype | None = None,
) -> KinemaPipeline:
    """The pipeline for `task` (t2v, t2i, i2v, keyframes, extend, v2v) over `model`: a model folder path,
    an already loaded pipeline (its components are shared, nothing is loaded twice), or components
    `{"vae", "transformer", "text_encoder", "config"}`."""
    cls = TASKS[tasks.task(task).name]
    if isinstance(model, KinemaPipeline):
        return cls.from_pipe(model)
    if isinstance(model, Mapping):
        missing = {"vae", "transformer", "text_encoder"} - set(model)
        if missing:
            raise InvalidInputError(f"Pipeline components are missing {sorted(missing)}.")
        return cls(model["vae"], model["transformer"], model["text_encoder"], model.get("config"))
    return cls.from_pretrained(model, device=device, dtype=dtype)
