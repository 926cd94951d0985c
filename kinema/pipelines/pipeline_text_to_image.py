"""Text → image: a 1-frame video (the causal VAE encodes an image as its own first latent frame)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kinema.errors import InvalidInputError
from kinema.pipelines.pipeline_kinema import KinemaPipeline, VideoPipelineOutput


class TextToImagePipeline(KinemaPipeline):
    """Text → image; `frames` is uint8 (B, 1, H, W, 3)."""

    task = "t2i"

    def __call__(self, prompt: str | Sequence[str], **options: Any) -> VideoPipelineOutput:
        # 1. request: an image is the 1-frame video; motion controls have nothing to move
        for name in ("num_frames", "seconds", "camera_control", "trajectories"):
            if options.get(name) not in (None, 1) or (name != "num_frames" and options.get(name) is not None):
                raise InvalidInputError(f"Text-to-image makes one frame; remove {name} or generate a video.")
        request = self.make_request(prompt, {**options, "num_frames": 1})
        # 2–6. prompt, conditions, latents, denoise, decode
        return self.generate(request)
