"""LTX-Video diffusers folders (`LTXPipeline`, `LTXImageToVideoPipeline`, `LTXConditionPipeline`): one
backend, every mode. t2v/t2i run `LTXPipeline`, i2v `LTXImageToVideoPipeline`; keyframes, extension and
video→video run `LTXConditionPipeline` with `LTXVideoCondition`s — pictures pinned at frame indices, the
video's last frames at frame 0 of each chunk, or the whole source as a soft condition (strength
1 − remix strength). `--upscale 2` (a folder with the 0.9.7+ spatial upscaler's `latent_upsampler/`) runs
`LTXLatentUpsamplePipeline` between a half-size pass and a refinement by the condition pipeline at denoise
strength 0.4, as LTX-Video 0.9.7's model card does (`latent_upscale.py`). Defaults are LTX's own: 704×512, 161 frames at 25 fps, 50 steps, guidance 3.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from kinema.backends.base import GenerationSpec
from kinema.backends.diffusers_base import DiffusersBackend, FamilyDefaults, Request, read_component_config
from kinema.backends.latent_upscale import LatentUpscale
from kinema.runtime.tasks import TASKS

LTX_DEFAULTS = FamilyDefaults(
    width=704, height=512, fps=25, num_frames=161, max_frames=257, num_inference_steps=50, guidance_scale=3.0
)


def ltx_grid(path: Path) -> tuple[int, int]:
    """(size multiple, VAE temporal) from the configs (LTX 0.9: 32× and 8×)."""
    vae = read_component_config(path, "vae")
    dit = read_component_config(path, "transformer")
    scaling = vae.get("spatio_temporal_scaling", [True, True, True, False])
    spatial = vae.get("spatial_compression_ratio") or int(vae.get("patch_size", 4)) * 2 ** sum(
        map(bool, scaling)
    )
    temporal = vae.get("temporal_compression_ratio") or int(vae.get("patch_size_t", 1)) * 2 ** sum(
        map(bool, scaling)
    )
    # diffusers' LTX pipelines refuse sizes off a 32-px grid whatever the VAE (check_inputs)
    return math.lcm(int(spatial) * int(dit.get("patch_size", 1)), 32), int(temporal)


def keyframe_indices(spec: GenerationSpec, req: Request) -> list[tuple[int, Any]]:
    """The pictures a keyframes request pins, as (frame index, picture) in frame order: the first frame at
    0, each `(seconds, picture)` keyframe at its frame, the last frame at the end (clamped into the clip; a
    later one at the same frame wins). The LTX families condition on exactly these."""
    n = req.size.num_frames
    given = {0: spec.image, **{round(float(s) * req.fps): p for s, p in spec.keyframes}}
    if spec.last_image is not None:
        given[n - 1] = spec.last_image
    return [(min(n - 1, max(0, index)), picture) for index, picture in sorted(given.items())]


class LTXBackend(LatentUpscale, DiffusersBackend):
    name = "ltx"
    folder_classes = ("LTXPipeline", "LTXImageToVideoPipeline", "LTXConditionPipeline")
    modes = ("t2v", "t2i", "i2v", "keyframes", "extend", "v2v")
    options = ("negative_prompt", "aspect_ratio", "keyframes", "strength", "crossfade_frames", "upscale")
    upsample_pipeline = "LTXLatentUpsamplePipeline"
    upsampler_model = "diffusers.pipelines.ltx:LTXLatentUpsamplerModel"
    refine_task = "extend"  # LTXConditionPipeline: the one LTX pipeline that denoises given latents part-way
    refine_steps = 10  # × denoise strength 0.4 = the 4 steps of the model card's second stage
    pipelines = {
        "t2v": "LTXPipeline",
        "t2i": "LTXPipeline",
        "i2v": "LTXImageToVideoPipeline",
        "keyframes": "LTXConditionPipeline",
        "extend": "LTXConditionPipeline",
        "v2v": "LTXConditionPipeline",
    }
    defaults = LTX_DEFAULTS
    context_frames = 1 + 8 * 2  # 3 latent frames of the video's end per chunk
    unsupported_motion = "diffusers' LTX-Video pipelines take no camera or trajectory input"

    @classmethod
    def grid(cls, path: Path) -> tuple[int, int]:
        return ltx_grid(path)

    def call_kwargs(self, req: Request, num_frames: int) -> dict[str, Any]:
        return {**super().call_kwargs(req, num_frames), "frame_rate": req.fps}

    def task_inputs(self, task: str, spec: GenerationSpec, req: Request) -> dict[str, Any]:
        from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

        row = TASKS[task]
        if not row.given:  # text → video / image
            return {}
        if row.takes_video:  # a remix
            video = self.source_video(spec.video, req)
            condition = LTXVideoCondition(video=video, frame_index=0, strength=1.0 - self.strength(spec, req))
            return {"conditions": [condition], "num_frames": len(video)}
        if not row.takes_keyframes:  # image → video: the first frame
            return {"image": self.image(spec.image, req)}
        conditions = [
            LTXVideoCondition(image=self.image(picture, req), frame_index=index)
            for index, picture in keyframe_indices(spec, req)
        ]
        return {"conditions": conditions}

    def continue_inputs(self, tail: np.ndarray, req: Request) -> tuple[str, dict[str, Any]]:
        from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition
        from PIL import Image

        video = [Image.fromarray(f) for f in tail]
        return "extend", {"conditions": [LTXVideoCondition(video=video, frame_index=0, strength=1.0)]}

    def refine_inputs(self, latents: Any, audio_latents: Any) -> dict[str, Any]:
        """LTX-Video 0.9.7's second stage: the upsampled latents re-noised to 40 % and denoised."""
        return {"latents": latents, "denoise_strength": 0.4}

    def unpacked(self, pipe: Any, latents: Any, req: Request) -> Any:
        """LTXPipeline / LTXImageToVideoPipeline return their latents packed as tokens (B, S, C) (the
        condition pipeline unpacks them itself): back to (B, C, t, h, w) with the pipeline's own unpacking."""
        if latents.ndim != 3:
            return latents
        t = (req.size.num_frames - 1) // pipe.vae_temporal_compression_ratio + 1
        h = req.size.height // pipe.vae_spatial_compression_ratio
        w = req.size.width // pipe.vae_spatial_compression_ratio
        return pipe._unpack_latents(
            latents, t, h, w, pipe.transformer_spatial_patch_size, pipe.transformer_temporal_patch_size
        )
