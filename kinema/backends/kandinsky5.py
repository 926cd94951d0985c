"""Kandinsky 5 diffusers folders (`Kandinsky5T2VPipeline`, `Kandinsky5I2VPipeline`).

| folder (`_class_name`)   | backend              | modes              |
|--------------------------|----------------------|--------------------|
| Kandinsky5T2VPipeline    | Kandinsky5Backend    | t2v, t2i, extend   |
| Kandinsky5I2VPipeline    | Kandinsky5I2VBackend | i2v, extend        |

Kandinsky 5 keeps its latents channels last, (B, T, h, w, C), with the visual-conditioning channels (the
image's latents and their mask) after the denoised ones; extension of a T2V folder holds the first latent
frames of the denoised channels to the video's end (`LatentPrefix`), an I2V folder starts each chunk from
the video's last frame. The real folders' `tokenizer` is a `Qwen2VLProcessor`, whose video processor
transformers builds only with torchvision installed: a clear `MissingDependencyError` says so before loading.
Defaults are Kandinsky 5.0 Video Lite's (5 s): 768×512, 121 frames at 24 fps, 50 steps, guidance 5.
"""

from __future__ import annotations

import importlib.util
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
    read_index,
)
from kinema.backends.hunyuan import hunyuan_latents
from kinema.errors import InvalidInputError, MissingDependencyError

KANDINSKY5_DEFAULTS = FamilyDefaults(
    width=768, height=512, fps=24, num_frames=121, max_frames=121, num_inference_steps=50, guidance_scale=5.0
)


def kandinsky5_latents(pipe: Any, frames: np.ndarray) -> Any:
    """uint8 (n, H, W, 3) → Kandinsky 5's scaled latents, channels last: (1, 1 + (n − 1)/4, h, w, C). Its VAE
    is HunyuanVideo's, so the encoding is HunyuanVideo's, laid out the way Kandinsky's pipeline keeps it."""
    return hunyuan_latents(pipe, frames).permute(0, 2, 3, 4, 1)  # (1, C, t, h, w) → (1, t, h, w, C)


class _Kandinsky5(DiffusersBackend):
    defaults = KANDINSKY5_DEFAULTS
    context_frames = 1 + 4 * 4
    unsupported_motion = "diffusers' Kandinsky 5 pipelines take no camera or trajectory input"

    @classmethod
    def grid(cls, path: Path) -> tuple[int, int]:
        vae = read_component_config(path, "vae")
        dit = read_component_config(path, "transformer")
        patch = dit.get("patch_size", [1, 2, 2])
        spatial = int(vae.get("spatial_compression_ratio", 8)) * int(patch[1])
        # diffusers' Kandinsky 5 pipelines refuse sizes off a 16-px grid (check_inputs)
        return math.lcm(spatial, 16), int(vae.get("temporal_compression_ratio", 4))

    def check_load(self) -> None:
        super().check_load()
        tokenizer = (read_index(self.path).get("tokenizer") or [None, ""])[1]
        if str(tokenizer).endswith("Processor") and importlib.util.find_spec("torchvision") is None:
            raise MissingDependencyError(
                f"This Kandinsky 5 folder's tokenizer is a {tokenizer}, which transformers builds only with "
                "torchvision: pip install torchvision (the build matching your torch)."
            )


class Kandinsky5Backend(_Kandinsky5):
    """A Kandinsky 5 text→video folder."""

    name = "kandinsky5"
    folder_classes = ("Kandinsky5T2VPipeline",)
    modes = ("t2v", "t2i", "extend")
    options = ("negative_prompt", "aspect_ratio", "crossfade_frames")
    pipelines = dict.fromkeys(modes, "Kandinsky5T2VPipeline")

    def continue_inputs(self, tail: np.ndarray, req: Request) -> tuple[str, dict[str, Any]]:
        pipe = self.pipeline("extend")
        latents = kandinsky5_latents(pipe, tail)
        channels = pipe.transformer.config.in_visual_dim
        return "extend", {"step_hook": LatentPrefix(latents, req.generator, time_dim=1, channels=channels)}


class Kandinsky5I2VBackend(_Kandinsky5):
    """A Kandinsky 5 image→video folder (the picture's latents in the visual-conditioning channels)."""

    name = "kandinsky5-i2v"
    folder_classes = ("Kandinsky5I2VPipeline",)
    modes = ("i2v", "extend")
    options = ("negative_prompt", "aspect_ratio", "crossfade_frames")
    pipelines = dict.fromkeys(modes, "Kandinsky5I2VPipeline")
    context_frames = 1  # the pipeline takes one first frame

    def request(self, spec: GenerationSpec, fps: float, like: tuple[int, int] | None = None) -> Request:
        """As the base's, with at least 1 + 4·tc frames: after denoising, the pipeline rescales its first 4
        latent frames to the statistics of the next ones (`normalize_first_frame`), and with no next one
        that is the std of nothing — every pixel NaN (measured: a 9-frame request decodes to NaN)."""
        req = super().request(spec, fps, like=like)
        least = 1 + 4 * self.facts.temporal_compression
        if req.size.num_frames < least:
            raise InvalidInputError(
                f"Kandinsky 5 image→video needs at least {least} frames (it normalises its first 4 latent "
                f"frames against the next); ask for {least} or more."
            )
        return req

    def task_inputs(self, task: str, spec: GenerationSpec, req: Request) -> dict[str, Any]:
        return {"image": self.image(spec.image, req)}

    def continue_inputs(self, tail: np.ndarray, req: Request) -> tuple[str, dict[str, Any]]:
        from PIL import Image

        return "extend", {"image": Image.fromarray(tail[-1])}
