"""HunyuanVideo diffusers folders (`HunyuanVideoPipeline`): t2v, t2i, and extension through prefix latents
(`LatentPrefix`: the chunk's first latent frames held to the video's end; flow matching, Hunyuan's causal
VAE). `guidance_scale` is HunyuanVideo's embedded (distilled) guidance; the released model runs without
true CFG, so a negative prompt is refused rather than ignored. Defaults are HunyuanVideo's own:
1280×720, 129 frames at 24 fps, 50 steps, guidance 6.

Not here yet: `HunyuanVideoImageToVideoPipeline` folders. Their LLaVA prompt template is coded in Llama-3
token positions (`crop_start` 103, `<image>` at 5, 576 image tokens spliced in), so a test folder needs a
tokenizer reproducing those positions offline (README, "Open-weight models"). HunyuanVideo 1.5 is
`hunyuan15.py`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from kinema.backends.diffusers_base import (
    DiffusersBackend,
    FamilyDefaults,
    LatentPrefix,
    Request,
    read_component_config,
)

HUNYUAN_DEFAULTS = FamilyDefaults(
    width=1280, height=720, fps=24, num_frames=129, max_frames=129, num_inference_steps=50, guidance_scale=6.0
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
