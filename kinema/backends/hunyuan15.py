"""HunyuanVideo 1.5 diffusers folders (`HunyuanVideo15Pipeline`, `HunyuanVideo15ImageToVideoPipeline`).

| folder (`_class_name`)              | backend                  | modes               |
|-------------------------------------|--------------------------|---------------------|
| HunyuanVideo15Pipeline              | HunyuanVideo15Backend    | t2v, t2i, extend    |
| HunyuanVideo15ImageToVideoPipeline  | HunyuanVideo15I2VBackend | i2v, extend         |

Two things set 1.5 apart from HunyuanVideo 1 (`hunyuan.py`), both met here rather than worked around:
- Guidance is a saved component, `guider` (diffusers' `ClassifierFreeGuidance`), not a call argument: a
  request's `guidance_scale` runs through `guider.new(guidance_scale=…)` for that call, and the folder's
  default is the guider's own (its `guider_config.json`), so a distilled folder (guidance 1) stays unguided.
  The pipelines take no `callback_on_step_end`; progress, cancel and the extension's step hook come through
  the scheduler (`diffusers_base.after_each_step`).
- Image→video takes its size from the picture: the pipeline resizes it to the closest-aspect bucket of the
  transformer's `target_size` (`HunyuanVideo15ImageProcessor.calculate_default_height_width`), so a
  picture's video is that bucket's size, and a width × height that is not a bucket is refused.

Extension: the T2V folder holds the chunk's first latent frames to the video's end (`LatentPrefix`); the
I2V folder starts each chunk from the video's last frame. Defaults are HunyuanVideo 1.5 480p's: 848×480,
121 frames at 24 fps, 50 steps, guidance 6 (the guider's).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from kinema.backends.base import GenerationSpec
from kinema.backends.diffusers_base import (
    DiffusersBackend,
    FamilyDefaults,
    LatentPrefix,
    Request,
    read_component_config,
)
from kinema.backends.hunyuan import hunyuan_latents
from kinema.errors import InvalidInputError
from kinema.runtime.progress import Progress

HUNYUAN15_DEFAULTS = FamilyDefaults(
    width=848, height=480, fps=24, num_frames=121, max_frames=121, num_inference_steps=50, guidance_scale=6.0
)
GUIDER_CONFIG = "guider/guider_config.json"


class _HunyuanVideo15(DiffusersBackend):
    defaults = HUNYUAN15_DEFAULTS
    context_frames = 1 + 4 * 4
    unsupported_motion = "diffusers' HunyuanVideo 1.5 pipelines take no camera or trajectory input"

    @classmethod
    def grid(cls, path: Path) -> tuple[int, int]:
        vae = read_component_config(path, "vae")
        dit = read_component_config(path, "transformer")
        spatial = int(vae.get("spatial_compression_ratio", 16)) * int(dit.get("patch_size", 1))
        return spatial, int(vae.get("temporal_compression_ratio", 4))

    @classmethod
    def folder_defaults(cls, path: Path, index: dict[str, Any]) -> FamilyDefaults:
        """The default guidance is the folder's saved guider's."""
        try:
            guider = json.loads((Path(path) / GUIDER_CONFIG).read_text())
        except (OSError, ValueError):
            return cls.defaults
        if "guidance_scale" not in guider:
            return cls.defaults
        return replace(cls.defaults, guidance_scale=float(guider["guidance_scale"]))

    def call_av(self, task: str, req: Request, progress: Progress, **kwargs: Any) -> tuple[np.ndarray, Any]:
        with guided(self.pipeline(task), req.guidance_scale):
            return super().call_av(task, req, progress, **kwargs)


@contextmanager
def guided(pipe: Any, guidance_scale: float) -> Iterator[None]:
    """The pipeline's guider at `guidance_scale` for one call (its own config otherwise)."""
    original = pipe.guider
    if float(original.guidance_scale) == float(guidance_scale):
        yield
        return
    pipe.guider = original.new(guidance_scale=float(guidance_scale))
    try:
        yield
    finally:
        pipe.guider = original


class HunyuanVideo15Backend(_HunyuanVideo15):
    """A HunyuanVideo 1.5 text→video folder."""

    name = "hunyuanvideo-1.5"
    folder_classes = ("HunyuanVideo15Pipeline",)
    modes = ("t2v", "t2i", "extend")
    options = ("negative_prompt", "aspect_ratio", "crossfade_frames")
    pipelines = dict.fromkeys(modes, "HunyuanVideo15Pipeline")

    def continue_inputs(self, tail: np.ndarray, req: Request) -> tuple[str, dict[str, Any]]:
        latents = hunyuan_latents(self.pipeline("extend"), tail)
        return "extend", {"step_hook": LatentPrefix(latents, req.generator)}


class HunyuanVideo15I2VBackend(_HunyuanVideo15):
    """A HunyuanVideo 1.5 image→video folder (a SigLIP image encoder beside the text encoders)."""

    name = "hunyuanvideo-1.5-i2v"
    folder_classes = ("HunyuanVideo15ImageToVideoPipeline",)
    modes = ("i2v", "extend")
    options = ("negative_prompt", "aspect_ratio", "crossfade_frames")
    pipelines = dict.fromkeys(modes, "HunyuanVideo15ImageToVideoPipeline")
    context_frames = 1  # the pipeline takes one first frame

    def size_for(self, width: int, height: int) -> tuple[int, int]:
        """The bucket of the transformer's `target_size` closest in aspect to a width × height picture."""
        pipe = self.pipeline("i2v")
        h, w = pipe.video_processor.calculate_default_height_width(height, width, pipe.target_size)
        return int(w), int(h)

    def task_inputs(self, task: str, spec: GenerationSpec, req: Request) -> dict[str, Any]:
        return {"image": self.first_frame(self.image(spec.image, req), req)}

    def continue_inputs(self, tail: np.ndarray, req: Request) -> tuple[str, dict[str, Any]]:
        from PIL import Image

        return "extend", {"image": self.first_frame(Image.fromarray(tail[-1]), req)}

    def first_frame(self, image: Any, req: Request) -> Any:
        """The picture, once its size is one the pipeline keeps (else it would make another size)."""
        width, height = req.size.width, req.size.height
        if self.size_for(width, height) != (width, height):
            w, h = self.size_for(width, height)
            raise InvalidInputError(
                f"HunyuanVideo 1.5 image→video makes a {w}×{h} video for a {width}×{height} request (the "
                "bucket of its target size closest in aspect); drop width/height/aspect_ratio to take the "
                f"picture's bucket, or ask for {w}×{h}."
            )
        return image
