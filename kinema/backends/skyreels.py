"""SkyReels-V2 diffusion-forcing diffusers folders (`SkyReelsV2DiffusionForcingPipeline` and its I2V /
V2V siblings): one backend. t2v/t2i run the diffusion-forcing pipeline over one window
(`base_num_frames` = the asked length); i2v its image→video sibling; extension its video→video sibling,
given the video's last frames as `overlap_history` — the continuation SkyReels was trained for, chunk by
chunk through Kinema's streamed extension (diffusers' own long-video loop keeps every frame in memory).
Defaults are SkyReels-V2-DF-1.3B-540P's: 960×544, 97 frames at 24 fps, 30 steps, guidance 6.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from kinema.backends.base import GenerationSpec
from kinema.backends.diffusers_base import DiffusersBackend, FamilyDefaults, Request
from kinema.backends.wan import wan_grid
from kinema.runtime.tasks import TASKS

SKYREELS_DEFAULTS = FamilyDefaults(
    width=960, height=544, fps=24, num_frames=97, max_frames=97, num_inference_steps=30, guidance_scale=6.0
)


class SkyReelsV2Backend(DiffusersBackend):
    name = "skyreels-v2"
    folder_classes = (
        "SkyReelsV2DiffusionForcingPipeline",
        "SkyReelsV2DiffusionForcingImageToVideoPipeline",
        "SkyReelsV2DiffusionForcingVideoToVideoPipeline",
    )
    modes = ("t2v", "t2i", "i2v", "extend")
    options = ("negative_prompt", "aspect_ratio", "crossfade_frames")
    pipelines = {
        "t2v": "SkyReelsV2DiffusionForcingPipeline",
        "t2i": "SkyReelsV2DiffusionForcingPipeline",
        "i2v": "SkyReelsV2DiffusionForcingImageToVideoPipeline",
        "extend": "SkyReelsV2DiffusionForcingVideoToVideoPipeline",
    }
    defaults = SKYREELS_DEFAULTS
    context_frames = 1 + 4 * 4  # SkyReels recommends overlap_history 17 (or 37)
    unsupported_motion = "diffusers' SkyReels-V2 pipelines take no camera or trajectory input"

    @classmethod
    def grid(cls, path: Path) -> tuple[int, int]:
        return wan_grid(path)  # Wan's VAE and patching

    def call_kwargs(self, req: Request, num_frames: int) -> dict[str, Any]:
        # one diffusion-forcing window per call, at the asked frame rate (fed to the transformer's
        # sample-info embedding when the checkpoint has one)
        window = {"base_num_frames": num_frames, "fps": int(round(req.fps))}
        return {**super().call_kwargs(req, num_frames), **window}

    def task_inputs(self, task: str, spec: GenerationSpec, req: Request) -> dict[str, Any]:
        return {"image": self.image(spec.image, req)} if TASKS[task].takes_image else {}

    def continue_inputs(self, tail: np.ndarray, req: Request) -> tuple[str, dict[str, Any]]:
        from PIL import Image

        video = [Image.fromarray(f) for f in tail]
        # the pipeline returns the given video, then its window (whose first len(tail) frames remake it)
        return "extend", {"video": video, "overlap_history": len(tail), "drop_leading": len(tail)}
