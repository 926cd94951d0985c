"""Helios diffusers folders (`HeliosPipeline`, `HeliosPyramidPipeline`): long video, one backend each.

| folder (`_class_name`)  | backend              | modes                  |
|-------------------------|----------------------|------------------------|
| HeliosPipeline          | HeliosBackend        | t2v, t2i, i2v, extend  |
| HeliosPyramidPipeline   | HeliosPyramidBackend | t2v, t2i, i2v, extend  |

Helios makes video in windows of 33 frames (9 latent frames), each denoised against a compressed memory of
what came before (`history_sizes` 16/2/1 latent frames), so one pipeline call of any length is the model's
own long video: the asked length is made as whole windows and trimmed to the asked frames. Its image input
starts a video from a picture; its video input continues a video (the pipeline returns only the new
frames), which is Kinema's extension here: each chunk continues from the last window (33 frames) of the
video so far, streamed chunk by chunk with flat memory (diffusers' own loop keeps every decoded frame).

The pyramid pipeline (Helios-Mid / -Distilled) denoises each window coarse-to-fine over its scheduler's
`stages`; a request's `num_inference_steps` is the steps of each stage (`pyramid_num_inference_steps_list`).
A step-distilled folder (`is_distilled` in model_index.json) runs without guidance: its default is 1, and a
larger one is refused (diffusers would ignore it). Defaults are Helios' own: 640×384, 129 frames (132 asked
in its examples: four windows) at 24 fps, 50 steps (pyramid: 10 per stage; distilled: 2), guidance 5.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from kinema.backends.base import GenerationSpec
from kinema.backends.diffusers_base import (
    DiffusersBackend,
    FamilyDefaults,
    Request,
    read_index,
)
from kinema.backends.wan import wan_grid
from kinema.errors import InvalidInputError
from kinema.runtime.progress import Progress
from kinema.runtime.tasks import TASKS

# a minute at 24 fps: one call holds its decoded frames (diffusers' loop), an extension streams them
HELIOS_DEFAULTS = FamilyDefaults(
    width=640, height=384, fps=24, num_frames=129, max_frames=1441, num_inference_steps=50, guidance_scale=5.0
)
WINDOW_LATENT_FRAMES = 9  # HeliosPipeline's num_latent_frames_per_chunk: the windows it was trained on


class HeliosBackend(DiffusersBackend):
    name = "helios"
    folder_classes = ("HeliosPipeline",)
    modes = ("t2v", "t2i", "i2v", "extend")
    options = ("negative_prompt", "aspect_ratio", "crossfade_frames")
    pipelines = dict.fromkeys(modes, "HeliosPipeline")
    defaults = HELIOS_DEFAULTS
    context_frames = 1 + 4 * (WINDOW_LATENT_FRAMES - 1)  # one whole window: the least it continues from
    unsupported_motion = "diffusers' Helios pipelines take no camera or trajectory input"

    @classmethod
    def grid(cls, path: Path) -> tuple[int, int]:
        spatial, temporal = wan_grid(path)  # Wan's VAE and patching
        return math.lcm(spatial, 16), temporal  # the pipelines refuse sizes off a 16-px grid

    @classmethod
    def folder_defaults(cls, path: Path, index: dict[str, Any]) -> FamilyDefaults:
        """A step-distilled folder's defaults are unguided and few-step."""
        if index.get("is_distilled"):
            return replace(cls.defaults, guidance_scale=1.0, num_inference_steps=2)
        return cls.defaults

    def request(self, spec: GenerationSpec, fps: float, like: tuple[int, int] | None = None) -> Request:
        req = super().request(spec, fps, like=like)
        if read_index(self.path).get("is_distilled") and req.guidance_scale > 1:
            raise InvalidInputError(
                f"This Helios folder is step-distilled and runs without guidance; drop guidance_scale "
                f"(got {req.guidance_scale:g}) or set it to 1."
            )
        return req

    def call_av(
        self, task: str, req: Request, progress: Progress, num_frames: int | None = None, **inputs: Any
    ) -> tuple[np.ndarray, Any]:
        """One pipeline call → exactly `num_frames` frames (Helios makes whole windows: the rest is
        dropped); a continuation is returned after the frames it continued (`tail`), as a chunk is.
        (`call` and the extension loop both come through here.)"""
        n = num_frames or req.size.num_frames
        tail = inputs.pop("tail", None)
        frames, audio = super().call_av(task, req, progress, num_frames=n, **inputs)
        frames = frames[:n]  # (n, H, W, 3)
        return (frames if tail is None else np.concatenate([tail, frames])), audio

    def task_inputs(self, task: str, spec: GenerationSpec, req: Request) -> dict[str, Any]:
        return {"image": self.image(spec.image, req)} if TASKS[task].takes_image else {}

    def continue_inputs(self, tail: np.ndarray, req: Request) -> tuple[str, dict[str, Any]]:
        from PIL import Image

        if len(tail) < self.context_frames:
            raise InvalidInputError(
                f"Helios continues from a whole {self.context_frames}-frame window, but a chunk of "
                f"{req.size.num_frames} frames leaves {len(tail)}; set num_frames in kinema_defaults.json "
                f"above {self.context_frames}."
            )
        video = [Image.fromarray(f) for f in tail]
        return "extend", {"video": video, "num_frames": req.size.num_frames - len(tail), "tail": tail}


class HeliosPyramidBackend(HeliosBackend):
    """Helios-Mid / -Distilled: each window denoised coarse-to-fine over the scheduler's stages."""

    name = "helios-pyramid"
    folder_classes = ("HeliosPyramidPipeline",)
    pipelines = dict.fromkeys(HeliosBackend.modes, "HeliosPyramidPipeline")

    @classmethod
    def grid(cls, path: Path) -> tuple[int, int]:
        """Each stage below the last halves the latent size, which must stay whole patches."""
        spatial, temporal = super().grid(path)
        return spatial * 2 ** (cls.stages(path) - 1), temporal

    @staticmethod
    def stages(path: Path) -> int:
        try:
            return int(json.loads((Path(path) / "scheduler" / "scheduler_config.json").read_text())["stages"])
        except (OSError, ValueError, KeyError):
            return 3  # HeliosScheduler's default

    @classmethod
    def folder_defaults(cls, path: Path, index: dict[str, Any]) -> FamilyDefaults:
        defaults = super().folder_defaults(path, index)
        if index.get("is_distilled"):
            return defaults
        return replace(defaults, num_inference_steps=10)  # per stage, the pipeline's default

    def call_kwargs(self, req: Request, num_frames: int) -> dict[str, Any]:
        steps = [req.num_inference_steps] * self.stages(self.path)
        return {**super().call_kwargs(req, num_frames), "pyramid_num_inference_steps_list": steps}
