"""CogVideoX diffusers folders (`CogVideoXPipeline`, `CogVideoXImageToVideoPipeline`).

| folder (`_class_name`)          | backend             | modes                          |
|---------------------------------|---------------------|--------------------------------|
| CogVideoXPipeline               | CogVideoXBackend    | t2v, t2i, v2v, extend          |
| CogVideoXImageToVideoPipeline   | CogVideoXI2VBackend | i2v, extend                    |

Extension: the I2V folder starts each chunk from the video's last frame; the T2V folder holds the chunk's
first latent frames to the video's end (`LatentPrefix`, through the DDIM/DPM scheduler's `add_noise`).
Defaults are CogVideoX 1.0's: 720×480, 49 frames at 8 fps, 50 steps, guidance 6 (a 1.5 folder says its
1360×768 × 81 at 16 fps in kinema_defaults.json).
"""

from __future__ import annotations

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
from kinema.runtime.tasks import TASKS

COGVIDEOX_DEFAULTS = FamilyDefaults(
    width=720, height=480, fps=8, num_frames=49, max_frames=49, num_inference_steps=50, guidance_scale=6.0
)


def cogvideox_latents(pipe: Any, frames: np.ndarray) -> Any:
    """uint8 (n, H, W, 3) → CogVideoX's scaled latents (1, t, C, h, w), as its pipelines make them."""
    import torch

    vae = pipe.vae
    x = torch.from_numpy(np.ascontiguousarray(frames)).float().div(127.5).sub(1.0)  # (n, H, W, 3)
    x = x.permute(3, 0, 1, 2)[None].to(pipe._execution_device, vae.dtype)  # (1, 3, n, H, W)
    with torch.no_grad():
        z = vae.encode(x).latent_dist.mode().float()  # (1, C, t, h, w)
    scale = vae.config.scaling_factor
    z = z / scale if vae.config.invert_scale_latents else z * scale
    return z.permute(0, 2, 1, 3, 4)  # (1, t, C, h, w): CogVideoX keeps time before channels


class _CogVideoX(DiffusersBackend):
    defaults = COGVIDEOX_DEFAULTS
    unsupported_motion = "diffusers' CogVideoX pipelines take no camera or trajectory input"

    @classmethod
    def grid(cls, path: Path) -> tuple[int, int]:
        vae = read_component_config(path, "vae")
        dit = read_component_config(path, "transformer")
        spatial = 2 ** (len(vae.get("block_out_channels", [128, 256, 256, 512])) - 1)
        return spatial * int(dit.get("patch_size", 2)), int(vae.get("temporal_compression_ratio", 4))

    def call_kwargs(self, req: Request, num_frames: int) -> dict[str, Any]:
        # the text length the transformer's positions were built for (226 in the released models)
        length = self.pipeline_any().transformer.config.max_text_seq_length
        return {**super().call_kwargs(req, num_frames), "max_sequence_length": length}

    def pipeline_any(self) -> Any:
        return next(iter(self._pipes.values())) if self._pipes else self.pipeline(self.modes[0])


class CogVideoXBackend(_CogVideoX):
    name = "cogvideox"
    folder_classes = ("CogVideoXPipeline", "CogVideoXVideoToVideoPipeline")
    modes = ("t2v", "t2i", "v2v", "extend")
    options = ("negative_prompt", "aspect_ratio", "strength", "crossfade_frames")
    pipelines = {
        "t2v": "CogVideoXPipeline",
        "t2i": "CogVideoXPipeline",
        "extend": "CogVideoXPipeline",
        "v2v": "CogVideoXVideoToVideoPipeline",
    }
    context_frames = 1 + 4 * 4

    def task_inputs(self, task: str, spec: GenerationSpec, req: Request) -> dict[str, Any]:
        if TASKS[task].takes_video:  # a remix
            return {"video": self.source_video(spec.video, req), "strength": self.strength(spec, req)}
        return {}

    def continue_inputs(self, tail: np.ndarray, req: Request) -> tuple[str, dict[str, Any]]:
        latents = cogvideox_latents(self.pipeline("extend"), tail)
        return "extend", {"step_hook": LatentPrefix(latents, req.generator, time_dim=1)}


class CogVideoXI2VBackend(_CogVideoX):
    name = "cogvideox-i2v"
    folder_classes = ("CogVideoXImageToVideoPipeline",)
    modes = ("i2v", "extend")
    options = ("negative_prompt", "aspect_ratio", "crossfade_frames")
    pipelines = dict.fromkeys(modes, "CogVideoXImageToVideoPipeline")

    def task_inputs(self, task: str, spec: GenerationSpec, req: Request) -> dict[str, Any]:
        return {"image": self.image(spec.image, req)}

    def continue_inputs(self, tail: np.ndarray, req: Request) -> tuple[str, dict[str, Any]]:
        from PIL import Image

        return "extend", {"image": Image.fromarray(tail[-1])}
