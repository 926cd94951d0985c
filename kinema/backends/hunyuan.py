"""HunyuanVideo diffusers folders (`HunyuanVideoPipeline`): t2v, t2i, and extension through prefix latents
(`LatentPrefix`: the chunk's first latent frames held to the video's end; flow matching, Hunyuan's causal
VAE). `guidance_scale` is HunyuanVideo's embedded (distilled) guidance; the released model runs without
true CFG, so a negative prompt is refused rather than ignored. Defaults are HunyuanVideo's own:
1280×720, 129 frames at 24 fps, 50 steps, guidance 6.

`HunyuanVideoImageToVideoPipeline` folders (`HunyuanVideoI2VBackend`): i2v, and extension from the
video's last frame. Their text encoder is a LLaVA model reading the picture beside the prompt. A
`latent_concat` transformer (HunyuanVideo-I2V) decodes the picture's latent frame too and the pipeline drops
its 4 frames, so Kinema asks for 4 more to return the asked length (the frames after the picture); a
`token_replace` one returns the asked length as it is. HunyuanVideo 1.5 is `hunyuan15.py`.
"""

from __future__ import annotations

import math
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
from kinema.runtime.progress import Progress

HUNYUAN_DEFAULTS = FamilyDefaults(
    width=1280, height=720, fps=24, num_frames=129, max_frames=129, num_inference_steps=50, guidance_scale=6.0
)

# HunyuanVideo-I2V's own example: 720p, 129 frames, guidance 1 (its latent_concat transformer has no
# embedded guidance; true CFG is off)
HUNYUAN_I2V_DEFAULTS = FamilyDefaults(
    width=1280, height=720, fps=24, num_frames=129, max_frames=129, num_inference_steps=50, guidance_scale=1.0
)


def hunyuan_latents(pipe: Any, frames: np.ndarray) -> Any:
    """uint8 (n, H, W, 3) → HunyuanVideo's scaled latents (1, C, 1 + (n − 1)/4, h, w)."""
    import torch

    vae = pipe.vae
    x = torch.from_numpy(np.ascontiguousarray(frames)).float().div(127.5).sub(1.0)  # (n, H, W, 3)
    x = x.permute(3, 0, 1, 2)[None].to(pipe._execution_device, vae.dtype)  # (1, 3, n, H, W)
    with torch.no_grad():
        z = vae.encode(x).latent_dist.mode().float()  # (1, C, t, h, w)
    return z * vae.config.scaling_factor  # the pipeline decodes latents / scaling_factor


class HunyuanVideoBackend(DiffusersBackend):
    name = "hunyuanvideo"
    folder_classes = ("HunyuanVideoPipeline",)
    modes = ("t2v", "t2i", "extend")
    options = ("aspect_ratio", "crossfade_frames")
    pipelines = dict.fromkeys(modes, "HunyuanVideoPipeline")
    defaults = HUNYUAN_DEFAULTS
    context_frames = 1 + 4 * 4
    unsupported_motion = "diffusers' HunyuanVideo pipelines take no camera or trajectory input"

    @classmethod
    def grid(cls, path: Path) -> tuple[int, int]:
        vae = read_component_config(path, "vae")
        dit = read_component_config(path, "transformer")
        spatial = int(vae.get("spatial_compression_ratio", 8)) * int(dit.get("patch_size", 2))
        # diffusers' HunyuanVideo pipeline refuses sizes off a 16-px grid whatever the patching
        return math.lcm(spatial, 16), int(vae.get("temporal_compression_ratio", 4))

    def continue_inputs(self, tail: np.ndarray, req: Request) -> tuple[str, dict[str, Any]]:
        latents = hunyuan_latents(self.pipeline("extend"), tail)
        return "extend", {"step_hook": LatentPrefix(latents, req.generator)}


class HunyuanVideoI2VBackend(HunyuanVideoBackend):
    """A HunyuanVideo image→video folder (LLaVA text encoder; the picture's latents concatenated or put in
    place of the first latent frame, per the transformer's `image_condition_type`)."""

    name = "hunyuanvideo-i2v"
    folder_classes = ("HunyuanVideoImageToVideoPipeline",)
    modes = ("i2v", "extend")
    pipelines = dict.fromkeys(modes, "HunyuanVideoImageToVideoPipeline")
    defaults = HUNYUAN_I2V_DEFAULTS
    context_frames = 1  # the pipeline takes one first frame

    @classmethod
    def dropped(cls, path: Path) -> int:
        """Frames the pipeline drops from the front of its video (the picture's own, for latent_concat)."""
        dit = read_component_config(path, "transformer")
        if dit.get("image_condition_type", "latent_concat") != "latent_concat":
            return 0
        return int(read_component_config(path, "vae").get("temporal_compression_ratio", 4))

    def call_av(
        self, task: str, req: Request, progress: Progress, num_frames: int | None = None, **inputs: Any
    ) -> tuple[np.ndarray, Any]:
        """Exactly `num_frames` frames, asking for the ones the pipeline drops as well. A latent_concat
        continuation's frames start after the picture, so the chunk is the frame it continued (`tail`)
        followed by them, as a chunk's first frames remake what it continues."""
        n = num_frames or req.size.num_frames
        tail = inputs.pop("tail", None)
        dropped = self.dropped(self.path)
        made, audio = super().call_av(task, req, progress, num_frames=n + dropped, **inputs)  # (n, H, W, 3)
        if tail is None or not dropped:
            return made, audio
        return np.concatenate([tail, made[: n - len(tail)]]), audio

    def task_inputs(self, task: str, spec: GenerationSpec, req: Request) -> dict[str, Any]:
        return {"image": self.image(spec.image, req)}

    def continue_inputs(self, tail: np.ndarray, req: Request) -> tuple[str, dict[str, Any]]:
        from PIL import Image

        return "extend", {"image": Image.fromarray(tail[-1]), "tail": tail}
