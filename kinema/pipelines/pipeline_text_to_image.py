"""Text → image: a 1-frame video (the causal VAE encodes an image as its own first latent frame)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kinema.errors import InvalidInputError
from kinema.pipelines.pipeline_kinema import KinemaPipeline, VideoPipelineOutput
from kinema.runtime.tasks import NO_MOTION


class TextToImagePipeline(KinemaPipeline):
    """Text → image; `frames` is uint8 (B, 1, H, W, 3)."""

    task = "t2i"

    def __call__(self, prompt: str | Sequence[str], **options: Any) -> VideoPipelineOutput:
        # 1. request: an image is the 1-frame video; motion controls have nothing to move
        motion = [n for n in NO_MOTION if n != "num_frames" and options.get(n) is not None]
        if options.get("num_frames") not in (None, 1) or motion:
            what = motion[0] if motion else "num_frames"
            raise InvalidInputError(f"Text-to-image makes one frame; remove {what} or generate a video.")
        request = self.make_request(prompt, {**options, "num_frames": 1})
        # 2–6. prompt, conditions, latents, denoise, decode
        return self.generate(request)
