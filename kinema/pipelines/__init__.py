"""Kinema's pipelines: one class per task over one model folder, and `load_pipeline`, the one entry point
the CLI and the server use.

| task        | class                  | file                          |
|-------------|------------------------|-------------------------------|
| `t2v`       | `TextToVideoPipeline`  | pipeline_kinema.py (+ shared steps) |
| `t2i`       | `TextToImagePipeline`  | pipeline_text_to_image.py     |
| `i2v`       | `ImageToVideoPipeline` | pipeline_image_to_video.py    |
| `keyframes` | `KeyframesPipeline`    | pipeline_keyframes.py         |
| `extend`    | `ExtendPipeline`       | pipeline_extend.py            |
| `v2v`       | `VideoToVideoPipeline` | pipeline_video_to_video.py    |

Camera control and trajectories are options of every video task (camera.py, trajectories.py); sizes and
durations are checked in sizes.py; model folders are read and written by model_folder.py.
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> module that defines it (imported on first use, so `kinema.pipelines.trajectories`
# stays light for training code)
_EXPORTS = {
    "KinemaPipeline": "pipeline_kinema",
    "TextToVideoPipeline": "pipeline_kinema",
    "VideoPipelineOutput": "pipeline_kinema",
    "GenerationOptions": "pipeline_kinema",
    "TextToImagePipeline": "pipeline_text_to_image",
    "ImageToVideoPipeline": "pipeline_image_to_video",
    "KeyframesPipeline": "pipeline_keyframes",
    "ExtendPipeline": "pipeline_extend",
    "VideoToVideoPipeline": "pipeline_video_to_video",
    "load_pipeline": "loading",
    "TASKS": "loading",
    "create_random_model_folder": "model_folder",
    "ModelFolderConfig": "model_folder",
    "camera_vector": "camera",
    "rasterize_trajectories": "trajectories",
    "load_trajectories": "trajectories",
    "resolve_size": "sizes",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'kinema.pipelines' has no attribute {name!r}")
    return getattr(importlib.import_module(f"kinema.pipelines.{_EXPORTS[name]}"), name)
